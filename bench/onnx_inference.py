"""Inference side by side: corenn, ONNX Runtime on corenn's exported file, PyTorch eager.

    python bench/onnx_inference.py [--threads 2] [--rounds 7] [--only mlp|cnn|lstm] [--smoke]

The MLP, CNN and stacked LSTM of bench/compare.py (random Keras-initialised weights; the same
weights exported to ONNX and copied into PyTorch modules), at batch 1 (latency: ms per call) and
batch 256 (throughput: samples/s). Contenders, alternated A B C D ... each round after a short
pause, best of --rounds rounds; a round is one call (waking the threads), then at least 0.1 s of
timed calls:
    corenn predict            model.predict(x, batch_size=n, verbose=0)
    corenn predict_on_batch   (batch 1 only) model.predict_on_batch(x)
    onnxruntime               InferenceSession(CPUExecutionProvider, intra_op_num_threads=threads,
                              inter_op_num_threads=1).run on the file corenn.onnx.export wrote
    torch                     torch.inference_mode(), torch.set_num_threads(threads); the CNN gets
                              its input in NCHW (converted before timing), as PyTorch users keep it
Outputs are checked to agree (1e-4) before timing. Prints a Markdown table with the CPU model and
corenn's ISA path. --smoke: tiny batch and one round, to check that the script runs (its numbers
mean nothing). Needs onnx and onnxruntime; PyTorch is optional (its column is then empty).
"""
import argparse
import os
import sys
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7, help="alternated rounds per contender (best kept)")
    p.add_argument("--only", choices=["mlp", "cnn", "lstm"], default=None)
    p.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CORENN_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import corenn  # noqa: E402
from corenn import layers as L  # noqa: E402
from _common import corenn_isa, cpu_line, markdown_table, versions  # noqa: E402

try:
    import onnxruntime as ort  # noqa: E402
except ImportError:
    raise SystemExit("bench/onnx_inference.py needs onnx and onnxruntime: pip install onnx onnxruntime")
try:
    import torch  # noqa: E402
except ImportError:
    torch = None

PAUSE_S = 0.3


# -- the models, and the same weights in PyTorch ------------------------------------------------

def mlp():
    return corenn.Sequential([L.Input(shape=(28, 28)), L.Flatten(), L.Dense(512, activation="relu"),
                              L.Dense(256, activation="relu"), L.Dense(10)])


def cnn():
    return corenn.Sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10)])


def lstm():
    return corenn.Sequential([L.Input(shape=(28, 28)), L.LSTM(64, return_sequences=True), L.LSTM(64),
                              L.Dense(10)])


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, np.float32))


def torch_mlp(model):
    nn = torch.nn
    dense = [l for l in model.layers if isinstance(l, L.Dense)]
    mods = [nn.Flatten()]
    for i, d in enumerate(dense):
        lin = nn.Linear(*np.asarray(d.kernel).shape)
        lin.weight.data, lin.bias.data = _t(np.asarray(d.kernel).T), _t(d.bias)
        mods += [lin] + ([nn.ReLU()] if i < len(dense) - 1 else [])
    return nn.Sequential(*mods), lambda x: _t(x)


def torch_cnn(model):
    nn = torch.nn
    mods = []
    convs = [l for l in model.layers if isinstance(l, L.Conv2D)]
    dense = [l for l in model.layers if isinstance(l, L.Dense)]
    for i, c in enumerate(convs):
        k = np.asarray(c.kernel)
        conv = nn.Conv2d(k.shape[2], k.shape[3], k.shape[:2])
        conv.weight.data, conv.bias.data = _t(k.transpose(3, 2, 0, 1)), _t(c.bias)
        mods += [conv, nn.ReLU()] + ([nn.MaxPool2d(2)] if i < 2 else [])
    # torch flattens (C, H, W); corenn's Dense rows are in (H, W, C) order
    k = np.asarray(dense[0].kernel)
    h = w = 3
    c = k.shape[0] // (h * w)
    k_chw = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(k.shape[0], -1)
    fc1 = nn.Linear(*k.shape)
    fc1.weight.data, fc1.bias.data = _t(k_chw.T), _t(dense[0].bias)
    fc2 = nn.Linear(*np.asarray(dense[1].kernel).shape)
    fc2.weight.data, fc2.bias.data = _t(np.asarray(dense[1].kernel).T), _t(dense[1].bias)
    mods += [nn.Flatten(), fc1, nn.ReLU(), fc2]
    return nn.Sequential(*mods), lambda x: _t(x.transpose(0, 3, 1, 2))


def torch_lstm(model):
    nn = torch.nn
    r1, r2, d = model.layers

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.r1 = nn.LSTM(28, 64, batch_first=True)
            self.r2 = nn.LSTM(64, 64, batch_first=True)
            self.fc = nn.Linear(64, 10)

        def forward(self, v):
            v, _ = self.r1(v)
            v, _ = self.r2(v)
            return self.fc(v[:, -1])

    net = Net()
    # PyTorch's gate order i, f, g, o is Keras' i, f, c, o: the kernels transpose as they are
    for mod, layer in ((net.r1, r1), (net.r2, r2)):
        mod.weight_ih_l0.data = _t(np.asarray(layer.kernel).T)
        mod.weight_hh_l0.data = _t(np.asarray(layer.recurrent_kernel).T)
        mod.bias_ih_l0.data = _t(layer.bias)
        mod.bias_hh_l0.data = torch.zeros(4 * 64)
    net.fc.weight.data, net.fc.bias.data = _t(np.asarray(d.kernel).T), _t(d.bias)
    return net, lambda x: _t(x)


MODELS = {"mlp": (mlp, torch_mlp, (28, 28)), "cnn": (cnn, torch_cnn, (28, 28, 1)),
          "lstm": (lstm, torch_lstm, (28, 28))}


# -- timing -------------------------------------------------------------------------------------

RUN_S = 0.1  # seconds of timed calls per run (see timed)


def timed(fn, calls):
    """A run: one call that wakes the thread pools after the pause, then ``calls`` timed calls, at
    least as many as fill RUN_S seconds. With a fixed 10 calls at batch 256 (6-7 ms) the first
    calls after the pause weighed on each run (corenn's first MLP call after 0.3 s: 1.3 ms
    against 0.69 ms for the next ones; ONNX Runtime's 1.1 ms against 0.64), and the MLP's ratio
    read 0.76-0.99 in three runs a few minutes apart."""
    def run():
        t0 = time.perf_counter()
        fn()
        n = calls if ARGS.smoke else max(calls, int(RUN_S / max(time.perf_counter() - t0, 1e-6)))
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n
    return run


def alternate(runs, rounds):
    """Each contender in turn, A B C ..., ``rounds`` times after a warm-up call; best seconds."""
    best = {name: float("inf") for name in runs}
    for run in runs.values():
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            time.sleep(PAUSE_S)
            best[name] = min(best[name], run())
    return best


def contenders(name, batch, path):
    build, to_torch, shape = MODELS[name]
    model = build()
    corenn.onnx.export(model, path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = ARGS.threads, 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).random((batch,) + shape, dtype=np.float32)
    fns = {"corenn predict": lambda: model.predict(x, batch_size=batch, verbose=0)}
    if batch == 1:
        fns["corenn predict_on_batch"] = lambda: model.predict_on_batch(x)
    fns["onnxruntime"] = lambda: sess.run(None, {in_name: x})[0]
    if torch is not None:
        net, convert = to_torch(model)
        net.eval()
        xt = convert(x)

        def torch_call():
            with torch.inference_mode():
                return net(xt)
        fns["torch"] = torch_call
    ref = np.asarray(fns["corenn predict"]())
    for who, fn in fns.items():
        out = fn()
        out = out.numpy() if torch is not None and isinstance(out, torch.Tensor) else np.asarray(out)
        if not np.allclose(out, ref, rtol=1e-4, atol=1e-4):
            raise SystemExit(f"{name} batch {batch}: {who} disagrees with corenn predict "
                             f"(max diff {np.abs(out - ref).max():.3g})")
    return fns


def main():
    corenn.set_num_threads(ARGS.threads)
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    batches = (1, 4) if ARGS.smoke else (1, 256)
    rounds = 1 if ARGS.smoke else ARGS.rounds
    names = [ARGS.only] if ARGS.only else list(MODELS)
    cols = ["corenn predict", "corenn predict_on_batch", "onnxruntime", "torch"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for batch in batches:
                fns = contenders(name, batch, os.path.join(tmp, f"{name}.onnx"))
                calls = 3 if ARGS.smoke else (200 if batch == 1 else 10)
                best = alternate({k: timed(f, calls) for k, f in fns.items()}, rounds)
                cells = []
                for c in cols:
                    if c not in best:
                        cells.append("-")
                    elif batch == 1:
                        cells.append(f"{best[c] * 1e3:.3f} ms")
                    else:
                        cells.append(f"{batch / best[c]:,.0f}/s")
                ratio = best["onnxruntime"] / best["corenn predict"]
                rows.append([f"{name} (batch {batch})"] + cells + [f"{ratio:.2f}"])
                print(f"  {name} batch {batch} done", flush=True)
    print()
    print(f"CPU: {cpu_line()}; corenn ISA path: {corenn_isa(corenn)}; {ARGS.threads} threads; "
          f"onnxruntime {ort.__version__}")
    print(versions(corenn, torch))
    if ARGS.smoke:
        print("(smoke run: the numbers below mean nothing)")
    print(markdown_table(["model"] + cols + ["ORT time / corenn predict time"], rows))
    print("batch 1: ms per call (lower is better); batch 256: samples/s (higher is better); "
          "the last column > 1 means corenn predict is faster than ONNX Runtime")


if __name__ == "__main__":
    main()
