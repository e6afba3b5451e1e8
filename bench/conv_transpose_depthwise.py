"""Conv2DTranspose and DepthwiseConv2D kernels: GFLOP/s, % of peak, fwd+bwd against PyTorch.

    python bench/conv_transpose_depthwise.py --peak 195 [--threads 2] [--rounds 5] [--batch 32]
    python bench/conv_transpose_depthwise.py --tiny      # smoke run: tiny shapes, one round

For each case: the forward pass alone (inference), and one training step of the layer as a model
runs it: forward, then backward with the input gradient and the weight and bias gradients. corenn's layer (NHWC; Conv2DTranspose runs
conv2d's data-gradient engine forward, DepthwiseConv2D its direct NHWC kernel) against
torch.nn.functional.conv_transpose2d / conv2d(groups=C) in PyTorch's own NCHW layout, both on
--threads threads. Runs alternate corenn / PyTorch (A B A B ..., bench/_common.alternate: a pause
and a wait for an idle host before each), and each contender keeps its best round among those
other processes left alone. FLOPs count 2 per multiply-add: forward 2 * N * H * W * Cin * Cout
* KH * KW for the transposed conv (H, W its input), 2 * N * OH * OW * C * DM * KH * KW for the
depthwise one; a step is 3x that (forward, data gradient, weight gradient). % of peak uses --peak
(GFLOP/s of the whole run's threads; default 97 per thread). The ratio is PyTorch's time / corenn's (> 1: corenn faster); issue 13 targets >= 1.5.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


RUN_S = 0.1  # seconds of timed steps per run (see timed)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="alternated rounds per contender")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--peak", type=float, default=None, help="FP32 peak GFLOP/s of --threads threads")
    p.add_argument("--tiny", action="store_true", help="smoke run: tiny shapes, one round, no idle wait")
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
if ARGS.tiny:
    os.environ["CORENN_BENCH_MAX_WAIT"] = "0"

import numpy as np  # noqa: E402

import corenn  # noqa: E402
from corenn import kernels  # noqa: E402
import _common  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None

# (name, (H, W, Cin), Cout, kernel, stride, padding): GAN / U-Net decoder upsampling layers
TRANSPOSE_CASES = [
    ("7x7x128->64 k4 s2", (7, 7, 128), 64, 4, 2, "same"),
    ("14x14x64->32 k3 s2", (14, 14, 64), 32, 3, 2, "same"),
    ("16x16x64->64 k3 s1", (16, 16, 64), 64, 3, 1, "same"),
    ("32x32x32->16 k2 s2", (32, 32, 32), 16, 2, 2, "valid"),
]
# (name, (H, W, C), depth multiplier, kernel, stride, padding): MobileNet's depthwise layers
DEPTHWISE_CASES = [
    ("112x112x32 k3 s1", (112, 112, 32), 1, 3, 1, "same"),
    ("56x56x128 k3 s1", (56, 56, 128), 1, 3, 1, "same"),
    ("28x28x256 k3 s2", (28, 28, 256), 1, 3, 2, "same"),
    ("14x14x512 k3 s1", (14, 14, 512), 1, 3, 1, "same"),
    ("28x28x64 k5 s1 dm2", (28, 28, 64), 2, 5, 1, "same"),
]
TINY_TRANSPOSE = [("4x4x8->4 k3 s2", (4, 4, 8), 4, 3, 2, "same")]
TINY_DEPTHWISE = [("6x6x16 k3 s1", (6, 6, 16), 1, 3, 1, "same"), ("6x6x8 k3 s2 dm2", (6, 6, 8), 2, 3, 2, "same")]


def timed(step, inner):
    """A run: a step that wakes the thread pools after the pause (bench/_common.PAUSE_S), then
    ``inner`` timed steps, at least as many as fill RUN_S seconds: the first steps after a pause
    are slower than the rest (caches, thread wake-ups; 4.5 then 3.6, 3.5, 3.3 ms for corenn's
    k4 s2 Conv2DTranspose step), and five of them made a run read up to 20% slow."""
    def run():
        t0 = time.perf_counter()
        step()
        n = max(inner, int(RUN_S / max(time.perf_counter() - t0, 1e-6)))
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        return (time.perf_counter() - t0) / n
    return run


def torch_transpose_steps(x, w, b, dy, stride, pt, length):
    """(forward, forward + backward) of conv_transpose2d with the padding of Keras's output
    (symmetric in torch: a longer output is cropped, which is a view)."""
    k = w.shape[0]
    full = (x.shape[1] - 1) * stride - 2 * pt + k
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
    extra = max(length - full, 0)

    def forward():
        y = torch.nn.functional.conv_transpose2d(xt, wt, bt, stride=stride, padding=pt,
                                                 output_padding=extra)
        return y[:, :, :length, :length]

    def step():
        xt.grad = wt.grad = bt.grad = None
        forward().backward(dyt)

    def forward_only():
        with torch.no_grad():
            forward()
    return forward_only, step


def torch_depthwise_steps(x, w, b, dy, stride, pads):
    c, dm = w.shape[2], w.shape[3]
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(
        w.reshape(w.shape[0], w.shape[1], c * dm).transpose(2, 0, 1)[:, None])).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
    symmetric = pads[0] == pads[1]

    def forward():
        xin = xt if symmetric else torch.nn.functional.pad(xt, (pads[0], pads[1], pads[0], pads[1]))
        return torch.nn.functional.conv2d(xin, wt, bt, stride=stride,
                                          padding=pads[0] if symmetric else 0, groups=c)

    def step():
        xt.grad = wt.grad = bt.grad = None
        forward().backward(dyt)

    def forward_only():
        with torch.no_grad():
            forward()
    return forward_only, step


def run_case(kind, name, layer, x_shape, fwd_flops, torch_steps, rng, peak):
    """Forward alone and the fwd+bwd step (input, weight and bias gradients), corenn and PyTorch,
    all four alternated; fwd+bwd does 3x the forward's FLOPs."""
    x = rng.standard_normal(x_shape, dtype=np.float32)
    layer.build((None,) + x_shape[1:])
    y_shape = (x_shape[0],) + tuple(layer.compute_output_shape((None,) + x_shape[1:])[1:])
    dy = rng.standard_normal(y_shape, dtype=np.float32)
    tx, tdy = kernels.as_tensor(x), kernels.as_tensor(dy)

    def corenn_forward():
        layer.forward(tx, training=False)

    def corenn_step():
        layer.forward(tx, training=True)
        layer.backward(tdy)

    inner = 1 if ARGS.tiny else max(5, int(2e8 / (3 * fwd_flops)))
    runs = {"corenn fwd": timed(corenn_forward, 3 * inner), "corenn step": timed(corenn_step, inner)}
    if torch is not None:
        t_fwd, t_step = torch_steps(x, *[np.asarray(w) for w in layer.get_weights()], dy)
        runs.update({"torch fwd": timed(t_fwd, 3 * inner), "torch step": timed(t_step, inner)})
    results = _common.alternate(runs, 1 if ARGS.tiny else ARGS.rounds)
    best = {k: _common.best_clean(v)[0] for k, v in results.items()}
    g_fwd = fwd_flops / best["corenn fwd"] / 1e9
    g_step = 3 * fwd_flops / best["corenn step"] / 1e9
    line = (f"{kind:<16}{name:<22}{best['corenn fwd'] * 1e3:9.3f}{g_fwd:8.1f}{100 * g_fwd / peak:5.0f}%"
            f"{best['corenn step'] * 1e3:10.3f}{g_step:8.1f}{100 * g_step / peak:5.0f}%")
    if torch is not None:
        line += (f"{best['torch fwd'] * 1e3:9.3f}{best['torch step'] * 1e3:10.3f}"
                 f"{best['torch step'] / best['corenn step']:7.2f}")
    print(line, flush=True)


def main():
    corenn.set_num_threads(ARGS.threads)
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    peak = ARGS.peak or 97.0 * ARGS.threads
    batch = 2 if ARGS.tiny else ARGS.batch
    rng = np.random.default_rng(0)
    print(f"{_common.cpu_line()}; corenn ISA {_common.corenn_isa(corenn)}; {ARGS.threads} threads; "
          f"batch {batch}; peak {peak:.0f} GFLOP/s; torch {'not installed' if torch is None else torch.__version__}")
    print(f"{'':<38}{'corenn fwd':>22}{'corenn fwd+bwd':>24}{'torch (ms)':>19}")
    print(f"{'kernel':<16}{'case':<22}{'ms':>9}{'GFLOP/s':>8}{'peak':>6}{'ms':>10}{'GFLOP/s':>8}"
          f"{'peak':>6}{'fwd':>9}{'fwd+bwd':>10}{'ratio':>7}")
    for name, (h, w, cin), cout, k, s, padding in (TINY_TRANSPOSE if ARGS.tiny else TRANSPOSE_CASES):
        layer = corenn.layers.Conv2DTranspose(cout, k, strides=s, padding=padding)
        length, pt = kernels.conv_transpose_output_length(h, k, s, padding)
        flops = 2.0 * batch * h * w * cin * cout * k * k  # every input pixel meets every tap
        run_case("Conv2DTranspose", name, layer, (batch, h, w, cin), flops,
                 lambda x, w_, b, dy, s=s, pt=pt, length=length: torch_transpose_steps(x, w_, b, dy, s, pt, length),
                 rng, peak)
    for name, (h, w, c), dm, k, s, padding in (TINY_DEPTHWISE if ARGS.tiny else DEPTHWISE_CASES):
        layer = corenn.layers.DepthwiseConv2D(k, strides=s, padding=padding, depth_multiplier=dm)
        (_, oh, ow, _), (pt, _) = kernels.depthwise_conv2d_output_shape((batch, h, w, c), k, dm, s, padding)
        after = max((oh - 1) * s + k - h - pt, 0)
        flops = 2.0 * batch * oh * ow * c * dm * k * k  # taps at the border counted too
        run_case("DepthwiseConv2D", name, layer, (batch, h, w, c), flops,
                 lambda x, w_, b, dy, s=s, pads=(pt, after): torch_depthwise_steps(x, w_, b, dy, s, pads),
                 rng, peak)


if __name__ == "__main__":
    main()
