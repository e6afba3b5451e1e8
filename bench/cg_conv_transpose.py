"""Instructions per Conv2DTranspose training step (bench/conv_transpose_depthwise.py's
"7x7x128->64 k4 s2" case, batch 32: layer.forward(training=True), then layer.backward with the
input, weight and bias gradients), counted by valgrind: run 2 warm steps plus 0 and plus N steps;
the difference / N is one step. CORENN_ISA=avx2 (valgrind has no AVX-512), 1 thread.

    for n in 0 4; do CORENN_ISA=avx2 valgrind --tool=callgrind --callgrind-out-file=cg.$n \\
        PYTHON bench/cg_conv_transpose.py $n; done
    (add --cache-sim=yes --D1=32768,8,64 --LL=1048576,16,64 for misses past a Zen 4-sized L2)

Issue 13, December 2026 (Release builds): 169.95M -> 166.66M instructions per step; with the cache
simulation, data writes 3.47M -> 2.34M and lines written back past the 1 MB L2 73.3K -> 63.1K per
step (reads past it unchanged, 245K). The micro-kernel is 145.5M of them, the three passes'
packers most of the rest; bias sum, copies and Python are ~2%.
"""
import sys

import numpy as np

import corenn
from corenn import kernels

steps = int(sys.argv[1])
corenn.set_num_threads(1)
rng = np.random.default_rng(0)
layer = corenn.layers.Conv2DTranspose(64, 4, strides=2, padding="same")
layer.build((None, 7, 7, 128))
x = kernels.as_tensor(rng.standard_normal((32, 7, 7, 128), dtype=np.float32))
dy = kernels.as_tensor(rng.standard_normal((32, 14, 14, 64), dtype=np.float32))
for _ in range(2 + steps):
    layer.forward(x, training=True)
    layer.backward(dy)
