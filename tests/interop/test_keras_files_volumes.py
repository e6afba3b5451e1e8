"""A Keras 3 .keras file of a volume model loads: Conv3D, MaxPooling3D, Conv3DTranspose,
UpSampling3D, AveragePooling3D, GlobalAveragePooling3D and Dense written the way Keras 3 writes
them (the Keras-made cnn fixture's entries with the 3-D classes' config keys, weights in
model.weights.h5 under layers/<name>/vars), and corenn's prediction matches the float64 reference."""
import copy
import io
import json
import os
import zipfile

import numpy as np
import pytest

import corenn
import reference as ref

h5py = pytest.importorskip("h5py")

FIXTURE = os.path.join(os.path.dirname(__file__), "keras_fixtures", "cnn")


def _entry(template, class_name, name, **config):
    """A Keras layer entry: the template's common keys (dtype policy, trainable) and ``config``."""
    entry = copy.deepcopy(template)
    entry["class_name"] = class_name
    entry.pop("build_config", None)
    entry["config"] = {"name": name, "trainable": True, "dtype": template["config"]["dtype"], **config}
    return entry


def _volume_keras_file(tmp_path, weights):
    src = zipfile.ZipFile(FIXTURE + ".keras")
    cfg = json.loads(src.read("config.json"))
    layers = cfg["config"]["layers"]
    inp, conv2d = layers[0], layers[1]
    conv_keys = {k: conv2d["config"][k] for k in ("kernel_initializer", "bias_initializer",
                                                  "kernel_regularizer", "bias_regularizer",
                                                  "activity_regularizer", "kernel_constraint",
                                                  "bias_constraint")}
    inp["config"]["batch_shape"] = [None, 4, 6, 6, 2]
    pool = dict(data_format="channels_last")
    cfg["config"]["layers"] = [
        inp,
        _entry(conv2d, "Conv3D", "conv3d", filters=4, kernel_size=[3, 3, 3], strides=[1, 1, 1],
               padding="same", data_format="channels_last", dilation_rate=[1, 1, 1], groups=1,
               activation="relu", use_bias=True, **conv_keys),
        _entry(conv2d, "MaxPooling3D", "max_pooling3d", pool_size=[2, 2, 2], padding="valid",
               strides=[2, 2, 2], **pool),
        _entry(conv2d, "Conv3DTranspose", "conv3d_transpose", filters=3, kernel_size=[2, 2, 2],
               strides=[2, 2, 2], padding="valid", data_format="channels_last", dilation_rate=[1, 1, 1],
               output_padding=None, activation="tanh", use_bias=True, **conv_keys),
        _entry(conv2d, "UpSampling3D", "up_sampling3d", size=[1, 2, 1], data_format="channels_last"),
        _entry(conv2d, "AveragePooling3D", "average_pooling3d", pool_size=[2, 2, 2], padding="same",
               strides=[2, 2, 2], **pool),
        _entry(conv2d, "GlobalAveragePooling3D", "global_average_pooling3d", data_format="channels_last",
               keepdims=False),
        _entry(conv2d, "Dense", "dense", units=1, activation="sigmoid", use_bias=True,
               **conv_keys),
    ]
    cfg["build_config"] = {"input_shape": [None, 4, 6, 6, 2]}
    cfg["config"]["build_input_shape"] = [None, 4, 6, 6, 2]
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for entry in cfg["config"]["layers"][1:]:
            group = f.create_group(f"layers/{entry['config']['name']}/vars")
            group.attrs["name"] = entry["config"]["name"]
            for i, value in enumerate(weights.get(entry["config"]["name"], [])):
                group[str(i)] = value
        f.create_group("vars").attrs["name"] = "volumes"
    path = tmp_path / "volumes.keras"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("metadata.json", src.read("metadata.json"))
        out.writestr("config.json", json.dumps(cfg))
        out.writestr("model.weights.h5", buf.getvalue())
    return path


def test_keras_file_with_volume_layers_loads_and_predicts(tmp_path, rng):
    w = {"conv3d": [rng.normal(size=(3, 3, 3, 2, 4)) * 0.3, rng.normal(size=4)],
         "conv3d_transpose": [rng.normal(size=(2, 2, 2, 3, 4)) * 0.3, rng.normal(size=3)],
         "dense": [rng.normal(size=(3, 1)), rng.normal(size=1)]}
    w = {k: [v.astype(np.float32) for v in vs] for k, vs in w.items()}
    model = corenn.models.load_model(_volume_keras_file(tmp_path, w))
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv3D", "MaxPooling3D", "Conv3DTranspose", "UpSampling3D", "AveragePooling3D",
        "GlobalAveragePooling3D", "Dense"]
    x = rng.normal(size=(2, 4, 6, 6, 2)).astype(np.float32)
    h = np.maximum(ref.conv3d(x, *w["conv3d"], padding="same"), 0)
    h = ref.max_pool3d(h, (2, 2, 2), (2, 2, 2), "valid")[0]
    h = np.tanh(ref.conv3d_transpose(h, *w["conv3d_transpose"], strides=(2, 2, 2)))
    h = ref.avg_pool3d(ref.upsample3d(h, (1, 2, 1)), (2, 2, 2), (2, 2, 2), "same")
    want = 1 / (1 + np.exp(-(h.mean(axis=(1, 2, 3)) @ w["dense"][0] + w["dense"][1])))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
