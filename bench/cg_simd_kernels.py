"""Instructions of the kernels written over the ISA traits (csrc/cpu/simd/: max pooling, layer
norm and RMS norm rows, attention softmax rows, dropout, activations) on the AVX2 path (or the
ISA named by an optional third argument, e.g. ref for the reference rows), counted by valgrind
(its virtual CPU has no AVX-512; deterministic on a shared host). Each family runs on whole
vectors and on shapes with tails, on one thread. Count the instructions of the _C module (and
libm, where a scalar tail calls exp) for 2 repetitions, minus the 0-repetition count (import):

    CORENN_ISA=avx2 CORENN_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=cg.out \\
        PYTHON bench/cg_simd_kernels.py 2 pool|ln|rms|attn|drop|act|all [avx2|ref]
    callgrind_annotate --threshold=100 cg.out | grep _C.cpython   # sum the first column
"""
import sys

import numpy as np

from corenn import Tensor, _C, kernels

reps = int(sys.argv[1])
family = sys.argv[2] if len(sys.argv) > 2 else "all"


def run(name):
    return family in ("all", name)


_C.set_isa(sys.argv[3] if len(sys.argv) > 3 else "avx2")
rng = np.random.default_rng(0)


def T(a):
    return Tensor.from_numpy(np.ascontiguousarray(a, np.float32))


# channel / feature / key counts: whole vectors, and a tail after them
pool_x = [T(rng.standard_normal((4, 32, 32, c))) for c in (32, 37)]
ln_x = [T(rng.standard_normal((512, d))) for d in (256, 203)]
ln_g = [T(rng.standard_normal(d)) for d in (256, 203)]
ln_b = [T(rng.standard_normal(d)) for d in (256, 203)]
scores = [T(rng.standard_normal((4, 4, 64, k))) for k in (128, 123)]
act_x = [T(rng.standard_normal((256, c))) for c in (256, 203)]
drop_x = [T(rng.standard_normal(n)) for n in (262144, 262139)]
for _ in range(reps):
    for x in pool_x if run("pool") else ():
        for pool, stride in (((2, 2), (2, 2)), ((3, 3), (2, 2))):
            y, am = kernels.max_pool2d_forward(x, pool, stride)
            kernels.max_pool2d_backward(y, am, x.shape, pool, stride)
    for x, g, b in (zip(ln_x, ln_g, ln_b) if run("ln") else ()):
        y, mean, inv = kernels.layer_norm_forward(x, g, b)
        dg, db = T(np.zeros(x.shape[-1])), T(np.zeros(x.shape[-1]))
        kernels.layer_norm_backward(y, x, g, mean, inv, dgamma=dg, dbeta=db)
    for x, g in (zip(ln_x, ln_g) if run("rms") else ()):
        y, inv = kernels.rms_norm_forward(x, g)
        dg = T(np.zeros(x.shape[-1]))
        kernels.rms_norm_backward(y, x, g, inv, dgamma=dg)
    for s in scores if run("attn") else ():
        p, _ = kernels.masked_softmax_forward(s, causal=True, scale=0.5)
        kernels.masked_softmax_backward(p, s, scale=0.5)
    for x in drop_x if run("drop") else ():
        kernels.dropout_forward(x, 0.3, seed=7)
    for x in act_x if run("act") else ():
        for kind in ("sigmoid", "tanh", "gelu", "swish", "softplus", "elu", "selu", "softmax",
                     "log_softmax"):
            kernels.activation_forward(kind, x, alpha=0.3)
        for kind in ("relu", "leaky_relu", "gelu", "softplus", "swish", "softmax", "log_softmax"):
            kernels.activation_backward(kind, x, x, x, alpha=0.3)
