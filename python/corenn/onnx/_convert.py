"""One converter per layer class: a corenn layer call -> ONNX nodes (see _builder for layouts).

A converter is ``fn(b, layer, xs, node) -> list[Value]``: ``b`` the Builder, ``xs`` the Values
of the call's inputs, ``node`` the graph node (``node.outputs`` give the Keras output shapes).
``CONVERTERS`` maps layer classes to converters; a class not in it cannot be exported.

Weights are read in corenn's layouts (ARCHITECTURE.md section 3) and rearranged here:
    Dense kernel (in, out)                      -> MatMul / Gemm B as is
    EinsumDense kernel                          -> Einsum with the layer's equation, as is
    Conv kernel (KH, KW, Cin/G, F) / (K, Cin/G, F) -> ONNX (F, Cin/G, KH, KW) / (F, Cin/G, K),
                                                   group G (Keras' groups: the same layout)
    DepthwiseConv1D / 2D (*K, C, DM)            -> (C*DM, 1, *K), group C (SeparableConv too)
    LSTM kernel (F, 4U), gates i, f, c, o       -> ONNX W (1, 4U, F), gates i, o, f, c
    GRU kernel (F, 3U), gates z, r, h           -> same gate order; bias (2, 3U) = [Wb, Rb] and
                                                   linear_before_reset=1 (reset_after=True)
"""
from __future__ import annotations

import numpy as np

from ._builder import Value, channels_first, identity

_SELU_ALPHA, _SELU_GAMMA = 1.67326324, 1.05070098   # csrc/cpu/activation.cpp's constants


def _w(param):
    return np.asarray(param, np.float32)


def _out(node, i=0):
    return node.outputs[i].shape


def unsupported(layer, why):
    return NotImplementedError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}): {why}")


# -- activations --------------------------------------------------------------------------------

def activation(b, name, alpha, v: Value, base, layer=None):
    """``v`` through the corenn activation ``name``; returns a Value of the same layout."""
    x = v.name
    if name == "linear":
        return v
    if name == "relu":
        y = b.op("Relu", [x], base)
    elif name == "relu6":   # min(max(x, 0), alpha): Clip with constant bounds (opset 11 inputs)
        y = b.op("Clip", [x, b.const(np.float32(0.0), f"{base}/clip_min"),
                          b.const(np.float32(alpha), f"{base}/clip_max")], base)
    elif name == "leaky_relu":
        y = b.op("LeakyRelu", [x], base, alpha=float(alpha))
    elif name == "elu":
        y = b.op("Elu", [x], base, alpha=float(alpha))
    elif name == "selu":
        y = b.op("Selu", [x], base, alpha=_SELU_ALPHA, gamma=_SELU_GAMMA)
    elif name in ("sigmoid", "tanh", "softplus"):
        y = b.op({"sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}[name], [x], base)
    elif name == "swish":
        y = b.op("Mul", [x, b.op("Sigmoid", [x], base)], base)
    elif name == "gelu":   # exact erf form: x * (1 + erf(x / sqrt 2)) / 2 (Gelu is opset 20)
        if b.opset >= 20:
            y = b.op("Gelu", [x], base)
        else:
            e = b.op("Erf", [b.op("Mul", [x, b.const(np.float32(1 / np.sqrt(2)), f"{base}/rsqrt2")], base)], base)
            half = b.op("Mul", [x, b.const(np.float32(0.5), f"{base}/half")], base)
            y = b.op("Add", [half, b.op("Mul", [half, e], base)], base)
    elif name == "hard_sigmoid":   # max(0, min(1, x / 6 + 1/2))
        y = b.op("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)
    elif name == "hard_silu":   # x * hard_sigmoid(x) (HardSwish is the same function, opset 14)
        y = b.op("Mul", [x, b.op("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)], base)
    elif name == "softsign":
        y = b.op("Softsign", [x], base)
    elif name == "exponential":
        y = b.op("Exp", [x], base)
    elif name == "mish":   # x * tanh(softplus(x)) (Mish is opset 18)
        y = b.op("Mul", [x, b.op("Tanh", [b.op("Softplus", [x], base)], base)], base)
    elif name == "hard_tanh":
        y = b.op("Clip", [x, b.const(np.float32(-1.0), f"{base}/clip_min"),
                          b.const(np.float32(1.0), f"{base}/clip_max")], base)
    elif name == "celu":
        y = b.op("Celu", [x], base, alpha=float(alpha))
    elif name in ("soft_shrink", "hard_shrink"):   # Shrink: x - bias if x > lambd, x + bias if x < -lambd
        y = b.op("Shrink", [x], base, lambd=float(alpha), bias=float(alpha) if name == "soft_shrink" else 0.0)
    elif name == "log_sigmoid":   # -softplus(-x)
        y = b.op("Neg", [b.op("Softplus", [b.op("Neg", [x], base)], base)], base)
    elif name == "tanh_shrink":
        y = b.op("Sub", [x, b.op("Tanh", [x], base)], base)
    elif name in ("softmax", "log_softmax"):
        # over the Keras last axis; with a feature permutation the set of columns is the same
        axis = 1 if v.fperm is not None else v.axis(-1)
        y = b.op("Softmax" if name == "softmax" else "LogSoftmax", [x], base, axis=axis)
    else:
        owner = f"layer '{layer.name}' ({type(layer).__name__})" if layer is not None else base
        raise NotImplementedError(f"ONNX export: {owner}: activation {name!r} has no ONNX mapping")
    return Value(y, v.shape, v.perm, v.fperm)


def _with_activation(b, layer, v):
    return activation(b, layer.activation.name, layer.activation.alpha, v, layer.name, layer)


# -- core -------------------------------------------------------------------------------------------

def _int8(layer):
    if getattr(layer, "_quantized", None) != "int8":
        return False
    if "_custom_quantizers" in getattr(layer, "__dict__", {}):
        # a QuantizationConfig's own quantizers are Python code; the exported product is the
        # default per-row abs-max one, which would give other numbers
        raise ValueError(f"ONNX export: Dense '{layer.name}' was quantized with a custom QuantizationConfig "
                         "(its own quantizers), which the ONNX int8 product cannot express; quantize it with "
                         "config=None to export it")
    return True


def _int4(layer):
    """int4 is weight-only (Keras 3.15): the layer computes in float32 with its dequantized
    kernel, which is what is exported."""
    return getattr(layer, "_quantized", None) == "int4"


def _affine_params(layer, node, b):
    """Dense / conv kernel and bias, with a following BatchNormalization folded in when the
    exporter paired them (b.folded): W' = W * s, b' = (b - mean) * s + beta per output channel,
    s = gamma / sqrt(var + eps)."""
    w = layer.merged_kernel() if getattr(layer, "lora_enabled", False) else \
        layer.int4_dequantized("kernel") if _int4(layer) else _w(layer.kernel)   # LoRA: W'; int4: its float kernel
    bias = _w(layer.bias) if layer.use_bias else np.zeros(w.shape[-1], np.float32)
    bn = b.folded.get(id(node))
    if bn is not None:
        scale, shift = bn_scale_shift(bn)
        w = (w.astype(np.float64) * scale).astype(np.float32)
        bias = (bias.astype(np.float64) * scale + shift).astype(np.float32)
    return w, bias


def bn_scale_shift(bn):
    """Inference BatchNormalization as y = x * scale + shift (float64, per channel)."""
    mean = np.asarray(bn.moving_mean, np.float64)
    var = np.asarray(bn.moving_variance, np.float64)
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta, np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + bn.epsilon)
    return scale, beta - mean * scale


def _quantized_rows_product(b, x, w, kernel_scale, base):
    """Keras' int8 Dense product in ONNX ops, the same float32 arithmetic as the C++ kernel
    (layers/quantization.py): rows of x abs-max quantized (Round is half to even), the integer
    product in float64 (exact: every partial sum is an integer below 2^53), cast to float32, then
    divided by s_x * s_k."""
    f32 = lambda value, name: b.const(np.float32(value), f"{base}/{name}")
    amax = b.reduce("ReduceMax", b.op("Abs", [x], base), [-1], True, base)
    sx = b.op("Div", [f32(127.0, "127"), b.op("Add", [amax, f32(1e-7, "epsilon")], base)], base)
    q = b.op("Clip", [b.op("Round", [b.op("Mul", [x, sx], base)], base), f32(-127.0, "q_min"),
                      f32(127.0, "q_max")], base)
    acc = b.op("MatMul", [b.op("Cast", [q], base, to=b.TensorProto.DOUBLE), b.const(w, f"{base}/kernel", np.float64)],
               base)
    acc = b.op("Cast", [acc], base, to=b.TensorProto.FLOAT)
    return b.op("Div", [acc, b.op("Mul", [sx, b.const(kernel_scale, f"{base}/kernel_scale")], base)], base)


def _quantized_einsum(b, layer, x, rank, base):
    """The int8 EinsumDense product (layers/einsum_dense.py) as _quantized_rows_product does it for
    Dense: x quantized over its contracted labels, the integer einsum in float64 (exact), cast to
    float32, divided by s_x (moved to the output's labels by a one-term Einsum, exact) times the
    kernel_scale, which Keras already lays out against the output."""
    plan = layer._plan(rank)
    f32 = lambda value, name: b.const(np.float32(value), f"{base}/{name}")
    amax = b.reduce("ReduceMax", b.op("Abs", [x], base), [plan.inp.index(c) for c in plan.depth], True, base)
    sx = b.op("Div", [f32(127.0, "127"), b.op("Add", [amax, f32(1e-7, "epsilon")], base)], base)
    q = b.op("Clip", [b.op("Round", [b.op("Mul", [x, sx], base)], base), f32(-127.0, "q_min"),
                      f32(127.0, "q_max")], base)
    acc = b.op("Einsum", [b.op("Cast", [q], base, to=b.TensorProto.DOUBLE),
                          b.const(_w(layer.kernel), f"{base}/kernel", np.float64)], base,
               equation=f"{plan.inp},{plan.w}->{plan.out}")
    acc = b.op("Cast", [acc], base, to=b.TensorProto.FLOAT)
    rows = "".join(c for c in plan.out if c in plan.inp)
    sx = b.op("Einsum", [sx], base, equation=f"{plan.inp}->{rows}")   # the size-1 K axes summed away
    sx = b.unsqueeze(sx, [i for i, c in enumerate(plan.out) if c not in plan.inp], base)
    return b.op("Div", [acc, b.op("Mul", [sx, b.const(_w(layer.kernel_scale), f"{base}/kernel_scale")], base)],
                base)


def convert_dense(b, layer, xs, node):
    v = xs[0]
    if _int8(layer):   # (never BatchNormalization-folded)
        w = _w(layer.kernel)
        if v.fperm is not None:
            w = w[v.fperm]
            v = Value(v.name, v.shape)
        if v.perm[-1] != v.rank - 1:
            v = Value(b.plain(v), v.shape)
        y = _quantized_rows_product(b, v.name, w, _w(layer.kernel_scale), layer.name)
        if layer.use_bias:
            y = b.op("Add", [y, b.const(_w(layer.bias), f"{layer.name}/bias")], layer.name)
        return [_with_activation(b, layer, Value(y, _out(node), v.perm))]
    w, bias = _affine_params(layer, node, b)
    if v.fperm is not None:           # the Flatten before left columns permuted: permute rows
        w = w[v.fperm]
        v = Value(v.name, v.shape)
    if v.perm[-1] != v.rank - 1:      # features must be the last ONNX axis for MatMul
        v = Value(b.plain(v), v.shape)
    base = layer.name
    if v.rank == 2:
        y = b.op("Gemm", [v.name, b.const(w, f"{base}/kernel"), b.const(bias, f"{base}/bias")], base)
    else:
        y = b.op("Add", [b.op("MatMul", [v.name, b.const(w, f"{base}/kernel")], base),
                         b.const(bias, f"{base}/bias")], base)
    return [_with_activation(b, layer, Value(y, _out(node), v.perm))]


def convert_einsum_dense(b, layer, xs, node):
    """EinsumDense -> ONNX Einsum with the layer's equation (ellipses and all), + the bias, which
    broadcasts against the trailing axes in both."""
    v = xs[0]
    base = layer.name
    if _int8(layer):
        y = _quantized_einsum(b, layer, b.plain(v), v.rank, base)
        if layer.bias is not None:
            y = b.op("Add", [y, b.const(_w(layer.bias), f"{base}/bias")], base)
        return [_with_activation(b, layer, Value(y, _out(node)))]
    kernel = layer.int4_dequantized("kernel") if _int4(layer) else layer.merged_kernel()
    y = b.op("Einsum", [b.plain(v), b.const(kernel, f"{base}/kernel")], base,
             equation=layer.equation.replace(" ", ""))
    if layer.bias is not None:
        y = b.op("Add", [y, b.const(_w(layer.bias), f"{base}/bias")], base)
    return [_with_activation(b, layer, Value(y, _out(node)))]


def _same_pads(size, k, s, d):
    """TensorFlow's 'same' padding (the odd extra cell after): (before, after)."""
    k_eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + k_eff - size, 0)
    return total // 2, total - total // 2


def _pads(layer, spatial, kernel, strides, dilations):
    if layer.padding == "valid":
        return [0] * (2 * len(spatial))
    if layer.padding == "causal":   # Conv1D: (K - 1) * dilation before, nothing after
        pairs = [((k - 1) * d, 0) for k, d in zip(kernel, dilations)]
        return [p[0] for p in pairs] + [p[1] for p in pairs]
    pairs = [_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilations)]
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def convert_conv(b, layer, xs, node):
    v, rank = xs[0], xs[0].rank
    cf = channels_first(rank)
    w, bias = _affine_params(layer, node, b)
    w = np.transpose(w, (rank - 1, rank - 2) + tuple(range(rank - 2)))   # (F, Cin, *K)
    kernel, strides, dil = layer.kernel_size, layer.strides, layer.dilation_rate
    base = layer.name
    y = b.op("Conv", [b.in_layout(v, cf), b.const(w, f"{base}/kernel"), b.const(bias, f"{base}/bias")],
             base, kernel_shape=list(kernel), strides=list(strides), dilations=list(dil),
             pads=_pads(layer, v.shape[1:-1], kernel, strides, dil), group=int(layer.groups))
    return [_with_activation(b, layer, Value(y, _out(node), cf))]


def _depthwise_conv(b, layer, v, kernel, base, bias=None):
    """The depthwise step of DepthwiseConv1D / 2D and SeparableConv1D / 2D: kernel (*K, C, DM)
    -> ONNX (C*DM, 1, *K), group C. Returns the output name (channels-first layout)."""
    spatial, (c, dm) = kernel.shape[:-2], kernel.shape[-2:]
    rank = len(spatial)
    w = np.transpose(kernel, (rank, rank + 1) + tuple(range(rank))).reshape((c * dm, 1) + spatial)
    inputs = [b.in_layout(v, channels_first(rank + 2)), b.const(w, f"{base}/kernel")]
    if bias is not None:
        inputs.append(b.const(bias, f"{base}/bias"))
    return b.op("Conv", inputs, base, kernel_shape=list(spatial), strides=list(layer.strides), group=c,
                dilations=list(layer.dilation_rate),
                pads=_pads(layer, v.shape[1:-1], spatial, layer.strides, layer.dilation_rate))


def convert_depthwise(b, layer, xs, node):
    k = _w(layer.kernel)                               # (*K, C, DM)
    bias = _w(layer.bias) if layer.use_bias else np.zeros(k.shape[-2] * k.shape[-1], np.float32)
    y = _depthwise_conv(b, layer, xs[0], k, layer.name, bias)
    return [_with_activation(b, layer, Value(y, _out(node), channels_first(xs[0].rank)))]


def convert_separable(b, layer, xs, node):
    v = xs[0]
    pw = _w(layer.pointwise_kernel)                    # (1, [1,] C*DM, F)
    rank = pw.ndim - 2
    pw = np.transpose(pw, (rank + 1, rank) + tuple(range(rank)))   # (F, C*DM, 1, [1])
    bias = _w(layer.bias) if layer.use_bias else np.zeros(pw.shape[0], np.float32)
    base = layer.name
    h = _depthwise_conv(b, layer, v, _w(layer.depthwise_kernel), f"{base}/depthwise")
    y = b.op("Conv", [h, b.const(pw, f"{base}/pointwise_kernel"), b.const(bias, f"{base}/bias")],
             base, kernel_shape=[1] * rank)
    return [_with_activation(b, layer, Value(y, _out(node), channels_first(v.rank)))]


def convert_activation(b, layer, xs, node):
    if layer.activation.name == "glu":   # Keras' glu: a * sigmoid(b) of the last axis' two halves
        v = xs[0]
        x, axis, half = b.plain(v), v.rank - 1, v.shape[-1] // 2
        first = b.slice(x, [0], [half], [axis], f"{layer.name}/a")
        second = b.slice(x, [half], [2 * half], [axis], f"{layer.name}/b")
        return [Value(b.op("Mul", [first, b.op("Sigmoid", [second], layer.name)], layer.name), _out(node))]
    return [_with_activation(b, layer, xs[0])]


def _kernel_activation(kind, alpha_attr=None):
    def convert(b, layer, xs, node):
        alpha = getattr(layer, alpha_attr) if alpha_attr else 0.0
        name = kind
        if kind == "softmax" and getattr(layer, "_perm", None) is not None:
            raise unsupported(layer, f"softmax over axis {layer.axis} (only the last axis is exported)")
        if kind == "relu" and getattr(layer, "_kind", "relu") is None:
            raise unsupported(layer, "ReLU with a threshold, or with both max_value and negative_slope")
        if kind == "relu" and layer.max_value is not None:
            name, alpha = "relu6", layer.max_value
        elif kind == "relu" and layer.negative_slope:
            name, alpha = "leaky_relu", layer.negative_slope
        return [activation(b, name, alpha, xs[0], layer.name, layer)]
    return convert


def convert_prelu(b, layer, xs, node):
    v = xs[0]
    slope = b.keras_const(_w(layer.alpha)[None], v, f"{layer.name}/alpha")
    return [Value(b.op("PRelu", [v.name, slope], layer.name), v.shape, v.perm, v.fperm)]


def convert_passthrough(b, layer, xs, node):
    """Dropout, SpatialDropout, Identity: nothing at inference."""
    return [xs[0]]


def convert_layer_scale(b, layer, xs, node):
    """keras.applications' LayerScale (ConvNeXt): x times the per-channel gamma."""
    v = xs[0]
    y = b.op("Mul", [v.name, b.keras_const(_w(layer.gamma), v, f"{layer.name}/gamma")], layer.name)
    return [Value(y, v.shape, v.perm, v.fperm)]


def convert_unit_norm(b, layer, xs, node):
    """UnitNormalization: x / sqrt(max(sum x^2, 1e-12)) over the layer's axes (any layout)."""
    v = xs[0]
    base = layer.name
    keras_axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    axes = [v.axis(a) for a in keras_axes] if v.fperm is None else [1]
    ss = b.reduce("ReduceSum", b.op("Mul", [v.name, v.name], base), axes, True, base)
    norm = b.op("Sqrt", [b.op("Max", [ss, b.const(np.float32(1e-12), f"{base}/floor")], base)], base)
    return [Value(b.op("Div", [v.name, norm], base), v.shape, v.perm, v.fperm)]


def convert_flatten(b, layer, xs, node):
    v = xs[0]
    if v.rank == 2:
        return [v]
    if v.perm[0] != 0:
        v = Value(b.plain(v), v.shape)
    y = b.op("Flatten", [v.name], layer.name, axis=1)
    if v.perm == identity(v.rank):
        return [Value(y, _out(node))]
    # ONNX flattens its own (e.g. channels-first) order: column j of y is Keras column fperm[j]
    keras_index = np.arange(int(np.prod(v.shape[1:]))).reshape(v.shape[1:])
    fperm = np.transpose(keras_index, [p - 1 for p in v.perm[1:]]).reshape(-1)
    return [Value(y, _out(node), fperm=fperm)]


def convert_reshape(b, layer, xs, node):
    v = xs[0]
    target = [0] + [int(d) for d in _out(node)[1:]]
    return [Value(b.op("Reshape", [b.plain(v), b.ints(target, f"{layer.name}/shape")], layer.name), _out(node))]


def convert_permute(b, layer, xs, node):
    """No node: the permutation goes into the layout. Keras output axis k is input axis q[k]."""
    v = xs[0]
    if v.fperm is not None:
        v = Value(b.plain(v), v.shape)
    q = (0,) + tuple(layer.dims)
    q_inv = np.argsort(q)
    return [Value(v.name, _out(node), tuple(int(q_inv[p]) for p in v.perm))]


def convert_repeat_vector(b, layer, xs, node):
    base = layer.name
    x = b.unsqueeze(b.plain(xs[0]), [1], base)
    y = b.op("Expand", [x, b.ints([1, layer.n, 1], f"{base}/shape")], base)
    return [Value(y, _out(node))]


def convert_zero_padding(b, layer, xs, node):
    v = xs[0]
    pairs = [tuple(layer.padding)] if np.ndim(layer.padding) == 1 else [tuple(p) for p in layer.padding]
    keras_pads = {1 + i: p for i, p in enumerate(pairs)}
    before = [keras_pads.get(k, (0, 0))[0] for k in v.perm]
    after = [keras_pads.get(k, (0, 0))[1] for k in v.perm]
    y = b.op("Pad", [v.name, b.ints(before + after, f"{layer.name}/pads")], layer.name)
    return [Value(y, _out(node), v.perm)]


def convert_cropping(b, layer, xs, node):
    v = xs[0]
    crop = layer.cropping
    pairs = [tuple(crop)] if np.ndim(crop) == 1 else [tuple(p) for p in crop]
    axes = [v.axis(1 + i) for i in range(len(pairs))]
    starts = [p[0] for p in pairs]
    ends = [v.shape[1 + i] - p[1] for i, p in enumerate(pairs)]
    y = b.slice(v.name, starts, ends, axes, layer.name)
    return [Value(y, _out(node), v.perm)]


def _resize(b, layer, v, factors, mode, node):
    scales = np.ones(v.rank, np.float32)
    for keras_axis, f in factors.items():
        scales[v.axis(keras_axis)] = f
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:   # TF's half-pixel bilinear, edges clamped
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    y = b.op("Resize", [v.name, "", b.const(scales, f"{layer.name}/scales")], layer.name, **attrs)
    return [Value(y, _out(node), v.perm)]


def convert_upsampling2d(b, layer, xs, node):
    v = xs[0]
    if layer.interpolation not in ("nearest", "bilinear"):
        raise unsupported(layer, f"interpolation {layer.interpolation!r} has no ONNX mapping")
    if layer.interpolation == "bilinear":
        v = Value(b.in_layout(v, channels_first(4)), v.shape, channels_first(4))
    return _resize(b, layer, v, {1: layer.size[0], 2: layer.size[1]}, layer.interpolation, node)


def convert_upsampling3d(b, layer, xs, node):
    return _resize(b, layer, xs[0], {1 + a: f for a, f in enumerate(layer.size)}, "nearest", node)


def convert_upsampling1d(b, layer, xs, node):
    return _resize(b, layer, xs[0], {1: layer.size}, "nearest", node)


def convert_embedding(b, layer, xs, node):
    v = xs[0]
    ids = b.plain(v)
    if v.dtype != "int64":      # float or int32 ids (a traced subclassed model feeds floats)
        ids = b.op("Cast", [ids], layer.name, to=b.TensorProto.INT64)
    table = layer.int4_dequantized("embeddings") if _int4(layer) else _w(layer.embeddings)
    if _int8(layer):   # q[i] / s[i] is the same float32 division per row
        table = table / _w(layer.embeddings_scale)[:, None]
    y = b.op("Gather", [b.const(table, f"{layer.name}/embeddings"), ids], layer.name, axis=0)
    return [Value(y, _out(node))]


def convert_batch_norm(b, layer, xs, node):
    v = xs[0]
    if id(node) in b.fused_bn:        # folded into the conv / Dense before it
        return [v]
    if layer.axis not in (-1, v.rank - 1):
        raise unsupported(layer, f"axis {layer.axis} (only the last axis is exported)")
    scale, shift = bn_scale_shift(layer)
    base = layer.name
    y = b.op("Add", [b.op("Mul", [v.name, b.keras_const(scale, v, f"{base}/scale")], base),
                     b.keras_const(shift, v, f"{base}/shift")], base)
    return [Value(y, v.shape, v.perm, v.fperm)]


def convert_layer_norm(b, layer, xs, node):
    v = xs[0]
    k = layer._norm_ndim
    if b.opset < 17 or layer.rms_scaling or layer._to_trailing is not None:
        return [_layer_norm_decomposed(b, layer, v)]
    trailing = tuple(range(v.rank - k, v.rank))
    if v.fperm is not None or v.perm[v.rank - k:] != trailing:
        v = Value(b.plain(v), v.shape)
    norm_shape = v.shape[v.rank - k:]
    base = layer.name
    gamma = _w(layer.gamma) if layer.scale else np.ones(norm_shape, np.float32)
    ins = [v.name, b.const(gamma, f"{base}/gamma")]
    if layer.center:
        ins.append(b.const(_w(layer.beta), f"{base}/beta"))
    y = b.op("LayerNormalization", ins, base, axis=-k, epsilon=float(layer.epsilon))
    return [Value(y, v.shape, v.perm)]


def _layer_norm_decomposed(b, layer, v):
    """ONNX's LayerNormalization takes trailing axes only and centres always: before opset 17,
    for other axes and for RMS scaling, (x - mean) / sqrt(var + eps) * gamma + beta (RMSNormalization:
    x / sqrt(mean x^2 + eps) * gamma; LayerNormalization(rms_scaling=True): x / sqrt(var + eps) * gamma) with ReduceMean over the ONNX positions of the normalised
    axes (any layout)."""
    base = layer.name
    axes = [v.axis(a) for a in layer._norm_axes] if v.fperm is None else [1]
    # gamma / beta have the normalised axes' shape: size 1 on the other axes to broadcast
    spread = [v.shape[a] if a in layer._norm_axes else 1 for a in range(v.rank)]
    eps = b.const(np.float32(layer.epsilon), f"{base}/epsilon")
    if layer.rms_scaling:
        x = v.name
        if layer._keras_std_scaling:   # LayerNormalization(rms_scaling=True): Keras' x / std
            d = b.op("Sub", [x, b.reduce("ReduceMean", x, axes, True, base)], base)
            ms = b.reduce("ReduceMean", b.op("Mul", [d, d], base), axes, True, base)
        else:                          # RMSNormalization: x / rms
            ms = b.reduce("ReduceMean", b.op("Mul", [x, x], base), axes, True, base)
        y = b.op("Div", [x, b.op("Sqrt", [b.op("Add", [ms, eps], base)], base)], base)
        y = b.op("Mul", [y, b.keras_const(_w(layer.gamma).reshape(spread), v, f"{base}/gamma")], base)
        return Value(y, v.shape, v.perm, v.fperm)
    d = b.op("Sub", [v.name, b.reduce("ReduceMean", v.name, axes, True, base)], base)
    var = b.reduce("ReduceMean", b.op("Mul", [d, d], base), axes, True, base)
    y = b.op("Div", [d, b.op("Sqrt", [b.op("Add", [var, eps], base)], base)], base)
    if layer.scale:
        y = b.op("Mul", [y, b.keras_const(_w(layer.gamma).reshape(spread), v, f"{base}/gamma")], base)
    if layer.center:
        y = b.op("Add", [y, b.keras_const(_w(layer.beta).reshape(spread), v, f"{base}/beta")], base)
    return Value(y, v.shape, v.perm, v.fperm)


def convert_affine(b, layer, xs, node):
    """Rescaling / Normalization: y = x * scale + offset."""
    v = xs[0]
    scale, offset = layer._scale_offset()
    base = layer.name
    y = b.op("Mul", [v.name, b.keras_const(scale, v, f"{base}/scale")], base)
    if np.any(offset):
        y = b.op("Add", [y, b.keras_const(offset, v, f"{base}/offset")], base)
    return [Value(y, v.shape, v.perm, v.fperm)]


def convert_time_distributed(b, layer, xs, node):
    inner = layer.layer
    if type(inner).__name__ not in ("Dense", "Activation", "Dropout", "Identity"):
        raise unsupported(layer, f"TimeDistributed({type(inner).__name__}) is not exported "
                                 "(Dense, Activation and Dropout are)")
    from ._registry import CONVERTERS   # the table imports this module
    return CONVERTERS[type(inner).__name__](b, inner, xs, node)


# -- pooling ----------------------------------------------------------------------------------

def convert_pooling(b, layer, xs, node):
    v = xs[0]
    one_d = v.rank == 3
    pool = layer.pool_size[1:] if one_d else layer.pool_size     # the 1-D layers keep (1, k)
    strides = layer.strides[1:] if one_d else layer.strides
    cf = channels_first(v.rank)
    pads = _pads(layer, v.shape[1:-1], pool, strides, (1,) * len(pool))
    x = b.in_layout(v, cf)
    if layer._max:
        y = b.op("MaxPool", [x], layer.name, kernel_shape=list(pool), strides=list(strides), pads=pads)
    else:   # padded cells are not counted, as in Keras
        y = b.op("AveragePool", [x], layer.name, kernel_shape=list(pool), strides=list(strides),
                 pads=pads, count_include_pad=0)
    return [Value(y, _out(node), cf)]


def convert_global_pooling(b, layer, xs, node):
    v = xs[0]
    if getattr(b, "masks", None):   # GlobalAveragePooling1D of a masked sequence: the real steps' mean
        from ._masks import masked_average_pool
        y = masked_average_pool(b, v, b.masks[0], layer.name)
        if layer.keepdims:
            y = b.unsqueeze(y, [1], layer.name)
        return [Value(y, _out(node))]
    spatial = [v.axis(k) for k in range(1, v.rank - 1)]
    y = b.reduce("ReduceMax" if layer._max else "ReduceMean", v.name, spatial, layer.keepdims, layer.name)
    if layer.keepdims:
        return [Value(y, _out(node), v.perm)]
    kept = [p for p in v.perm if p in (0, v.rank - 1)]       # batch and channels, in ONNX order
    return [Value(y, _out(node), (0, 1) if kept == [0, v.rank - 1] else (1, 0))]


# -- merges -----------------------------------------------------------------------------------

def _common_layout(b, xs):
    """Names of the inputs in one layout (the first's when ranks agree, else Keras' with size-1
    axes inserted after the batch axis, as Keras aligns them), and that layout's Value args."""
    ranks = {v.rank for v in xs}
    if len(ranks) == 1 and xs[0].fperm is None:
        return [b.in_layout(v, xs[0].perm) for v in xs], xs[0].perm
    rank = max(ranks)
    names = []
    for v in xs:
        x = b.plain(v)
        if v.rank < rank:
            x = b.unsqueeze(x, list(range(1, 1 + rank - v.rank)), f"{v.name}/align")
        names.append(x)
    return names, identity(rank)


def _merge(op_type, scale=None):
    def convert(b, layer, xs, node):
        names, perm = _common_layout(b, xs)
        base = layer.name
        if len(names) == 1:
            y = b.op("Identity", names, base)
        elif op_type in ("Sub",):
            y = b.op("Sub", names, base)
        elif op_type == "Mul":
            y = names[0]
            for x in names[1:]:
                y = b.op("Mul", [y, x], base)
        else:
            y = b.op(op_type, names, base)       # Sum / Mean / Max / Min take any number
        return [Value(y, _out(node), perm)]
    return convert


def convert_concatenate(b, layer, xs, node):
    rank = len(_out(node))
    if any(v.rank != rank for v in xs):
        raise unsupported(layer, "inputs of different ranks")
    names, perm = _common_layout(b, xs)
    y = b.op("Concat", names, layer.name, axis=perm.index(layer.axis % rank))
    return [Value(y, _out(node), perm)]


def _l2_normalize(b, x, axis, base):
    sq = b.reduce("ReduceSum", b.op("Mul", [x, x], base), [axis], True, base)
    norm = b.op("Sqrt", [b.op("Max", [sq, b.const(np.float32(1e-12), f"{base}/eps")], base)], base)
    return b.op("Div", [x, norm], base)


def convert_dot(b, layer, xs, node):
    (s1, s2), (a1, a2) = layer._plan([v.shape for v in xs])
    base = layer.name
    x1, x2 = b.plain(xs[0]), b.plain(xs[1])
    if layer.normalize:
        x1, x2 = _l2_normalize(b, x1, a1, base), _l2_normalize(b, x2, a2, base)
    # left as (B, M, K), right as (B, K, N), one batched MatMul (what corenn's kernel does)
    if len(s1) == 2:
        x1 = b.unsqueeze(x1, [1], base)
    elif a1 == 1:
        x1 = b.op("Transpose", [x1], base, perm=[0, 2, 1])
    if len(s2) == 2:
        x2 = b.unsqueeze(x2, [2], base)
    elif a2 == 2:
        x2 = b.op("Transpose", [x2], base, perm=[0, 2, 1])
    y = b.op("MatMul", [x1, x2], base)
    target = [0] + [int(d) for d in _out(node)[1:]]
    return [Value(b.op("Reshape", [y, b.ints(target, f"{base}/shape")], base), _out(node))]


def convert_conv_transpose(b, layer, xs, node):
    """ConvTranspose with explicit pads reproducing corenn's (Keras 3's) output length per axis:
    the full transposed conv is (H - 1)*s + ek long; when the output is shorter, the leading
    crop is the difference // 2 (TensorFlow's rule) and the rest comes off the end; when longer,
    the extra cells are zeros at the end (ONNX's output_padding)."""
    v, rank = xs[0], xs[0].rank
    cf = channels_first(rank)
    # (*K, F, Cin) -> (Cin, F, *K)
    w = np.transpose(_w(layer.kernel), (rank - 1, rank - 2) + tuple(range(rank - 2)))
    bias = _w(layer.bias) if layer.use_bias else np.zeros(w.shape[1], np.float32)
    begin, end, extra = [], [], []
    for size, length, k, s, d in zip(v.shape[1:-1], _out(node)[1:-1], layer.kernel_size, layer.strides,
                                     layer.dilation_rate):
        total = (size - 1) * s + (k - 1) * d + 1 - length
        begin.append(max(total, 0) // 2)
        end.append(max(total, 0) - max(total, 0) // 2)
        extra.append(max(-total, 0))
    base = layer.name
    y = b.op("ConvTranspose", [b.in_layout(v, cf), b.const(w, f"{base}/kernel"), b.const(bias, f"{base}/bias")],
             base, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate), pads=begin + end, output_padding=extra)
    return [_with_activation(b, layer, Value(y, _out(node), cf))]


def _masked_softmax(b, layer, scores, allowed):
    """Softmax over the last axis of ``scores`` restricted to the keys ``allowed`` (bool tensors
    that broadcast against the scores, combined with And), as corenn's masked softmax kernel:
    a blocked score becomes -1e9 (exp underflows to exactly 0 next to any allowed score), so a
    row with no allowed key is uniform over all keys, as in corenn and Keras."""
    base = layer.name
    if allowed:
        ok = allowed[0]
        for a in allowed[1:]:
            ok = b.op("And", [ok, a], base)
        scores = b.op("Where", [ok, scores, b.const(np.float32(-1e9), f"{base}/blocked")], base)
    return b.op("Softmax", [scores], base, axis=-1)


def _causal_allowed(b, layer, tq, tv):
    """Keras' causal mask on (..., Tq, Tv) scores: query step i sees value steps j <= i (a
    lower-triangular bool (Tq, Tv) constant)."""
    if tq is None or tv is None:
        raise unsupported(layer, "a causal mask needs query and value lengths known at export")
    return b.const(np.arange(tv)[None, :] <= np.arange(tq)[:, None], f"{layer.name}/causal", np.bool_)


def _mask_bool(b, mask, axes, base):
    """A Keras mask (N, T) float Value as bool with size-1 axes inserted at ``axes``."""
    return b.unsqueeze(b.op("Cast", [b.plain(mask)], base, to=b.TensorProto.BOOL), axes, base)


def _slot(b, i):
    slots = getattr(b, "mask_slots", None) or []
    return slots[i] if i < len(slots) else None


def convert_attention(b, layer, xs, node):
    """MultiHeadAttention / GroupQueryAttention (rank-3 inputs over the steps axis), decomposed:
    q = query Wq + bq as one MatMul to (N, T, H*K), viewed (N, T, H, K) and transposed to heads
    first; likewise k and v (grouped-query heads repeated H / G times, consecutive as in corenn's
    kernel); scores = q k^T / sqrt(K) by batched MatMul; an attention_mask input, the causal
    mask and Keras padding masks (query rows; value and key steps) block scores before Softmax
    (_masked_softmax: a fully masked row is uniform, as corenn's kernel makes it); ctx = P v back
    to (N, T, H*V); out = ctx Wo + bo. Dropout is inference's identity. return_attention_scores
    adds P (N, H, Tq, Tv) as the second output."""
    if layer._fold is not None:
        raise unsupported(layer, "attention over other axes than the steps of rank-3 inputs")
    has_key, has_mask, causal, scores_out = layer._options
    query, value = xs[0], xs[1]
    key = xs[2] if has_key else value
    mask = xs[2 + has_key] if has_mask else None
    base = layer.name
    h, kd, vd = layer.num_heads, layer.key_dim, layer.value_dim
    g = layer.key_kernel.shape[1]
    tq, tv = query.shape[1], value.shape[1]

    def heads(v, kernel, bias, n_heads, width, name):
        """(N, T, D) -> (N, n_heads, T, width): the projection, then heads first."""
        d = kernel.shape[0]
        y = b.op("MatMul", [b.plain(v), b.const(_w(kernel).reshape(d, n_heads * width), f"{base}/{name}/kernel")],
                 base)
        if bias is not None:
            y = b.op("Add", [y, b.const(_w(bias).reshape(n_heads * width), f"{base}/{name}/bias")], base)
        y = b.op("Reshape", [y, b.ints([0, 0, n_heads, width], f"{base}/{name}/heads")], base)
        y = b.op("Transpose", [y], base, perm=[0, 2, 1, 3])
        if n_heads != h:   # grouped-query: each key / value head serves h // n_heads query heads in a row
            r = h // n_heads
            y = b.op("Reshape", [b.op("Tile", [b.unsqueeze(y, [2], base), b.ints([1, 1, r, 1, 1], f"{base}/{name}/r")],
                                       base), b.ints([0, h, -1, width], f"{base}/{name}/shared")], base)
        return y

    q = heads(query, layer.query_kernel, layer.query_bias, h, kd, "query")
    k = heads(key, layer.key_kernel, layer.key_bias, g, kd, "key")
    v = heads(value, layer.value_kernel, layer.value_bias, g, vd, "value")
    scores = b.op("MatMul", [q, b.op("Transpose", [k], base, perm=[0, 1, 3, 2])], base)
    scores = b.op("Mul", [scores, b.const(np.float32(1.0 / np.sqrt(kd)), f"{base}/scale")], base)
    allowed = []
    if causal:
        allowed.append(_causal_allowed(b, layer, tq, tv))
    if mask is not None:   # (N, Tq, Tv) (or broadcasting): nonzero = attend, for every head;
        # (N, H or 1, Tq, Tv): one per head, already the scores' rank
        allowed_mask = b.op("Cast", [b.plain(mask)], base, to=b.TensorProto.BOOL)
        allowed.append(allowed_mask if mask.rank == 4 else b.unsqueeze(allowed_mask, [1], base))
    # Keras padding masks (Embedding(mask_zero=True), Masking): query rows, value and key steps
    qm, vm, km = _slot(b, 0), _slot(b, 1), _slot(b, 2) if has_key else None
    if qm is not None:
        allowed.append(_mask_bool(b, qm, [1, 3], f"{base}/query_mask"))
    for m, what in ((vm, "value_mask"), (km, "key_mask")):
        if m is not None:
            allowed.append(_mask_bool(b, m, [1, 2], f"{base}/{what}"))
    probs = _masked_softmax(b, layer, scores, allowed)
    ctx = b.op("Transpose", [b.op("MatMul", [probs, v], base)], base, perm=[0, 2, 1, 3])
    ctx = b.op("Reshape", [ctx, b.ints([0, 0, h * vd], f"{base}/merge")], base)
    do = layer.output_kernel.shape[-1]
    y = b.op("MatMul", [ctx, b.const(_w(layer.output_kernel).reshape(h * vd, do), f"{base}/output/kernel")], base)
    if layer.output_bias is not None:
        y = b.op("Add", [y, b.const(_w(layer.output_bias), f"{base}/output/bias")], base)
    outs = [Value(y, _out(node))]
    if scores_out:
        outs.append(Value(probs, _out(node, 1)))
    return outs


def convert_spectral_norm(b, layer, xs, node):
    """SpectralNormalization at inference: the wrapped layer on its kernel as it stands (the
    rescaling is a training-time assignment, in Keras as in corenn)."""
    from ._registry import CONVERTERS
    inner = layer.layer
    convert = CONVERTERS.get(type(inner).__name__)
    if convert is None:
        raise unsupported(layer, f"the wrapped {type(inner).__name__} has no ONNX converter")
    return convert(b, inner, xs, node)


def convert_resizing(b, layer, xs, node):
    """Resizing (bilinear / nearest, no aspect-ratio crop or pad): ONNX Resize on the NCHW
    tensor, half-pixel centres as corenn's (TensorFlow's) resize: bilinear is Resize linear with
    coordinate_transformation_mode half_pixel; nearest takes floor((o + 0.5) * in / out), which is
    Resize nearest with half_pixel and nearest_mode round_prefer_ceil."""
    if layer.crop_to_aspect_ratio or layer.pad_to_aspect_ratio:
        raise unsupported(layer, "crop_to_aspect_ratio / pad_to_aspect_ratio")
    if layer.interpolation not in ("bilinear", "nearest"):
        raise unsupported(layer, f"interpolation {layer.interpolation!r} (bilinear and nearest are exported)")
    v = xs[0]
    if v.rank != 4:
        raise unsupported(layer, f"a rank-{v.rank} input (images (N, H, W, C) are exported)")
    base = layer.name
    x = b.in_layout(v, channels_first(4))
    out = _out(node)
    sizes = b.op("Concat", [b.op("Slice", [b.op("Shape", [x], base), b.ints([0], f"{base}/s0"),
                                           b.ints([2], f"{base}/s1")], base),
                            b.ints([out[1], out[2]], f"{base}/hw")], base, axis=0)
    if layer.interpolation == "bilinear":
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    else:
        # floor((o + 0.5) s) == round_prefer_ceil((o + 0.5) s - 0.5): half_pixel's source coordinate
        attrs = dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    y = b.op("Resize", [x, "", "", sizes], base, **attrs)
    return [Value(y, out, channels_first(4))]


def convert_dot_attention(b, layer, xs, node):
    """Attention (score_mode dot / concat) and AdditiveAttention on [query, value(, key)], with
    Keras' padding masks as corenn reads them (value mask on the keys, query mask multiplied into
    the output): scores = q k^T (times the learned scalar
    with use_scale); concat: concat_score_weight * sum_d tanh(scale (q + k)); additive:
    sum_d scale[d] tanh(q + k); the causal mask as -1e9 before Softmax; out = P value, and P as
    the second output with return_attention_scores. Dropout is inference's identity."""
    causal, scores_out = layer._options or (False, False)
    base = layer.name
    q, v = b.plain(xs[0]), b.plain(xs[1])
    k = b.plain(xs[2]) if len(xs) > 2 else v
    tq, tv = xs[0].shape[1], xs[1].shape[1]
    if layer.score_mode == "dot":
        scores = b.op("MatMul", [q, b.op("Transpose", [k], base, perm=[0, 2, 1])], base)
        if layer.use_scale:
            scores = b.op("Mul", [scores, b.const(_w(layer.scale).reshape(()), f"{base}/scale")], base)
    else:
        pair = b.op("Add", [b.unsqueeze(q, [2], base), b.unsqueeze(k, [1], base)], base)   # (N, Tq, Tv, D)
        if layer.score_mode == "concat":
            if layer.use_scale:
                pair = b.op("Mul", [pair, b.const(_w(layer.scale).reshape(()), f"{base}/scale")], base)
            scores = b.reduce("ReduceSum", b.op("Tanh", [pair], base), [3], False, base)
            scores = b.op("Mul", [scores, b.const(_w(layer.concat_score_weight).reshape(()), f"{base}/weight")],
                          base)
        else:   # additive
            d = xs[0].shape[-1]
            scale = _w(layer.scale).reshape(d) if layer.use_scale else np.ones(d, np.float32)
            scores = b.reduce("ReduceSum", b.op("Mul", [b.op("Tanh", [pair], base), b.const(scale, f"{base}/scale")],
                                                base), [3], False, base)
    allowed = [_causal_allowed(b, layer, tq, tv)] if causal else []
    qm, vm = _slot(b, 0), _slot(b, 1)   # Keras padding masks: value steps as keys; query rows after
    if vm is not None:
        allowed.append(_mask_bool(b, vm, [1], f"{base}/value_mask"))
    probs = _masked_softmax(b, layer, scores, allowed)
    y = b.op("MatMul", [probs, v], base)
    if qm is not None:   # a masked query step gives 0 (its returned scores are not zeroed)
        y = b.op("Mul", [y, b.unsqueeze(b.plain(qm), [2], f"{base}/query_mask")], base)
    outs = [Value(y, _out(node))]
    if scores_out:
        outs.append(Value(probs, _out(node, 1)))
    return outs
