"""Gradients that are themselves differentiated: an inner GradientTape's gradient taken while an
outer tape records (WGAN-GP's gradient penalty, input-gradient regularizers, double backprop).

A layer's backward is a fused C++ kernel that no tape records, so the inner tape computes such a
gradient here instead, with corenn.ops calls that the outer tapes record: for each layer call,
its forward again (so the activations' derivatives depend on the weights as they should) and
the gradient of its input written as ops (a Dense's ``dz @ W^T``, a Conv2D's data gradient as a
recorded op whose own gradient is the conv forward and weight-gradient kernels: nn._conv2d_data_gradient). The outer tape
then differentiates the penalty through those ops into the weights.

    forward   z = layer's linear part(x; W) with ops,  y = act(z)
    backward  dz = dy * act'(z)   (ops: act' of relu / leaky_relu a constant mask, of tanh and
              sigmoid functions of y that the outer tape differentiates)
              dx = the linear part's input gradient of dz (ops, differentiable in dz and W)
              dW, db (when weights are among the sources: a Hessian-vector product w.r.t. the
              weights) = the linear part's weight gradient of dz, sum of dz (ops)

Covered: Dense, Conv1D / Conv2D (groups 1) with the activations linear / relu / leaky_relu / tanh /
sigmoid / elu / softplus / silu (swish) / softmax (last axis), ReLU, LeakyReLU, Activation, Flatten, Reshape, ZeroPadding1D/2D, Dropout (the
mask its forward drew), Add, GlobalAveragePooling1D/2D, AveragePooling1D/2D (StyleGAN's critic
downsamples with them), LayerNormalization (WGAN-GP critics use
layer rather than batch normalization), each w.r.t. its inputs and its weights, and any layer
written with ``call`` (``_custom``: its call again under a tape whose gradient is recorded). Any other
layer raises NotImplementedError naming it: a wrong second-order gradient is never returned. The ops
all of this is written with have their own gradients written with ops (op_gradients.py), so
the result can be differentiated again (third order: a PINN's u_xx trained w.r.t. the weights).
"""
from __future__ import annotations

import numpy as np

from ..nn import _conv2d_data_gradient, _conv2d_weight_gradient

__all__ = ["graph_input_gradients", "layer_input_gradients", "supports"]


def _ops():
    from .. import ops
    return ops


# -- activations -----------------------------------------------------------------------------------

def _activate(name, alpha, z):
    ops = _ops()
    if name == "linear":
        return z
    if name == "relu":
        return ops.relu(z)
    if name == "leaky_relu":
        return ops.leaky_relu(z, alpha)
    if name in ("tanh", "sigmoid", "elu", "softplus", "silu"):
        return getattr(ops, name)(z)
    if name == "swish":
        return ops.silu(z)
    if name == "softmax":   # over the last axis, as Keras' activation applies it
        return ops.softmax(z, axis=-1)
    raise NotImplementedError(name)


def _activation_grad(name, alpha, z, y, dy):
    ops = _ops()
    if name == "linear":
        return dy
    z_np = np.asarray(z)
    if name == "relu":
        return ops.multiply(dy, (z_np > 0).astype(np.float32))
    if name == "leaky_relu":
        return ops.multiply(dy, np.where(z_np > 0, 1.0, alpha).astype(np.float32))
    if name == "tanh":
        return ops.multiply(dy, ops.subtract(1.0, ops.square(y)))
    if name == "sigmoid":
        return ops.multiply(dy, ops.multiply(y, ops.subtract(1.0, y)))
    if name == "elu":   # z > 0: 1; else exp(z) = y + 1
        return ops.multiply(dy, ops.where(z_np > 0, 1.0, ops.add(y, 1.0)))
    if name == "softplus":   # sigmoid(z)
        return ops.multiply(dy, ops.sigmoid(z))
    if name in ("silu", "swish"):   # s + z s (1 - s), s = sigmoid(z)
        s = ops.sigmoid(z)
        return ops.multiply(dy, ops.add(s, ops.multiply(z, ops.multiply(s, ops.subtract(1.0, s)))))
    if name == "softmax":   # the Jacobian-vector product y * (dy - sum(dy * y))
        return ops.multiply(y, ops.subtract(dy, ops.sum(ops.multiply(dy, y), axis=-1, keepdims=True)))
    raise NotImplementedError(name)


_ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "elu", "softplus", "silu", "swish", "softmax")


def _activation_of(layer):
    act = getattr(layer, "activation", None)
    name = getattr(act, "name", "linear") if act is not None else "linear"
    return name, float(getattr(act, "alpha", 0.0) or 0.0)


# -- per layer: forward with ops, the input gradient with ops --------------------------------------

def _biased_and_activated(layer, linear):
    """A Dense / Conv layer's z = linear + bias and y = activation(z), with ops."""
    z = linear if getattr(layer, "bias", None) is None else _ops().add(linear, layer.bias)
    name, alpha = _activation_of(layer)
    return z, _activate(name, alpha, z), name, alpha


def _bias_grad(layer, dz):
    """[(bias, sum of dz over every axis but the channels')] when the layer has a bias."""
    if getattr(layer, "bias", None) is None:
        return []
    return [(layer.bias, _ops().sum(dz, axis=tuple(range(len(dz.shape) - 1))))]


def _dense(layer, ctx, xs):
    ops = _ops()
    x = xs[0]
    kernel = layer.kernel
    if layer.lora_enabled:   # W + s * A @ B as ops, so the outer tape reaches A and B
        kernel = ops.add(kernel, ops.multiply(ops.matmul(layer.lora_kernel_a, layer.lora_kernel_b),
                                              layer._lora_scale()))
    z, y, name, alpha = _biased_and_activated(layer, ops.matmul(x, kernel))

    def back(dy, weights):
        dz = _activation_grad(name, alpha, z, y, dy)
        pairs = []
        if weights:   # dW = x^T dz over every leading axis
            k = int(x.shape[-1])
            flat_x, flat_dz = ops.reshape(x, (-1, k)), ops.reshape(dz, (-1, int(dz.shape[-1])))
            dw = ops.matmul(ops.transpose(flat_x), flat_dz)
            if layer.lora_enabled:   # through W + s A B: dA = s dW B^T, dB = s A^T dW
                scale = layer._lora_scale()
                pairs = [(layer.lora_kernel_a, ops.multiply(ops.matmul(dw, ops.transpose(layer.lora_kernel_b)), scale)),
                         (layer.lora_kernel_b, ops.multiply(ops.matmul(ops.transpose(layer.lora_kernel_a), dw), scale))]
            else:
                pairs = [(layer.kernel, dw)]
            pairs += _bias_grad(layer, dz)
        return [ops.matmul(dz, ops.transpose(kernel))], pairs
    return y, back


def _conv(layer, ctx, xs):
    ops = _ops()
    x = xs[0]
    one_d = type(layer).__name__ == "Conv1D"
    if getattr(layer, "groups", 1) != 1 or getattr(layer, "data_format", "channels_last") != "channels_last" \
            or layer.padding == "causal":
        raise NotImplementedError(f"layer '{layer.name}': a second-order gradient through a grouped, "
                                  "channels-first or causal convolution")
    x4 = ops.expand_dims(x, 1) if one_d else x
    w4 = ops.expand_dims(layer.kernel, 0) if one_d else layer.kernel
    strides = (1,) + tuple(layer.strides) if one_d else tuple(layer.strides)
    dilation = (1,) + tuple(layer.dilation_rate) if one_d else tuple(layer.dilation_rate)
    kw = dict(strides=strides, padding=layer.padding, dilation_rate=dilation)
    z, y, name, alpha = _biased_and_activated(
        layer, ops.conv(x4, w4, strides=strides, padding=layer.padding, dilation_rate=dilation))

    def back(dy4, weights):
        dz = _activation_grad(name, alpha, z, y, dy4)
        dx = _conv2d_data_gradient(dz, w4, tuple(x4.shape), kw)
        pairs = []
        if weights:
            dw = _conv2d_weight_gradient(x4, dz, tuple(w4.shape), kw)
            pairs = [(layer.kernel, ops.reshape(dw, tuple(layer.kernel.shape)))] + _bias_grad(layer, dz)
        return [ops.squeeze(dx, 1) if one_d else dx], pairs
    if one_d:
        y3 = ops.squeeze(y, 1)
        return y3, lambda dy, weights: back(ops.expand_dims(dy, 1), weights)
    return y, back


def _activation_layer(layer, ctx, xs):
    kind = type(layer).__name__
    if kind == "LeakyReLU":
        name, alpha = "leaky_relu", float(layer.negative_slope)
    elif kind == "ReLU":
        if layer.max_value is not None or layer.threshold != 0 or layer.negative_slope != 0:
            raise NotImplementedError(f"layer '{layer.name}': a second-order gradient through ReLU with "
                                      "max_value / threshold / negative_slope")
        name, alpha = "relu", 0.0
    else:
        name, alpha = _activation_of(layer)
    z = xs[0]
    y = _activate(name, alpha, z)
    return y, lambda dy, weights: ([_activation_grad(name, alpha, z, y, dy)], [])


def _reshaping(layer, ctx, xs):
    ops = _ops()
    x = xs[0]
    shape = tuple(x.shape)
    y = ops.reshape(x, (shape[0],) + tuple(int(d) for d in layer.compute_output_shape(shape)[1:]))
    return y, lambda dy, weights: ([ops.reshape(dy, shape)], [])


def _zero_padding(layer, ctx, xs):
    ops = _ops()
    x = xs[0]
    pads = layer.padding if type(layer).__name__ == "ZeroPadding2D" else (layer.padding,)
    spec = [(0, 0)] + [tuple(int(v) for v in p) for p in pads] + [(0, 0)]
    y = ops.pad(x, spec)

    def back(dy, weights):
        index = tuple(slice(a, int(dy.shape[i]) - b) for i, (a, b) in enumerate(spec))
        return [dy[index]], []
    return y, back


def _dropout(layer, ctx, xs):
    ops = _ops()
    x = xs[0]
    # the forward being differentiated drew a mask when it ran in training (``_active``)
    mask = ctx.__dict__.get("_mask") if ctx.__dict__.get("_active") else None
    if mask is None:
        return x, lambda dy, weights: ([dy], [])
    mask = np.array(mask, copy=True)   # the draw of the forward being differentiated, a constant
    return ops.multiply(x, mask), lambda dy, weights: ([ops.multiply(dy, mask)], [])


def _global_average(layer, ctx, xs):
    ops = _ops()
    x = xs[0]
    if getattr(layer, "data_format", "channels_last") != "channels_last" or ctx.__dict__.get("_call_mask") is not None:
        raise NotImplementedError(f"layer '{layer.name}': a second-order gradient through channels-first or "
                                  "masked global pooling")
    axes = tuple(range(1, x.ndim - 1))
    y = ops.mean(x, axis=axes, keepdims=bool(layer.keepdims))
    spread = np.ones(tuple(x.shape), np.float32) / float(np.prod([x.shape[a] for a in axes]))

    def back(dy, weights):
        return [ops.multiply(spread, dy if layer.keepdims else ops.reshape(
            dy, (int(x.shape[0]),) + (1,) * len(axes) + (int(x.shape[-1]),)))], []
    return y, back


def _average_pooling(layer, ctx, xs):
    """AveragePooling1D / 2D (channels last): the pooling as a recorded op, and its input
    gradient as a recorded op whose own rule is the pooling again (ops._average_pool2d_gradient);
    a 1-D input is pooled as (N, 1, W, C), as the layer does."""
    ops = _ops()
    x = xs[0]
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise NotImplementedError(f"layer '{layer.name}': a second-order gradient through channels-first pooling")
    one_d = x.ndim == 3
    size, stride = tuple(layer.pool_size), tuple(layer.strides)
    if one_d:
        size, stride = (1, int(size[-1])), (1, int(stride[-1]))
    x4 = ops.expand_dims(x, 1) if one_d else x
    y4 = ops._average_pool2d(x4, size, stride, layer.padding)

    def back(dy, weights):
        dy4 = ops.expand_dims(dy, 1) if one_d else dy
        dx4 = ops._average_pool2d_gradient(dy4, tuple(x4.shape), size, stride, layer.padding)
        return [ops.squeeze(dx4, axis=1) if one_d else dx4], []
    return (ops.squeeze(y4, axis=1) if one_d else y4), back


def _layer_norm(layer, ctx, xs):
    """LayerNormalization with ops: its forward, and dx = (g - mean g - xhat mean(g xhat)) / s with
    g = dy * gamma, s = sqrt(var + epsilon), over the normalised axes."""
    ops = _ops()
    x = xs[0]
    if layer.rms_scaling:
        raise NotImplementedError(f"layer '{layer.name}': a second-order gradient through RMS normalization")
    axes = tuple(layer._norm_axes)
    mean = ops.mean(x, axis=axes, keepdims=True)
    centred = ops.subtract(x, mean)
    std = ops.sqrt(ops.add(ops.mean(ops.square(centred), axis=axes, keepdims=True), float(layer.epsilon)))
    xhat = ops.divide(centred, std)
    spread = [int(x.shape[a]) if a in axes else 1 for a in range(x.ndim)]
    gamma = ops.reshape(layer.gamma, spread) if layer.scale else None
    y = xhat if gamma is None else ops.multiply(xhat, gamma)
    if layer.center:
        y = ops.add(y, ops.reshape(layer.beta, spread))

    def back(dy, weights):
        g = dy if gamma is None else ops.multiply(dy, gamma)
        inner = ops.add(ops.mean(g, axis=axes, keepdims=True),
                        ops.multiply(xhat, ops.mean(ops.multiply(g, xhat), axis=axes, keepdims=True)))
        pairs = []
        if weights:   # d gamma = sum of dy * xhat, d beta = sum of dy, over the other axes
            others = tuple(a for a in range(x.ndim) if a not in axes)
            shape_of = lambda w: tuple(w.shape)
            if layer.scale:
                pairs.append((layer.gamma, ops.reshape(ops.sum(ops.multiply(dy, xhat), axis=others),
                                                       shape_of(layer.gamma))))
            if layer.center:
                pairs.append((layer.beta, ops.reshape(ops.sum(dy, axis=others), shape_of(layer.beta))))
        return [ops.divide(ops.subtract(g, inner), std)], pairs
    return y, back


def _add(layer, ctx, xs):
    ops = _ops()
    y = xs[0]
    for x in xs[1:]:
        y = ops.add(y, x)
    return y, lambda dy, weights: ([dy for _ in xs], [])


_LAYERS = {"Dense": _dense, "Conv2D": _conv, "Conv1D": _conv, "LeakyReLU": _activation_layer,
           "ReLU": _activation_layer, "Activation": _activation_layer, "Flatten": _reshaping,
           "Reshape": _reshaping, "ZeroPadding2D": _zero_padding, "ZeroPadding1D": _zero_padding,
           "Dropout": _dropout, "SpatialDropout1D": _dropout, "SpatialDropout2D": _dropout, "Add": _add,
           "GlobalAveragePooling1D": _global_average, "GlobalAveragePooling2D": _global_average,
           "LayerNormalization": _layer_norm, "AveragePooling1D": _average_pooling,
           "AveragePooling2D": _average_pooling}


def _written(layer):
    from ..layers.base import Layer
    return type(layer).call is not Layer.call and getattr(type(layer), "_builtin_parts", None) is None


def _custom(layer, ctx, xs):
    """A layer written with ``call`` (keras.io's RelationalGraphConvLayer in a WGAN-GP critic):
    its call runs again on ops under a tape of its own (the outer tapes record those ops too);
    its input and weight gradients are that tape's gradient, which is itself computed with
    recorded ops (the outer tapes track the call's output), so it can be differentiated again.
    The call must give what the forward being differentiated gave (a call that draws random
    numbers would not): otherwise NotImplementedError."""
    from ..autodiff import GradientTape
    packed = len(xs) > 1
    record = ctx.__dict__.get("_call_record")
    tape = GradientTape(persistent=True)
    with tape:
        for x in xs:
            tape.watch(x)
        y = layer._invoke_call(list(xs) if packed else xs[0], False)
    if isinstance(y, (list, tuple)):
        raise NotImplementedError(f"GradientTape.gradient: a second-order gradient through layer "
                                  f"'{layer.name}', which returns several tensors")
    if record is not None and not np.allclose(np.asarray(y), np.asarray(record[2]), rtol=1e-4, atol=1e-5):
        raise NotImplementedError(f"GradientTape.gradient: a second-order gradient through layer '{layer.name}' "
                                  f"({type(layer).__name__}), whose call gave another result when run again "
                                  f"(random numbers, or a training-only branch)")

    def back(dy, weights):
        ws = list(layer.trainable_weights) if weights else []
        grads = tape.gradient(y, list(xs) + ws, output_gradients=dy)
        return list(grads[:len(xs)]), [(w, g) for w, g in zip(ws, grads[len(xs):]) if g is not None]
    return y, back


def supports(layer) -> bool:
    return type(layer).__name__ in _LAYERS or _written(layer)


def _run(layer, ctx, xs):
    if getattr(type(layer), "_float64_of", None) is not None:
        return _custom(layer, ctx, xs)   # a float64 layer: its float64 form is its call (ops)
    fn = _LAYERS.get(type(layer).__name__)
    if fn is None and _written(layer):
        return _custom(layer, ctx, xs)
    if fn is None:
        raise NotImplementedError(
            f"GradientTape.gradient: a gradient taken inside another tape's block (a second-order "
            f"gradient, e.g. WGAN-GP's penalty) goes through layer '{layer.name}' ({type(layer).__name__}), "
            f"which corenn cannot differentiate twice; supported: {', '.join(sorted(_LAYERS))}")
    if type(layer).__name__ in ("Dense", "Conv1D", "Conv2D", "Activation"):
        name, _ = _activation_of(layer)
        if name not in _ACTIVATIONS:
            raise NotImplementedError(f"GradientTape.gradient: a second-order gradient through layer "
                                      f"'{layer.name}' with activation {name!r} (supported: "
                                      f"{', '.join(_ACTIVATIONS)})")
    return fn(layer, ctx, xs)


_WRAPPERS = ("_FixedTraining", "_ActivityRegularized", "_MaskedCall", "_NarrowInputs")


def _unwrapped(ctx):
    """A graph step's call context without the graph's wrappers (fixed training, regularizers)."""
    while type(ctx).__name__ in _WRAPPERS:
        ctx = ctx.inner
    return ctx


def _accumulate(grads, key, g):
    grads[key] = g if key not in grads else _ops().add(grads[key], g)


def graph_input_gradients(graph, xs, dys, weights=False):
    """d(sum(outputs * dys))/d(xs) of a captured graph, computed with recorded ops; with
    ``weights`` also d/d(each weight) (a shared layer's summed over its calls). Returns the input
    gradients and {id(weight): (weight, gradient)}."""
    values = {id(t): x for t, x in zip(graph.inputs, xs)}
    # only the calls the differentiated outputs depend on run again: a subclassed VAE's
    # gradient penalty differentiates the property head of z_mean, and its Sampling layer
    # (random, so not replayable) and decoder have nothing to give it
    needed = {id(t) for t, g in zip(graph.outputs, dys) if g is not None}
    used = set()
    for k in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[k]
        if any(id(o) in needed for o in node.outputs):
            used.add(k)
            needed.update(id(t) for t in node.inputs)
    backs = []
    for k, (node, step) in enumerate(zip(graph.nodes, graph.steps)):
        if k not in used:
            continue
        if node.mask_inputs and any(m is not None for m in node.mask_inputs):
            raise NotImplementedError(f"GradientTape.gradient: a second-order gradient through layer "
                                      f"'{node.layer.name}', which reads a Keras mask")
        ins = [values[id(t)] for t in node.inputs]
        y, back = _run(node.layer, _unwrapped(step.ctx), ins)
        values[id(node.outputs[0])] = y
        backs.append((node, back))
    grads, weight_grads = {}, {}
    for t, g in zip(graph.outputs, dys):
        if g is not None:
            _accumulate(grads, id(t), g)
    for node, back in reversed(backs):
        dy = grads.pop(id(node.outputs[0]), None)
        if dy is None:
            continue
        dxs, pairs = back(dy, weights)
        for t, g in zip(node.inputs, dxs):
            _accumulate(grads, id(t), g)
        _add_weight_grads(weight_grads, pairs)
    return [grads.get(id(t)) for t in graph.inputs], weight_grads


def layer_input_gradients(ctx, xs, dys, weights=False):
    """The same for one layer call recorded on its own (a tape's layer-by-layer record)."""
    _, back = _run(ctx, ctx, xs)
    dxs, pairs = back(dys[0], weights)
    weight_grads = {}
    _add_weight_grads(weight_grads, pairs)
    return dxs, weight_grads


def _add_weight_grads(weight_grads, pairs):
    for w, g in pairs:
        key = id(w)
        weight_grads[key] = (w, g if key not in weight_grads else _ops().add(weight_grads[key][1], g))
