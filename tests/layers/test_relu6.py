"""relu6 (Keras' activation, layers.ReLU(max_value=...)): MobileNet's clipped relu on its own
kernel, through Dense/Conv activations, the ReLU layer, saving and ONNX."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers

import reference as ref


def test_activation_names_agree(rng):
    x = (rng.standard_normal((4, 9)) * 5).astype(np.float32)
    want = np.minimum(np.maximum(ref.f64(x), 0), 6)
    np.testing.assert_allclose(np.asarray(keras.activations.relu6(x)), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(keras.activations.get("relu6")(x)), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.nn.relu6(x)), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layers.ReLU(6.0)(x)), want, rtol=1e-6)
    assert keras.activations.serialize(keras.activations.get("relu6")) in ("relu6", {"name": "relu6", "alpha": 6.0})


def test_dense_relu6_gradients_match_finite_differences(rng):
    x = (rng.standard_normal((5, 3)) * 4).astype(np.float32)
    layer = layers.Dense(4, activation="relu6")
    layer(x)
    w, b = [ref.f64(v) for v in layer.get_weights()]
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(xt)))
    gx, gw = tape.gradient(loss, [xt, layer.kernel])

    def f(x_, w_):
        return float(np.sum(np.minimum(np.maximum(x_ @ w_ + b, 0), 6) ** 2))
    np.testing.assert_allclose(np.asarray(gx), ref.numerical_grad(lambda v: f(v, w), ref.f64(x)), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gw), ref.numerical_grad(lambda v: f(ref.f64(x), v), w), rtol=1e-3, atol=1e-4)


def test_mobilenet_block_trains_saves_and_exports(rng, tmp_path):
    x = rng.random((64, 8, 8, 3)).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    inputs = keras.Input((8, 8, 3))
    h = layers.Conv2D(8, 1, use_bias=False)(inputs)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU(6.0)(h)
    h = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(h)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU(max_value=6.0)(h)
    h = layers.GlobalAveragePooling2D()(h)
    outputs = layers.Dense(2, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    hist = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.layers[3].max_value == 6.0
    np.testing.assert_allclose(again.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), rtol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    tf.onnx.export(model, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = sess.run(None, {sess.get_inputs()[0].name: x[:8]})[0]
    np.testing.assert_allclose(got, model.predict(x[:8], verbose=0), rtol=1e-5, atol=1e-6)
