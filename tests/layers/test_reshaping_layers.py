"""Permute, RepeatVector, Cropping1D/2D, UpSampling1D/2D, Identity: forward and backward vs the
float64 reference, finite differences through each layer, shapes, errors naming the layer, and a
Sequential model with them that trains, saves and loads."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
import reference as ref


def _run(layer, x, r):
    """y and dx of L = sum(layer(x) * r) through forward / backward."""
    if not layer.built:
        layer.build((None,) + x.shape[1:])
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return y, np.asarray(dx).copy()


def _layer_fd(layer, x, r, eps=1e-2):
    """Central differences of sum(layer(x) * r) with the layer's own float32 forward."""
    def f(v):
        return float((np.asarray(layer.forward(kernels.as_tensor(v.astype(np.float32)))) * r).sum())
    return ref.numerical_grad(f, x, eps)


CASES = [  # layer factory, input shape, reference forward, reference gradient
    (lambda: layers.Permute((2, 1)), (2, 3, 5), lambda x: x.transpose(0, 2, 1),
     lambda dy: dy.transpose(0, 2, 1)),
    (lambda: layers.Permute((3, 1, 2)), (2, 3, 4, 5), lambda x: x.transpose(0, 3, 1, 2),
     lambda dy: dy.transpose(0, 2, 3, 1)),
    (lambda: layers.RepeatVector(3), (4, 5), lambda x: ref.repeat_vector(x, 3), ref.repeat_vector_grad),
    (lambda: layers.Cropping1D((1, 2)), (2, 7, 3), lambda x: x[:, 1:5],
     lambda dy: np.pad(dy, ((0, 0), (1, 2), (0, 0)))),
    (lambda: layers.Cropping1D(0), (2, 3, 2), lambda x: x, lambda dy: dy),
    (lambda: layers.Cropping2D(((1, 0), (2, 1))), (2, 5, 6, 3), lambda x: ref.crop2d(x, 1, 0, 2, 1),
     lambda dy: ref.zero_pad2d(dy, 1, 0, 2, 1)),
    (lambda: layers.Cropping2D(1), (1, 4, 3, 2), lambda x: ref.crop2d(x, 1, 1, 1, 1),
     lambda dy: ref.zero_pad2d(dy, 1, 1, 1, 1)),
    (lambda: layers.UpSampling1D(3), (2, 5, 3), lambda x: np.repeat(x, 3, axis=1),
     lambda dy: dy.reshape(2, 5, 3, 3).sum(2)),
    (lambda: layers.UpSampling2D((2, 3)), (2, 3, 4, 2), lambda x: ref.upsample2d(x, 2, 3),
     lambda dy: ref.upsample2d_grad(dy, 2, 3)),
    (lambda: layers.UpSampling2D(2, interpolation="bilinear"), (1, 5, 3, 2),
     lambda x: ref.upsample2d(x, 2, 2, "bilinear"), lambda dy: ref.upsample2d_grad(dy, 2, 2, "bilinear")),
    (lambda: layers.Identity(), (3, 4), lambda x: x, lambda dy: dy),
]
IDS = ["permute2", "permute3", "repeat", "crop1d", "crop1d_0", "crop2d", "crop2d_int", "up1d",
       "up2d", "up2d_bilinear", "identity"]


@pytest.mark.parametrize("make,shape,fwd,grad", CASES, ids=IDS)
def test_forward_backward_vs_reference_and_finite_differences(make, shape, fwd, grad, rng):
    layer = make()
    x = rng.normal(size=shape).astype(np.float32)
    want = fwd(ref.f64(x))
    r = rng.normal(size=want.shape)
    y, dx = _run(layer, x, r)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + want.shape[1:]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, grad(r), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, _layer_fd(layer, x, r), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("make,shape,fwd,grad", CASES, ids=IDS)
def test_first_layer_returns_no_input_gradient(make, shape, fwd, grad, rng):
    layer = make()
    layer.build((None,) + shape[1:])
    layer.needs_input_grad = False
    x = rng.normal(size=shape).astype(np.float32)
    y = layer.forward(kernels.as_tensor(x))
    assert layer.backward(kernels.as_tensor(np.ones(y.shape, np.float32))) is None


def test_unknown_sizes_give_none_and_keras_shapes():
    assert layers.Cropping2D(((1, 2), (0, 1))).compute_output_shape((None, None, 8, 3)) == (None, None, 7, 3)
    assert layers.UpSampling2D(3).compute_output_shape((None, 2, None, 1)) == (None, 6, None, 1)
    assert layers.UpSampling1D().compute_output_shape((None, None, 4)) == (None, None, 4)
    assert layers.Cropping1D().compute_output_shape((None, 5, 2)) == (None, 3, 2)
    assert layers.RepeatVector(4).compute_output_shape((None, 7)) == (None, 4, 7)
    assert layers.Permute((2, 3, 1)).compute_output_shape((None, 2, 3, 4)) == (None, 3, 4, 2)


def test_bad_arguments_and_inputs_name_the_layer():
    for make, match in [(lambda: layers.Permute((1, 3)), "Permute.*permutation"),
                        (lambda: layers.Permute((0, 1)), "Permute.*permutation"),
                        (lambda: layers.RepeatVector(0), "RepeatVector.*positive"),
                        (lambda: layers.RepeatVector(2.5), "RepeatVector.*positive"),
                        (lambda: layers.Cropping1D(-1), "Cropping1D.*non-negative"),
                        (lambda: layers.Cropping1D((1, 2, 3)), "Cropping1D.*cropping"),
                        (lambda: layers.Cropping2D(((1, 2), (3,))), "Cropping2D.*cropping"),
                        (lambda: layers.UpSampling1D(0), "UpSampling1D.*positive"),
                        (lambda: layers.UpSampling2D((2, 0)), "UpSampling2D.*positive")]:
        with pytest.raises(ValueError, match=match):
            make()
    with pytest.raises(NotImplementedError, match="UpSampling2D.*bicubic"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match="Cropping2D.*data_format"):
        layers.Cropping2D(data_format="first")   # channels_first: tests/layers/test_channels_first.py
    for layer, shape, match in [(layers.Permute((2, 1)), (None, 2, 3, 4), "Permute.*rank 3"),
                                (layers.RepeatVector(2), (None, 2, 3), "RepeatVector.*rank 2"),
                                (layers.Cropping1D((2, 3)), (None, 5, 2), "Cropping1D.*leaves no steps"),
                                (layers.Cropping2D(((0, 0), (2, 2))), (None, 5, 4, 1), "Cropping2D.*leaves no width"),
                                (layers.UpSampling2D(), (None, 5, 4), "UpSampling2D.*rank 4"),
                                (layers.UpSampling1D(), (None, 5), "UpSampling1D.*rank 3")]:
        with pytest.raises(ValueError, match=match):
            layer.build(shape)
    layer = layers.Cropping1D(1)
    layer.build((None, 6, 2))
    with pytest.raises(ValueError, match="cropping1d.*expects input"):
        layer(np.zeros((2, 7), np.float32))        # the rank is checked (Keras' input spec)
    assert tuple(layer(np.zeros((2, 7, 2), np.float32)).shape) == (2, 5, 2)   # other lengths are fine


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    up = layers.UpSampling2D((2, 2), interpolation="bilinear")(x)
    want = torch.nn.functional.interpolate(torch.tensor(x).permute(0, 3, 1, 2), scale_factor=2,
                                           mode="bilinear", align_corners=False)
    np.testing.assert_allclose(up, want.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layers.Permute((3, 1, 2))(x), torch.tensor(x).permute(0, 3, 1, 2).numpy())


def test_sequential_with_reshaping_layers_trains_saves_and_loads(rng, tmp_path):
    corenn.utils.set_random_seed(5)
    x = rng.normal(size=(96, 6, 4, 2)).astype(np.float32)
    y = x[:, 1:5, 1:3].mean(axis=(1, 2, 3))[:, None].astype(np.float32) * 3
    def build():
        return corenn.Sequential([
            layers.Input(shape=(6, 4, 2)), layers.Cropping2D(((1, 1), (1, 1))),
            layers.UpSampling2D(2, interpolation="bilinear"), layers.Permute((2, 1, 3)),
            layers.Reshape((4, 16)), layers.Cropping1D((1, 0)), layers.UpSampling1D(2),
            layers.Identity(), layers.Flatten(), layers.Dense(4), layers.RepeatVector(2),
            layers.Flatten(), layers.Dense(1)])
    model = build()
    model.compile(optimizer="adam", loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    pred = model.predict(x[:5], verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = corenn.models.load_model(tmp_path / "m.keras")
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_allclose(loaded.predict(x[:5], verbose=0), pred, rtol=1e-6, atol=1e-6)
