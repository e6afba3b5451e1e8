"""Tensors behave like the tensors Keras returns: layer and model calls return new Tensors
(``.numpy()``), NumPy ufuncs and NumPy-style methods work on them, and the ones corenn.ops has
are differentiable under the tape."""
import numpy as np
import pytest

import corenn
from corenn import keras, kernels, layers

from reference import numerical_grad


def T(a):
    return kernels.Tensor.from_numpy(np.ascontiguousarray(a, np.float32))


def test_eager_layer_calls_return_new_tensors_not_reused_buffers():
    dense = layers.Dense(2)
    x1, x2 = np.ones((1, 3), np.float32), np.full((1, 3), 2.0, np.float32)
    for make in (np.asarray, T):
        a = dense(make(x1))
        want_a = np.asarray(a).copy()
        b = dense(make(x2))
        assert isinstance(a, kernels.Tensor) and isinstance(b, kernels.Tensor)
        np.testing.assert_array_equal(np.asarray(a), want_a)   # the second call left it alone
        assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_model_call_returns_a_tensor_with_numpy():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    x = np.random.default_rng(0).random((2, 4)).astype(np.float32)
    y = model(x)
    assert isinstance(y, kernels.Tensor)
    np.testing.assert_allclose(y.numpy(), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("ufunc", [np.exp, np.log, np.sqrt, np.square, np.abs, np.tanh, np.negative])
def test_unary_ufuncs_run_as_ops(ufunc):
    a = np.random.default_rng(1).random((3, 4)).astype(np.float32) + 0.5
    y = ufunc(T(a))
    assert isinstance(y, kernels.Tensor)
    np.testing.assert_allclose(np.asarray(y), ufunc(a.astype(np.float64)), rtol=1e-5)


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.true_divide, np.maximum, np.minimum])
def test_binary_ufuncs_and_mixed_operands(ufunc):
    rng = np.random.default_rng(2)
    a, b = rng.random((3, 4)) + 0.5, rng.random((4,)) + 0.5
    for x, y in ((T(a), b), (a, T(b)), (T(a), T(b))):
        got = ufunc(x, y)
        assert isinstance(got, kernels.Tensor)
        np.testing.assert_allclose(np.asarray(got), ufunc(a, b), rtol=1e-5)


def test_other_ufuncs_and_out_run_in_numpy():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.greater(T(a), 2), a > 2)
    out = np.empty((2, 3), np.float32)
    np.add(T(a), 1, out=out)
    np.testing.assert_array_equal(out, a + 1)


def test_numpy_style_methods():
    a = np.random.default_rng(3).normal(size=(2, 3, 4)).astype(np.float32)
    t = T(a)
    np.testing.assert_allclose(np.asarray(t.sum()), a.sum(dtype=np.float64), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(t.mean(axis=0)), a.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(t.max(axis=-1, keepdims=True)), a.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(t.std(axis=1)), a.std(axis=1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(np.mean(t, axis=2)), a.mean(axis=2), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(t.argmax(-1)), a.argmax(-1))
    assert t.reshape(-1, 4).shape == (6, 4) and t.reshape((4, 6)).shape == (4, 6)
    assert t.flatten().shape == (24,) and t.T.shape == (4, 3, 2)
    assert t.astype("float64").dtype == np.float64 and t.tolist() == a.tolist()
    assert bool((t > 10).any()) is False and bool((t < 10).all()) is True


def test_truth_value():
    assert bool(T([3.0]) > 1.0) and not bool(T(0.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(T([1.0, 2.0]))
    assert int(T([4.0])) == 4


def test_ufuncs_and_methods_are_differentiable_under_the_tape():
    a = np.random.default_rng(4).random((3, 4)) + 0.5
    x = T(a)
    with corenn.GradientTape() as tape:
        tape.watch(x)
        loss = (np.exp(x) * np.sqrt(x)).sum() + np.square(x).mean()
    g = np.asarray(tape.gradient(loss, x), np.float64)
    num = numerical_grad(lambda v: float((np.exp(v) * np.sqrt(v)).sum() + np.square(v).mean()), a)
    np.testing.assert_allclose(g, num, rtol=1e-3, atol=1e-4)


def test_repr_shows_the_values_as_tensorflow_does():
    r = repr(T([[1.5, -2.0]]))
    assert "1.5" in r and "-2." in r and "shape=(1, 2)" in r and "dtype=float32" in r
