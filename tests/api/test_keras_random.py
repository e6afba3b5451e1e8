"""keras.random: shapes, dtypes, distributions (moments against the closed forms), seeds."""
import numpy as np
import pytest

import corenn
from corenn import keras, kernels


@pytest.mark.parametrize("fn, kwargs, mean, var", [
    (keras.random.normal, dict(mean=1.0, stddev=2.0), 1.0, 4.0),
    (keras.random.uniform, dict(minval=-1.0, maxval=3.0), 1.0, 16.0 / 12),
    (keras.random.truncated_normal, dict(stddev=1.0), 0.0, 0.7737),   # N(0,1) cut at +-2
])
def test_moments(fn, kwargs, mean, var):
    t = fn((200000,), seed=3, **kwargs)
    assert isinstance(t, kernels.Tensor) and t.dtype == "float32" and t.shape == (200000,)
    a = np.asarray(t, np.float64)
    assert abs(a.mean() - mean) < 0.02 and abs(a.var() / var - 1) < 0.02


def test_truncated_normal_stays_within_two_stddevs():
    a = np.asarray(keras.random.truncated_normal((10000,), mean=5.0, stddev=0.5, seed=1))
    assert a.min() >= 4.0 and a.max() <= 6.0


def test_randint_categorical_shuffle_dropout():
    r = np.asarray(keras.random.randint((1000,), 2, 5, seed=0))
    assert r.dtype == np.int32 and set(np.unique(r)) == {2, 3, 4}
    c = np.asarray(keras.random.categorical(np.log([[0.999, 0.001, 1e-9], [1e-9, 1e-9, 1.0]]), 50, seed=0))
    assert c.shape == (2, 50) and (c[1] == 2).all() and (c[0] != 2).all()
    x = np.arange(20, dtype=np.float32)
    s = np.asarray(keras.random.shuffle(x, seed=4))
    assert sorted(s.tolist()) == x.tolist() and not np.array_equal(s, x)
    d = np.asarray(keras.random.dropout(np.ones(10000, np.float32), 0.25, seed=2))
    assert set(np.unique(d)) <= {0.0, np.float32(1 / 0.75)} and abs((d == 0).mean() - 0.25) < 0.02


def test_seeds():
    assert np.array_equal(keras.random.normal((5,), seed=7), keras.random.normal((5,), seed=7))
    gen = keras.random.SeedGenerator(7)
    a, b = keras.random.normal((5,), seed=gen), keras.random.normal((5,), seed=gen)
    assert not np.array_equal(a, b)             # a stream: the next draw differs
    corenn.utils.set_random_seed(11)
    u = np.asarray(keras.random.uniform((4,)))
    corenn.utils.set_random_seed(11)
    assert np.array_equal(u, keras.random.uniform((4,)))   # the global seed governs seed=None


@pytest.mark.parametrize("call, match", [
    (lambda: keras.random.normal((2, -1)), "negative"),
    (lambda: keras.random.uniform((2,), minval=1.0, maxval=1.0), "minval"),
    (lambda: keras.random.normal((2,), seed=-3), "seed"),
    (lambda: keras.random.categorical(np.zeros(3), 2), "logits"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_gamma_scalar_alpha_gives_shape_and_array_alpha_appends_its_shape():
    # keras.random.gamma(shape, alpha=float): `shape`; tf.random.gamma(shape, alpha=[...], beta=...):
    # one draw per parameter, shape + alpha.shape (the CutMix example indexes draws[0][0])
    scalar = np.asarray(corenn.random.gamma((50000,), alpha=3.0, seed=1), np.float64)
    assert scalar.shape == (50000,) and abs(scalar.mean() - 3.0) < 0.05 and abs(scalar.var() / 3.0 - 1) < 0.05
    assert tuple(corenn.random.gamma(shape=[1], alpha=[0.25]).shape) == (1, 1)
    draws = np.asarray(corenn.random.gamma((40000,), alpha=[2.0, 8.0], beta=[4.0, 2.0], seed=2), np.float64)
    assert draws.shape == (40000, 2) and draws.min() > 0
    # mean alpha / beta and variance alpha / beta**2 per column
    np.testing.assert_allclose(draws.mean(axis=0), [0.5, 4.0], rtol=0.03)
    np.testing.assert_allclose(draws.var(axis=0), [0.125, 2.0], rtol=0.05)
