"""Instructions of corenn predict on the bench's MLP, for valgrind (no wall clock).

    CORENN_ISA=avx2 CORENN_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/predict_instructions.py --calls N [--model mlp|cnn|lstm] [--batch 256]

Builds the model of bench/onnx_inference.py (seeded), runs one warm-up predict over 4 batches,
then N more. Run it with two values of N: the difference of the totals divided by the
difference of N is the instruction count of one predict call (4 batches), free of the import
and start-up cost. `--no-keep` turns the packed-weight cache off (Dense passes
keep_b_packed=False), for a before/after on one build.
"""
import argparse
import os
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--calls", type=int, default=1)
p.add_argument("--model", choices=["mlp", "cnn", "lstm"], default="mlp")
p.add_argument("--batch", type=int, default=256)
p.add_argument("--no-keep", action="store_true")
args = p.parse_args()

import corenn  # noqa: E402
from corenn import layers as L  # noqa: E402

if args.no_keep:
    from corenn import kernels
    _gemm = kernels._C.gemm
    kernels._gemm = lambda *a: _gemm(*a[:9])  # drop keep_b_packed: pack per call as before

corenn.utils.set_random_seed(0)
shapes = {"mlp": (28, 28), "cnn": (28, 28, 1), "lstm": (28, 28)}
if args.model == "mlp":
    model = corenn.Sequential([L.Input(shape=(28, 28)), L.Flatten(), L.Dense(512, activation="relu"),
                               L.Dense(256, activation="relu"), L.Dense(10)])
elif args.model == "cnn":
    model = corenn.Sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10)])
else:
    model = corenn.Sequential([L.Input(shape=(28, 28)), L.LSTM(64, return_sequences=True), L.LSTM(64),
                               L.Dense(10)])
x = np.random.default_rng(0).standard_normal((4 * args.batch,) + shapes[args.model]).astype(np.float32)
y = model.predict(x, batch_size=args.batch, verbose=0)
for _ in range(args.calls):
    model.predict(x, batch_size=args.batch, verbose=0)
print("isa", corenn.kernels._C.get_isa(), "threads", corenn.get_num_threads() if hasattr(corenn, "get_num_threads") else "?",
      "checksum", float(np.abs(y).sum()), file=sys.stderr)
