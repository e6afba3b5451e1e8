"""Serving a trained model outside Keras, as Keras 3's `Model.export` documents it for ONNX:
`model.export(path, format="onnx")`, then an `onnxruntime.InferenceSession` fed a dict built from
`get_inputs()` names. A small convnet (Conv-BN-ReLU, pooling, Dropout, Dense) is trained
briefly on synthetic images; the ONNX runtime's predictions match `model.predict` at two batch
sizes (the batch axis is dynamic) and give the same labels. Only the imports changed."""
import numpy as np
import onnxruntime

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(2)
rng = np.random.default_rng(0)
y = rng.integers(0, 3, 300)
x = rng.normal(0, 0.3, (300, 12, 12, 1)).astype("float32")
x[y == 0, 2:10, 5:7] += 1.0
x[y == 1, 5:7, 2:10] += 1.0
x[y == 2, 4:8, 4:8] += 1.0

inputs = keras.Input((12, 12, 1), name="image")
h = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
h = layers.BatchNormalization()(h)
h = layers.Activation("relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(16, 3, activation="relu")(h)
h = layers.GlobalAveragePooling2D()(h)
h = layers.Dropout(0.3)(h)
outputs = layers.Dense(3, activation="softmax", name="probs")(h)
model = keras.Model(inputs, outputs)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=5, verbose=0)
_, acc = model.evaluate(x, y, verbose=0)
assert acc > 0.9, acc

model.export("classifier.onnx", format="onnx")
ort_session = onnxruntime.InferenceSession("classifier.onnx")
assert len(ort_session.get_inputs()) == 1
for batch in (x[:7], x[100:164]):
    input_data = [batch]
    ort_inputs = {k.name: v for k, v in zip(ort_session.get_inputs(), input_data)}
    predictions = ort_session.run(None, ort_inputs)[0]
    expected = model.predict(batch, verbose=0)
    assert predictions.shape == expected.shape, (predictions.shape, expected.shape)
    np.testing.assert_allclose(predictions, expected, rtol=1e-4, atol=1e-5)
    assert (predictions.argmax(1) == expected.argmax(1)).all()
print("onnxruntime matches predict; accuracy", round(acc, 3))
