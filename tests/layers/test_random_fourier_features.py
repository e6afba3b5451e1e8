"""RandomFourierFeatures (tf.keras 2's layers.experimental layer): forward against the float64
reference, dx and d(kernel_scale) against finite differences and PyTorch autograd, the random
draws (Gaussian / Cauchy kernel, uniform phases), the kernel it approximates, tf.keras 2's
defaults (not trainable, scale sqrt(F / 2)), errors, and a model trained, saved and reloaded."""
import numpy as np
import pytest

import corenn
from corenn import kernels, keras, layers
from corenn.keras.layers.experimental import RandomFourierFeatures
from layer_checks import check_saving, close
import reference as ref


def _built(rng, features=4, output_dim=6, scale=1.7, trainable=True):
    layer = RandomFourierFeatures(output_dim, scale=scale, trainable=trainable)
    layer.build((None, features))
    return layer


def test_forward_and_gradients_match_the_reference(rng):
    layer = _built(rng)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    w, b, s = [np.asarray(v, np.float64).copy() for v in layer.get_weights()]
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    close(y, ref.random_fourier_features(x, w, b, s))
    r = rng.normal(size=y.shape)
    layer.needs_input_grad = True
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32)))).copy()
    (ds,) = [np.asarray(g).copy() for g in layer.gradients]   # only the scale is trainable
    close(dx, ref.numerical_grad(lambda v: float((ref.random_fourier_features(v, w, b, s) * r).sum()), x))
    close(ds, ref.numerical_grad(lambda v: float((ref.random_fourier_features(x, w, b, v) * r).sum()), s))


def test_gradient_tape_matches_torch(rng):
    torch = pytest.importorskip("torch")
    layer = _built(rng, trainable=True)
    x = corenn.constant(rng.normal(size=(5, 4)).astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(x)
        loss = corenn.ops.sum(corenn.ops.square(layer(x)))
    dx, ds = tape.gradient(loss, [x, layer.kernel_scale])
    w, b, s = [torch.tensor(np.asarray(v), dtype=torch.float64) for v in layer.get_weights()]
    s.requires_grad_(True)
    xt = torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=True)
    torch_loss = (torch.cos(xt @ (w / s[0]) + b) ** 2).sum()
    torch_loss.backward()
    assert float(np.asarray(loss)) == pytest.approx(float(torch_loss.detach()), rel=1e-5)
    close(np.asarray(dx), xt.grad.numpy())
    close(np.asarray(ds), s.grad.numpy())


def test_defaults_draws_and_the_kernel_approximated(rng):
    keras.utils.set_random_seed(4)
    gaussian = RandomFourierFeatures(4000)
    gaussian.build((None, 8))
    assert not gaussian.trainable and gaussian.trainable_weights == []
    assert [tuple(w.shape) for w in gaussian.non_trainable_weights] == [(8, 4000), (4000,), (1,)]
    assert gaussian.scale == pytest.approx(2.0) and float(np.asarray(gaussian.kernel_scale)[0]) == pytest.approx(2.0)
    w, b = np.asarray(gaussian.unscaled_kernel), np.asarray(gaussian.bias)
    assert abs(w.std() - 1.0) < 0.02 and abs(w.mean()) < 0.02
    assert b.min() >= 0.0 and b.max() < 2 * np.pi and abs(b.mean() - np.pi) < 0.1
    # 2 / D * <phi(x), phi(y)> ~ exp(-|x - y|^2 / (2 s^2)), the Gaussian kernel of width s
    x = rng.normal(size=(2, 8)).astype(np.float32) * 0.8
    phi = np.asarray(gaussian(x), np.float64)
    estimate = 2.0 / 4000 * float(phi[0] @ phi[1])
    assert estimate == pytest.approx(np.exp(-np.sum((x[0] - x[1]) ** 2) / (2 * 2.0 ** 2)), abs=0.05)
    laplacian = RandomFourierFeatures(4000, kernel_initializer="laplacian")
    laplacian.build((None, 8))
    assert laplacian.scale == 1.0
    # standard Cauchy: the median of |w| is 1
    assert np.median(np.abs(np.asarray(laplacian.unscaled_kernel))) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("kwargs, match", [
    (dict(output_dim=0), "output_dim must be a positive integer"),
    (dict(output_dim=4, kernel_initializer="polynomial"), "unsupported kernel_initializer 'polynomial'"),
    (dict(output_dim=4, scale=-1.0), "scale must be a positive float"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomFourierFeatures(**kwargs)


def test_inputs_must_be_rank_two():
    with pytest.raises(ValueError, match=r"needs inputs of shape \(batch, features\)"):
        RandomFourierFeatures(4)(np.zeros((2, 3, 5), np.float32))


def test_fit_learns_the_scale_only_when_trainable_and_the_model_reloads(rng, tmp_path):
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (np.sum(x ** 2, axis=1, keepdims=True) < 3.0).astype(np.float32)

    def make_model(trainable):
        keras.utils.set_random_seed(2)
        model = keras.Sequential([keras.Input((3,)), RandomFourierFeatures(32, scale=3.0, trainable=trainable),
                                  layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
        return model

    for trainable in (False, True):
        model = make_model(trainable)
        features = model.layers[0]
        fixed = [np.asarray(v).copy() for v in features.weights]
        history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]
        after = [np.asarray(v) for v in features.weights]
        np.testing.assert_array_equal(after[0], fixed[0])
        np.testing.assert_array_equal(after[1], fixed[1])
        assert (after[2][0] != fixed[2][0]) == trainable and after[2][0] >= 0.0
    config = features.get_config()
    assert config["output_dim"] == 32 and config["kernel_initializer"] == "gaussian" and config["scale"] == 3.0
    check_saving(model, lambda: make_model(True), x, tmp_path)
