"""The noise layers' kernels: gaussian_noise_forward, gaussian_dropout_forward,
alpha_dropout_forward. The draws are random, so the tests check what must hold for any draw
(exact relations between x, y and mask; the alpha-dropout formula against the float64 reference
given the drawn keep pattern), the distribution's moments on a large sample, reproducibility from
the seed for any thread count, and bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

N = 200_000


def _moments_close(z, mean, std, rel=0.02):
    assert abs(z.mean() - mean) < 5 * std / np.sqrt(z.size) + 1e-6
    assert abs(z.std() - std) < rel * std


def test_gaussian_noise_adds_normal_noise_of_the_given_stddev(rng):
    x = rng.normal(size=(N // 100, 100)).astype(np.float32)
    y = np.asarray(kernels.gaussian_noise_forward(x, 0.3, seed=7))
    z = (y.astype(np.float64) - x) / 0.3
    _moments_close(z, 0.0, 1.0)
    # standard normal tails: P(|z| > 2) = 0.0455, P(|z| > 3) = 0.0027
    assert abs((np.abs(z) > 2).mean() - 0.0455) < 0.003
    assert abs((np.abs(z) > 3).mean() - 0.0027) < 0.0008
    assert abs(np.corrcoef(z[:-1, 0], z[1:, 0])[0, 1]) < 0.05  # neighbours are independent


def test_gaussian_noise_of_zero_stddev_is_the_identity(rng):
    x = rng.normal(size=(7, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.gaussian_noise_forward(x, 0.0, seed=1)), x)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_gaussian_dropout_multiplies_by_its_mask(rate, rng):
    x = rng.normal(size=(N // 50, 50)).astype(np.float32)
    y, mask = kernels.gaussian_dropout_forward(x, rate, seed=3)
    y, mask = np.asarray(y), np.asarray(mask)
    np.testing.assert_array_equal(y, x * mask)
    _moments_close(mask.astype(np.float64), 1.0, np.sqrt(rate / (1 - rate)))
    dy = rng.normal(size=x.shape).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.dropout_backward(dy, mask)), dy * mask)


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_alpha_dropout_matches_the_reference_for_its_keep_pattern(rate, rng):
    x = rng.normal(size=(N // 40, 40)).astype(np.float32)
    y, mask = kernels.alpha_dropout_forward(x, rate, seed=11)
    y, mask = np.asarray(y), np.asarray(mask)
    keep = mask != 0
    want, a = ref.alpha_dropout(x, keep, rate)
    np.testing.assert_allclose(mask[keep], a, rtol=1e-6)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    assert abs(1 - keep.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / keep.size)
    # the point of alpha dropout: standard normal inputs keep mean 0 and variance 1
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02


def test_same_seed_same_draws_for_any_thread_count(rng):
    x = rng.normal(size=(300, 100)).astype(np.float32)
    old = kernels.get_num_threads()
    runs = []
    try:
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            runs.append([np.asarray(kernels.gaussian_noise_forward(x, 0.5, seed=5)).copy()]
                        + [np.asarray(t).copy() for t in kernels.gaussian_dropout_forward(x, 0.2, seed=5)]
                        + [np.asarray(t).copy() for t in kernels.alpha_dropout_forward(x, 0.2, seed=5)])
    finally:
        kernels.set_num_threads(old)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)
    other_seed = np.asarray(kernels.gaussian_noise_forward(x, 0.5, seed=6))
    assert not np.array_equal(other_seed, runs[0][0])


def test_in_place(rng):
    x = rng.normal(size=(8, 9)).astype(np.float32)
    want, mask = kernels.gaussian_dropout_forward(x, 0.3, seed=2)
    xt = kernels.as_tensor(x.copy())
    kernels.gaussian_dropout_forward(xt, 0.3, seed=2, out=xt)
    np.testing.assert_array_equal(np.asarray(xt), np.asarray(want))
    xt = kernels.as_tensor(x.copy())
    kernels.gaussian_noise_forward(xt, 0.3, seed=2, out=xt)
    np.testing.assert_array_equal(np.asarray(xt), np.asarray(kernels.gaussian_noise_forward(x, 0.3, seed=2)))


@pytest.mark.parametrize("op", ["gaussian_dropout_forward", "alpha_dropout_forward"])
def test_bad_dropout_calls_name_the_op(op):
    fn = getattr(kernels, op)
    x = np.ones((2, 3), np.float32)
    for rate in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=f"{op}.*rate"):
            fn(x, rate, seed=1)
    with pytest.raises(ValueError, match=f"{op}.*same shape"):
        fn(x, 0.5, seed=1, mask=kernels.empty((3, 2)))
    with pytest.raises(TypeError, match=f"{op}.*float32"):
        fn(np.ones((2, 3), np.int32), 0.5, seed=1)
    with pytest.raises(TypeError, match=f"{op}.*seed"):
        fn(x, 0.5, seed=1.5)
    xt = kernels.as_tensor(x.copy())
    with pytest.raises(ValueError, match=f"{op}.*share memory"):
        fn(xt, 0.5, seed=1, mask=xt)
    ro = np.ones((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=f"{op}.*read-only"):
        fn(x, 0.5, seed=1, mask=ro)


def test_bad_noise_calls_name_the_op():
    x = np.ones((2, 3), np.float32)
    for stddev in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="gaussian_noise_forward.*stddev"):
            kernels.gaussian_noise_forward(x, stddev, seed=1)
    with pytest.raises(ValueError, match="gaussian_noise_forward.*same shape"):
        kernels.gaussian_noise_forward(x, 0.1, seed=1, out=kernels.empty((3, 2)))
    ro = np.ones((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="gaussian_noise_forward.*read-only"):
        kernels.gaussian_noise_forward(x, 0.1, seed=1, out=ro)
