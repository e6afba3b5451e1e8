"""Core layers: Dense, Activation, Flatten, Reshape, Dropout, Identity, Masking, Lambda.

Shape legend: N batch, D input features (last axis), U units. A leading "..." means any number
of extra axes, which Dense treats as more rows (it applies to the last axis, as in Keras).
"""
from __future__ import annotations

import math

import numpy as np

from .. import activations as _activations
from .. import constraints, initializers, kernels, regularizers
from ._channels_first import ChannelsFirst, data_format_arg
from .base import ASSIGNED_WEIGHT_LAYERS, ActivatedLayer, Layer, activation_flops, sample_size, shape_str, user_mask
from .lora import LoRA
from .quantization import Int8Quantizable, abs_max_quantize, dequantize, int4_quantize, int8_values

__all__ = ["Dense", "Activation", "Flatten", "Reshape", "Dropout", "Identity", "Masking", "Lambda"]


class _WeightSlot:
    """Dense's ``kernel`` / ``bias``: reads are plain instance-dict lookups (a descriptor with
    ``__set__`` and no ``__get__`` yields to the instance dict), writes note whether the value is
    a tensor the layer does not own (the "Introduction to Keras for researchers" hypernetwork
    assigns another model's predictions): such layers go in ASSIGNED_WEIGHT_LAYERS."""

    def __set_name__(self, owner, name):
        self.name = name

    def __set__(self, layer, value):
        d = layer.__dict__
        d[self.name] = value
        params = d.get("_params")
        if params is None:
            return
        if any(t is not None and not any(t is p.value for p in params) for t in (d.get("kernel"), d.get("bias"))):
            ASSIGNED_WEIGHT_LAYERS.add(layer)
        else:
            ASSIGNED_WEIGHT_LAYERS.discard(layer)


class Dense(Int8Quantizable, LoRA, ActivatedLayer):
    scalar_input = "refuse"  # Keras raises
    supports_masking = True  # on a sequence (N, T, D) the steps' mask passes through (Keras)

    """Fully connected layer: y = act(x @ W + b).

    Math (x is (..., D), W (D, U), b (U,)):
        forward   z = x W + b, y = act(z)          one GEMM, bias (and relu) in its epilogue
        backward  dz = dy * act'(z)                (relu: from y, since y > 0 <=> z > 0)
                  dW = x^T dz,  db = sum_rows dz,  dx = dz W^T
    int8 (after ``quantize("int8")``, layers/quantization.py): W is the int8 kernel q (an int8
        weight), s its per-column scale; z = (q(x) W) / (s_x s) + b with x's rows quantized at
        call time (kernels.quantized_matmul), dx = dz (W / s)^T, W not trained.

    Args:
        units: U, the output size.
        activation: name or corenn.activations function (None: linear).
        use_bias: add b.
        kernel_initializer / bias_initializer: see corenn.initializers.
        kernel_regularizer / bias_regularizer: see corenn.regularizers.
        lora_rank, lora_alpha: LoRA (layers/lora.py): the kernel frozen, W + (alpha / rank) A @ B
            learned instead; also ``enable_lora(rank)`` on a built layer.
        quantization_config: None (Keras' default int8 quantizers). ``quantize("int8")`` converts a
            built layer to int8 (layers/quantization.py): weights [kernel, bias, kernel_scale].
    """

    kernel = _WeightSlot()
    bias = _WeightSlot()

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        policy = self._pop_quantized_dtype(kwargs, quantization_config)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_quantized_dtype(policy)
        if policy is not None and (type(self) is not Dense or lora_rank):
            raise ValueError(f"{type(self).__name__} '{self.name}': a quantized dtype policy is supported on Dense "
                             "without LoRA only")
        if isinstance(units, (np.ndarray, kernels.Tensor)) and np.ndim(units) == 0 and \
                np.asarray(units).dtype.kind in "iu":
            units = int(np.asarray(units))   # tf.math.reduce_prod(shape).numpy(): a 0-d integer array
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense '{self.name}': units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)   # applied by the optimizer
        self.bias_constraint = constraints.get(bias_constraint)
        # relu and linear ride in the GEMM epilogue; others need their own pass over z
        self._fused = self.activation.name in ("linear", "relu")
        self.kernel = self.bias = None
        self._lora_args(lora_rank, lora_alpha)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        # Keras reads only the last axis: build((10,)) (the quantization guide's layer.build(
        # input_shape)) makes a (10, units) kernel, as build((None, 10)) does
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}' needs inputs of shape (..., features) with a "
                             f"known last axis, got {shape_str(input_shape)}")
        if self._quantized is None:
            self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                          self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        if self._quantized == "int4":   # read back: zeros until its weights are loaded
            self._set_int4_params(self._int4_params("kernel", shape=(input_shape[-1], self.units)))
        elif self._quantized is not None:
            # the int8 form (a quantized layer read back): zeros until its weights are loaded;
            # after the bias, Keras 3's order ([bias, kernel, kernel_scale])
            self._params.append(self._frozen_weight("kernel", np.zeros((input_shape[-1], self.units)), int8=True))
            self.kernel = self._params[-1].value
            self._params.append(self._frozen_weight("kernel_scale", np.ones(self.units)))
            self.kernel_scale = self._params[-1].value
        # built from (features,): the layer still takes (batch, ..., features), Keras' min_ndim=2
        super().build(input_shape if len(input_shape) > 1 else (None,) + input_shape)
        self._lora_build()

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        shape = x.shape
        out_shape = shape[:-1] + (self.units,)
        z = self._buffer("z", out_shape)
        x2 = x if len(shape) == 2 else kernels._reshape(x, [-1, shape[-1]])
        z2 = z if len(shape) == 2 else kernels._reshape(z, [-1, self.units])
        act = "relu" if self.activation.name == "relu" else "none"
        if self._quantized == "int4":
            # weight-only int4 (Keras 3.15): the float product with the dequantized kernel, which
            # this call keeps for its backward
            w = self._buffer("dequantized", (shape[-1], self.units))
            np.copyto(np.asarray(w), self._int4_matrix_values("kernel"))
            self._w4 = w
            kernels._gemm(x2, w, z2, False, False, 1.0, 0.0, self.bias, act, False)
        elif self._quantized is not None and "_custom_quantizers" in self.__dict__:
            self._custom_int8_forward(x2, z2, act)
        elif self._quantized is not None:
            # int8 x int8 -> int32 product of the row-quantized x and the int8 kernel, dequantized
            # with the bias and relu in the same pass (layers/quantization.py).
            # keep: the kernel's int8 form is kept on it while its write version stands
            kernels.quantized_matmul(x2, self.kernel, self.kernel_scale, self.bias, out=z2, keep=True,
                                     relu=act == "relu")
        elif self.lora_enabled:
            self._lora_factored_forward(x2, z2, act)
        else:
            # the bound GEMM entry (kernels._gemm): x, the weights and z are Tensors already, and
            # the C++ entry checks their shapes against each other. keep_b_packed: the kernel's packed
            # panels are kept on it while its write version stands (predict packs it once; a
            # training step, which changes it, never packs into the cache)
            kernels._gemm(x2, self.kernel, z2, False, False, 1.0, 0.0, self.bias, act, True)
        return self._activate(x, z, out_shape)

    def _assigned_weights(self):
        return self in ASSIGNED_WEIGHT_LAYERS and not self.lora_enabled

    def _call_with_assigned_weights(self, x):
        """act(x @ kernel + bias) in differentiable ops, so a GradientTape carries the loss into
        whatever computed the assigned tensors (the fused kernel writes gradients only into the
        layer's own weights)."""
        from .. import ops
        k = self.kernel
        if tuple(k.shape) != (x.shape[-1], self.units):
            raise ValueError(f"Dense '{self.name}': the kernel assigned to it has shape {tuple(k.shape)}, "
                             f"but inputs of shape {tuple(x.shape)} need ({x.shape[-1]}, {self.units})")
        z = ops.matmul(x, k)
        if self.use_bias and self.bias is not None:
            z = ops.add(z, self.bias)
        return self.activation(z)

    def flops(self, input_shape):
        """2*D*U per row (multiply-adds), + U for the bias, + the activation."""
        rows = sample_size(input_shape) // input_shape[-1]
        out = rows * self.units
        return 2 * rows * input_shape[-1] * self.units + (out if self.use_bias else 0) \
            + activation_flops(self.activation, out)

    def backward_from_preactivation(self, dz):
        """backward given dL/dz directly (the model fuses softmax/sigmoid into the loss)."""
        x = self._x
        flat = x.ndim == 2
        dz2 = dz if flat else kernels._reshape(dz, [-1, self.units])
        if self._quantized is not None:
            return self._quantized_backward(x, dz2, flat)
        if self.lora_enabled:
            rows = (lambda t: t) if flat else (lambda t: kernels._reshape(t, [-1, x.shape[-1]]))
            dx = self._buffer("dx", x.shape) if self.needs_input_grad else None
            self._lora_factored_backward(rows(x), dz2, None if dx is None else rows(dx))
            return dx
        if self.trainable:
            grads = self.gradients
            kernels._gemm(x if flat else kernels._reshape(x, [-1, x.shape[-1]]), dz2, grads[0], True, False,
                          1.0, 0.0, None, "none")
            if self.use_bias:
                kernels._bias_grad(dz2, grads[1])
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", x.shape)
        kernels._gemm(dz2, self.kernel, dx if flat else kernels._reshape(dx, [-1, x.shape[-1]]), False, True,
                      1.0, 0.0, None, "none")
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=_activations.serialize(self.activation),
                   use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   kernel_constraint=constraints.serialize(self.kernel_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint))
        return self._quantized_config(self._lora_config(cfg))

    # -- int8 (layers/quantization.py) --------------------------------------------------------

    def _quantize_int8(self, weight_quantizer=None):
        """kernel -> int8 values per output column (axis 0) and kernel_scale (U,); frozen. A
        config's ``weight_quantizer`` (Keras calls it with the kernel and to_numpy=True; its
        own axis, 0 for Keras' per-column scale) gives (q, scale) instead."""
        if weight_quantizer is None:
            q, scale = abs_max_quantize(self.kernel._copy_array(), axis=0)
        else:
            q, scale = self._custom_weight_quantize(weight_quantizer, (self.units,))
        kp, sp = self._frozen_weight("kernel", q, int8=True), self._frozen_weight("kernel_scale", scale[0])
        # Keras 3 makes the int8 kernel again after the bias: weights [bias, kernel, kernel_scale]
        self._params = [p for p in self._params if p.value is not self.kernel] + [kp, sp]
        self.kernel, self.kernel_scale = kp.value, sp.value

    def _custom_weight_quantize(self, quantizer, scale_shape):
        """(q, scale (1, U)) of the float kernel by a config's weight quantizer, as NumPy: q
        whole numbers (checked when stored as int8), scale float32 broadcasting to (1, U)."""
        q, scale = quantizer(self.kernel, to_numpy=True)
        q = np.asarray(q.numpy() if hasattr(q, "numpy") else q)
        scale = np.asarray(scale.numpy() if hasattr(scale, "numpy") else scale, np.float32)
        if q.shape != tuple(self.kernel.shape) or scale.size != int(np.prod(scale_shape)):
            raise ValueError(f"Dense '{self.name}': the weight quantizer {type(quantizer).__name__} gave values of "
                             f"shape {q.shape} and a scale of shape {scale.shape}; the kernel is "
                             f"{tuple(self.kernel.shape)} and needs one scale per output column {scale_shape}")
        return q, scale.reshape(1, -1)

    def _quantize_int4(self, weight_quantizer=None):
        """kernel (D, U) -> int4 per output column (module docstring of layers/quantization.py):
        packed kernel (D, ceil(U / 2)), kernel_scale, and per group kernel_zero and g_idx. A
        per-channel config's ``weight_quantizer`` gives (q, scale) instead."""
        if weight_quantizer is not None:
            q, scale = self._custom_weight_quantize(weight_quantizer, (self.units,))
            q, scale, zero = int8_values(q, f"Dense '{self.name}': int4 kernel"), scale[0], None
            if q.min(initial=0) < -8 or q.max(initial=0) > 7:
                raise ValueError(f"Dense '{self.name}': the int4 weight quantizer gave values outside -8..7")
        else:
            q, scale, zero = int4_quantize(self.kernel._copy_array(), self._int4_block)
        self._params = [p for p in self._params if p.value is not self.kernel]
        self._set_int4_params(self._int4_params("kernel", q, scale, zero))

    def _custom_int8_forward(self, x2, z2, act):
        """int8 with a config's quantizers (Keras 3's _int8_call): the inputs quantizer's
        (q_x, s_x) per row (none: x itself, s_x 1), z = (q_x W) / (s s_x) + b in float32, the
        integer product exact (NumPy: a config's quantizer is Python code, not the fused kernel); relu here when the caller fused it. The backward is the default
        one (dx = dz (W / s)^T, Keras' custom gradient)."""
        w = self.kernel._copy_array().astype(np.int32 if self.inputs_quantizer is not None else np.float32)
        scale = self.kernel_scale._copy_array()
        if self.inputs_quantizer is None:   # Keras' order: the product, then the division
            z = (np.asarray(x2, np.float32) @ w) / scale
        else:
            qx, sx = self.inputs_quantizer(x2, axis=-1)
            qx = np.asarray(qx.numpy() if hasattr(qx, "numpy") else qx)
            sx = np.asarray(sx.numpy() if hasattr(sx, "numpy") else sx, np.float32)
            if qx.dtype.kind in "iu":
                acc = (qx.astype(np.int64) @ w.astype(np.int64)).astype(np.float32)
            else:
                acc = qx.astype(np.float32) @ w.astype(np.float32)
            z = acc / (scale * sx)
        if self.use_bias:
            z = z + self.bias._copy_array()
        if act == "relu":
            z = np.maximum(z, 0)
        np.asarray(z2)[...] = z

    def _quantized_backward(self, x, dz2, flat):
        """Keras' custom gradient of the int8 / int4 product: dx = dz W'^T with W' the
        dequantized kernel (q / s; int4: the one the forward used); the bias learns, the
        quantized kernel does not."""
        if self.trainable and self.use_bias:
            kernels._bias_grad(dz2, self.gradients[0])
        if not self.needs_input_grad:
            return None
        w = self._w4 if self._quantized == "int4" else dequantize(
            self.kernel, self.kernel_scale, self._buffer("dequantized", tuple(self.kernel.shape)))
        dx = self._buffer("dx", x.shape)
        kernels._gemm(dz2, w, dx if flat else kernels._reshape(dx, [-1, x.shape[-1]]), False, True,
                      1.0, 0.0, None, "none")
        return dx


Dense._quantizes = Dense   # Keras quantizes Dense itself, not its subclasses
Dense._takes_custom_quantizers = True   # a QuantizationConfig's own quantizers (corenn: Dense only)


_AXIS_ACTIVATIONS = ("softmax", "log_softmax", "glu", "sparsemax")


class Activation(Layer):
    """Applies an activation elementwise (softmax/log_softmax: over the last axis; 'glu' halves
    the last axis: y = a * sigmoid(b) of its two halves, differentiated by the tape).

    forward y = f(x); backward dx = dy * f'(x) (the kernel uses x or y, whichever is cheaper).

    Args:
        activation: a name ('relu', 'softmax', ...) or a corenn.activations function.
    """

    supports_masking = True
    accepts_any_shape = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations.get(activation)

    @property
    def scalar_input(self):
        """A 0-d input: elementwise activations give a 0-d output (Keras 3); those over an axis
        (softmax, log_softmax: Keras' TensorFlow backend raises; glu, sparsemax: both raise)
        refuse it by name."""
        return "refuse" if self.activation.name in _AXIS_ACTIVATIONS else "batch"

    def forward(self, x, training=False):
        y = self.activation.forward(x, self._buffer("y", self.activation.output_shape(tuple(x.shape))))
        self._x, self._y = x, y
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return self.activation.backward(self._x, self._y, dy, self._buffer("dx", self._x.shape))

    def compute_output_shape(self, input_shape):
        # 'glu' halves its axis; the rest keep the shape
        return self.activation.output_shape(tuple(input_shape))

    def flops(self, input_shape):
        return activation_flops(self.activation, sample_size(input_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = _activations.serialize(self.activation)
        return cfg


def _resolve_target(name, in_features, target):
    """Fill in one -1 of ``target`` so its product matches ``in_features`` elements."""
    target = tuple(int(d) for d in target)
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1 or any(d == 0 or d < -1 for d in target):
        raise ValueError(f"Reshape '{name}': target_shape may hold one -1 and positive sizes, got {target}")
    known = math.prod(d for d in target if d != -1)
    if in_features is None:
        return target
    if unknown:
        if in_features % known:
            raise ValueError(f"Reshape '{name}': cannot reshape {in_features} features into {target}")
        target = tuple(in_features // known if d == -1 else d for d in target)
    elif known != in_features:
        raise ValueError(f"Reshape '{name}': input has {in_features} features per sample, target_shape "
                         f"{target} has {known}")
    return target


class Flatten(ChannelsFirst, Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), a zero-copy view (gradient: the inverse view).

    data_format='channels_first' is Keras': the input (N, C, *S) is first moved to (N, *S, C)
    (ChannelsFirst's transpose), so the features come in the order a channels-last model's Flatten
    gives (that is what the argument is for: porting weights between layouts). The default
    (channels_last) is a plain reshape: an NCHW tensor flattens in C, H, W order."""

    scalar_input = "refuse"  # Keras raises

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(self, data_format)

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def forward(self, x, training=False):
        self._in_shape = list(x.shape)
        return x if x.ndim == 2 else kernels._reshape(x, [x.shape[0], -1])

    def backward(self, dy):
        return kernels._reshape(dy, self._in_shape) if self.needs_input_grad else None


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape), a zero-copy view; one entry of target_shape may be -1."""

    scalar_input = "refuse"  # Keras raises

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = _resolve_target(self.name, None, target_shape)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        features = None if any(d is None for d in rest) else math.prod(rest)
        target = _resolve_target(self.name, features, self.target_shape)
        # an input of unknown size (a spectrogram of any length): Keras' output shape holds None
        # where the target has -1 (a -1 is no size: Conv2D after Reshape((-1, F, 1)) needs None)
        return (input_shape[0],) + tuple(None if d == -1 else d for d in target)

    def forward(self, x, training=False):
        self._in_shape = list(x.shape)
        return x.reshape([x.shape[0], *self.target_shape])

    def backward(self, dy):
        return dy.reshape(self._in_shape) if self.needs_input_grad else None

    def get_config(self):
        cfg = super().get_config()
        cfg["target_shape"] = self.target_shape
        return cfg


def check_noise_shape(layer, noise_shape):
    """Keras' noise_shape argument: None, or a tuple of positive ints and Nones (one per input axis)."""
    if noise_shape is None:
        return None
    dims = list(noise_shape) if isinstance(noise_shape, (list, tuple)) else None
    if dims is None or any(d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))
                                              or d <= 0) for d in dims):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': noise_shape must be a tuple of positive "
                         f"ints or None entries, got {noise_shape!r}")
    return tuple(None if d is None else int(d) for d in dims)


def resolve_noise_shape(layer, noise_shape, x_shape):
    """The concrete shape of the mask for inputs of ``x_shape`` (Keras 3: a None entry takes the
    input's size there); each entry must be 1 or the input's size, so the mask broadcasts."""
    x_shape = tuple(int(d) for d in x_shape)
    if len(noise_shape) != len(x_shape):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': noise_shape {noise_shape} needs one entry "
                         f"per input axis, got inputs of shape {x_shape}")
    shape = tuple(x if d is None else d for d, x in zip(noise_shape, x_shape))
    if any(d not in (1, x) for d, x in zip(shape, x_shape)):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': noise_shape {noise_shape} does not "
                         f"broadcast to inputs of shape {x_shape} (each entry must be 1, the input's "
                         f"size or None)")
    return shape


class Dropout(Layer):
    """Inverted dropout, active only in training.

    forward  mask_i = [u_i >= rate] / (1 - rate), y = x * mask   (u_i uniform, counter-based)
    backward dx = dy * mask
    With ``noise_shape`` (e.g. (None, 1, C): one draw per sample and channel, shared by all
    steps; (None, 1, 1, 1): drop whole samples, DropPath) the mask is drawn at that shape by
    the same counter-based C++ kernel and broadcast over x by the broadcasting multiply
    kernel (binary_forward); the backward multiplies dy by the same broadcast mask.

    Each training step draws a new stream seed: from the run-wide generator
    (``corenn.utils.random.next_seed``) or, when ``seed`` is given, from a generator of its own.

    Args:
        rate: fraction of inputs dropped, in [0, 1).
        noise_shape: None (one draw per element) or the mask's shape, one entry per input axis,
            each 1 (shared along that axis), the axis' size, or None (the input's size there).
        seed: fixes this layer's masks independently of the global seed.
    """

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    supports_masking = True
    accepts_any_shape = True   # Keras' Dropout has no input spec (without a noise_shape)

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout '{self.name}': rate must be in [0, 1), got {rate!r}")
        self.noise_shape = check_noise_shape(self, noise_shape)
        if self.noise_shape is not None:
            self.accepts_any_shape = False
        self.rate = float(rate)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._active = False

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def forward(self, x, training=False):
        self._active = bool(training) and self.rate > 0.0
        if not self._active:
            return x
        shape = tuple(x.shape) if self.noise_shape is None else \
            resolve_noise_shape(self, self.noise_shape, x.shape)
        if shape == tuple(x.shape):
            self._broadcast = False
            y, self._mask = kernels.dropout_forward(x, self.rate, self._next_seed(),
                                                    out=self._buffer("y", x.shape),
                                                    mask=self._buffer("mask", x.shape))
            return y
        # a mask of the noise shape (the kernel's y on ones is the mask), broadcast over x
        self._broadcast = True
        ones = self._buffer("ones", shape)
        ones.fill_(1.0)
        _, self._mask = kernels.dropout_forward(ones, self.rate, self._next_seed(),
                                                out=self._buffer("small_y", shape),
                                                mask=self._buffer("small_mask", shape))
        return kernels.binary_forward("multiply", x, self._mask, out=self._buffer("y", x.shape))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        if self._broadcast:
            return kernels.binary_forward("multiply", dy, self._mask, out=self._buffer("dx", dy.shape))
        return kernels.dropout_backward(dy, self._mask, out=self._buffer("dx", dy.shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, noise_shape=None if self.noise_shape is None else list(self.noise_shape),
                   seed=self.seed)
        return cfg


class Identity(Layer):
    """y = x (no copy); backward dx = dy. A placeholder layer, as in Keras."""

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    supports_masking = True

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy if self.needs_input_grad else None


class Masking(Layer):
    """Masks the timesteps whose features all equal ``mask_value`` (Keras).

    x (N, T, F): mask[n, t] = any_f(x[n, t, f] != mask_value) (float32 1 / 0), y = x * mask
    (masked steps become 0), backward dx = dy * mask. The mask goes on to the next layers
    (RNNs skip those steps; GlobalAveragePooling1D and MultiHeadAttention leave them out).
    x (N, F), as Keras 3 takes it: the same over the last axis, one flag per sample (mask (N,):
    a sample whose features all equal mask_value becomes 0, and a loss on an output that
    carries the mask leaves it out). Inputs of rank > 3 reduce over every axis after T (one
    flag per step, what the RNN and ConvLSTM layers read; Keras reduces over the last only).
    """

    scalar_input = "refuse"  # Keras' TensorFlow backend raises (no feature axis)

    produces_mask = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"Masking '{self.name}' needs inputs of shape (batch, features) or (batch, "
                             f"timesteps, features, ...), got {shape_str(input_shape)}")
        super().build(input_shape)

    @staticmethod
    def _kept(ndim):
        """How many leading axes the mask keeps: the batch, and the steps when there are any."""
        return 1 if ndim == 2 else 2

    def compute_mask(self, inputs, mask=None):
        """The mask of data ``inputs`` (a Tensor or array (N, T, ...) or (N, F)): bool (N, T) or
        (N,), as Keras."""
        x = np.asarray(inputs)
        return user_mask(np.any(x != self.mask_value, axis=tuple(range(self._kept(x.ndim), x.ndim))))

    def output_mask_value(self):
        return self._mask

    def forward(self, x, training=False):
        kept = self._kept(x.ndim)
        lead = list(x.shape[:kept])
        mask = self._buffer("mask", lead)
        # bookkeeping on N*T flags; the multiply is a kernel
        np.copyto(np.asarray(mask), np.any(np.asarray(x) != self.mask_value, axis=tuple(range(kept, x.ndim))))
        self._mask = mask
        self._mask_b = mask.reshape(lead + [1] * (x.ndim - kept))
        return kernels.binary_forward("multiply", x, self._mask_b, out=self._buffer("y", x.shape))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.binary_forward("multiply", dy, self._mask_b, out=self._buffer("dx", dy.shape))

    def get_config(self):
        cfg = super().get_config()
        cfg["mask_value"] = self.mask_value
        return cfg


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``layers.Lambda(lambda x: ops.square(x))``.

    The function is written with corenn.ops (or Tensor operators) and runs as the layer's call,
    so its gradient comes from the tape's rules of those ops, in both APIs. Its output shape is
    ``output_shape`` when given (a tuple without the batch axis, or a function of the input
    shape), else found by running the function once on a batch of one.

    A Lambda holds Python code, which corenn never writes into or runs from a model file (loading
    it would execute the file's code): ``model.save`` refuses a model that contains one, naming
    it; write a Layer subclass registered with ``saving.register_keras_serializable`` instead.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': function must be callable, got {type(function).__name__}")
        if mask is not None:
            raise NotImplementedError(f"Lambda '{self.name}': the mask argument is not supported")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape

    def call(self, inputs, training=None):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        if self._output_shape is not None:
            shape = self._output_shape(input_shape) if callable(self._output_shape) else self._output_shape
            shape = tuple(shape)
            batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
            return shape if len(shape) and shape[0] is None and len(shape) > 1 else (batch,) + shape
        if isinstance(input_shape, list):
            xs = [kernels.zeros((1,) + tuple(1 if d is None else d for d in s[1:])) for s in input_shape]
            from ..autodiff import stop_recording
            with stop_recording():
                y = self.call(xs)
            return (input_shape[0][0],) + tuple(y.shape[1:])
        return super().compute_output_shape(input_shape)

    def get_config(self):
        raise NotImplementedError(
            f"Lambda layer '{self.name}' holds Python code ({getattr(self.function, '__name__', 'a function')}), "
            "which corenn does not save: loading it would execute code from a file. Write the computation "
            "as a Layer subclass with call() and register it with "
            "corenn.saving.register_keras_serializable(), or save the weights with save_weights")

    @classmethod
    def from_config(cls, config):
        raise ValueError("a Lambda layer is refused: its function would be Python code read from a file, "
                         "and corenn never runs code from a file; rebuild the model in Python, or register "
                         "a Layer subclass with corenn.saving.register_keras_serializable()")
