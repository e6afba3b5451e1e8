"""``tf.nn``: TensorFlow's neural-network functions over ``corenn.ops`` (differentiable on float
Tensors under a GradientTape)."""
from __future__ import annotations

import numpy as np

from . import ops
from .math import l2_normalize  # noqa: F401

__all__ = ["softmax", "log_softmax", "relu", "relu6", "sigmoid", "tanh", "elu", "selu", "gelu",
           "silu", "swish", "softplus", "softsign", "leaky_relu", "l2_normalize", "moments",
           "bias_add", "embedding_lookup", "dropout", "sigmoid_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
           "depth_to_space", "space_to_depth"]


def depth_to_space(input, block_size, data_format="NHWC", name=None):  # noqa: A002 - TensorFlow's names
    """Pixel shuffle: (N, H, W, b*b*C) -> (N, H*b, W*b, C) (TensorFlow's DCR channel order;
    ``data_format='NCHW'`` for channels first). Differentiable."""
    return ops.depth_to_space(input, block_size, data_format=data_format)


def space_to_depth(input, block_size, data_format="NHWC", name=None):  # noqa: A002
    """(N, H, W, C) -> (N, H/b, W/b, b*b*C), the inverse of ``depth_to_space``. Differentiable."""
    return ops.space_to_depth(input, block_size, data_format=data_format)


def softmax(logits, axis=None, name=None):
    return ops.softmax(logits, axis=-1 if axis is None else axis)


def log_softmax(logits, axis=None, name=None):
    return ops.log_softmax(logits, axis=-1 if axis is None else axis)


def _unary(name, op):
    def fn(features, name=None):
        return op(features)
    fn.__name__ = fn.__qualname__ = name
    return fn


relu, relu6, sigmoid, tanh = (_unary(n, getattr(ops, n)) for n in ("relu", "relu6", "sigmoid", "tanh"))
elu, selu, silu, softplus = (_unary(n, getattr(ops, n)) for n in ("elu", "selu", "silu", "softplus"))
softsign = _unary("softsign", ops.softsign)
swish = silu


def gelu(features, approximate=False, name=None):
    return ops.gelu(features, approximate=approximate)


def leaky_relu(features, alpha=0.2, name=None):
    return ops.leaky_relu(features, negative_slope=alpha)


def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) over ``axes``."""
    return ops.moments(x, list(axes), keepdims=keepdims)


def bias_add(value, bias, data_format=None, name=None):
    if data_format == "NCHW":
        shape = [1, -1] + [1] * (len(value.shape) - 2)
        return ops.add(value, ops.reshape(bias, shape))
    return ops.add(value, bias)


def embedding_lookup(params, ids, max_norm=None, name=None):
    return ops.take(params, ids, axis=0)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each entry with probability ``rate``, scale the rest by 1 / (1 - rate)."""
    from . import random
    return random.dropout(x, rate, noise_shape=noise_shape, seed=seed)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise max(z, 0) - z y + log(1 + exp(-|z|)), stable for any logit z."""
    z, y = ops.convert_to_tensor(logits), ops.convert_to_tensor(np.asarray(labels, np.float32))
    return ops.add(ops.subtract(ops.relu(z), ops.multiply(z, y)), ops.log1p(ops.exp(ops.negative(ops.abs(z)))))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per row: -sum(labels * log_softmax(logits))."""
    y = ops.convert_to_tensor(np.asarray(labels, np.float32))
    return ops.negative(ops.sum(ops.multiply(y, ops.log_softmax(logits, axis=axis)), axis=axis))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per row: -log_softmax(logits)[label]."""
    lab = np.asarray(labels).astype(np.int64)
    depth = int(logits.shape[-1])
    if lab.size and (lab.min() < 0 or lab.max() >= depth):
        raise ValueError(f"tf.nn.sparse_softmax_cross_entropy_with_logits: labels must be in "
                         f"[0, {depth}), got {lab.min()}..{lab.max()}")
    onehot = np.eye(depth, dtype=np.float32)[lab]
    return softmax_cross_entropy_with_logits(onehot, logits)


# As a layer's activation= (Dense(10, activation=tf.nn.relu)), these are the fused kernels'
# activations of the same name (the layer runs its explicit backward pass, not this function).
for _fn, _name in ((relu, "relu"), (sigmoid, "sigmoid"), (tanh, "tanh"), (elu, "elu"),
                   (selu, "selu"), (silu, "swish"), (softplus, "softplus"), (softmax, "softmax"),
                   (log_softmax, "log_softmax"), (leaky_relu, "leaky_relu")):
    _fn._corenn_activation = _name
del _fn, _name
