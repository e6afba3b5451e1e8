"""Keras files with attention layers and the configs Keras writes for them, both ways.

Fixtures written by real Keras 3.15 / TF-Keras 2.21 (tools/make_keras_fixtures.py):
- attention.keras / .weights.h5: MultiHeadAttention called as mha(q, v, key=v) and with
  use_causal_mask=True, GroupQueryAttention (Keras' class GroupedQueryAttention: its weights group
  is grouped_query_attention), LayerNormalization(rms_scaling=True), SpectralNormalization,
  Discretization concatenated with float features. Keras keeps the attention projections in
  named sub-layers (query_dense/vars/0, ...) and SpectralNormalization's kernel twice.
- tf_layers.h5 / tf_bins.h5 (TF-Keras 2): MultiHeadAttention with query_shape and its value as a
  keyword in the node, Conv2DTranspose with groups=1, SeparableConv1D with the base Conv's
  kernel_* options, Discretization with an int64 dtype.
Found by tools/side_by_side/keras_files.py: each of these refused to load, or loaded wrong.
"""
import json
import shutil
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import corenn  # noqa: E402
from corenn import keras, layers  # noqa: E402

from test_keras_files import assert_matches_keras, expected, fixture, predict  # noqa: E402


@pytest.mark.parametrize("name,ext", [("attention", "keras"), ("tf_layers", "h5"), ("tf_bins", "h5"),
                                      ("tf_applications_layers", "h5")])
def test_attention_and_config_variants_predict_as_keras_did(name, ext):
    assert_matches_keras(corenn.models.load_model(fixture(f"{name}.{ext}")), name)


def test_attention_weights_file_loads_into_the_loaded_architecture():
    model = corenn.models.load_model(fixture("attention.keras"))
    for w in model.weights:                      # forget the archive's weights
        w.assign(np.zeros(w.shape, np.float32))
    model.load_weights(fixture("attention.weights.h5"))
    assert_matches_keras(model, "attention")


def test_attention_calls_keep_their_options():
    model = corenn.models.load_model(fixture("attention.keras"))
    assert model.get_layer("self_mha")._options == (False, False, True, False)   # causal
    assert model.get_layer("mha")._options[0]                                    # key given


def _archive(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json")), zf.read("model.weights.h5")


def test_keras3_archive_writes_attention_as_keras_does(tmp_path):
    """corenn's Keras 3 archive: the attention calls as mha(query, value, key=..., options), the
    class names Keras exports, Keras' weight groups; and it reads back the same."""
    model = corenn.models.load_model(fixture("attention.keras"))
    path = tmp_path / "again.keras"
    model.save(path, save_format="keras3")
    config, weights = _archive(path)
    specs = {s["name"]: s for s in config["config"]["layers"]}
    mha = specs["mha"]["inbound_nodes"][0]
    assert len(mha["args"]) == 2 and mha["kwargs"]["key"]["class_name"] == "__keras_tensor__"
    assert specs["self_mha"]["inbound_nodes"][0]["kwargs"] == {"use_causal_mask": True}
    assert "_call_options" not in specs["self_mha"]["config"]
    assert specs["gqa"]["class_name"] == "GroupQueryAttention"
    assert "trainable" not in specs["bins"]["config"]      # Keras' Discretization takes no such argument
    (tmp_path / "w.h5").write_bytes(weights)
    with h5py.File(tmp_path / "w.h5", "r") as h5:
        assert h5["layers/multi_head_attention/query_dense/vars/0"].shape == (8, 2, 4)
        assert h5["layers/grouped_query_attention/_output_dense/vars/0"].shape == (4, 4, 8)
        sn = h5["layers/spectral_normalization"]
        np.testing.assert_array_equal(sn["vars/0"][()], sn["layer/vars/0"][()])   # the kernel, twice
        assert sn["vars/1"].shape == (1, 4) and sn["layer/vars/1"].shape == (4,)
    assert_matches_keras(corenn.models.load_model(path), "attention")


def test_weights_h5_round_trip_of_attention_layers(tmp_path):
    model = corenn.models.load_model(fixture("attention.keras"))
    model.save_weights(tmp_path / "w.weights.h5")
    again = corenn.models.load_model(fixture("attention.keras"))
    for w in again.weights:
        w.assign(np.zeros(w.shape, np.float32))
    again.load_weights(tmp_path / "w.weights.h5")
    assert_matches_keras(again, "attention")


def test_a_tampered_attention_group_is_refused(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    shutil.copyfile(fixture("attention.weights.h5"), bad)
    with h5py.File(bad, "r+") as h5:
        h5["layers/multi_head_attention/query_dense"].create_dataset("extra", data=np.zeros(3, np.float32))
    model = corenn.models.load_model(fixture("attention.keras"))
    with pytest.raises(ValueError, match="unexpected dataset"):
        model.load_weights(bad)


def test_spectral_normalization_duplicate_kernel_must_agree_in_shape(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    shutil.copyfile(fixture("attention.weights.h5"), bad)
    with h5py.File(bad, "r+") as h5:
        del h5["layers/spectral_normalization/layer/vars/0"]
        h5["layers/spectral_normalization/layer/vars"].create_dataset("0", data=np.zeros((3, 4), np.float32))
    model = corenn.models.load_model(fixture("attention.keras"))
    with pytest.raises(ValueError, match="same kernel"):
        model.load_weights(bad)


def test_merges_promote_an_index_output_to_float():
    """Keras' merges promote to the result dtype: Discretization's int64 indices next to floats."""
    x = keras.Input((4,))
    bins = layers.Discretization(bin_boundaries=[0.0])(x)
    model = keras.Model(x, [layers.Concatenate()([x, bins]), layers.Add()([x, bins]),
                            layers.Dot(axes=1)([x, bins])])
    v = np.array([[-1.0, 2.0, 0.5, -0.25]], np.float32)
    b = (v >= 0).astype(np.float32)
    cat, add, dot = (np.asarray(t) for t in model.predict(v, verbose=0))
    np.testing.assert_array_equal(cat, np.concatenate([v, b], axis=1))
    np.testing.assert_array_equal(add, v + b)
    np.testing.assert_allclose(dot, (v * b).sum(axis=1, keepdims=True), rtol=1e-6)


def test_transposed_conv_takes_groups_one_only():
    assert layers.Conv2DTranspose(2, 3, groups=1).filters == 2
    with pytest.raises(NotImplementedError, match="groups=2"):
        layers.Conv2DTranspose(2, 3, groups=2)


def test_the_legacy_attention_call_keeps_value_and_predicts():
    model = corenn.models.load_model(fixture("tf_layers.h5"))
    xs, y = expected("tf_layers")
    np.testing.assert_allclose(predict(model, xs), y, rtol=1e-5, atol=1e-6)
    assert model.get_layer("mha")._options == (False, False, False, False)


def test_dict_outputs_model_loads_compiled_and_round_trips(tmp_path):
    """A functional model returning a dict (Keras 3 writes output_layers as {name: ref}), compiled
    with a loss, a loss weight and metrics per output name."""
    model = corenn.models.load_model(fixture("dict_outputs.keras"))
    with np.load(fixture("dict_outputs.expected.npz")) as data:
        x, want = data["x0"], {k: data[f"y_{k}"] for k in ("cls", "reg")}
    got = model.predict(x, verbose=0)
    assert set(got) == {"cls", "reg"}
    for k in want:
        np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=1e-5, atol=1e-6)
    rng = np.random.default_rng(0)
    logs = model.evaluate(x, {"cls": rng.integers(0, 3, len(x)), "reg": rng.normal(size=(len(x), 1))},
                          verbose=0, return_dict=True)
    assert {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mean_absolute_error"} <= set(logs)
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + 0.5 * logs["reg_loss"], rtol=1e-5)
    path = tmp_path / "again.keras"
    model.save(path, save_format="keras3")
    config, _ = _archive(path)
    assert set(config["config"]["output_layers"]) == {"cls", "reg"}
    back = corenn.models.load_model(path).predict(x, verbose=0)
    for k in want:
        np.testing.assert_allclose(np.asarray(back[k]), want[k], rtol=1e-5, atol=1e-6)


def test_applications_layers_load_from_keras_files():
    """A Keras file with what keras.applications models hold: a shortcut convolution called
    before the main branch (Keras lists the layers in another order than they are called: its
    weights groups follow the listing), an adapted Normalization whose count Keras stores as
    int32, and the applications' own LayerScale and CustomScaleLayer (module keras.src.applications)."""
    model = corenn.models.load_model(fixture("applications_layers.keras"))
    assert [l.name for l in model.layers][2:5] == ["block_1_conv", "block_2_conv", "block_0_conv"]
    assert type(model.get_layer("layer_scale")).__name__ == "LayerScale"
    assert_matches_keras(model, "applications_layers")
    with h5py.File(fixture("applications_layers.weights.h5"), "r") as h5:
        count = h5["layers/normalization/vars/2"]
        assert count.dtype == np.int32 and count.shape == ()
        want = float(count[()])
    assert float(np.asarray(model.get_layer("norm").get_weights()[2])) == want   # the int32 count, as a number



def test_lookup_vocabularies_come_from_the_archive_assets():
    """Adapted TextVectorization / StringLookup / IntegerLookup (Keras 3.15, TensorFlow backend):
    the vocabularies are in assets/layers/<group>/vocabulary.txt, the Embedding mask reaches
    GlobalAveragePooling1D as a NotEqual op and a mask= argument."""
    model = corenn.models.load_model(fixture("text_model.keras"))
    assert model.get_layer("tv").get_vocabulary()[:2] == ["", "[UNK]"]
    assert "cat" in model.get_layer("tv").get_vocabulary()
    assert sorted(model.get_layer("il").get_vocabulary()[1:]) == [5, 7, 9]
    assert_matches_keras(model, "text_model")


@pytest.mark.parametrize("vocabulary,message", [(b"\xff\xfe bad", "UTF-8"), (b"\n[UNK]\nthe\nthe", "repeats")])
def test_a_bad_vocabulary_asset_is_refused(tmp_path, vocabulary, message):
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(fixture("text_model.keras")) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "assets/layers/text_vectorization/vocabulary.txt":
                data = vocabulary
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(bad)


def test_tf_keras2_hard_sigmoid_is_refused_both_ways(tmp_path):
    """TF-Keras 2's hard_sigmoid has slope 0.2, Keras 3's (corenn's) 1/6: a TF-Keras 2 .h5 naming
    it would load as another model (found side by side: an LSTM's outputs moved by 0.04), so
    reading refuses it, and writing one for TF-Keras 2 refuses too; Keras 3 archives keep it."""
    model = corenn.Sequential([layers.Input((5, 3)), layers.LSTM(2, recurrent_activation="hard_sigmoid")])
    with pytest.raises(ValueError, match="hard_sigmoid.*slope|0.2 x"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()
    model.save(tmp_path / "m.keras", save_format="keras3")
    assert isinstance(corenn.models.load_model(tmp_path / "m.keras").layers[0], layers.LSTM)
    # a TF-Keras 2 file: tf_layers.h5 with its SeparableConv1D's activation edited to hard_sigmoid
    bad = tmp_path / "tf2.h5"
    shutil.copyfile(fixture("tf_layers.h5"), bad)
    with h5py.File(bad, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        for spec in config["config"]["layers"]:
            if spec["class_name"] == "SeparableConv1D":
                spec["config"]["activation"] = "hard_sigmoid"
        h5.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError, match="TF-Keras 2 file"):
        corenn.models.load_model(bad)


def test_tf_keras2_spatial_dropout_noise_shape_none_is_read():
    from corenn.saving_keras_config import translate_model_config
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4, 3], "dtype": "float32", "name": "in"}},
        {"class_name": "SpatialDropout1D", "config": {"name": "sd", "rate": 0.2, "noise_shape": None, "seed": None,
                                                      "trainable": True, "dtype": "float32"}}]}}
    translated, _ = translate_model_config(config, tf_keras2=True)
    entry = translated["config"]["layers"][-1]
    assert entry["class_name"] == "SpatialDropout1D" and "noise_shape" not in entry["config"]
