"""Tensor ops on KerasTensors in Keras files, read as corenn OpLayers (saving_keras_ops.py):
Keras 3's keras.src.ops operations (ops_model.keras) and TF-Keras 2's TFOpLambda /
SlicingOpLambda layers (tf_ops.h5, written by tf_keras), against Keras' own predictions; then the
refusals: ops outside the table, arguments the op does not take, bad slices, code."""
import json

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import corenn  # noqa: E402
from corenn.layers.op_layer import OpLayer  # noqa: E402

from test_keras_files import assert_matches_keras, edit_h5, fixture, rewrite_archive  # noqa: E402


@pytest.mark.parametrize("name,ext", [("ops_model", "keras"), ("tf_ops", "h5")])
def test_ops_on_keras_tensors_predict_as_keras_did(name, ext):
    model = corenn.models.load_model(fixture(f"{name}.{ext}"))
    assert_matches_keras(model, name)


def test_ops_become_op_layers_naming_corenn_ops():
    k3 = {l.function for l in corenn.models.load_model(fixture("ops_model.keras")).layers if isinstance(l, OpLayer)}
    assert {"ops.expand_dims", "ops.add", "ops.mean", "tensor.getitem", "ops.concatenate", "ops.reshape",
            "ops.transpose", "ops.relu", "ops.tanh", "ops.sum", "ops.multiply", "ops.subtract"} <= k3
    tf2 = {l.function for l in corenn.models.load_model(fixture("tf_ops.h5")).layers if isinstance(l, OpLayer)}
    assert {"tf.math.add", "tf.squeeze", "tensor.getitem", "tf.math.reduce_mean", "tf.concat", "tf.transpose",
            "tf.reshape", "tf.nn.relu", "tf.math.subtract", "tf.math.reduce_sum"} <= tf2


@pytest.mark.parametrize("name,ext", [("ops_model", "keras"), ("tf_ops", "h5")])
def test_a_loaded_op_model_saves_as_corenn_and_trains(tmp_path, name, ext):
    model = corenn.models.load_model(fixture(f"{name}.{ext}"))
    model.save(tmp_path / "again.keras")
    assert_matches_keras(corenn.models.load_model(tmp_path / "again.keras"), name)
    x = np.random.default_rng(0).normal(size=(4, 6, 4)).astype("float32")
    model.compile(optimizer="sgd", loss="mse")
    before = model.evaluate(x, np.zeros((4, 3), "float32"), verbose=0)
    model.fit(x, np.zeros((4, 3), "float32"), epochs=3, verbose=0)
    assert model.evaluate(x, np.zeros((4, 3), "float32"), verbose=0) < before


def k3_layer(config, name):
    return next(spec for spec in config["config"]["layers"] if spec["name"] == name)


@pytest.mark.parametrize("edit,message", [
    (lambda c: k3_layer(c, "mean").update(class_name="Tile", registered_name="Tile"),
     r"operation 'Tile'.*not one corenn reads"),
    (lambda c: k3_layer(c, "mean").update(class_name="Ones", registered_name="Ones"), r"'Ones'"),
    (lambda c: k3_layer(c, "mean").update(module="keras.src.ops.evil"), r"'Mean'.*keras.src.ops.evil"),
    (lambda c: k3_layer(c, "mean")["config"].update(dims=3), r"ops.mean does not take.*dims"),
    (lambda c: k3_layer(c, "get_item")["inbound_nodes"][0]["args"][1][0]["config"].update(stop=1.5),
     r"slice bound '1.5'"),
    (lambda c: k3_layer(c, "add")["inbound_nodes"][0]["args"].__setitem__(
        1, {"class_name": "__lambda__", "config": {"code": "AA=="}}), r"__lambda__"),
    (lambda c: k3_layer(c, "add")["inbound_nodes"][0]["args"].__setitem__(
        1, {"class_name": "__numpy__", "config": {"value": [1.0]}}), r"'__numpy__' is not read"),
    (lambda c: c["config"]["layers"][0]["config"].update(batch_shape=[None, 1 << 14, 1 << 13]),
     r"more than \d+ elements"),
])
def test_tampered_keras3_ops_are_refused_by_name(tmp_path, edit, message):
    path = rewrite_archive(fixture("ops_model.keras"), tmp_path / "m.keras", edit_config=edit)
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)


def edit_tf_config(edit):
    def apply(f):
        config = json.loads(f.attrs["model_config"])
        edit({spec["name"]: spec for spec in config["config"]["layers"]})
        f.attrs["model_config"] = json.dumps(config)
    return apply


@pytest.mark.parametrize("edit,message", [
    (lambda by: by["tf.math.reduce_mean"]["config"].update(function="io.write_file"),
     r"TF function 'io.write_file' is not one corenn reads"),
    (lambda by: by["tf.math.reduce_mean"]["config"].update(function="__class__.__init__"), r"__class__"),
    (lambda by: by["tf.math.reduce_mean"]["config"].update(function=["bytecode"]), r"names no function"),
    (lambda by: by["tf.math.reduce_mean"]["inbound_nodes"][0][3].update(axes=1), r"reduce_mean does not take"),
    (lambda by: by["tf.__operators__.getitem"]["inbound_nodes"][0][3].update(
        slice_spec=[{"start": "a", "stop": None, "step": None}]), r"slice bound 'a'"),
    (lambda by: by["tf.math.reduce_mean"].update(class_name="Lambda"), r"Lambda"),
    (lambda by: by["tf.math.reduce_mean"]["config"].update(function_type="lambda"), r"function_type"),
])
def test_tampered_tf_op_layers_are_refused_by_name(tmp_path, edit, message):
    path = edit_h5(fixture("tf_ops.h5"), tmp_path / "m.h5", edit_tf_config(edit))
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)
