"""Pooling and ZeroPadding2D layers: forward vs NumPy, finite differences through each layer's
backward, Keras output shapes, configs and clear errors."""
import numpy as np
import pytest

from corenn import kernels
from corenn.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                                   GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                   MaxPooling1D, MaxPooling2D)
from corenn.layers.reshaping import ZeroPadding2D
import reference as ref


def _mp(x, p, s, pad):
    return ref.max_pool2d(x, p, s, pad)[0]


def _1d(f):
    return lambda x: f(x[:, None])[:, 0]


# (layer factory, input shape with batch, Keras output shape, float64 reference forward)
CASES = [
    ("max2d", lambda: MaxPooling2D(), (2, 7, 7, 3), (2, 3, 3, 3), lambda x: _mp(x, (2, 2), (2, 2), "valid")),
    ("max2d_same", lambda: MaxPooling2D(2, padding="same"), (1, 7, 7, 3), (1, 4, 4, 3),
     lambda x: _mp(x, (2, 2), (2, 2), "same")),
    ("max2d_overlap", lambda: MaxPooling2D((3, 2), strides=(2, 1), padding="same"), (1, 5, 4, 2),
     (1, 3, 4, 2), lambda x: _mp(x, (3, 2), (2, 1), "same")),
    ("avg2d", lambda: AveragePooling2D(3, strides=2, padding="same"), (2, 5, 6, 3), (2, 3, 3, 3),
     lambda x: ref.avg_pool2d(x, (3, 3), (2, 2), "same")),
    ("avg2d_valid", lambda: AveragePooling2D((2, 3), strides=1), (1, 4, 5, 2), (1, 3, 3, 2),
     lambda x: ref.avg_pool2d(x, (2, 3), (1, 1), "valid")),
    ("max1d", lambda: MaxPooling1D(3, strides=1), (2, 10, 4), (2, 8, 4),
     _1d(lambda x: _mp(x, (1, 3), (1, 1), "valid"))),
    ("avg1d_same", lambda: AveragePooling1D(2, padding="same"), (2, 7, 3), (2, 4, 3),
     _1d(lambda x: ref.avg_pool2d(x, (1, 2), (1, 2), "same"))),
    ("gap2d", lambda: GlobalAveragePooling2D(), (2, 3, 4, 5), (2, 5), ref.global_avg_pool2d),
    ("gap2d_keep", lambda: GlobalAveragePooling2D(keepdims=True), (2, 3, 4, 5), (2, 1, 1, 5),
     lambda x: ref.global_avg_pool2d(x)[:, None, None]),
    ("gmp2d", lambda: GlobalMaxPooling2D(), (2, 3, 4, 5), (2, 5), lambda x: ref.global_max_pool2d(x)[0]),
    ("gap1d", lambda: GlobalAveragePooling1D(), (2, 6, 3), (2, 3), lambda x: f64m(x, np.mean)),
    ("gmp1d_keep", lambda: GlobalMaxPooling1D(keepdims=True), (2, 6, 3), (2, 1, 3),
     lambda x: f64m(x, np.max)[:, None]),
    ("zeropad", lambda: ZeroPadding2D(((1, 2), (0, 3))), (2, 4, 5, 2), (2, 7, 8, 2),
     lambda x: ref.zero_pad2d(x, 1, 2, 0, 3)),
    ("zeropad_int", lambda: ZeroPadding2D(1), (1, 2, 3, 3), (1, 4, 5, 3), lambda x: ref.zero_pad2d(x, 1, 1, 1, 1)),
    ("zeropad_hw", lambda: ZeroPadding2D((2, 1)), (1, 2, 2, 1), (1, 6, 4, 1), lambda x: ref.zero_pad2d(x, 2, 2, 1, 1)),
]


def f64m(x, f):
    return f(np.asarray(x, np.float64), axis=1)


@pytest.mark.parametrize("make,shape,out_shape,forward", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_forward_backward_and_shape(make, shape, out_shape, forward, rng):
    layer = make()
    n = int(np.prod(shape))
    x = ((rng.permutation(n).reshape(shape) / n - 0.5) * 4).astype(np.float32)  # distinct: no ties
    y = layer(x)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + out_shape[1:]
    assert layer.output_shape == (None,) + out_shape[1:] and y.shape == out_shape
    np.testing.assert_allclose(y, forward(x), rtol=1e-5, atol=1e-6)
    r = rng.normal(size=out_shape)
    layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32))))
    # values are >= 4/n apart, so eps = 1e-3 never changes which cell wins a max
    num = ref.numerical_grad(lambda v: float((layer(v.astype(np.float32)) * r).sum()), x, eps=1e-3)
    np.testing.assert_allclose(dx, num, rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("make", [lambda: MaxPooling2D(), lambda: AveragePooling1D(),
                                  lambda: GlobalMaxPooling2D(), lambda: ZeroPadding2D()])
def test_no_input_grad_returns_none(make, rng):
    layer = make()
    shape = (1, 4, 3) if isinstance(layer, AveragePooling1D) else (1, 4, 4, 3)
    y = layer(rng.normal(size=shape).astype(np.float32))
    layer.needs_input_grad = False
    assert layer.backward(kernels.as_tensor(np.ones(y.shape, np.float32))) is None


def test_unknown_spatial_sizes_give_none():
    assert MaxPooling2D().compute_output_shape((None, None, 8, 3)) == (None, None, 4, 3)
    assert ZeroPadding2D(1).compute_output_shape((None, None, None, 3)) == (None, None, None, 3)


def test_configs_round_trip():
    for layer in (MaxPooling2D((3, 2), strides=1, padding="same"), AveragePooling1D(3, strides=2),
                  GlobalMaxPooling2D(keepdims=True), ZeroPadding2D((1, 2))):
        cfg = layer.get_config()
        cfg.pop("name")
        clone = type(layer).from_config(cfg)
        assert {k: v for k, v in clone.get_config().items() if k != "name"} == cfg
    assert MaxPooling1D(3).get_config()["pool_size"] == (3,)
    assert MaxPooling2D(3).strides == (3, 3)
    assert ZeroPadding2D(1).padding == ((1, 1), (1, 1))


def test_bad_inputs_raise_naming_the_layer():
    with pytest.raises(ValueError, match="MaxPooling2D 'mp'.*rank 4"):
        MaxPooling2D(name="mp")(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="AveragePooling2D 'ap'.*larger than the input"):
        AveragePooling2D(5, name="ap")(np.zeros((1, 4, 6, 2), np.float32))
    with pytest.raises(ValueError, match="MaxPooling1D 'm1'.*larger than the input"):
        MaxPooling1D(4, name="m1")(np.zeros((1, 3, 2), np.float32))
    with pytest.raises(ValueError, match="AveragePooling1D 'a1'.*rank 3"):
        AveragePooling1D(name="a1")(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="GlobalMaxPooling2D 'g'.*rank 4"):
        GlobalMaxPooling2D(name="g")(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="ZeroPadding2D 'z'.*rank 4"):
        ZeroPadding2D(name="z")(np.zeros((1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="MaxPooling2D.*padding"):
        MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="MaxPooling2D.*pool_size"):
        MaxPooling2D(pool_size=(2, 0))
    with pytest.raises(ValueError, match="ZeroPadding2D.*padding"):
        ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="ZeroPadding2D.*padding"):
        ZeroPadding2D(-1)
    with pytest.raises(ValueError, match="GlobalAveragePooling2D.*data_format"):
        GlobalAveragePooling2D(data_format="NCHW")
    # channels_first: tests/layers/test_channels_first.py
    assert GlobalAveragePooling2D(data_format="channels_first").compute_output_shape(
        (None, 3, 4, 5)) == (None, 3)
