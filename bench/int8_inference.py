"""int8 inference side by side: a float32 model and the same model after model.quantize("int8").

    python bench/int8_inference.py [--threads 2] [--rounds 5] [--batches 1,16,64,256]
                                   [--only mlp|dense512] [--smoke]

Models (random Keras-initialised weights; the int8 model is a clone with the same weights,
then quantized):
    mlp        Input(784) -> Dense(256, relu) -> Dense(256, relu) -> Dense(10)
    dense512   Input(512) -> Dense(512)
Contenders per model and batch, alternated A B C ... each round after a short pause (bench/_common
.py: alternate, waiting while the host is busy), best of --rounds rounds; a round is one call
(waking the threads), then at least 0.05 s of timed calls:
    float          the float32 model (its kernels kept packed for the GEMM)
    int8           the quantized model (its int8 kernels kept packed on the weights)
    int8 per call  the quantized model with the kept kernel disabled (quantized_matmul(keep=False):
                   each call packs the kernel, as every call did before the kept form)
for model.predict_on_batch(x) and model.predict(x, batch_size=batch). Before timing the int8
outputs are checked to equal the per-call ones bit for bit and to be near the float model's.
Prints the CPU model, corenn's ISA path and its int8 tiles, a Markdown table of ms per call, and
the bytes each model keeps for its kernels. --smoke: one tiny round, to check the script runs
(its numbers mean nothing). On a shared host the numbers are noisy: compare within one run.
"""
import argparse
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="alternated rounds per contender (best kept)")
    p.add_argument("--batches", default="1,16,64,256")
    p.add_argument("--only", choices=["mlp", "dense512"], default=None)
    p.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    return p.parse_args()


ARGS = parse_args()
if ARGS.smoke:
    os.environ["CORENN_BENCH_MAX_WAIT"] = "0"   # no waiting for an idle host: the numbers mean nothing
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CORENN_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import corenn  # noqa: E402
from corenn import kernels, layers as L  # noqa: E402
import _common  # noqa: E402
from _common import alternate, best_clean, corenn_isa, cpu_line, markdown_table  # noqa: E402

MIN_TIMED_S = 0.05


def build(name):
    corenn.utils.set_random_seed(0)
    if name == "mlp":
        model = corenn.Sequential([L.Input(shape=(784,)), L.Dense(256, activation="relu"),
                                   L.Dense(256, activation="relu"), L.Dense(10)])
    else:
        model = corenn.Sequential([L.Input(shape=(512,)), L.Dense(512)])
    quantized = corenn.models.clone_model(model)
    quantized.set_weights(model.get_weights())
    quantized.quantize("int8")
    return model, quantized


class PerCall:
    """While active, quantized_matmul ignores keep=True: the int8 kernel is made every call."""
    original = kernels.quantized_matmul

    def __enter__(self):
        kernels.quantized_matmul = lambda *a, keep=False, **k: PerCall.original(*a, keep=False, **k)

    def __exit__(self, *exc):
        kernels.quantized_matmul = PerCall.original


def timer(call, per_call=False):
    def run():
        with PerCall() if per_call else _nothing():
            call()                      # wakes the threads; not timed
            n, t0 = 0, time.perf_counter()
            while True:
                call()
                n += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= MIN_TIMED_S or ARGS.smoke:
                    return elapsed / n
    return run


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def kept_bytes(model):
    """Bytes the model keeps for its kernels: the weights (an int8 kernel 1 byte a value), plus
    what the caches hold after three predicts of a batch of 256 (the float GEMM keeps a kernel
    packed from its second call)."""
    x = np.zeros((256, model.inputs[0].shape[-1]), np.float32)
    for _ in range(3):
        model.predict_on_batch(x)
    weights = sum(np.asarray(w).nbytes for w in model.get_weights())
    extra = 0
    for layer in model.layers:
        if isinstance(layer, L.Dense):
            extra += kernels._packed_b_bytes(layer.kernel) + kernels._int8_kept_bytes(layer.kernel)
    return weights, extra


def int8_tiles():
    isa = corenn_isa(corenn)
    if isa == "avx512":
        vnni = corenn._C._set_int8_gemm_vnni(True)   # the default where the CPU has VNNI
        return "AVX-512 6x32 " + ("VPDPWSSD (VNNI)" if vnni else "VPMADDWD")
    return {"avx2": "AVX2 4x16 VPMADDWD"}.get(isa, "reference loops")


def main():
    corenn.set_num_threads(ARGS.threads)
    batches = [1, 4] if ARGS.smoke else [int(b) for b in ARGS.batches.split(",")]
    rounds = 1 if ARGS.smoke else ARGS.rounds
    print(f"CPU: {cpu_line()}")
    print(f"corenn ISA path: {corenn_isa(corenn)}; int8 tiles: {int8_tiles()}; threads: {ARGS.threads}")
    if not ARGS.smoke:
        _common.wait_for_quiet_host()
    rows, memory = [], []
    rng = np.random.default_rng(0)
    for name in ([ARGS.only] if ARGS.only else ["mlp", "dense512"]):
        model, quantized = build(name)
        features = model.inputs[0].shape[-1]
        for batch in batches:
            x = rng.standard_normal((batch, features)).astype(np.float32)
            want = quantized.predict_on_batch(x)
            with PerCall():
                np.testing.assert_array_equal(quantized.predict_on_batch(x), want)
            np.testing.assert_allclose(want, model.predict_on_batch(x), rtol=0.1, atol=0.1)
            for how in ("predict_on_batch", "predict"):
                call = {"predict_on_batch": lambda m: (lambda: m.predict_on_batch(x)),
                        "predict": lambda m: (lambda: m.predict(x, batch_size=batch, verbose=0))}[how]
                runs = {"float": timer(call(model)), "int8": timer(call(quantized)),
                        "int8 per call": timer(call(quantized), per_call=True)}
                best = {k: best_clean(v)[0] for k, v in alternate(runs, rounds).items()}
                rows.append([f"{name} b={batch} {how}", f"{1e3 * best['float']:.3f}",
                             f"{1e3 * best['int8']:.3f}", f"{1e3 * best['int8 per call']:.3f}",
                             f"{best['float'] / best['int8']:.2f}x"])
                print("  " + " | ".join(rows[-1]), flush=True)
        memory.append([name, *kept_bytes(model), *kept_bytes(quantized)])
    print()
    print(markdown_table(["model, batch, call", "float ms", "int8 ms", "int8 per call ms",
                          "int8 speed-up"], rows))
    print()
    print(markdown_table(["model", "float: weights B", "float: kept packed B", "int8: weights B",
                          "int8: kept int8 kernel B"], memory))
    if ARGS.smoke:
        print("(--smoke: the numbers above mean nothing)")


if __name__ == "__main__":
    main()
