"""Smoke test of an installed corenn (a wheel on a machine with no compiler): it imports from
site-packages, reports the ISA it runs, and trains a tiny Dense model whose loss must fall.

    CORENN_ISA=ref python tools/smoke_wheel.py     # the portable kernels
    python tools/smoke_wheel.py                    # the best the CPU has (avx2 on most x86-64)

Run it from outside the source tree, so `import corenn` finds the installed package.
"""
import os
import platform
import sys

import numpy as np

import corenn
from corenn import _C


def main():
    here = os.path.dirname(os.path.abspath(corenn.__file__))
    assert "site-packages" in here or "dist-packages" in here, f"not an installed corenn: {here}"
    forced = os.environ.get("CORENN_ISA", "")
    isa = _C.get_isa()
    print(f"corenn {corenn.__version__} from {here}")
    print(f"python {platform.python_version()} on {platform.machine()}, CORENN_ISA={forced or '-'}: "
          f"isa {isa}, built {_C.isas_built}, cpu avx2+fma {_C.cpu_has_avx2_fma()}, "
          f"threads {corenn.get_num_threads()}")
    if forced == "ref":
        assert isa == "ref", isa
    elif not forced:
        best = "avx512" if _C.cpu_has_avx512() else "avx2" if _C.cpu_has_avx2_fma() else "ref"
        assert isa == best, isa

    # y = tanh(x W) + noise: a tiny regression a two-layer net learns in a few epochs.
    corenn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 16)).astype(np.float32)
    w = rng.normal(size=(16, 1)).astype(np.float32) / 4.0
    y = (np.tanh(x @ w) + 0.01 * rng.normal(size=(512, 1))).astype(np.float32)
    model = corenn.Sequential([corenn.layers.Dense(32, activation="relu"), corenn.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = float(model.evaluate(x, y, verbose=0))
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    losses = [float(v) for v in history.history["loss"]]
    after = float(model.evaluate(x, y, verbose=0))
    print("loss per epoch:", " ".join(f"{v:.4f}" for v in losses))
    print(f"evaluate: {before:.4f} before, {after:.4f} after")
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < 0.5 * losses[0] and after < 0.5 * before, (losses, before, after)
    pred = np.asarray(model.predict(x[:4], verbose=0))
    assert pred.shape == (4, 1) and np.all(np.isfinite(pred))
    print("smoke test passed")


if __name__ == "__main__":
    sys.exit(main())
