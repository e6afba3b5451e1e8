"""accuracy_count: the three kinds against the reference, NumPy's argmax tie rule, bad inputs."""
import numpy as np
import pytest

from corenn import kernels
from reference import accuracy_count


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_sparse_categorical(dtype, label_shape, rng):
    p = rng.standard_normal((257, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 257).astype(dtype)
    labels[:50] = p[:50].argmax(-1)
    y = labels if label_shape == "flat" else labels[:, None]
    got = kernels.accuracy_count("sparse_categorical", p, y)
    assert got == accuracy_count("sparse_categorical", p, labels)
    assert got >= 50


def test_categorical_and_ties(rng):
    p = rng.standard_normal((100, 5)).astype(np.float32)
    p[:10] = 1.0  # all tied: first index wins, as numpy.argmax
    t = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 100)]
    t[:10] = np.eye(5, dtype=np.float32)[0]
    got = kernels.accuracy_count("categorical", p, t)
    assert got == accuracy_count("categorical", p, t)
    assert got >= 10
    assert kernels.accuracy_count("sparse_categorical", np.ones((3, 4), np.float32), np.zeros(3, np.int64)) == 3


@pytest.mark.parametrize("threshold", [0.5, 0.2])
def test_binary(threshold, rng):
    p = rng.random((64, 3)).astype(np.float32)
    t = (rng.random((64, 3)) > 0.5).astype(np.float32)
    assert kernels.accuracy_count("binary", p, t, threshold) == accuracy_count("binary", p, t, threshold)


def test_bad_inputs_raise():
    p = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="accuracy: unknown kind 'top5'"):
        kernels.accuracy_count("top5", p, np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="accuracy: sparse_categorical needs integer class labels"):
        kernels.accuracy_count("sparse_categorical", p, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"accuracy: y_true has shape \(5,\)"):
        kernels.accuracy_count("sparse_categorical", p, np.zeros(5, np.int64))
    with pytest.raises(ValueError, match="accuracy: label 3 at row 1 is out of range"):
        kernels.accuracy_count("sparse_categorical", p, np.array([0, 3, 0, 0]))
    with pytest.raises(ValueError, match="accuracy: y_pred and y_true must have the same shape"):
        kernels.accuracy_count("categorical", p, np.zeros((4, 2), np.float32))


def test_binary_accepts_int_targets_and_trailing_one(rng):
    p = rng.random((20, 1)).astype(np.float32)
    t = (rng.random(20) > 0.5).astype(np.int64)
    want = accuracy_count("binary", p.reshape(20), t)
    assert kernels.accuracy_count("binary", p, t) == want
    assert kernels.accuracy_count("binary", p, t.reshape(20, 1)) == want
