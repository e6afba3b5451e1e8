"""Configs, files and summaries of functional models: get_config / from_config, model.save /
corenn.models.load_model with a shared layer, two inputs and two outputs, and summary()'s
"Connected to" column."""
import json

import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers


def _graph_model(rng, outputs_as_dict=False):
    """a, b -> Dense each -> one shared Dense on both -> two heads (one softmax)."""
    a, b = keras.Input((3,), name="in_a"), keras.Input((4,), name="in_b")
    pa = layers.Dense(5, activation="relu", name="dense")(a)
    pb = layers.Dense(5, activation="tanh", name="proj_b")(b)
    shared = layers.Dense(6, activation="tanh", name="shared")
    reg = layers.Dense(1, name="reg")(shared(pa))
    cls = layers.Dense(3, activation="softmax", name="cls")(shared(pb))
    model = keras.Model([a, b], {"reg": reg, "cls": cls} if outputs_as_dict else [reg, cls], name="two_by_two")
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _data(rng, n=12):
    return ([rng.standard_normal((n, 3)).astype(np.float32), rng.standard_normal((n, 4)).astype(np.float32)],
            [rng.standard_normal((n, 1)).astype(np.float32), rng.integers(0, 3, n)])


@pytest.mark.parametrize("outputs_as_dict", [False, True])
def test_get_config_from_config_round_trip(rng, outputs_as_dict):
    model = _graph_model(rng, outputs_as_dict)
    config = model.get_config()
    config = json.loads(json.dumps(config))  # plain JSON
    clone = keras.Model.from_config(config)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert clone.input_names == ["in_a", "in_b"] and clone.output_names == model.output_names
    assert len(clone.weights) == len(model.weights) == 10  # the shared layer's weights once
    assert all(c is not m for c, m in zip(clone.weights, model.weights))
    clone.set_weights(model.get_weights())
    x, _ = _data(rng)
    got, want = clone.predict(x, verbose=0), model.predict(x, verbose=0)
    if outputs_as_dict:
        assert isinstance(got, dict) and set(got) == {"reg", "cls"}
        got, want = [got["reg"], got["cls"]], [want["reg"], want["cls"]]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # the shared layer is called twice in the clone too
    shared = clone.get_layer("shared")
    assert clone.layers.count(shared) == 1
    assert sum(node.layer is shared for node in clone._graph.nodes) == 2
    assert json.loads(json.dumps(clone.get_config())) == config


def test_save_load_round_trip_keeps_predictions_and_optimizer_state(rng, tmp_path):
    model = _graph_model(rng)
    model.compile(keras.optimizers.Adam(0.01), loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 2.0}, metrics={"cls": ["accuracy"]})
    x, y = _data(rng)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    path = tmp_path / "x.keras"
    model.save(path)
    loaded = tf.models.load_model(path)
    assert type(loaded) is keras.Model and loaded.name == "two_by_two"
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for p, q in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(p, q)
    # the optimizer state: iterations and every moment
    assert int(np.asarray(loaded.optimizer.iterations)) == int(np.asarray(model.optimizer.iterations)) == 6
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables) > 0
    for u, v in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    # and training continues identically (Adam's moments and step count were restored)
    for m in (model, loaded):
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for p, q in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(p, q)


def test_saved_shared_layer_stays_shared(rng, tmp_path):
    model = _graph_model(rng)
    model.compile("sgd", ["mse", "sparse_categorical_crossentropy"])
    path = tmp_path / "shared.keras"
    model.save(path)
    loaded = tf.models.load_model(path)
    x, y = _data(rng)
    _, grads = model.compute_gradients(x, y)
    want = [np.array(g, copy=True) for g in grads]
    _, got = loaded.compute_gradients(x, y)
    assert len(got) == len(want) == 10
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), w)


def test_summary_has_a_connected_to_column(rng):
    model = _graph_model(rng)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in lines[2]
    row = {line.split()[0]: line for line in lines if line and line.split()[0] in
           {"in_a", "in_b", "dense", "proj_b", "shared", "reg", "cls"}}
    assert set(row) == {"in_a", "in_b", "dense", "proj_b", "shared", "reg", "cls"}
    assert "in_a[0][0]" in row["dense"]
    assert "dense[0][0]" in row["shared"] and "proj_b[0][0]" in row["shared"]
    assert "shared[0][0]" in row["reg"]
    assert "shared[1][0]" in row["cls"]
    assert f"Total params: {model.count_params():,}" in text
    seq_lines = []
    keras.Sequential([keras.Input((3,)), layers.Dense(2)]).summary(print_fn=seq_lines.append)
    assert "Connected to" not in "\n".join(seq_lines)
