"""Trains a few steps of one model per kernel family: run under valgrind by
tests/core/test_avx2_machine.py, whose virtual CPU has AVX2 but no AVX-512, so any AVX-512
instruction that runs on the AVX2 path (a load-time initializer, an inline copy the linker kept
from an _avx512 file) stops the run with SIGILL, as it would on an AVX2-only machine."""
import numpy as np
import corenn
from corenn import layers

cfg = corenn._C.cpu_config()
print("isa", cfg["isa"], "avx512", corenn._C.cpu_has_avx512())
rng = np.random.default_rng(0)
corenn.utils.set_random_seed(0)
img = rng.random((8, 12, 12, 3), dtype=np.float32)
seq = rng.random((8, 6, 5), dtype=np.float32)
lab = rng.integers(0, 4, 8)
models = {
    "conv": (corenn.Sequential([layers.Input((12, 12, 3)), layers.Conv2D(16, 3, activation="relu"),
                                layers.MaxPooling2D(2), layers.Conv2D(16, 3, padding="same"),
                                layers.BatchNormalization(), layers.DepthwiseConv2D(3, padding="same"),
                                layers.AveragePooling2D(2), layers.Conv2DTranspose(8, 3, strides=2),
                                layers.GlobalAveragePooling2D(), layers.Dropout(0.2),
                                layers.Dense(4)]), img),
    "rnn": (corenn.Sequential([layers.Input((6, 5)), layers.LSTM(8, return_sequences=True),
                               layers.GRU(8, return_sequences=True), layers.SimpleRNN(8),
                               layers.Dense(4, activation="gelu")]), seq),
    "attention": (corenn.Sequential([layers.Input((6, 5)), layers.LayerNormalization(),
                                     layers.Dense(8, activation="tanh"),
                                     layers.Flatten(), layers.Dense(4)]), seq),
}
for name, (model, x) in models.items():
    model.compile(optimizer="adam", loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = [model.train_on_batch(x, lab) for _ in range(3)]
    print(name, "loss", losses[0], "->", losses[-1])
    assert np.isfinite(losses).all()
# attention through the functional API, and the MSE loss row
inp = corenn.keras.Input((6, 5))
h = layers.MultiHeadAttention(num_heads=2, key_dim=4)(inp, inp)
out = layers.Dense(1)(layers.GlobalAveragePooling1D()(h))
m = corenn.keras.Model(inp, out)
m.compile(optimizer="sgd", loss="mse")
print("mha loss", m.train_on_batch(seq, rng.random((8, 1), dtype=np.float32)))
a = rng.random((70, 90), dtype=np.float32); b = rng.random((90, 50), dtype=np.float32)
err = np.abs(np.asarray(corenn.ops.matmul(a, b)) - a.astype(np.float64) @ b).max()
print("matmul max err", err)
assert err < 1e-3
print("AVX2-MACHINE-SMOKE-OK")
