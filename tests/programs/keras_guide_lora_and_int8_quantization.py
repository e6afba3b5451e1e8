"""Parameter-efficient fine-tuning as Keras 3 documents it: a pretrained model's Dense layers get
low-rank adapters with `layer.enable_lora(rank)` (the kernel freezes, only lora_kernel_a / _b
train), the adapted model is fine-tuned on a shifted task, saved and reloaded; then
`model.quantize("int8")` as the quantization guide runs it, whose predictions stay close to the
float model's. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(2)
rng = np.random.default_rng(2)
x = rng.normal(size=(512, 16)).astype("float32")
w = rng.normal(size=(16, 1)).astype("float32")
y_a = (x @ w > 0).astype("float32")
y_b = (x @ (w + 0.8 * rng.normal(size=(16, 1)).astype("float32")) > 0).astype("float32")

model = keras.Sequential([keras.Input((16,)), layers.Dense(64, activation="relu", name="d1"),
                          layers.Dense(64, activation="relu", name="d2"), layers.Dense(1, activation="sigmoid", name="out")])
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y_a, epochs=8, batch_size=64, verbose=0)
before_b = model.evaluate(x, y_b, verbose=0)[1]
model.save("pretrained.keras")

for name in ("d1", "d2"):
    model.get_layer(name).enable_lora(4)
d1 = model.get_layer("d1")
assert len(model.trainable_weights) == 2 * 3 + 2, [v.name for v in model.trainable_weights]   # lora a, b, bias each + out
assert tuple(d1.lora_kernel_a.shape) == (16, 4) and tuple(d1.lora_kernel_b.shape) == (4, 64)
assert len(d1.non_trainable_weights) == 1          # the frozen pretrained kernel
frozen = ops.convert_to_numpy(d1.non_trainable_weights[0]).copy()
# B starts at zero: the adapted model computes what the pretrained one did
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
np.testing.assert_allclose(model.evaluate(x, y_b, verbose=0)[1], before_b, atol=1e-6)
model.fit(x, y_b, epochs=10, batch_size=64, verbose=0)
after_b = model.evaluate(x, y_b, verbose=0)[1]
print("task B accuracy before", before_b, "after LoRA", after_b)
assert after_b > before_b + 0.05 and after_b > 0.9
# the frozen base kernel is unchanged; the low-rank pair trained
np.testing.assert_array_equal(ops.convert_to_numpy(d1.non_trainable_weights[0]), frozen)
assert np.abs(ops.convert_to_numpy(d1.lora_kernel_b)).max() > 0

pred = model.predict(x[:32], verbose=0)
model.save("lora.keras")
reloaded = keras.models.load_model("lora.keras")
np.testing.assert_allclose(reloaded.predict(x[:32], verbose=0), pred, rtol=1e-5, atol=1e-6)

# int8 post-training quantization of the pretrained float model, as the quantization guide does
model = keras.models.load_model("pretrained.keras")
float_pred = model.predict(x, verbose=0)
model.quantize("int8")
assert model.get_layer("d2").dtype_policy.name == "int8_from_float32", model.get_layer("d2").dtype_policy.name
q_pred = model.predict(x, verbose=0)
print("max |int8 - float|", np.abs(q_pred - float_pred).max())
assert 0 < np.abs(q_pred - float_pred).max() < 0.05
assert np.mean((q_pred > 0.5) == (float_pred > 0.5)) > 0.97
assert len(model.trainable_weights) == 3                 # the biases: int8 kernels are frozen
model.save("int8.keras")
q_reloaded = keras.models.load_model("int8.keras")
np.testing.assert_allclose(q_reloaded.predict(x, verbose=0), q_pred, rtol=1e-5, atol=1e-6)
