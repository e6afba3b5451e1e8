"""The image preprocessing kernels against PyTorch (CPU), one batch at a time.

    python bench/image_preprocessing.py [--threads 2] [--repeats 10] [--batch 32] [--size 224]

resize2d: corenn.kernels.resize2d_forward / _backward (Resizing, bilinear, NHWC) from size x size
to 3/4 of it, against torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
antialias=False) on the same images in PyTorch's NCHW layout (its forward and the backward of a
sum against the same dy). image_transform: kernels.image_transform_forward / _backward
(RandomRotation's bilinear warp, reflect fill) against torch's affine_grid + grid_sample
(bilinear, padding_mode="reflection", align_corners=False): the same job (one 2x3 warp per image),
not the same border rule. PyTorch's backward rows include its forward (autograd reruns it). Timings alternate corenn / PyTorch and keep the best of --repeats.
Ratios > 1 mean corenn is faster.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    args = p.parse_args()
    import corenn
    from corenn import kernels
    from corenn.layers.image_preprocessing import rotation_transforms
    corenn.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    n, s = args.batch, args.size
    out = (3 * s // 4, 3 * s // 4)
    x = rng.uniform(0, 255, (n, s, s, 3)).astype(np.float32)
    dy = rng.normal(size=(n,) + out + (3,)).astype(np.float32)
    dyw = rng.normal(size=x.shape).astype(np.float32)
    t = rotation_transforms(rng.uniform(-0.6, 0.6, n), s, s).astype(np.float32)
    y, dx, yw, dxw = (kernels.empty(sh) for sh in ((n,) + out + (3,), x.shape, x.shape, x.shape))
    rows = {
        "resize2d forward": lambda: kernels.resize2d_forward(x, out, out=y),
        "resize2d backward": lambda: kernels.resize2d_backward(dy, x.shape, out=dx),
        "image_transform forward": lambda: kernels.image_transform_forward(x, t, None, "bilinear", "reflect", out=yw),
        "image_transform backward": lambda: kernels.image_transform_backward(dyw, t, x.shape, "bilinear", "reflect", out=dxw),
    }
    theirs = {}
    if torch is not None:
        F = torch.nn.functional
        xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
        dyt, dywt = (torch.tensor(a.transpose(0, 3, 1, 2).copy()) for a in (dy, dyw))
        # theta maps output to input in normalized coordinates; the rotation about the centre is the same map
        ang = torch.tensor(rng.uniform(-0.6, 0.6, n), dtype=torch.float32)
        theta = torch.stack([torch.stack([ang.cos(), -ang.sin(), torch.zeros(n)], 1),
                             torch.stack([ang.sin(), ang.cos(), torch.zeros(n)], 1)], 1)
        grid = F.affine_grid(theta, list(xt.shape), align_corners=False)

        def resize_fwd():
            with torch.no_grad():
                F.interpolate(xt, size=out, mode="bilinear", align_corners=False, antialias=False)

        def resize_bwd():
            xt.grad = None
            F.interpolate(xt, size=out, mode="bilinear", align_corners=False).backward(dyt)

        def warp_fwd():
            with torch.no_grad():
                F.grid_sample(xt, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

        def warp_bwd():
            xt.grad = None
            F.grid_sample(xt, grid, mode="bilinear", padding_mode="reflection",
                          align_corners=False).backward(dywt)
        theirs = {"resize2d forward": resize_fwd, "resize2d backward": resize_bwd,
                  "image_transform forward": warp_fwd, "image_transform backward": warp_bwd}
    print(f"batch {n}, {s}x{s}x3 -> {out[0]}x{out[1]} (resize), {args.threads} threads, best of {args.repeats}")
    print("| kernel | corenn ms | torch ms | ratio |")
    print("|---|---|---|---|")
    for name, fn in rows.items():
        fn()
        mine = best(fn, args.repeats)
        if name in theirs:
            theirs[name]()
            other = best(theirs[name], args.repeats)
            note = " (torch: forward + backward)" if "backward" in name else ""
            print(f"| {name}{note} | {mine * 1e3:.2f} | {other * 1e3:.2f} | {other / mine:.2f} |")
        else:
            print(f"| {name} | {mine * 1e3:.2f} | - | - |")


if __name__ == "__main__":
    main()
