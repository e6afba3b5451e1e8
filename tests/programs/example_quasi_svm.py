"""keras-io examples/keras_recipes/quasi_svm (A Quasi-SVM in Keras), imports changed only
(`from tensorflow import keras`, `from tensorflow.keras import layers`,
`from tensorflow.keras.layers.experimental import RandomFourierFeatures` -> corenn). MNIST is
replaced by synthetic 784-pixel images of 10 classes that no linear model separates, the
feature count is 1024 (4096 in the example) and training is 5 epochs; the model is also saved
and reloaded."""
import numpy as np

from corenn import keras
from corenn.keras import layers
from corenn.keras.layers.experimental import RandomFourierFeatures

keras.utils.set_random_seed(8)

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        RandomFourierFeatures(
            output_dim=1024, scale=10.0, kernel_initializer="gaussian"
        ),
        layers.Dense(units=10),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    loss=keras.losses.hinge,
    metrics=[keras.metrics.CategoricalAccuracy(name="acc")],
)

# synthetic stand-in for MNIST: class k lights a block of pixels whose position is k and whose
# sign pattern is random per image (+block or -block): a kernel machine, not a linear one
rng = np.random.default_rng(8)


def make_data(n):
    y = rng.integers(0, 10, n)
    x = rng.normal(0.0, 0.3, (n, 784))
    for i, label in enumerate(y):
        x[i, 78 * label: 78 * label + 40] += rng.choice([-1.0, 1.0]) * 1.5
    return x.astype("float32"), y


(x_train, y_train), (x_test, y_test) = make_data(2000), make_data(400)

# Categorical (one hot) encoding of the labels
y_train = keras.utils.to_categorical(y_train)
y_test = keras.utils.to_categorical(y_test)

history = model.fit(x_train, y_train, epochs=5, batch_size=128, validation_split=0.2, verbose=0)
print(history.history)
assert history.history["loss"][-1] < history.history["loss"][0]
assert history.history["val_acc"][-1] > 0.8, history.history["val_acc"]

# the random features are fixed (tf.keras 2's layer is not trainable): only the Dense learned
features = model.layers[0]
assert not features.trainable and len(model.trainable_weights) == 2
assert [w.shape for w in features.non_trainable_weights] == [(784, 1024), (1024,), (1,)]

# a linear model on the raw pixels cannot tell +block from -block
linear = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(units=10)])
linear.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.hinge,
               metrics=[keras.metrics.CategoricalAccuracy(name="acc")])
linear.fit(x_train, y_train, epochs=5, batch_size=128, verbose=0)
_, linear_acc = linear.evaluate(x_test, y_test, verbose=0)
_, svm_acc = model.evaluate(x_test, y_test, verbose=0)
print(linear_acc, svm_acc)
assert svm_acc > linear_acc + 0.2

model.save("quasi_svm.keras")
reloaded = keras.models.load_model("quasi_svm.keras")
np.testing.assert_allclose(reloaded.predict(x_test[:16], verbose=0), model.predict(x_test[:16], verbose=0),
                           rtol=1e-5, atol=1e-5)
