"""Every way a script can write a layer's kernel in place, for the tests that a weight kept in a
derived form (the GEMM's packed B, the int8 kernel's pair panels) is never used stale: each writer
takes the model, the layer and the new kernel values ``v`` and leaves ``layer.kernel`` equal to
``v``. The kernel is float32 or (an int8-quantized layer's) int8; the writers that hand over a
Tensor or raw bytes give them in the kernel's dtype, and an op writes an int8 kernel with the one
op that takes int8 (transpose). An optimizer step writes only float weights (INT8_WRITES)."""
import numpy as np

import corenn
from corenn import Tensor, kernels


def _kernel_index(layer):
    """Where the kernel is in ``layer.weights``: (kernel, bias), or an int8 layer's Keras 3 order
    (bias, kernel, kernel_scale)."""
    return [id(w) for w in layer.weights].index(id(layer.kernel))


def _dtype(layer):
    return np.dtype(str(layer.kernel.dtype))


def _int8(layer):
    return _dtype(layer) == np.int8


def _write_set_weights(model, layer, v):
    weights = layer.get_weights()
    weights[_kernel_index(layer)] = v
    layer.set_weights(weights)


def _write_model_set_weights(model, layer, v):
    ws = model.get_weights()
    ws[[id(p) for p in model.weights].index(id(layer.kernel))] = v
    model.set_weights(ws)


def _write_assign(model, layer, v):
    layer.kernel.assign(v)


def _write_assign_add(model, layer, v):
    layer.kernel.assign_add(v - layer.get_weights()[_kernel_index(layer)])


def _write_assign_sub(model, layer, v):
    layer.kernel.assign_sub(layer.get_weights()[_kernel_index(layer)] - v)


def _write_numpy_view(model, layer, v):
    view = np.asarray(layer.kernel)
    view[...] = v


def _write_memoryview(model, layer, v):
    mv = memoryview(layer.kernel)
    np.frombuffer(mv, _dtype(layer))[:] = v.ravel()
    mv.release()


def _write_dlpack(model, layer, v):
    # a consumer that writes (NumPy imports DLPack read-only): a Tensor borrowing the capsule
    alias = Tensor.from_dlpack(layer.kernel)
    alias.copy_(Tensor.from_numpy(v.astype(_dtype(layer))))


def _write_copy(model, layer, v):
    layer.kernel.copy_(Tensor.from_numpy(v.astype(_dtype(layer))))


def _write_borrowed_alias(model, layer, v):
    # a Tensor borrowing the weight's memory through a NumPy view, written by an op entry
    alias = Tensor.from_numpy(np.asarray(layer.kernel))
    if _int8(layer):
        kernels.transpose(np.ascontiguousarray(v.T.astype(np.int8)), out=alias)
    else:
        kernels.gemm(v, np.eye(v.shape[1], dtype=np.float32), alias)


def _write_op_output(model, layer, v):
    if _int8(layer):
        kernels.transpose(np.ascontiguousarray(v.T.astype(np.int8)), out=layer.kernel)
    else:
        kernels.activation_forward("linear", v, out=layer.kernel)


def _write_optimizer(model, layer, v):
    opt = corenn.optimizers.SGD(learning_rate=1.0)
    grad = layer.get_weights()[_kernel_index(layer)] - v          # w - 1.0 * (w - v) = v
    opt.apply_gradients([(Tensor.from_numpy(grad), layer.kernel)])


WRITES = [_write_set_weights, _write_model_set_weights, _write_assign, _write_assign_add,
          _write_assign_sub, _write_numpy_view, _write_memoryview, _write_dlpack, _write_copy,
          _write_borrowed_alias, _write_op_output, _write_optimizer]
INT8_WRITES = [w for w in WRITES if w is not _write_optimizer]   # (an int8 kernel does not train)
