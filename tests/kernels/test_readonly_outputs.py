"""Read-only NumPy arrays are never written.

A Tensor borrowed from an array with writeable=False is read-only (the flag lives on its storage,
so reshape views share it). Every op entry refuses it as an output or in-place argument with a
ValueError naming the op and the argument, before touching any memory; as an input it is fine.
"""
import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels

SENTINEL = 7


class ReadOnly:
    """Makes read-only arrays filled with SENTINEL and remembers them for the unchanged check."""

    def __init__(self):
        self.arrays = []

    def __call__(self, shape, dtype=np.float32):
        a = np.full(shape, SENTINEL, dtype=dtype)
        a.flags.writeable = False
        self.arrays.append(a)
        return a

    def assert_unchanged(self):
        assert self.arrays, "the case made no read-only array"
        for a in self.arrays:
            assert not a.flags.writeable
            np.testing.assert_array_equal(a, np.full(a.shape, SENTINEL, dtype=a.dtype))


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def w(*shape):
    return np.zeros(shape, np.float32)


def _params(n=3):
    return [f32(n, seed=1)], [f32(n, seed=2)]


def _rnn_forward(cell, ro, which):
    n, t, f, u = 2, 3, 4, 5
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    bias = f32(2, 3 * u) if cell == "gru" else f32(g * u)
    kwargs = {}
    stash = [w(n, t, g * u), w(n, t, u), None if cell == "simple_rnn" else w(n, t, u)]
    if which == "y":
        kwargs["out"] = ro((n, u))
    elif which in ("h_n", "c_n"):
        kwargs[which] = ro((n, u))
    else:
        stash[{"gates": 0, "hprev": 1, "cells": 2}[which]] = ro(stash[{"gates": 0, "hprev": 1,
                                                                       "cells": 2}[which]].shape)
    kernels.rnn_forward(cell, f32(n, t, f), f32(f, g * u), f32(u, g * u), bias, stash=tuple(stash),
                    **kwargs)


def _rnn_backward(cell, ro, which):
    n, t, f, u = 2, 3, 4, 5
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    x, k, r = f32(n, t, f), f32(f, g * u), f32(u, g * u)
    _, _, _, stash = kernels.rnn_forward(cell, x, k, r, None)
    shape = {"dx": (n, t, f), "dkernel": (f, g * u), "drecurrent_kernel": (u, g * u),
             "dbias": (2, g * u) if cell == "gru" else (g * u,)}[which]
    kernels.rnn_backward(cell, f32(n, u), x, k, r, stash, **{which: ro(shape)})


X4 = f32(2, 6, 6, 3)           # conv / pool input (N, H, W, C)
W4 = f32(3, 3, 3, 4)           # conv kernel (KH, KW, Cin, Cout)
DY_CONV = f32(2, 4, 4, 4)      # conv 'valid' output gradient
POOL = dict(pool_size=2, strides=2)

# (case id, op name in the message, argument name in the message, call(ro))
CASES = [
    ("activation_forward", "relu", "y", lambda ro: kernels.activation_forward("relu", f32(2, 3), out=ro((2, 3)))),
    ("activation_backward", "sigmoid", "dx",
     lambda ro: kernels.activation_backward("sigmoid", f32(2, 3), f32(2, 3), f32(2, 3), out=ro((2, 3)))),
    ("bias_grad", "bias_grad", "db", lambda ro: kernels.bias_grad(f32(4, 3), out=ro((3,)))),
    ("dropout_forward.y", "dropout_forward", "y",
     lambda ro: kernels.dropout_forward(f32(2, 3), 0.5, 1, out=ro((2, 3)))),
    ("dropout_forward.mask", "dropout_forward", "mask",
     lambda ro: kernels.dropout_forward(f32(2, 3), 0.5, 1, mask=ro((2, 3)))),
    ("dropout_backward", "dropout_backward", "dx",
     lambda ro: kernels.dropout_backward(f32(2, 3), f32(2, 3), out=ro((2, 3)))),
    ("regularizer", "regularizer", "grad",
     lambda ro: kernels.regularizer_penalty(f32(2, 3), ro((2, 3)), l1=0.1, l2=0.1)),
    ("loss_forward", "mean_squared_error", "grad",
     lambda ro: kernels.loss_forward("mean_squared_error", f32(4, 3), f32(4, 3), ro((4, 3)))),
    ("sparse_cce", "sparse_categorical_crossentropy", "grad",
     lambda ro: kernels.loss_forward("sparse_categorical_crossentropy", f32(4, 3),
                                 np.array([0, 1, 2, 0]), ro((4, 3)), from_logits=True)),
    ("sgd.params", "sgd_update", "params[0]",
     lambda ro: kernels.sgd_update([ro((3,))], [f32(3)], lr=0.1)),
    ("sgd.momentums", "sgd_update", "momentums[0]",
     lambda ro: kernels.sgd_update([w(3)], [f32(3)], [ro((3,))], lr=0.1, momentum=0.9)),
    ("adam.params", "adam_update", "params[0]",
     lambda ro: kernels.adam_update([ro((3,))], [f32(3)], [w(3)], [w(3)], lr=0.1)),
    ("adam.m", "adam_update", "m[0]", lambda ro: kernels.adam_update([w(3)], [f32(3)], [ro((3,))], [w(3)], lr=0.1)),
    ("adam.v", "adam_update", "v[0]", lambda ro: kernels.adam_update([w(3)], [f32(3)], [w(3)], [ro((3,))], lr=0.1)),
    ("adam.vhat", "adam_update", "vhat[0]",
     lambda ro: kernels.adam_update([w(3)], [f32(3)], [w(3)], [w(3)], [ro((3,))], lr=0.1, amsgrad=True)),
    ("rmsprop.velocities", "rmsprop_update", "velocities[0]",
     lambda ro: kernels.rmsprop_update([w(3)], [f32(3)], [ro((3,))], lr=0.1)),
    ("rmsprop.momentums", "rmsprop_update", "momentums[0]",
     lambda ro: kernels.rmsprop_update([w(3)], [f32(3)], [w(3)], [ro((3,))], lr=0.1, momentum=0.9)),
    ("rmsprop.average_grads", "rmsprop_update", "average_grads[0]",
     lambda ro: kernels.rmsprop_update([w(3)], [f32(3)], [w(3)], (), [ro((3,))], lr=0.1, centered=True)),
    ("adagrad.params", "adagrad_update", "params[0]",
     lambda ro: kernels.adagrad_update([ro((3,))], [f32(3)], [w(3)], lr=0.1)),
    ("adagrad.accumulators", "adagrad_update", "accumulators[0]",
     lambda ro: kernels.adagrad_update([w(3)], [f32(3)], [ro((3,))], lr=0.1)),
    ("bn_train.y", "batch_norm_forward_train", "y",
     lambda ro: kernels.batch_norm_forward_train(f32(4, 3), None, None, out=ro((4, 3)))),
    ("bn_train.mean", "batch_norm_forward_train", "mean",
     lambda ro: kernels.batch_norm_forward_train(f32(4, 3), None, None, mean=ro((3,)))),
    ("bn_train.inv_std", "batch_norm_forward_train", "inv_std",
     lambda ro: kernels.batch_norm_forward_train(f32(4, 3), None, None, inv_std=ro((3,)))),
    ("bn_train.moving_mean", "batch_norm_forward_train", "moving_mean",
     lambda ro: kernels.batch_norm_forward_train(f32(4, 3), None, None, moving_mean=ro((3,)),
                                             moving_variance=np.ones(3, np.float32))),
    ("bn_train.moving_var", "batch_norm_forward_train", "moving_var",
     lambda ro: kernels.batch_norm_forward_train(f32(4, 3), None, None, moving_mean=w(3),
                                             moving_variance=ro((3,)))),
    ("bn_infer", "batch_norm_forward_infer", "y",
     lambda ro: kernels.batch_norm_forward_infer(f32(4, 3), None, None, w(3), np.ones(3, np.float32),
                                             out=ro((4, 3)))),
    ("bn_backward.dx", "batch_norm_backward", "dx",
     lambda ro: kernels.batch_norm_backward(f32(4, 3), f32(4, 3), None, w(3), np.ones(3, np.float32),
                                        dx=ro((4, 3)))),
    ("bn_backward.dgamma", "batch_norm_backward", "dgamma",
     lambda ro: kernels.batch_norm_backward(f32(4, 3), f32(4, 3), None, w(3), np.ones(3, np.float32),
                                        dgamma=ro((3,)))),
    ("bn_backward.dbeta", "batch_norm_backward", "dbeta",
     lambda ro: kernels.batch_norm_backward(f32(4, 3), f32(4, 3), None, w(3), np.ones(3, np.float32),
                                        dbeta=ro((3,)))),
    ("spatial_dropout_forward.y", "spatial_dropout_forward", "y",
     lambda ro: kernels.spatial_dropout_forward(f32(2, 4, 3), 0.5, 1, out=ro((2, 4, 3)))),
    ("spatial_dropout_forward.mask", "spatial_dropout_forward", "mask",
     lambda ro: kernels.spatial_dropout_forward(f32(2, 4, 3), 0.5, 1, mask=ro((2, 3)))),
    ("spatial_dropout_backward", "spatial_dropout_backward", "dx",
     lambda ro: kernels.spatial_dropout_backward(f32(2, 4, 3), f32(2, 3), out=ro((2, 4, 3)))),
    ("conv2d", "conv2d_forward", "y", lambda ro: kernels.conv2d(X4, W4, out=ro((2, 4, 4, 4)))),
    ("conv2d_backward_data", "conv2d_backward_data", "dx",
     lambda ro: kernels.conv2d_backward_data(DY_CONV, W4, X4.shape, out=ro(X4.shape))),
    ("conv2d_backward_weights.dw", "conv2d_backward_weights", "dw",
     lambda ro: kernels.conv2d_backward_weights(X4, DY_CONV, W4.shape, out=ro(W4.shape))),
    ("conv2d_backward_weights.db", "conv2d_backward_weights", "db",
     lambda ro: kernels.conv2d_backward_weights(X4, DY_CONV, W4.shape, bias_out=ro((4,)))),
    ("conv2d_relu_max_pool2d.y", "conv2d_relu_max_pool2d_forward", "y",
     lambda ro: kernels.conv2d_relu_max_pool2d(X4, W4, out=ro((2, 2, 2, 4)))),
    ("conv2d_relu_max_pool2d.argmax", "conv2d_relu_max_pool2d_forward", "argmax",
     lambda ro: kernels.conv2d_relu_max_pool2d(X4, W4, argmax=ro((2, 2, 2, 4), np.int32))),
    ("conv2d_relu_max_pool2d_backward_weights.dw", "conv2d_relu_max_pool2d_backward_weights", "dw",
     lambda ro: kernels.conv2d_relu_max_pool2d_backward_weights(
         X4, f32(2, 2, 2, 4), *kernels.conv2d_relu_max_pool2d(X4, W4), W4.shape, out=ro(W4.shape))),
    ("conv2d_relu_max_pool2d_backward_weights.db", "conv2d_relu_max_pool2d_backward_weights", "db",
     lambda ro: kernels.conv2d_relu_max_pool2d_backward_weights(
         X4, f32(2, 2, 2, 4), *kernels.conv2d_relu_max_pool2d(X4, W4), W4.shape, bias_out=ro((4,)))),
    ("max_pool2d_forward.y", "max_pool2d_forward", "y",
     lambda ro: kernels.max_pool2d_forward(X4, **POOL, out=ro((2, 3, 3, 3)))),
    ("max_pool2d_forward.argmax", "max_pool2d_forward", "argmax",
     lambda ro: kernels.max_pool2d_forward(X4, **POOL, argmax=ro((2, 3, 3, 3), np.int32))),
    ("max_pool2d_backward", "max_pool2d_backward", "dx",
     lambda ro: kernels.max_pool2d_backward(f32(2, 3, 3, 3), kernels.max_pool2d_forward(X4, **POOL)[1],
                                        X4.shape, **POOL, out=ro(X4.shape))),
    ("avg_pool2d_forward", "avg_pool2d_forward", "y",
     lambda ro: kernels.avg_pool2d_forward(X4, **POOL, out=ro((2, 3, 3, 3)))),
    ("avg_pool2d_backward", "avg_pool2d_backward", "dx",
     lambda ro: kernels.avg_pool2d_backward(f32(2, 3, 3, 3), X4.shape, **POOL, out=ro(X4.shape))),
    ("global_avg_pool2d_forward", "global_avg_pool2d_forward", "y",
     lambda ro: kernels.global_avg_pool2d_forward(X4, out=ro((2, 3)))),
    ("global_avg_pool2d_backward", "global_avg_pool2d_backward", "dx",
     lambda ro: kernels.global_avg_pool2d_backward(f32(2, 3), X4.shape, out=ro(X4.shape))),
    ("global_max_pool2d_forward.y", "global_max_pool2d_forward", "y",
     lambda ro: kernels.global_max_pool2d_forward(X4, out=ro((2, 3)))),
    ("global_max_pool2d_forward.argmax", "global_max_pool2d_forward", "argmax",
     lambda ro: kernels.global_max_pool2d_forward(X4, argmax=ro((2, 3), np.int32))),
    ("global_max_pool2d_backward", "global_max_pool2d_backward", "dx",
     lambda ro: kernels.global_max_pool2d_backward(f32(2, 3), kernels.global_max_pool2d_forward(X4)[1],
                                               X4.shape, out=ro(X4.shape))),
    ("zero_pad2d_forward", "zero_pad2d_forward", "y",
     lambda ro: kernels.zero_pad2d_forward(X4, 1, out=ro((2, 8, 8, 3)))),
    ("zero_pad2d_backward", "zero_pad2d_backward", "dx",
     lambda ro: kernels.zero_pad2d_backward(X4, 1, out=ro((2, 4, 4, 3)))),
    ("embedding_forward", "embedding_forward", "y",
     lambda ro: kernels.embedding_forward(np.array([0, 2]), f32(3, 4), out=ro((2, 4)))),
    ("embedding_backward", "embedding_backward", "dweight",
     lambda ro: kernels.embedding_backward(np.array([0, 2]), f32(2, 4), out=ro((3, 4)))),
    ("gemm", "gemm", "c", lambda ro: kernels.gemm(f32(2, 3), f32(3, 4), ro((2, 4)), beta=1.0)),
] + [
    (f"{cell}_forward.{which}", f"{cell}_forward", which,
     lambda ro, cell=cell, which=which: _rnn_forward(cell, ro, which))
    for cell, outs in [("simple_rnn", ["y", "h_n", "gates", "hprev"]),
                       ("lstm", ["y", "h_n", "c_n", "gates", "hprev", "cells"]),
                       ("gru", ["y", "gates", "cells"])]
    for which in outs
] + [
    (f"{cell}_backward.{which}", f"{cell}_backward", which,
     lambda ro, cell=cell, which=which: _rnn_backward(cell, ro, which))
    for cell, outs in [("simple_rnn", ["dx", "dkernel", "drecurrent_kernel", "dbias"]),
                       ("lstm", ["dx", "dkernel", "drecurrent_kernel"]),
                       ("gru", ["dx", "dbias"])]
    for which in outs
]


@pytest.mark.parametrize("op, arg, call", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_read_only_output_is_refused_and_left_unchanged(op, arg, call):
    ro = ReadOnly()
    with pytest.raises(ValueError) as info:
        call(ro)
    message = str(info.value)
    assert message.startswith(f"{op}: ") and f" {arg} is read-only" in message, message
    assert "writeable=False" in message
    ro.assert_unchanged()


@pytest.mark.parametrize("method, args", [("fill_", (3.0,)), ("copy_", (np.ones(4, np.float32),))])
def test_tensor_in_place_methods_refuse_read_only_storage(method, args):
    ro = ReadOnly()
    t = Tensor.from_numpy(ro((2, 2)))
    view = t.reshape([4])  # a view shares the storage, and so its read-only flag
    assert t.read_only and view.read_only
    target = view if method == "copy_" else t
    src = [Tensor.from_numpy(a) for a in args] if method == "copy_" else list(args)
    with pytest.raises(ValueError, match=rf"^{method}: self is read-only"):
        getattr(target, method)(*src)
    ro.assert_unchanged()


def test_read_only_tensor_exports_read_only():
    a = np.arange(6, dtype=np.float32)
    a.flags.writeable = False
    t = Tensor.from_numpy(a)
    assert t.read_only
    for exported in (t.numpy(), np.asarray(t), t.reshape([2, 3]).numpy(), np.asarray(memoryview(t))):
        assert not exported.flags.writeable
        assert np.shares_memory(exported, a)
    assert memoryview(t).readonly
    with pytest.raises(ValueError):
        t.numpy()[0] = 1.0
    # a legacy DLPack capsule cannot carry the flag: refused, as NumPy refuses its read-only arrays
    with pytest.raises(BufferError, match="read-only"):
        t.__dlpack__()
    np.testing.assert_array_equal(a, np.arange(6, dtype=np.float32))


def test_writable_tensors_stay_writable():
    a = np.zeros(3, np.float32)
    for t in (Tensor.from_numpy(a), Tensor.zeros([3]), kernels.activation_forward("relu", a)):
        assert not t.read_only
        assert t.numpy().flags.writeable and memoryview(t).readonly is False


def _read_only_copy(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def test_read_only_inputs_are_accepted():
    """Inputs that are only read may be read-only: the result equals that of writable inputs."""
    x, w2, b = f32(4, 3), f32(3, 5), f32(5)
    ro_x, ro_w, ro_b = (_read_only_copy(v) for v in (x, w2, b))
    np.testing.assert_array_equal(kernels.gemm(ro_x, ro_w, bias=ro_b).numpy(),
                                  kernels.gemm(x, w2, bias=b).numpy())
    np.testing.assert_array_equal(kernels.activation_forward("tanh", ro_x).numpy(),
                                  kernels.activation_forward("tanh", x).numpy())
    np.testing.assert_array_equal(kernels.conv2d(_read_only_copy(X4), _read_only_copy(W4)).numpy(),
                                  kernels.conv2d(X4, W4).numpy())
    assert kernels.loss_forward("mean_squared_error", ro_x, _read_only_copy(x + 1)) == pytest.approx(1.0)
    np.testing.assert_array_equal(
        kernels.embedding_forward(_read_only_copy(np.array([1, 0])), ro_x).numpy(), x[[1, 0]])
    p = np.ones(3, np.float32)
    kernels.sgd_update([p], [_read_only_copy(np.ones(3, np.float32))], lr=0.5)  # grads are only read
    np.testing.assert_array_equal(p, np.full(3, 0.5, np.float32))


def test_read_only_non_contiguous_input_reports_contiguity():
    """np.broadcast_to results are read-only and non-contiguous: the error is about the layout."""
    b = np.broadcast_to(np.float32(1.0), (2, 3))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.activation_forward("relu", b)
    assert corenn.kernels.activation_forward("relu", np.ascontiguousarray(b)).shape == (2, 3)
