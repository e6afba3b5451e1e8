"""corenn side by side with NumPy (OpenBLAS) and PyTorch (CPU), in one run.

    python bench/compare.py [--threads 2] [--repeats 5] [--only gemm|conv|mlp|cnn|lstm|gru] [--epochs 1]
    python bench/compare.py --contended [--samples 60000] [--repeats 3]

GEMM: corenn.kernels.gemm into a preallocated C against numpy.matmul(out=) for square sizes and the
shapes a dense network trains with (forward X@W, backward X^T@dY and dY@W^T). Timings alternate
corenn / NumPy (A B A B ...) and keep the best of --repeats, so both see the same machine state.
MLP: one epoch of Flatten -> Dense(512, relu) -> Dense(256, relu) -> Dense(10), Adam(1e-3),
batch 128, from-logits sparse categorical cross-entropy on Fashion-MNIST, corenn against a
PyTorch model of the same architecture and initialization scheme, alternated, best samples/s,
then each model's test accuracy. CNN: the same for the classic Keras CNN (Conv2D(32,3,relu) ->
MaxPooling2D -> Conv2D(64,3,relu) -> MaxPooling2D -> Conv2D(64,3,relu) -> Flatten -> Dense(64,
relu) -> Dense(10)), batch 64. Conv layers: each conv layer of that CNN (and a 32x32x3 -> 32
'same' layer) at batch 64, forward + backward (relu included; weight, bias and input gradients,
no input gradient for a first layer) as one training step computes them, corenn's Conv2D layer
against torch.nn.Conv2d + relu in PyTorch's default NCHW layout, alternated, best of --repeats.
LSTM / GRU: one epoch as MLP / CNN for LSTM(64, return_sequences=True) -> LSTM(64) -> Dense(10)
(and with GRU) on image rows as 28 timesteps of 28 features, batch 128, against torch.nn.LSTM /
nn.GRU (batch_first) initialized as Keras does. Ratios > 1 mean corenn is faster.
--contended: the MLP epoch quiet and with one core held by another process (bench/busy_host.py):
corenn's default thread count against its own 1-thread speed and against PyTorch under the same load.
"""
import argparse
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="timed repetitions per contender")
    p.add_argument("--only", choices=["gemm", "conv", "mlp", "cnn", "lstm", "gru"], default=None)
    p.add_argument("--epochs", type=int, default=1, help="MLP epochs per timed run")
    p.add_argument("--mlp-runs", type=int, default=2, help="alternated training runs per contender (MLP and CNN)")
    p.add_argument("--peak", type=float, default=None,
                   help="FP32 FMA peak in GFLOP/s for %%-of-peak (default: measured by "
                        "bench/kernels/peak_fma if built, else 97 per thread)")
    p.add_argument("--contended", action="store_true",
                   help="the MLP epoch quiet and with one core held by a spinning process: corenn at "
                        "1 and 2 threads, PyTorch at 2 (bench/busy_host.py, which takes the rest of the "
                        "arguments: --samples, --repeats, --busy-cpu)")
    args, rest = p.parse_known_args()
    if rest and not args.contended:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    return args


ARGS = parse_args()
# BLAS thread pools read these at import time: pin every library to the same thread count.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

import corenn  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None


def best_time(fn, repeats, inner):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def alternate(fns, repeats, inner, pause=0.2):
    """Time each fn in turn, A B A B ..., and return each one's best time.

    Each turn is a block of `inner` calls after a short pause: OpenMP's and OpenBLAS's idle
    threads busy-wait for up to ~0.1 s after a call, and a block started while the other library's
    threads still spin would be measured on a half-occupied machine. After the pause the turn's own
    threads are asleep: one untimed call wakes them, as every step but the first of a training loop
    finds them (otherwise a short block of a few ~1 ms calls mostly times thread wake-up).
    """
    best = [float("inf")] * len(fns)
    for fn in fns:  # warm-up: packing buffers, thread pools, page faults
        fn()
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            time.sleep(pause)
            fn()
            best[i] = min(best[i], best_time(fn, 1, inner))
    return best


def measured_peak():
    if ARGS.peak:
        return ARGS.peak
    return 97.0 * ARGS.threads


# ---------------------------------------------------------------------------------------------

def gemm_cases():
    for n in (128, 256, 512, 1024, 2048):
        yield f"square {n}", n, n, n, False, False
    for m in (64, 128, 256):
        for k in (784, 512, 256):
            for n in (512, 256, 10):
                yield f"fwd {m}x{k}x{n}", m, k, n, False, False
    for k_in, n_out in ((784, 512), (512, 256), (256, 10)):
        yield f"dW  {k_in}x128x{n_out}", k_in, 128, n_out, True, False  # X^T @ dY
        yield f"dX  128x{n_out}x{k_in}", 128, n_out, k_in, False, True  # dY @ W^T


def bench_gemm():
    rng = np.random.default_rng(0)
    peak = measured_peak()
    print(f"\nGEMM, float32, {ARGS.threads} threads; GFLOP/s (best of {ARGS.repeats}); "
          f"peak {peak:.0f} GFLOP/s")
    print(f"{'case':<22}{'corenn':>9}{'numpy':>9}{'ratio':>8}{'%peak':>8}")
    rows = []
    for name, m, k, n, ta, tb in gemm_cases():
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        c_np = np.empty((m, n), np.float32)
        ta_, tb_ = corenn.Tensor.from_numpy(a), corenn.Tensor.from_numpy(b)
        tc = corenn.Tensor.from_numpy(c)
        a_op, b_op = (a.T if ta else a), (b.T if tb else b)
        flops = 2.0 * m * n * k
        inner = max(3, int(3e9 / flops))  # ~20 ms blocks amortize thread wake-up after the pause
        t_cn, t_np = alternate([
            lambda: corenn.kernels.gemm(ta_, tb_, tc, trans_a=ta, trans_b=tb),
            lambda: np.matmul(a_op, b_op, out=c_np),
        ], ARGS.repeats, inner)
        np.testing.assert_allclose(c, c_np, rtol=1e-3, atol=1e-2 * np.sqrt(k))
        g_cn, g_np = flops / t_cn / 1e9, flops / t_np / 1e9
        rows.append((name, g_cn, g_np))
        print(f"{name:<22}{g_cn:9.1f}{g_np:9.1f}{g_cn / g_np:8.2f}{100 * g_cn / peak:7.0f}%")
    return rows


# ---------------------------------------------------------------------------------------------

CONV_LAYERS = [  # name, (H, W, Cin), Cout, padding, first layer (no input gradient)
    ("conv1 28x28x1->32", (28, 28, 1), 32, "valid", True),
    ("conv2 13x13x32->64", (13, 13, 32), 64, "valid", False),
    ("conv3 5x5x64->64", (5, 5, 64), 64, "valid", False),
    ("cifar 32x32x3->32 same", (32, 32, 3), 32, "same", True),
]


def bench_conv_layers(batch=64):
    """Each conv layer's forward + backward step, corenn vs PyTorch, alternated."""
    rng = np.random.default_rng(0)
    peak = measured_peak()
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    print(f"\nConv2D 3x3 + relu layers, batch {batch}, forward + backward, {ARGS.threads} threads; "
          f"ms per step (best of {ARGS.repeats}); peak {peak:.0f} GFLOP/s")
    print(f"{'layer':<24}{'corenn ms':>10}{'GFLOP/s':>9}{'%peak':>7}{'torch ms':>10}{'ratio':>8}")
    rows = []
    for name, (h, w, cin), cout, padding, first in CONV_LAYERS:
        x = rng.standard_normal((batch, h, w, cin), dtype=np.float32)
        layer = corenn.layers.Conv2D(cout, 3, padding=padding, activation="relu")
        layer.build((None, h, w, cin))
        layer.needs_input_grad = not first
        tx = corenn.Tensor.from_numpy(x)
        y_shape = (batch,) + tuple(layer.compute_output_shape((None, h, w, cin))[1:])
        dy = corenn.Tensor.from_numpy(rng.standard_normal(y_shape, dtype=np.float32))

        def corenn_step():
            layer.forward(tx, training=True)
            layer.backward(dy)

        fns = [corenn_step]
        if torch is not None:
            conv = torch.nn.Conv2d(cin, cout, 3, padding=1 if padding == "same" else 0)
            xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(not first)
            dyt = torch.from_numpy(np.ascontiguousarray(np.asarray(dy).transpose(0, 3, 1, 2)))

            def torch_step():
                conv.zero_grad(set_to_none=True)
                xt.grad = None
                torch.relu(conv(xt)).backward(dyt)

            fns.append(torch_step)
        oh, ow = y_shape[1], y_shape[2]
        flops = 2.0 * batch * oh * ow * cout * 9 * cin * (2 if first else 3)
        inner = max(10, int(4e8 / flops))  # >= 10 calls, ~20 ms blocks
        times = alternate(fns, ARGS.repeats, inner)
        g = flops / times[0] / 1e9
        line = f"{name:<24}{times[0] * 1e3:10.2f}{g:9.1f}{100 * g / peak:6.0f}%"
        if torch is not None:
            line += f"{times[1] * 1e3:10.2f}{times[1] / times[0]:8.2f}"
        print(line)
        rows.append((name, times))
    return rows


# ---------------------------------------------------------------------------------------------

def load_fashion():
    (x_train, y_train), (x_test, y_test) = corenn.datasets.fashion_mnist.load_data()
    return ((x_train.astype(np.float32) / 255.0, y_train.astype(np.int64)),
            (x_test.astype(np.float32) / 255.0, y_test.astype(np.int64)))


def corenn_mlp_epoch(data, seed):
    (x, y), (xt, yt) = data
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([
        corenn.layers.Input(shape=(28, 28)),
        corenn.layers.Flatten(),
        corenn.layers.Dense(512, activation="relu"),
        corenn.layers.Dense(256, activation="relu"),
        corenn.layers.Dense(10),
    ])
    return _corenn_train(model, x, y, xt, yt, 128)


def torch_mlp_epoch(data, seed):
    (x, y), (xt, yt) = data
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    for mod in net:  # Keras' default initialization, so both start from the same distribution
        if isinstance(mod, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(mod.weight)
            torch.nn.init.zeros_(mod.bias)
    return _torch_train(net, x, y, xt, yt, 128, seed)


def corenn_cnn_epoch(data, seed):
    """The classic Keras CNN: Conv(32)-Pool-Conv(64)-Pool-Conv(64)-Flatten-Dense(64)-Dense(10)."""
    (x, y), (xt, yt) = data
    L = corenn.layers
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10),
    ])
    return _corenn_train(model, x.reshape(-1, 28, 28, 1), y, xt.reshape(-1, 28, 28, 1), yt, 64)


def torch_cnn_epoch(data, seed):
    (x, y), (xt, yt) = data
    nn = torch.nn
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
    )
    for mod in net:
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)
    return _torch_train(net, x.reshape(-1, 1, 28, 28), y, xt.reshape(-1, 1, 28, 28), yt, 64, seed)


def corenn_rnn_epoch(kind, data, seed):
    """LSTM(64, return_sequences) -> LSTM(64) -> Dense(10) (or GRU) on image rows as timesteps."""
    (x, y), (xt, yt) = data
    cell = corenn.layers.LSTM if kind == "lstm" else corenn.layers.GRU
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([
        corenn.layers.Input(shape=(28, 28)),
        cell(64, return_sequences=True), cell(64), corenn.layers.Dense(10),
    ])
    return _corenn_train(model, x, y, xt, yt, 128)


def torch_rnn_epoch(kind, data, seed):
    (x, y), (xt, yt) = data
    nn = torch.nn
    torch.manual_seed(seed)
    cell = nn.LSTM if kind == "lstm" else nn.GRU

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.r1 = cell(28, 64, batch_first=True)
            self.r2 = cell(64, 64, batch_first=True)
            self.fc = nn.Linear(64, 10)

        def forward(self, v):
            v, _ = self.r1(v)
            v, _ = self.r2(v)
            return self.fc(v[:, -1])

    net = Net()
    # Keras' initialization: glorot kernel, orthogonal recurrent kernel (the whole (U, G*U) matrix,
    # i.e. torch's (G*U, U) transposed), zero bias (+1 on the LSTM forget gate).
    for rnn in (net.r1, net.r2):
        nn.init.xavier_uniform_(rnn.weight_ih_l0)
        nn.init.orthogonal_(rnn.weight_hh_l0)
        nn.init.zeros_(rnn.bias_ih_l0)
        nn.init.zeros_(rnn.bias_hh_l0)
        if kind == "lstm":
            rnn.bias_ih_l0.data[64:128] = 1.0
    nn.init.xavier_uniform_(net.fc.weight)
    nn.init.zeros_(net.fc.bias)
    return _torch_train(net, x, y, xt, yt, 128, seed)


def _corenn_train(model, x, y, xt, yt, batch_size):
    """Compile with Adam(1e-3) + from-logits sparse CE, time ARGS.epochs epochs of fit, then
    return (samples/s, test accuracy): the corenn side of every training comparison."""
    model.compile(optimizer=corenn.optimizers.Adam(1e-3),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=ARGS.epochs, verbose=0)
    seconds = time.perf_counter() - t0
    _, acc = model.evaluate(xt, yt, batch_size=500, verbose=0)
    return len(x) * ARGS.epochs / seconds, acc


def _torch_train(net, x, y, xt, yt, batch_size, seed):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(ARGS.epochs):
        perm = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        logits = net(torch.from_numpy(np.ascontiguousarray(xt)))
        acc = (logits.argmax(1) == torch.from_numpy(yt)).float().mean().item()
    return len(x) * ARGS.epochs / seconds, acc


def bench_training(title, contenders, data):
    """Run each contender ARGS.mlp_runs times, alternated, and print best samples/s + accuracy."""
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    else:
        contenders = contenders[:1]
        print("\n(PyTorch not installed: pip install torch to compare)")
    results = {name: [] for name, _ in contenders}
    for run in range(ARGS.mlp_runs):  # A B A B
        for name, fn in contenders:
            time.sleep(0.5)  # let the previous framework's spinning worker threads go idle
            results[name].append(fn(data, seed=run))
    print(f"\n{title}, {ARGS.epochs} epoch(s) on Fashion-MNIST, {ARGS.threads} threads, "
          f"best of {ARGS.mlp_runs}")
    print(f"{'framework':<22}{'samples/s':>12}{'test acc':>10}")
    best = {}
    for name, runs in results.items():
        best[name] = max(r[0] for r in runs)
        print(f"{name:<22}{best[name]:12,.0f}{np.mean([r[1] for r in runs]):10.4f}")
    if len(best) == 2:
        a, b = best.values()
        print(f"ratio corenn / torch: {a / b:.2f}x")


def main():
    if ARGS.contended:
        # One core busy is issue 14's shared-machine case; busy_host.py owns its method.
        import busy_host
        sys.argv = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "busy_host.py")] + ARGS.rest
        busy_host.main()
        return
    corenn.set_num_threads(ARGS.threads)
    print(f"corenn {corenn.__version__} (isa={corenn._C.get_isa()}), numpy {np.__version__}, "
          f"python {sys.version.split()[0]}")
    if ARGS.only in (None, "gemm"):
        bench_gemm()
    if ARGS.only in (None, "conv"):
        bench_conv_layers()
    torch_name = f"torch {torch.__version__}" if torch is not None else "torch"
    if ARGS.only in (None, "mlp", "cnn", "lstm", "gru"):
        data = load_fashion()
    if ARGS.only in (None, "mlp"):
        bench_training("MLP 784-512-256-10, Adam 1e-3, batch 128",
                       [("corenn", corenn_mlp_epoch), (torch_name, torch_mlp_epoch)], data)
    if ARGS.only in (None, "cnn"):
        bench_training("CNN Conv32-Pool-Conv64-Pool-Conv64-Dense64-Dense10, Adam 1e-3, batch 64",
                       [("corenn", corenn_cnn_epoch), (torch_name, torch_cnn_epoch)], data)
    for kind in ("lstm", "gru"):
        if ARGS.only in (None, kind):
            name = kind.upper()
            bench_training(f"{name}(64, return_sequences) -> {name}(64) -> Dense(10) on image rows "
                           f"(28 steps x 28), Adam 1e-3, batch 128",
                           [("corenn", lambda d, seed, k=kind: corenn_rnn_epoch(k, d, seed)),
                            (torch_name, lambda d, seed, k=kind: torch_rnn_epoch(k, d, seed))], data)


if __name__ == "__main__":
    main()
