"""Keras 3 .keras files with grouped convolutions and channels_first layers load: the Keras-made
cnn fixture is rewritten the way Keras writes such models (config keys `groups` /
`data_format` / `axis`, a grouped kernel of shape (KH, KW, Cin/groups, F) in model.weights.h5),
and corenn's prediction is checked against the float64 reference / Keras' own output."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import corenn
from reference import conv2d_grouped

h5py = pytest.importorskip("h5py")

FIXTURE = os.path.join(os.path.dirname(__file__), "keras_fixtures", "cnn")


def _rewrite(tmp_path, edit_config, edit_weights):
    """A copy of cnn.keras with its config.json and model.weights.h5 edited."""
    src = zipfile.ZipFile(FIXTURE + ".keras")
    cfg = json.loads(src.read("config.json"))
    edit_config(cfg["config"]["layers"])
    buf = io.BytesIO(src.read("model.weights.h5"))
    with h5py.File(buf, "r+") as f:
        edit_weights(f)
    path = tmp_path / "edited.keras"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("metadata.json", src.read("metadata.json"))
        out.writestr("config.json", json.dumps(cfg))
        out.writestr("model.weights.h5", buf.getvalue())
    return path


def test_keras_file_with_a_grouped_conv_loads(tmp_path, rng):
    kernel = rng.normal(size=(3, 3, 1, 4)).astype(np.float32)

    def config(layers):
        layers[1]["config"]["groups"] = 2          # conv2d: 2 input channels, 4 filters

    def weights(f):
        del f["layers/conv2d/vars/0"]
        f["layers/conv2d/vars/0"] = kernel

    model = corenn.models.load_model(_rewrite(tmp_path, config, weights))
    conv = model.layers[0]
    assert conv.groups == 2
    np.testing.assert_array_equal(conv.get_weights()[0], kernel)
    with np.load(FIXTURE + ".expected.npz") as data:
        x = data["x0"]
    first = corenn.Model(model.inputs, conv.output)
    want = conv2d_grouped(x, kernel, conv.get_weights()[1], (1, 1), conv.padding, (1, 1), 2)
    assert conv.activation.name in ("relu", "linear")
    if conv.activation.name == "relu":
        want = np.maximum(want, 0)
    np.testing.assert_allclose(first.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_keras_file_written_channels_first_predicts_as_the_channels_last_original(tmp_path):
    """Every layer switched to channels_first (BatchNormalization to axis=1) with the same weights:
    Keras' Flatten(channels_first) moves channels last before flattening, so the model on NCHW
    inputs gives the fixture's channels-last outputs."""

    def config(layers):
        for layer in layers:
            c = layer["config"]
            if "data_format" in c:
                c["data_format"] = "channels_first"
            if layer["class_name"] == "BatchNormalization":
                c["axis"] = 1
            if layer["class_name"] == "InputLayer":
                n, h, w, ch = c["batch_shape"]
                c["batch_shape"] = [n, ch, h, w]

    model = corenn.models.load_model(_rewrite(tmp_path, config, lambda f: None))
    assert model.layers[0].data_format == "channels_first"
    with np.load(FIXTURE + ".expected.npz") as data:
        x, y = data["x0"], data["y"]
    got = model.predict(np.ascontiguousarray(np.moveaxis(x, -1, 1)), verbose=0)
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(y).max()))
