"""A small ResNet on Fashion-MNIST, written the way the Functional API guide's "toy ResNet" and
keras.applications' ResNet write residual blocks: Conv-BN-ReLU, Conv-BN, `layers.add` with the
shortcut (a strided 1x1 Conv-BN projection where the shape changes), ReLU, then
GlobalAveragePooling2D and a softmax head; trained with fit on a 3000-image subset (the real data
set, from the Debian package or the cache). Checked: the residual wiring (parameter count and
output shapes), accuracy well above chance on held-out test images, and that evaluate and a
predict-based accuracy agree. BatchNormalization uses momentum 0.9: with the default 0.99 the
moving statistics of a run this short (~130 steps) are still mostly their initial values, and
inference-mode accuracy is at chance in Keras too. Only the imports changed."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train, y_train = x_train[:3000], y_train[:3000]
x_test, y_test = x_test[:1000], y_test[:1000]
x_train = np.expand_dims(x_train.astype("float32") / 255.0, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255.0, -1)


def residual_block(x, filters, stride=1, name=None):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name + "_proj")(x)
        shortcut = layers.BatchNormalization(momentum=0.9, name=name + "_proj_bn")(shortcut)
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name + "_conv1")(x)
    y = layers.BatchNormalization(momentum=0.9, name=name + "_bn1")(y)
    y = layers.Activation("relu", name=name + "_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_conv2")(y)
    y = layers.BatchNormalization(momentum=0.9, name=name + "_bn2")(y)
    y = layers.add([shortcut, y], name=name + "_add")
    return layers.Activation("relu", name=name + "_out")(y)


inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
x = layers.Activation("relu", name="stem_relu")(x)
x = residual_block(x, 16, name="block1")
x = residual_block(x, 32, stride=2, name="block2")
x = residual_block(x, 32, name="block3")
x = residual_block(x, 48, stride=2, name="block4")
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs, name="small_resnet")

assert model.get_layer("block2_add").output.shape == (None, 14, 14, 32)
assert model.get_layer("block4_out").output.shape == (None, 7, 7, 48)
# conv kernels + BN (4 per BN layer) + head
convs = 9 * 16 + 9 * 16 * 16 * 2 + (16 * 32 + 9 * 16 * 32 + 9 * 32 * 32) + 9 * 32 * 32 * 2 + (32 * 48 + 9 * 32 * 48 + 9 * 48 * 48)
bns = 4 * (16 + 16 * 2 + 32 * 3 + 32 * 2 + 48 * 3)
assert model.count_params() == convs + bns + 48 * 10 + 10, model.count_params()

model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
hist = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.1, verbose=0)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print("train acc", [round(a, 3) for a in hist.history["accuracy"]], "val", [round(a, 3) for a in hist.history["val_accuracy"]], "test acc", round(acc, 3))
assert hist.history["accuracy"][-1] > hist.history["accuracy"][0]
assert acc > 0.65, acc           # chance is 0.10
pred_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
assert abs(pred_acc - acc) < 1e-6, (pred_acc, acc)
