import numpy as np
import pytest

from corenn.utils import normalize, to_categorical


def test_matches_identity_rows():
    y = np.array([0, 2, 1, 2])
    out = to_categorical(y)
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[y])


def test_column_vector_and_num_classes_and_dtype():
    y = np.array([[3], [0]])
    out = to_categorical(y, num_classes=5, dtype="int32")
    assert out.shape == (2, 5) and out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 0, 0, 1, 0], [1, 0, 0, 0, 0]])


def test_list_and_whole_floats():
    np.testing.assert_array_equal(to_categorical([1.0, 0.0], 2), [[0, 1], [1, 0]])


def test_out_of_range_and_negative():
    with pytest.raises(ValueError, match="to_categorical.*num_classes"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="to_categorical.*>= 0"):
        to_categorical([0, -1])
    with pytest.raises(ValueError, match="to_categorical.*whole"):
        to_categorical([0.5])


def test_normalize_unit_norm():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 0.0]])
