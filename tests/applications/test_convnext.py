"""keras.applications.ConvNeXt*: Keras' parameter count, layer names and weight shapes (its
nested stem / downsampling Sequentials included), a small forward pass, and Keras' HDF5 weight
layout read back into a fresh model."""
import numpy as np
import pytest

from corenn.keras import applications

from test_applications import _randomize, write_keras_legacy_weights

RNG = np.random.default_rng(5)


def test_convnext_tiny_parameter_count_equals_keras():
    assert applications.ConvNeXtTiny(weights=None).count_params() == 28_589_128


def test_convnext_layer_names_and_weight_shapes():
    model = applications.ConvNeXtTiny(weights=None, include_top=False, input_shape=(32, 32, 3))
    shapes = {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers}
    assert shapes["convnext_tiny_stem"] == [(4, 4, 3, 96), (96,), (96,), (96,)]
    assert shapes["convnext_tiny_downsampling_block_2"] == [(384,), (384,), (2, 2, 384, 768), (768,)]
    # the depthwise convolution is a grouped Conv2D, as in Keras: kernel (7, 7, 1, C)
    assert shapes["convnext_tiny_stage_0_block_0_depthwise_conv"] == [(7, 7, 1, 96), (96,)]
    assert shapes["convnext_tiny_stage_3_block_2_pointwise_conv_1"] == [(768, 3072), (3072,)]
    assert shapes["convnext_tiny_stage_1_block_1_layer_scale"] == [(192,)]
    np.testing.assert_allclose(model.get_layer("convnext_tiny_stage_1_block_1_layer_scale").get_weights()[0],
                               1e-6)


def test_convnext_forward_and_preprocessing_in_the_model():
    model = applications.ConvNeXtTiny(weights=None, include_top=False, input_shape=(32, 32, 3),
                                      pooling="avg")
    x = RNG.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = np.asarray(model.predict(x, verbose=0))
    assert y.shape == (2, 768) and np.isfinite(y).all()
    # the closing LayerNormalization (gamma 1, beta 0): each row has mean 0, variance ~1
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-4)
    assert applications.convnext.preprocess_input(x) is x
    top = applications.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3), classes=5)
    p = np.asarray(top.predict(x, verbose=0))
    assert p.shape == (2, 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_convnext_legacy_h5_weights_load_into_a_fresh_model(tmp_path):
    pytest.importorskip("h5py")
    source = applications.ConvNeXtTiny(weights=None, include_top=False, input_shape=(32, 32, 3),
                                       pooling="avg")
    _randomize(source, 4)
    path = tmp_path / "convnext_tiny_notop.h5"
    write_keras_legacy_weights(source, path)
    x = RNG.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(source.predict(x, verbose=0))
    fresh = applications.ConvNeXtTiny(weights=str(path), include_top=False, input_shape=(32, 32, 3),
                                      pooling="avg")
    np.testing.assert_allclose(np.asarray(fresh.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-5)


def test_convnext_imagenet_weights_need_the_variant_name():
    with pytest.raises(ValueError, match="convnext_tiny"):
        applications.ConvNeXtTiny(weights="imagenet", name="backbone")
