"""keras.ops.convert_to_tensor infers Keras 3's dtypes (the expected values are what Keras 3.15
gives, KERAS_BACKEND=torch): bool data is bool (corenn's bool tensor: the NumPy bool array
Keras masks are, layers.base.BoolMask), Python ints int32 (int64 when a value needs it), a list
of ints and floats float32, ``dtype=`` casts (to bool: ``x != 0``), and a Python value out of
an integer dtype's range raises instead of wrapping. corenn's own code keeps its float32 0 / 1
bools and int64 ints (ops._to_tensor)."""
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import ops
from corenn.layers.base import BoolMask


def _dtype(t):
    return str(t.dtype)


@pytest.mark.parametrize("value, want", [
    ([True], [True]),
    (True, True),
    (np.array([True, False]), [True, False]),
    (np.bool_(False), False),
    ([[True], [False]], [[True], [False]]),
])
def test_bool_data_is_bool(value, want):
    t = ops.convert_to_tensor(value)
    assert type(t) is BoolMask
    assert _dtype(t) == "bool" and ops.dtype(t) == "bool"
    assert np.asarray(t).dtype == np.bool_
    assert np.asarray(t).tolist() == want
    assert ops.convert_to_numpy(t).tolist() == want


@pytest.mark.parametrize("value, dtype, want", [
    (7, "int32", 7),
    ([1, 2], "int32", [1, 2]),
    ([True, 2], "int32", [1, 2]),
    (2 ** 31, "int64", 2 ** 31),
    (2 ** 40, "int64", 2 ** 40),
    # (Keras on torch raises for this list, int32 from its first item; TensorFlow and corenn
    # make it int64)
    ([1, 2 ** 40], "int64", [1, 2 ** 40]),
    ([-2 ** 31], "int32", [-2 ** 31]),
    ([1, 2.5], "float32", [1.0, 2.5]),
    (2.5, "float32", 2.5),
    (np.array([1, 2]), "int64", [1, 2]),   # NumPy's int64 stays int64, as in Keras
    (np.array([1, 2], np.int32), "int32", [1, 2]),
])
def test_python_numbers_take_keras_dtypes(value, dtype, want):
    t = ops.convert_to_tensor(value)
    assert isinstance(t, corenn.Tensor)
    assert _dtype(t) == dtype
    assert np.asarray(t).tolist() == want


@pytest.mark.parametrize("value, dtype, want_dtype, want", [
    ([1, 0, 3], "bool", "bool", [True, False, True]),
    ([0.5, 0.0], "bool", "bool", [True, False]),
    ([True, False], "float32", "float32", [1.0, 0.0]),
    ([True], "int32", "int32", [1]),
    ([1.7, -2.2], "int32", "int32", [1, -2]),
    ([1, 2], "float32", "float32", [1.0, 2.0]),
    (2 ** 40, "int64", "int64", 2 ** 40),
    ([1], "int64", "int64", [1]),
])
def test_dtype_argument(value, dtype, want_dtype, want):
    t = ops.convert_to_tensor(value, dtype=dtype)
    assert _dtype(t) == want_dtype
    assert np.asarray(t).tolist() == want


def test_a_tensor_cast_to_bool_and_a_bool_tensor_back():
    x = ops.convert_to_tensor(np.array([0.0, 2.0, -1.0], np.float32))
    b = ops.convert_to_tensor(x, dtype="bool")
    assert _dtype(b) == "bool" and np.asarray(b).tolist() == [False, True, True]
    assert ops.convert_to_tensor(b) is b
    f = ops.convert_to_tensor(b, dtype="float32")
    assert _dtype(f) == "float32" and np.asarray(f).tolist() == [0.0, 1.0, 1.0]
    assert ops.convert_to_tensor(x) is x   # a Tensor passes through


def test_python_values_out_of_an_integer_dtype_raise():
    # Keras 3 (torch): "value cannot be converted to type uint8 without overflow"; not 300 -> 44
    with pytest.raises(ValueError, match="300 does not fit in uint8"):
        ops.convert_to_tensor([1, 300], dtype="uint8")
    with pytest.raises(ValueError, match="does not fit in int32"):
        ops.convert_to_tensor(2 ** 40, dtype="int32")
    assert np.asarray(ops.convert_to_tensor([1, 255], dtype="uint8")).tolist() == [1, 255]


def test_a_bool_tensor_works_in_ops_and_on_the_tape():
    m = ops.convert_to_tensor([True, False, True])
    x = corenn.Variable(np.array([2.0, 3.0, 4.0], np.float32))
    np.testing.assert_array_equal(np.asarray(ops.where(m, x, 0.0)), [2.0, 0.0, 4.0])
    np.testing.assert_array_equal(np.asarray(ops.cast(m, "float32")), [1.0, 0.0, 1.0])
    with corenn.GradientTape() as tape:
        y = ops.sum(m * x)
    assert float(np.asarray(y)) == 6.0
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, x)), [1.0, 0.0, 1.0])


def test_corenns_own_conversion_keeps_float_bools_and_int64_ints():
    b = ops._to_tensor([True, False])
    assert isinstance(b, corenn.Tensor) and _dtype(b) == "float32"
    assert np.asarray(b).tolist() == [1.0, 0.0]
    assert _dtype(ops._to_tensor([1, 2])) == "int64"
    # an op given Python bools computes on them as numbers
    np.testing.assert_array_equal(np.asarray(corenn.math.reduce_sum(ops._to_tensor([True, True, False]))), 2.0)


def test_ops_array_takes_the_same_dtypes():
    # Keras 3.15: ops.array([True]) bool, ops.array([1, 2]) int32, ops.array([1, 2.5]) float32
    b = ops.array([True, False])
    assert _dtype(b) == "bool" and np.asarray(b).tolist() == [True, False]
    i = ops.array([1, 2])
    assert _dtype(i) == "int32" and np.asarray(i).tolist() == [1, 2]
    f = ops.array([1, 2.5])
    assert _dtype(f) == "float32" and np.asarray(f).tolist() == [1.0, 2.5]
    assert _dtype(ops.array([1, 2], dtype="float32")) == "float32"
