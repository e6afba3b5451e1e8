"""keras.applications: the architectures (Keras' parameter counts, layer names, weight shapes and
layer order), a forward pass at a small input size, the preprocessing modes, decode_predictions,
and Keras' HDF5 weight files (written here in Keras' legacy layout, since the real ones are
downloads this test cannot make)."""
import hashlib
import json
import os
import urllib.error
import urllib.request

import numpy as np
import pytest

import corenn
from corenn import layers
from corenn.applications import _builder, imagenet_utils
from corenn.keras import applications

RNG = np.random.default_rng(0)

# Keras' documented parameter counts at the default configuration (include_top=True, 1000
# classes, alpha=1), as its applications table and model summaries give them.
KERAS_PARAMS = {
    "ResNet50": 25_636_712, "ResNet101": 44_707_176, "ResNet152": 60_419_944,
    "ResNet50V2": 25_613_800, "ResNet101V2": 44_675_560, "ResNet152V2": 60_380_648,
    "VGG16": 138_357_544, "VGG19": 143_667_240,
    "MobileNet": 4_253_864, "MobileNetV2": 3_538_984,
    "MobileNetV3Small": 2_554_968, "MobileNetV3Large": 5_507_432,
    "EfficientNetB0": 5_330_571, "EfficientNetB1": 7_856_239, "EfficientNetB2": 9_177_569,
    "EfficientNetB3": 12_320_535, "EfficientNetB4": 19_466_823, "EfficientNetB5": 30_562_527,
    "EfficientNetB6": 43_265_143, "EfficientNetB7": 66_658_687,
    "EfficientNetV2B0": 7_200_312, "EfficientNetV2B1": 8_212_124, "EfficientNetV2B2": 10_178_374,
    "EfficientNetV2B3": 14_467_622, "EfficientNetV2S": 21_612_360,   # M, L: 54M / 119M, not built here
    "DenseNet121": 8_062_504, "DenseNet169": 14_307_880, "DenseNet201": 20_242_984,
    "Xception": 22_910_480, "InceptionV3": 23_851_784, "InceptionResNetV2": 55_873_736,
}


@pytest.mark.parametrize("name", sorted(KERAS_PARAMS))
def test_parameter_count_equals_keras(name):
    # no forward pass: building the graph allocates the weights, nothing runs at 224x224
    model = getattr(applications, name)(weights=None)
    assert model.count_params() == KERAS_PARAMS[name]
    if name.startswith("VGG"):   # checked here: building VGG's 100M-weight classifier is slow
        assert [tuple(w.shape) for w in model.get_layer("fc1").weights] == [(25088, 4096), (4096,)]


# (model, kwargs, layer name, weight shapes) from Keras' source: the names its weight files use
LAYER_SHAPES = [
    (applications.ResNet50, {}, "conv2_block1_0_conv", [(1, 1, 64, 256), (256,)]),
    (applications.ResNet50, {}, "conv5_block3_3_bn", [(2048,)] * 4),
    (applications.ResNet50V2, {}, "conv3_block4_2_conv", [(3, 3, 128, 128)]),
    (applications.MobileNetV2, {}, "expanded_conv_depthwise", [(3, 3, 32, 1)]),
    (applications.MobileNetV2, {}, "block_16_project_BN", [(320,)] * 4),
    (applications.MobileNet, {}, "conv_pw_13", [(1, 1, 1024, 1024)]),
    (applications.MobileNetV3Small, {}, "expanded_conv_squeeze_excite_conv", [(1, 1, 16, 8), (8,)]),
    (applications.EfficientNetB0, {}, "block2a_se_reduce", [(1, 1, 96, 4), (4,)]),
    (applications.DenseNet121, {}, "conv4_block24_2_conv", [(3, 3, 128, 32)]),
    (applications.EfficientNetV2B0, {}, "block2a_expand_conv", [(3, 3, 16, 64)]),
    (applications.EfficientNetV2B0, {}, "block4a_dwconv2", [(3, 3, 192, 1)]),
    (applications.InceptionResNetV2, {"input_shape": (75, 75, 3)}, "block35_1_conv",
     [(1, 1, 128, 320), (320,)]),
    (applications.InceptionResNetV2, {"input_shape": (75, 75, 3)}, "conv_7b_bn", [(1536,)] * 3),
    (applications.Xception, {"input_shape": (71, 71, 3)}, "block2_sepconv1",
     [(3, 3, 64, 1), (1, 1, 64, 128)]),
]


@pytest.mark.parametrize("build, kwargs, layer_name, shapes", LAYER_SHAPES,
                         ids=[f"{b.__name__}-{n}" for b, _, n, _ in LAYER_SHAPES])
def test_layer_names_and_weight_shapes(build, kwargs, layer_name, shapes):
    kwargs = dict(kwargs)
    include_top = kwargs.pop("include_top", False)
    shape = kwargs.pop("input_shape", (224, 224, 3) if include_top else (32, 32, 3))
    model = build(weights=None, include_top=include_top, input_shape=shape, **kwargs)
    assert [tuple(w.shape) for w in model.get_layer(layer_name).weights] == shapes


def test_efficientnet_normalization_holds_keras_statistics():
    model = applications.EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3))
    norm = [layer for layer in model.layers if type(layer).__name__ == "Normalization"]
    assert len(norm) == 1
    # Keras' order in the weight files: mean, variance, count
    assert [tuple(w.shape) for w in norm[0].weights] == [(3,), (3,), ()]


def test_inception_resnet_v2_counts_layers_as_keras():
    # Keras lists 782 layers (its scaled residual sum is one CustomScaleLayer per block)
    model = applications.InceptionResNetV2(weights=None)
    assert len(model.layers) == 782
    assert sum(type(layer).__name__ == "CustomScaleLayer" for layer in model.layers) == 40


def test_inception_batchnorm_has_no_scale():
    model = applications.InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3))
    bns = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(bns) == 94
    assert all(len(bn.weights) == 3 for bn in bns)


def test_keras_layer_order_of_resnet50():
    # Keras lists a block's shortcut convolution after the main branch's first two convolutions
    # (its model.summary() order); corenn must match it to load Keras' weight files by position
    model = applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    order = [layer.name for layer in model.layers]
    assert order[1:19] == [
        "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool",
        "conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_1_relu", "conv2_block1_2_conv",
        "conv2_block1_2_bn", "conv2_block1_2_relu", "conv2_block1_0_conv", "conv2_block1_3_conv",
        "conv2_block1_0_bn", "conv2_block1_3_bn", "conv2_block1_add", "conv2_block1_out"]


def test_mobilenet_v2_layers_are_in_keras_order():
    # the transfer-learning tutorial freezes base_model.layers[:100]: the same layers as in Keras
    model = applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert len(model.layers) == 154   # "Number of layers in the base model: 154" in the tutorial


FORWARD = [
    (applications.ResNet50, (32, 32, 3), 2048), (applications.ResNet50V2, (32, 32, 3), 2048),
    (applications.VGG16, (32, 32, 3), 512), (applications.VGG19, (32, 32, 3), 512),
    (applications.MobileNet, (32, 32, 3), 1024), (applications.MobileNetV2, (32, 32, 3), 1280),
    (applications.MobileNetV3Small, (32, 32, 3), 576), (applications.MobileNetV3Large, (32, 32, 3), 960),
    (applications.EfficientNetB0, (32, 32, 3), 1280), (applications.EfficientNetV2B0, (32, 32, 3), 1280),
    (applications.DenseNet121, (32, 32, 3), 1024),
    (applications.Xception, (71, 71, 3), 2048), (applications.InceptionV3, (75, 75, 3), 2048),
    (applications.InceptionResNetV2, (75, 75, 3), 1536),
]


@pytest.mark.parametrize("build, shape, features", FORWARD, ids=[b.__name__ for b, _, _ in FORWARD])
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_forward_small_input(build, shape, features, pooling):
    model = build(weights=None, include_top=False, input_shape=shape, pooling=pooling)
    x = RNG.uniform(0, 255, (2,) + shape).astype("float32")
    y = np.asarray(model.predict(x, verbose=0))
    assert y.shape == (2, features)
    assert np.isfinite(y).all()
    if pooling == "max":
        # global max pooling of the feature map: check it against the map itself
        trunk = build(weights=None, include_top=False, input_shape=shape, pooling=None)
        trunk.set_weights(model.get_weights())
        fmap = np.asarray(trunk.predict(x, verbose=0))
        assert fmap.ndim == 4 and fmap.shape[-1] == features
        np.testing.assert_allclose(y, fmap.max(axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_include_top_classes_and_activation():
    model = applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=7)
    y = np.asarray(model.predict(RNG.uniform(0, 255, (3, 32, 32, 3)).astype("float32"), verbose=0))
    assert y.shape == (3, 7)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)   # softmax
    logits = applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=7,
                                      classifier_activation=None)
    assert logits.layers[-1].name == "predictions"


def test_input_tensor_and_name():
    inp = layers.Input(shape=(32, 32, 3))
    model = applications.ResNet50(weights=None, include_top=False, input_tensor=inp, name="backbone")
    assert model.name == "backbone"
    assert model.inputs[0] is inp
    # include_top with the tensor's own size, as Keras builds it
    small = applications.ResNet50(weights=None, input_tensor=layers.Input(shape=(32, 32, 3)), classes=3)
    assert tuple(small.outputs[0].shape) == (None, 3)
    with pytest.raises(ValueError, match="does not match"):
        applications.MobileNetV2(weights=None, include_top=False, input_shape=(64, 64, 3),
                                 input_tensor=layers.Input(shape=(32, 32, 3)))
    assert applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3),
                                    alpha=0.35).name == "mobilenetv2_0.35_96"


def test_alpha_widths():
    model = applications.MobileNet(weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.5)
    assert model.get_layer("conv_pw_13").weights[0].shape == (1, 1, 512, 512)
    model = applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3), alpha=1.4)
    assert model.get_layer("Conv_1").weights[0].shape == (1, 1, 448, 1792)


def test_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="weights must be"):
        applications.ResNet50(weights="no/such/file.h5")
    with pytest.raises(ValueError, match="classes must be 1000"):
        applications.VGG16(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="at least 32x32"):
        applications.ResNet50(weights=None, include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="pooling"):
        applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="sum")
    with pytest.raises(ValueError, match="static"):
        applications.VGG16(weights=None, include_top=True, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="alpha"):
        applications.MobileNetV2(weights="imagenet", alpha=0.6)
    with pytest.raises(ValueError, match="classifier_activation"):
        applications.ResNet50(weights="imagenet", classifier_activation="relu")
    with pytest.raises(TypeError, match="input_tensor"):
        applications.ResNet50(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))


# -- preprocessing ---------------------------------------------------------------------------

def _reference(x, mode, data_format):
    """The three modes written out channel by channel in float64."""
    x = np.array(x, dtype=np.float64)
    if mode == "tf":
        return x / 127.5 - 1.0
    axis = (0 if x.ndim == 3 else 1) if data_format == "channels_first" else x.ndim - 1
    channels = [np.take(x, c, axis=axis) for c in range(3)]
    if mode == "torch":
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        out = [(channels[c] / 255.0 - mean[c]) / std[c] for c in range(3)]
    else:   # caffe: BGR order, minus the BGR mean
        mean_bgr = (103.939, 116.779, 123.68)
        out = [channels[2 - c] - mean_bgr[c] for c in range(3)]
    return np.stack(out, axis=axis)


MODULE_MODES = [("resnet50", "caffe"), ("resnet", "caffe"), ("vgg16", "caffe"), ("vgg19", "caffe"),
                ("resnet_v2", "tf"), ("mobilenet", "tf"), ("mobilenet_v2", "tf"), ("xception", "tf"),
                ("inception_v3", "tf"), ("inception_resnet_v2", "tf"), ("densenet", "torch")]


@pytest.mark.parametrize("module, mode", MODULE_MODES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_modes(module, mode, data_format):
    fn = getattr(applications, module).preprocess_input
    shape = (2, 5, 4, 3) if data_format == "channels_last" else (2, 3, 5, 4)
    pixels = RNG.integers(0, 256, shape).astype("uint8")
    out = fn(pixels, data_format=data_format)
    assert out.dtype == np.float32 and out.shape == shape
    np.testing.assert_allclose(out, _reference(pixels, mode, data_format), rtol=1e-5, atol=1e-4)
    # one image (3D) too
    one = fn(pixels[0].astype("float64").copy(), data_format=data_format)
    np.testing.assert_allclose(one, _reference(pixels[0], mode, data_format), rtol=1e-6, atol=1e-6)


def test_preprocess_input_writes_over_a_float_array_as_keras():
    x = RNG.uniform(0, 255, (1, 2, 2, 3)).astype("float32")
    keep = x.copy()
    out = applications.mobilenet_v2.preprocess_input(x)
    assert out is x
    np.testing.assert_allclose(x, keep / 127.5 - 1.0, rtol=1e-6)


def test_identity_preprocessing_of_models_that_rescale_themselves():
    x = RNG.uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    assert applications.efficientnet.preprocess_input(x) is x
    assert applications.efficientnet_v2.preprocess_input(x) is x
    assert applications.mobilenet_v3.preprocess_input(x) is x


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_inside_a_model_and_on_tensors(mode):
    pixels = RNG.uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    want = _reference(pixels, mode, "channels_last")
    inp = layers.Input(shape=(3, 3, 3))
    model = corenn.Model(inp, imagenet_utils.preprocess_input(inp, mode=mode))
    np.testing.assert_allclose(np.asarray(model.predict(pixels, verbose=0)), want, rtol=1e-5, atol=1e-4)
    tensor_out = imagenet_utils.preprocess_input(corenn.ops.convert_to_tensor(pixels), mode=mode)
    np.testing.assert_allclose(np.asarray(tensor_out), want, rtol=1e-5, atol=1e-4)


def test_preprocess_input_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="keras")
    with pytest.raises(ValueError, match="data_format"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="nhwc")
    with pytest.raises(ValueError, match="3 channels"):
        applications.vgg16.preprocess_input(np.zeros((1, 2, 2, 4)))


# -- downloads: get_file, decode_predictions, weights='imagenet' -------------------------------

@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache and no network: every download fails as on this machine."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))

    def offline(url, *args, **kwargs):
        if str(getattr(url, "full_url", url)).startswith("file:"):
            return real_urlopen(url, *args, **kwargs)
        raise urllib.error.URLError("network unreachable (test)")
    real_urlopen = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    return home


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def test_get_file_downloads_verifies_and_caches(keras_home, tmp_path):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"corenn" * 100)
    path = corenn.utils.get_file("payload.bin", src.as_uri(), cache_subdir="models",
                                 file_hash=_md5(src))
    assert path == str(keras_home / "models" / "payload.bin")
    with open(path, "rb") as f:
        assert f.read() == src.read_bytes()
    src.unlink()   # now served from the cache
    assert corenn.utils.get_file("payload.bin", src.as_uri(), cache_subdir="models") == path


def test_get_file_refuses_a_download_with_the_wrong_hash(keras_home, tmp_path):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"tampered")
    with pytest.raises(ValueError, match="hash"):
        corenn.utils.get_file("payload.bin", src.as_uri(), file_hash="0" * 64)
    assert not (keras_home / "datasets" / "payload.bin").exists()


def test_imagenet_weights_without_network_name_the_url_and_the_path(keras_home):
    url = ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
           "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    with pytest.raises(ConnectionError) as info:
        applications.ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    message = str(info.value)
    assert url in message
    assert str(keras_home / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") in message
    assert "4d473c1dd8becc155b73f8504c6f6626" in message   # the hash Keras checks


def _class_index_file(directory):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    return path


def test_decode_predictions_with_a_local_class_index(keras_home, monkeypatch):
    path = _class_index_file(keras_home / "models")
    # the real file's hash is Keras'; the local stand-in is accepted by its own hash
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", _md5(path))
    preds = RNG.uniform(0, 1, (2, 1000)).astype("float32")
    decoded = applications.resnet50.decode_predictions(preds, top=3)
    assert len(decoded) == 2
    for row, result in zip(preds, decoded):
        best = np.argsort(-row)[:3]
        assert [r[0] for r in result] == [f"n{i:08d}" for i in best]
        assert [r[1] for r in result] == [f"class_{i}" for i in best]
        np.testing.assert_array_equal([r[2] for r in result], row[best])


def test_decode_predictions_without_network_and_bad_shape(keras_home):
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ConnectionError, match="imagenet_class_index.json"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))


# -- Keras' HDF5 weight files ------------------------------------------------------------------

def write_keras_legacy_weights(model, path):
    """Keras' legacy HDF5 weights layout (``save_weights`` of TF-Keras 2, the layout of Keras'
    published application weights): ``layer_names`` in Keras' layer order, one group per layer
    with ``weight_names`` and its arrays."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        ordered = model.layers   # Keras' order
        f.attrs["layer_names"] = [layer.name.encode("utf8") for layer in ordered]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.13.1"
        for layer in ordered:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            group.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for name, w in zip(names, layer.get_weights()):
                group.create_dataset(name, data=w)


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") if w.ndim else np.float32(1)
                       for w in map(np.asarray, model.get_weights())])
    # positive variances (BatchNormalization's moving variance, Normalization's variance)
    for layer in model.layers:
        names = [w.name for w in layer.weights]
        if any("variance" in n for n in names):
            ws = layer.get_weights()
            ws = [np.abs(w) + 0.5 if "variance" in n else w for n, w in zip(names, ws)]
            layer.set_weights(ws)


@pytest.mark.parametrize("build, shape", [
    (applications.ResNet50, (32, 32, 3)), (applications.InceptionV3, (75, 75, 3)),
    (applications.EfficientNetB0, (32, 32, 3)), (applications.DenseNet121, (32, 32, 3)),
    (applications.EfficientNetV2B0, (32, 32, 3)),
], ids=lambda v: getattr(v, "__name__", "shape"))
def test_legacy_h5_weights_load_into_a_fresh_model(build, shape, tmp_path):
    pytest.importorskip("h5py")
    source = build(weights=None, include_top=False, input_shape=shape, pooling="avg")
    _randomize(source, 1)
    path = tmp_path / "weights.h5"
    write_keras_legacy_weights(source, path)
    x = RNG.uniform(0, 255, (2,) + shape).astype("float32")
    want = np.asarray(source.predict(x, verbose=0))
    fresh = build(weights=str(path), include_top=False, input_shape=shape, pooling="avg")
    np.testing.assert_allclose(np.asarray(fresh.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-6)


def test_legacy_h5_for_another_model_is_refused(tmp_path):
    pytest.importorskip("h5py")
    path = tmp_path / "weights.h5"
    write_keras_legacy_weights(applications.MobileNet(weights=None, include_top=False,
                                                      input_shape=(32, 32, 3)), path)
    with pytest.raises(ValueError, match="layers with weights"):
        applications.MobileNetV2(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    write_keras_legacy_weights(applications.MobileNet(weights=None, include_top=False, alpha=0.5,
                                                      input_shape=(32, 32, 3)), path)
    with pytest.raises(ValueError, match="conv1"):
        applications.MobileNet(weights=str(path), include_top=False, input_shape=(32, 32, 3))


def test_corrupt_weights_file_raises_value_error(tmp_path):
    pytest.importorskip("h5py")
    path = tmp_path / "broken.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match="broken.h5"):
        applications.MobileNet(weights=str(path), include_top=False, input_shape=(32, 32, 3))


def test_imagenet_weights_placed_by_hand_are_loaded(keras_home):
    # Keras checks no hash for MobileNetV2's files: a file copied into ~/.keras/models is used
    pytest.importorskip("h5py")
    source = applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3), alpha=0.35)
    _randomize(source, 2)
    target = keras_home / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    target.parent.mkdir(parents=True)
    write_keras_legacy_weights(source, target)
    model = applications.MobileNetV2(weights="imagenet", include_top=False, input_shape=(96, 96, 3),
                                     alpha=0.35)
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert os.path.exists(target)


def test_keras3_weights_file_path_goes_to_load_weights(tmp_path):
    pytest.importorskip("h5py")
    source = applications.MobileNetV3Small(weights=None, include_top=False, input_shape=(32, 32, 3))
    _randomize(source, 3)
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(str(path))
    model = applications.MobileNetV3Small(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_import_paths():
    from corenn.keras.applications.mobilenet_v2 import preprocess_input
    from corenn.keras.applications import imagenet_utils as keras_imagenet_utils
    import corenn.applications
    assert preprocess_input is applications.mobilenet_v2.preprocess_input
    assert keras_imagenet_utils is imagenet_utils
    assert corenn.applications.ResNet50 is corenn.keras.applications.ResNet50
    assert corenn.keras.utils.get_file is corenn.utils.get_file


def test_sample_dropout_drops_whole_samples():
    # EfficientNet's Dropout(rate, noise_shape=(None, 1, 1, 1)): one draw per sample
    layer = _builder.SampleDropout(0.25, seed=1)
    x = np.ones((2000, 2, 2, 3), "float32")
    y = np.asarray(layer(x, training=True))
    per_sample = y.reshape(2000, -1)
    assert (per_sample.min(axis=1) == per_sample.max(axis=1)).all()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.04
    np.testing.assert_array_equal(np.asarray(layer(x)), x)   # inference: the identity
    with pytest.raises(ValueError, match="rate"):
        _builder.SampleDropout(1.0)


def test_efficientnet_trains_through_its_stochastic_depth():
    base = applications.EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    inp = layers.Input((32, 32, 3))
    model = corenn.Model(inp, layers.Dense(2)(base(inp)))
    model.compile("adam", corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in base.get_layer("block1a_dwconv").get_weights()]
    x = RNG.uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    history = model.fit(x, np.arange(8) % 2, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.array_equal(before[0], base.get_layer("block1a_dwconv").get_weights()[0])
