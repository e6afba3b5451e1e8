"""``Model.layers`` of a functional model lists the layers in Keras' order: by depth (the longest
path to an output), deepest first, and within one depth in the order a depth-first walk from the
outputs first meets them; the InputLayers stand at their own depth. Freezing ``layers[:n]``,
Keras' positional weight files, ``get_config()["layers"]`` and ``summary()`` all follow it.

The expected orders below are worked out by hand from that rule (Keras 3's ``map_graph``), and
each differs from the order in which the layers were created or first called."""
import io
import json
import zipfile

import numpy as np
import pytest

from corenn import keras, layers


def names(model):
    return [layer.name for layer in model.layers]


def late_input_model():
    # a (depth 4) -> d1 (3) -> d2 (2) -> cat (1) -> out (0); b feeds cat, so its depth is 2
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2,), name="b")
    x = layers.Dense(4, name="d1")(a)
    x = layers.Dense(4, name="d2")(x)
    c = layers.Concatenate(name="cat")([x, b])
    return keras.Model([a, b], layers.Dense(1, name="out")(c))


def two_branch_model():
    # the walk from ``add`` meets left (1), x, r2 (3), r1 (4); depths: x 3, r1 2, left and r2 1
    x = keras.Input(shape=(3,), name="x")
    left = layers.Dense(4, name="left")(x)
    r2 = layers.Dense(4, name="r2")(layers.Dense(4, name="r1")(x))
    return keras.Model(x, layers.Add(name="add")([left, r2]))


def test_an_input_that_enters_late_is_listed_at_its_depth():
    model = late_input_model()
    assert names(model) == ["a", "d1", "d2", "b", "cat", "out"]


def test_branches_are_ordered_by_depth_then_by_the_walk_from_the_outputs():
    model = two_branch_model()
    assert names(model) == ["x", "r1", "left", "r2", "add"]
    assert [e["name"] for e in model.get_config()["layers"]] == names(model)
    assert model.get_layer(index=1).name == "r1"


def test_a_shared_layer_takes_its_deepest_call():
    x = keras.Input(shape=(4,), name="x")
    shared = layers.Dense(4, name="shared")
    y = layers.Add(name="add")([shared(x), shared(layers.Dense(4, name="pre")(x))])
    model = keras.Model(x, y)
    assert names(model) == ["x", "pre", "shared", "add"]


def test_a_nested_model_is_one_entry_at_its_depth():
    inner_in = keras.Input(shape=(4,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(4, name="inner_dense")(inner_in), name="inner")
    x = keras.Input(shape=(4,), name="x")
    side = layers.Dense(4, name="side")(x)
    y = layers.Add(name="add")([side, inner(layers.Dense(4, name="pre")(x))])
    model = keras.Model(x, y)
    assert names(model) == ["x", "pre", "side", "inner", "add"]


def test_summary_rows_follow_the_layers(capsys):
    model = two_branch_model()
    model.summary()
    text = capsys.readouterr().out
    where = [text.index(f"{n} (") for n in names(model)]
    assert where == sorted(where), text


def test_freezing_the_first_layers_freezes_the_deepest():
    model = two_branch_model()
    for layer in model.layers[:2]:
        layer.trainable = False
    frozen = {id(w) for layer in model.layers[:2] for w in layer.weights}
    assert {layer.name for layer in model.layers if not layer.trainable} == {"x", "r1"}
    assert frozen and not frozen & {id(w) for w in model.trainable_weights}
    assert len(model.trainable_weights) == 4   # left and r2: kernel and bias each


@pytest.mark.parametrize("make", [late_input_model, two_branch_model])
def test_config_and_file_round_trips_keep_every_weight_in_place(make, tmp_path, rng):
    model = make()
    xs = [rng.standard_normal((5,) + tuple(t.shape[1:])).astype(np.float32) for t in model.inputs]
    want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    again = keras.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    assert names(again) == names(model)
    np.testing.assert_array_equal(again.predict(xs if len(xs) > 1 else xs[0], verbose=0), want)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert names(loaded) == names(model)
    np.testing.assert_array_equal(loaded.predict(xs if len(xs) > 1 else xs[0], verbose=0), want)


def test_a_file_whose_config_lists_the_layers_in_call_order_still_loads(tmp_path, rng):
    # files written before ``layers`` took Keras' order list them in the order of their first
    # calls; their weights are numbered so, and must land in the same layers
    model = two_branch_model()
    x = rng.standard_normal((5, 3)).astype(np.float32)
    want = model.predict(x, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                inner = config["config"] if "config" in config else config
                by_name = {e["name"]: e for e in inner["layers"]}
                inner["layers"] = [by_name[n] for n in ["x", "left", "r1", "r2", "add"]]
                data = json.dumps(config).encode()
            dst.writestr(info, data)
    loaded = keras.models.load_model(old)
    assert names(loaded) == names(model)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), want)


def test_a_legacy_h5_file_is_matched_to_the_layers_in_keras_order(tmp_path, rng):
    # Keras' positional HDF5 weights (layer_names in Keras' order): the two Dense(4) of the
    # branches have the same shapes, so a wrong order would load silently swapped weights
    h5py = pytest.importorskip("h5py")
    source = two_branch_model()
    values = {layer.name: [rng.standard_normal(w.shape).astype(np.float32) for w in layer.weights]
              for layer in source.layers}
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in names(source)]
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.15.0"
        for layer in source.layers:
            group = f.create_group(layer.name)
            weight_names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            group.attrs["weight_names"] = [n.encode() for n in weight_names]
            for n, v in zip(weight_names, values[layer.name]):
                group.create_dataset(n, data=v)
    model = two_branch_model()
    model.load_weights(str(path))
    for layer in model.layers:
        for w, v in zip(layer.get_weights(), values[layer.name]):
            np.testing.assert_array_equal(w, v)
