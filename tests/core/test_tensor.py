"""corenn.Tensor: the NumPy / DLPack boundary, storage lifetime, reshape views, errors."""
import gc
import weakref

import numpy as np
import pytest

import corenn
from corenn import Tensor


def test_from_numpy_is_zero_copy_both_ways():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = Tensor.from_numpy(a)
    assert t.shape == (3, 4) and t.dtype == "float32" and t.device == "cpu"
    assert t.data_ptr == a.ctypes.data
    view = t.numpy()
    view[1, 2] = -7.0
    assert a[1, 2] == -7.0
    assert np.shares_memory(np.asarray(t), a)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_supported_dtypes_round_trip(dtype):
    a = np.arange(10).astype(dtype)
    t = Tensor.from_numpy(a)
    assert t.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.numpy().dtype == dtype


def test_tensor_keeps_numpy_owner_alive():
    a = np.arange(1000, dtype=np.float32)
    ref = weakref.ref(a) if hasattr(a, "__weakref__") else None
    t = Tensor.from_numpy(a)
    del a
    gc.collect()
    np.testing.assert_array_equal(t.numpy(), np.arange(1000, dtype=np.float32))
    del ref


def test_numpy_view_keeps_tensor_storage_alive():
    v = Tensor.zeros([256, 256]).numpy()
    gc.collect()
    v += 1.0  # would crash or corrupt if the storage had been freed
    assert v.sum() == 256 * 256


def test_allocated_storage_is_64_byte_aligned():
    for n in (1, 3, 17, 1000):
        assert Tensor.empty([n]).data_ptr % 64 == 0


def test_zeros_empty_and_fill():
    z = Tensor.zeros([2, 3], "int64")
    assert z.dtype == "int64" and np.all(z.numpy() == 0)
    e = Tensor.empty([4]).fill_(2.5)
    np.testing.assert_array_equal(e.numpy(), np.full(4, 2.5, np.float32))
    assert len(e) == 4 and e.ndim == 1 and e.size == 4 and e.nbytes == 16


def test_reshape_is_a_view_and_infers_minus_one():
    t = Tensor.from_numpy(np.arange(24, dtype=np.float32))
    r = t.reshape([2, -1, 4])
    assert r.shape == (2, 3, 4)
    r.numpy()[0, 0, 0] = 99.0
    assert t.numpy()[0] == 99.0
    with pytest.raises(ValueError, match="cannot reshape"):
        t.reshape([5, 5])
    with pytest.raises(ValueError, match="only one dimension may be -1"):
        t.reshape([-1, -1])


def test_copy_checks_shape_and_dtype():
    dst = Tensor.zeros([3])
    dst.copy_(Tensor.from_numpy(np.array([1, 2, 3], np.float32)))
    np.testing.assert_array_equal(dst.numpy(), [1, 2, 3])
    with pytest.raises(ValueError, match="same shape"):
        dst.copy_(Tensor.zeros([4]))
    with pytest.raises(TypeError, match="dtype mismatch"):
        dst.copy_(Tensor.zeros([3], "int32"))


STORAGE_DTYPES = ["float64", "float16", "uint8", "int8", "uint16", "int16", "uint32", "uint64", "bool"]


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64"] + STORAGE_DTYPES)
def test_every_held_dtype_round_trips_numpy_and_dlpack(dtype):
    a = np.array([[0, 1, 1], [1, 0, 1]]).astype(dtype)
    t = Tensor.from_numpy(a)
    assert t.dtype == dtype and t.dtype.name == dtype and t.nbytes == a.nbytes
    np.testing.assert_array_equal(np.asarray(t), a)
    assert np.asarray(t).dtype == a.dtype
    back = np.from_dlpack(t)                       # corenn -> NumPy: same bytes, same dtype
    assert back.dtype == a.dtype and np.array_equal(back, a)
    t2 = Tensor.from_dlpack(np.ascontiguousarray(a))  # NumPy -> corenn
    assert t2.dtype == dtype and np.array_equal(np.asarray(t2), a)
    e = Tensor.empty([4], dtype)
    assert e.dtype == dtype and e.nbytes == 4 * a.itemsize
    z = Tensor.zeros([2, 2], dtype)
    np.testing.assert_array_equal(np.asarray(z), np.zeros((2, 2), dtype))


@pytest.mark.parametrize("dtype,value", [("uint8", 255), ("int8", -128), ("uint16", 65535), ("int16", -32768),
                                         ("uint32", 2**32 - 1), ("uint64", 2**64 - 1), ("int64", -2**63),
                                         ("float64", 0.1), ("bool", True), ("bool", 0)])
def test_fill_writes_the_value_of_each_dtype(dtype, value):
    t = Tensor.empty([5], dtype)
    t.fill_(value)
    np.testing.assert_array_equal(np.asarray(t), np.full(5, value, dtype))


@pytest.mark.parametrize("value", [1.0, 0.1, -2.5, 65504.0, 6.1e-5, 6e-8, 1e-7, 3e-8, 2049.0, 1025.5,
                                   float("inf"), -float("inf"), -0.0])
def test_fill_float16_rounds_to_nearest_even_as_numpy(value):
    t = Tensor.empty([3], "float16")
    t.fill_(value)
    got = np.asarray(t)
    assert got.view(np.uint16)[0] == np.float16(value).view(np.uint16), (value, got[0], np.float16(value))
    t.fill_(float("nan"))
    assert np.isnan(np.asarray(t)).all()


@pytest.mark.parametrize("dtype,value,match", [("uint8", 256, "out of range for dtype uint8"),
                                               ("uint8", -1, "out of range"), ("int8", 128, "out of range"),
                                               ("uint64", 2**64, "out of range"), ("int16", 1.5, "whole number"),
                                               ("uint32", float("nan"), "cannot fill"),
                                               ("float16", 1e5, "out of range for dtype float16"),
                                               ("bool", 2, "True / False")])
def test_fill_refuses_what_the_dtype_cannot_hold(dtype, value, match):
    t = Tensor.zeros([2], dtype)
    with pytest.raises(ValueError, match=match):
        t.fill_(value)
    np.testing.assert_array_equal(np.asarray(t), np.zeros(2, dtype))   # untouched


def test_unsupported_dtype_is_a_type_error_with_a_hint():
    with pytest.raises(TypeError, match=r"complex128.*astype\('float32'\)"):
        Tensor.from_numpy(np.zeros(3, np.complex128))
    with pytest.raises(TypeError, match="byte order"):   # would be read as garbage
        Tensor.from_numpy(np.arange(3, dtype=">i4"))
    with pytest.raises(TypeError, match="numpy.ndarray or corenn.Tensor"):
        Tensor.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="unsupported dtype"):
        Tensor.empty([2], "bfloat16")


def test_non_contiguous_array_is_rejected():
    a = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="not C-contiguous.*ascontiguousarray"):
        Tensor.from_numpy(a.T)
    with pytest.raises(ValueError, match="not C-contiguous"):
        Tensor.from_numpy(a[:, ::2])


def test_negative_shape_and_bad_device_are_rejected():
    with pytest.raises(ValueError, match="dimensions must be >= 0"):
        Tensor.empty([2, -3])
    with pytest.raises(ValueError, match="invalid device"):
        Tensor.empty([2], "float32", "tpu")


def test_cuda_without_backend_is_a_clear_error():
    if corenn.cuda.is_built():
        pytest.skip("this build has the CUDA backend (tests/cuda covers its errors)")
    with pytest.raises(NotImplementedError, match="built without the CUDA backend"):
        Tensor.empty([2], "float32", "cuda")


def test_dlpack_export_to_numpy_shares_memory():
    t = Tensor.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    a = np.from_dlpack(t)
    assert a.shape == (2, 3)
    assert np.shares_memory(a, t.numpy())
    assert t.__dlpack_device__() == (1, 0)


def test_dlpack_import_from_numpy_shares_memory_and_owns_reference():
    src = np.arange(5, dtype=np.int64)
    t = Tensor.from_dlpack(src)
    assert t.dtype == "int64" and t.shape == (5,)
    src[0] = 42
    assert t.numpy()[0] == 42
    del src
    gc.collect()
    assert t.numpy()[4] == 4


def test_dlpack_round_trip_through_a_capsule():
    t = Tensor.from_numpy(np.ones((2, 2), np.float32))
    back = Tensor.from_dlpack(t.__dlpack__())
    assert back.data_ptr == t.data_ptr and back.shape == (2, 2)
    unused = t.__dlpack__()  # dropped without a consumer: must be freed, not crash
    del unused
    gc.collect()


def test_dlpack_rejects_unsupported_dtype():
    with pytest.raises(TypeError, match="unsupported dtype"):
        Tensor.from_dlpack(np.zeros(3, np.complex64))


def test_dlpack_torch_interop():
    torch = pytest.importorskip("torch")
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = Tensor.from_dlpack(x)
    x[0, 0] = 5.0
    assert t.numpy()[0, 0] == 5.0
    y = torch.from_dlpack(t)
    assert y.data_ptr() == x.data_ptr()


def test_set_num_threads_round_trip():
    old = corenn.get_num_threads()
    try:
        corenn.set_num_threads(1)
        assert corenn.get_num_threads() == 1
    finally:
        corenn.set_num_threads(0)
    assert corenn.get_num_threads() == old


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_clone_copies_values_into_new_storage(dtype):
    a = np.arange(12, dtype=dtype).reshape(3, 4)
    t = Tensor.from_numpy(a)
    c = t.clone()
    assert c.shape == t.shape and c.dtype == t.dtype
    np.testing.assert_array_equal(np.asarray(c), a)
    assert c.data_ptr != t.data_ptr and c._storage_refs == 1
    np.asarray(c)[0, 0] = 7   # the clone is writable and independent of the source
    assert a[0, 0] == 0


def test_clone_of_a_read_only_tensor_is_writable():
    a = np.ones((2, 2), np.float32)
    a.setflags(write=False)
    c = Tensor.from_numpy(a).clone()
    assert not c.read_only
    np.asarray(c)[...] = 3.0
    assert a.sum() == 4.0
