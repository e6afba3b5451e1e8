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


def test_unsupported_dtype_is_a_type_error_with_a_hint():
    with pytest.raises(TypeError, match=r"float64.*astype\('float32'\)"):
        Tensor.from_numpy(np.zeros(3))
    with pytest.raises(TypeError, match="numpy.ndarray or corenn.Tensor"):
        Tensor.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="unsupported dtype"):
        Tensor.empty([2], "float16")


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
        Tensor.from_dlpack(np.zeros(3, np.float16))


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
