"""A model called inside another model: it runs inlined in the outer graph (one executor, its
weights shared between calls) and is listed, configured, saved and found as one layer, as Keras
does."""
import numpy as np

from corenn import keras, layers


def _siamese():
    enc_in = keras.Input((6,))
    encoder = keras.Model(enc_in, layers.Dense(4, activation="tanh")(layers.Dense(8)(enc_in)), name="encoder")
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    ea, eb = encoder(a), encoder(b)
    out = layers.Dense(1)(layers.Concatenate()([layers.Subtract()([ea, eb]), layers.Multiply()([ea, eb])]))
    return keras.Model([a, b], out), encoder


def test_inner_model_is_one_layer_and_shares_its_weights(rng):
    model, encoder = _siamese()
    assert [l.name for l in model.layers][:3] == ["a", "b", "encoder"]
    assert model.get_layer("encoder") is encoder
    assert len(model.trainable_weights) == len(encoder.trainable_weights) + 2   # shared, not copied
    lines = []
    model.summary(print_fn=lines.append)
    row = next(l for l in lines if l.startswith("encoder"))
    assert "(Functional)" in row and "a[0][0], b[0][0]" in row
    # the shared encoder's gradient is the sum over both calls: compare with two separate copies
    xa, xb = rng.random((5, 6)).astype(np.float32), rng.random((5, 6)).astype(np.float32)
    y = rng.random((5, 1)).astype(np.float32)
    model.compile("sgd", "mse")
    _, grads = model.compute_gradients([xa, xb], y)
    eps = 1e-2
    w = np.asarray(encoder.trainable_weights[0])
    old = w[1, 2]

    def loss():
        return float(np.mean((model.predict([xa, xb], verbose=0) - y) ** 2))
    w[1, 2] = old + eps
    up = loss()
    w[1, 2] = old - eps
    down = loss()
    w[1, 2] = old
    assert abs(np.asarray(grads[0])[1, 2] - (up - down) / (2 * eps)) < 1e-3 + 1e-2 * abs((up - down) / (2 * eps))


def test_nested_model_config_and_file_round_trip(rng, tmp_path):
    model, _ = _siamese()
    x = [rng.random((4, 6)).astype(np.float32), rng.random((4, 6)).astype(np.float32)]
    entry = next(e for e in model.get_config()["layers"] if e["name"] == "encoder")
    assert entry["class_name"] == "Functional" and len(entry["inbound_nodes"]) == 2
    again = keras.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save(tmp_path / "siamese.keras")
    loaded = keras.models.load_model(tmp_path / "siamese.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.get_layer("encoder")).__name__ == "Model"


def test_sequential_inside_a_functional_model(rng, tmp_path):
    head = keras.Sequential([layers.Dense(5), layers.Dense(3)], name="head")
    inp = keras.Input((4,))
    model = keras.Model(inp, head(layers.Dense(4)(inp)))
    assert model.get_layer("head") is head and model.count_params() == 20 + 25 + 18
    model.save(tmp_path / "m.keras")
    x = rng.random((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
