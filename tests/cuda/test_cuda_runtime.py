"""corenn.cuda and device handling that every build and machine can check (no GPU needed)."""
import ctypes

import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels


def test_is_available_is_a_bool_consistent_with_device_count():
    available = corenn.cuda.is_available()
    assert isinstance(available, bool)
    assert isinstance(corenn.cuda.device_count(), int)
    assert available == (corenn.cuda.device_count() > 0)
    if not corenn.cuda.is_built():
        assert available is False and corenn.cuda.device_count() == 0


def test_cuda_module_is_part_of_the_package():
    assert "cuda" in corenn.__all__
    assert corenn.cuda.is_built() in (True, False)


@pytest.mark.parametrize("name, canonical", [("cpu", "cpu"), ("cuda", "cuda:0"),
                                             ("cuda:0", "cuda:0"), ("cuda:3", "cuda:3")])
def test_device_names_are_parsed(name, canonical):
    assert kernels.parse_device(name) == canonical


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""])
def test_bad_device_names_are_rejected(bad):
    with pytest.raises(ValueError, match="invalid device"):
        kernels.parse_device(bad)


def test_to_cpu_and_cpu_share_memory_with_the_cpu_tensor():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor.from_numpy(a)
    assert t.to("cpu").data_ptr == t.data_ptr
    assert t.cpu().data_ptr == t.data_ptr
    assert not t.is_cuda
    np.testing.assert_array_equal(kernels.to_device(a, "cpu").numpy(), a)


@pytest.mark.skipif(corenn.cuda.is_available(), reason="this machine has a CUDA device")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_moving_to_cuda_without_a_device_is_a_clear_runtime_error(device):
    t = Tensor.from_numpy(np.ones(3, np.float32))
    expected = kernels.parse_device(device)
    # NotImplementedError (CPU-only build) is a RuntimeError too; both name the device.
    with pytest.raises(RuntimeError, match=expected):
        t.to(device)
    with pytest.raises(RuntimeError, match=expected):
        Tensor.zeros([2], "float32", device) if corenn.cuda.is_built() else t.to(device)


@pytest.mark.skipif(corenn.cuda.is_available(), reason="this machine has a CUDA device")
def test_runtime_helpers_without_a_device():
    corenn.cuda.empty_cache()  # a no-op, never an error
    with pytest.raises(RuntimeError, match="cuda"):
        corenn.cuda.synchronize()
    with pytest.raises(RuntimeError, match="cuda"):
        corenn.cuda.memory_stats("cuda:0")
    with pytest.raises(ValueError, match="expected a CUDA device"):
        corenn.cuda.memory_stats("cpu")


# ---- a CUDA tensor on a build without the backend, through DLPack -----------------------------
# The CPU-only build still accepts kDLCUDA capsules (so the device checks can be exercised): the
# tensor is never dereferenced, every op must refuse it before touching memory.

class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


def _fake_cuda_tensor(keep, shape=(4, 3)):
    host = np.zeros(shape, np.float32)  # real memory, so even a stray read could not fault
    dims = (ctypes.c_int64 * len(shape))(*shape)
    managed = _DLManagedTensor()
    managed.dl_tensor = _DLTensor(host.ctypes.data, _DLDevice(2, 0), len(shape),
                                  _DLDataType(2, 32, 1), dims, None, 0)
    keep.extend([host, dims, managed])
    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return Tensor.from_dlpack(new_capsule(ctypes.addressof(managed), b"dltensor", None))


@pytest.mark.skipif(corenn.cuda.is_built(), reason="the CUDA build imports kDLCUDA tensors only "
                    "with a device (covered by tests/cuda/test_cuda_ops.py)")
def test_ops_refuse_cuda_tensors_and_mixed_devices_on_a_cpu_build():
    keep = []
    x = _fake_cuda_tensor(keep)
    assert x.device == "cuda:0" and x.is_cuda
    assert x.__dlpack_device__() == (2, 0)
    cpu = Tensor.from_numpy(np.ones((3, 2), np.float32))
    with pytest.raises(NotImplementedError, match="gemm.*cuda:0"):
        kernels.gemm(x, _fake_cuda_tensor(keep, (3, 2)), _fake_cuda_tensor(keep, (4, 2)))
    with pytest.raises(ValueError, match="gemm: a is on cuda:0 but b is on cpu"):
        kernels.gemm(x, cpu, np.zeros((4, 2), np.float32))
    # the dispatch table's one text: op, device, the slots that exist
    with pytest.raises(NotImplementedError, match=r"activation_forward: no kernel for device "
                                                  r"cuda:0 \(registered: cpu_ref"):
        kernels.activation_forward("relu", x, out=_fake_cuda_tensor(keep))
    with pytest.raises(ValueError, match="relu: x is on cuda:0 but y is on cpu"):
        kernels.activation_forward("relu", x, out=np.zeros((4, 3), np.float32))
    with pytest.raises(NotImplementedError, match="dropout_forward.*cuda:0"):
        kernels.dropout_forward(x, 0.5, 1, out=_fake_cuda_tensor(keep), mask=_fake_cuda_tensor(keep))
    with pytest.raises(NotImplementedError, match="sgd_update.*cuda:0"):
        kernels.sgd_update([x], [_fake_cuda_tensor(keep)], lr=0.1)
    with pytest.raises(RuntimeError, match="cuda:0"):
        x.numpy()
    with pytest.raises(RuntimeError, match="cuda:0"):
        x.cpu()
