"""Transfer learning with a Sequential model, as the keras.io guides write it ("The Sequential
model": a pre-trained base used as the first layer of a new Sequential; "Transfer learning &
fine-tuning": freeze it through ``model.layers[0]``, train the head, unfreeze, recompile, fine-tune
at a low learning rate, save and reload). The base is a Sequential pre-trained here on synthetic
data. Only the imports changed (the same program passes under Keras 3 with ``import keras``)."""
import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)

# two related tasks on the same 16 features: the base learns features on task A
x_a = rng.normal(size=(512, 16)).astype("float32")
y_a = (x_a[:, :4].sum(axis=1) > 0).astype("int64") + 2 * (x_a[:, 4:8].sum(axis=1) > 0).astype("int64")
x_b = rng.normal(size=(256, 16)).astype("float32")
y_b = (x_b[:, :4].sum(axis=1) - x_b[:, 4:8].sum(axis=1) > 0).astype("float32")

base_model = keras.Sequential(
    [
        keras.Input(shape=(16,)),
        layers.Dense(32, activation="relu", name="dense_1"),
        layers.BatchNormalization(name="bn"),
        layers.Dense(16, activation="relu", name="dense_2"),
    ],
    name="base",
)
pretrain = keras.Sequential([base_model, layers.Dense(4, activation="softmax", name="task_a")])
pretrain.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
pretrain.fit(x_a, y_a, epochs=8, batch_size=32, verbose=0)
print("task A accuracy", pretrain.evaluate(x_a, y_a, verbose=0)[1])

# Use a Sequential model to add a trainable layer on top of the pre-trained base
model = keras.Sequential([base_model, layers.Dense(1, name="head")])
assert len(model.layers) == 2, [layer.name for layer in model.layers]
assert model.get_layer("base") is base_model and model.layers[-1].name == "head"

# Freeze the base through the model's first layer
model.layers[0].trainable = False
assert base_model.trainable is False and base_model.layers[0].trainable is False
assert len(model.trainable_weights) == 2                      # the head's kernel and bias
assert len(model.non_trainable_weights) == 8                  # the base's 2 + 4 + 2
model.summary()

frozen = [w.copy() for w in base_model.get_weights()]
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[keras.metrics.BinaryAccuracy()])
model.fit(x_b, y_b, epochs=10, batch_size=32, verbose=0)
for before, after in zip(frozen, base_model.get_weights()):
    np.testing.assert_array_equal(before, after)              # moving statistics untouched too
acc_frozen = model.evaluate(x_b, y_b, verbose=0)[1]
print("frozen base accuracy", acc_frozen)
assert acc_frozen > 0.8

# Fine-tuning: unfreeze the base, recompile with a very low learning rate
model.layers[0].trainable = True
assert len(model.trainable_weights) == 2 + 6
model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[keras.metrics.BinaryAccuracy()])
model.fit(x_b, y_b, epochs=3, batch_size=32, verbose=0)
assert not np.array_equal(frozen[0], base_model.get_weights()[0])   # the base moved
acc_tuned = model.evaluate(x_b, y_b, verbose=0)[1]
print("fine-tuned accuracy", acc_tuned)
assert acc_tuned >= acc_frozen - 0.05

# the pre-training model shares the base: it still runs, on the fine-tuned weights
assert pretrain.predict(x_a[:4], verbose=0).shape == (4, 4)

# save and reload: the base comes back as one layer
model.save("transfer.keras")
reloaded = keras.models.load_model("transfer.keras")
assert [layer.name for layer in reloaded.layers] == ["base", "head"]
assert isinstance(reloaded.layers[0], keras.Sequential)
np.testing.assert_allclose(reloaded.predict(x_b[:8], verbose=0), model.predict(x_b[:8], verbose=0),
                           rtol=1e-5, atol=1e-6)
