"""EinsumDense: a dense layer whose product is an einsum equation (Keras 3 semantics).

``EinsumDense("abc,cde->abde", output_shape=(None, H, D), bias_axes="de")`` multiplies the input
by a kernel along the labels the equation contracts. The equation has one of Keras' three
forms: ``X,Y->Z``, ``...X,Y->...Z`` (leading axes elided: batch and any sequence axes) or
``X...,Y->Z...`` (trailing axes elided); ``output_shape`` is the output without the batch axis
and without the elided axes (None where the input fixes the size).

Math. With the elided axes given labels of their own, every label of the input I, kernel W and
output O is one of
    B  in I, W and O      (a batch of independent products)
    M  in I and O only    (rows)
    K  in I and W only    (contracted)
    N  in W and O only    (columns)
so the layer is a (batched) GEMM between transposed views:
    x' = transpose(x) (B, M, K),  W' = transpose(W) (B, K, N)
    z = transpose(x' W') + bias,  y = act(z)
    dW' = x'^T dz',  dx' = dz' W'^T,  db = sum of dz over the axes the bias is broadcast along
Each transpose is skipped when it is the identity (Keras' documented equations and
MultiHeadAttention's projections need none), the GEMM is corenn's gemm (no B) or
batched_matmul, and a bias over exactly the N axes (with no B) rides in the GEMM's epilogue, as
Dense's does. A label only in the input (a sum over an input axis) and repeated labels are
refused by name.
"""
from __future__ import annotations

import math
import re
import string

import numpy as np

from .. import activations as _activations
from .. import constraints, initializers, kernels, regularizers
from .base import ActivatedLayer, activation_flops, shape_str
from .lora import LoRA
from .quantization import Int8Quantizable, abs_max_quantize, dequantize, int4_quantize

__all__ = ["EinsumDense"]

# Keras' three forms; the third needs two input labels (the batch and one more)
_FORMS = ((re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), None),
          (re.compile(r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)"), "left"),
          (re.compile(r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\."), "right"))


def _split_equation(layer, equation):
    """(input spec, kernel spec, output spec, elided side None | 'left' | 'right')."""
    if not isinstance(equation, str):
        raise TypeError(f"EinsumDense '{layer.name}': equation must be a string, got {type(equation).__name__}")
    compact = equation.replace(" ", "")
    for pattern, side in _FORMS:
        found = pattern.fullmatch(compact)
        if found is None:
            continue
        for what, spec in zip(("input", "kernel", "output"), found.groups()):
            if len(set(spec)) != len(spec):
                raise ValueError(f"EinsumDense '{layer.name}': the {what} spec {spec!r} of {equation!r} "
                                 f"repeats a label (diagonals are not supported)")
        return found.groups() + (side,)
    raise ValueError(f"EinsumDense '{layer.name}': invalid einsum equation {equation!r}; equations must "
                     f"be in the form [X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...")


class _Plan:
    """The equation resolved for inputs of one rank: full label lists and the permutations."""

    def __init__(self, layer, rank):
        in_spec, w_spec, out_spec, side = layer._specs
        elided = rank - len(in_spec)
        if elided < 0 or (side is None and elided) or (side == "left" and elided < 1):
            form = {None: f"rank {len(in_spec)}", "left": f"rank > {len(in_spec)} (the ellipsis covers "
                    f"the batch axis)", "right": f"rank >= {len(in_spec)}"}[side]
            raise ValueError(f"EinsumDense '{layer.name}': equation {layer.equation!r} needs inputs of "
                             f"{form}, got rank {rank}")
        used = set(in_spec + w_spec + out_spec)
        fresh = "".join(c for c in string.ascii_letters if c not in used)[:elided]
        if side == "left":
            self.inp, self.out = fresh + in_spec, fresh + out_spec
        else:
            self.inp, self.out = in_spec + fresh, out_spec + fresh
        self.w, self.side, self.elided = w_spec, side, elided
        inp, w, out = self.inp, w_spec, self.out
        for label in out:
            if label not in inp and label not in w:
                raise ValueError(f"EinsumDense '{layer.name}': output label {label!r} of {layer.equation!r} "
                                 f"is in neither the input spec {in_spec!r} nor the kernel spec {w_spec!r}")
        for label in w:
            if label not in inp and label not in out:
                raise ValueError(f"EinsumDense '{layer.name}': kernel label {label!r} of {layer.equation!r} "
                                 f"is in neither the input spec {in_spec!r} nor the output spec {out_spec!r}; "
                                 f"the kernel must be fully specified")
        summed = [c for c in inp if c not in w and c not in out]
        if summed:
            raise NotImplementedError(f"EinsumDense '{layer.name}': input label(s) {''.join(summed)!r} of "
                                      f"{layer.equation!r} are summed without the kernel; sum them "
                                      f"before the layer")
        self.batch = [c for c in inp if c in w and c in out]
        self.rows = [c for c in inp if c not in w]
        self.depth = [c for c in inp if c in w and c not in out]
        self.cols = [c for c in out if c in w and c not in inp]
        self.x_perm = [inp.index(c) for c in self.batch + self.rows + self.depth]
        self.w_perm = [w.index(c) for c in self.batch + self.depth + self.cols]
        product = self.batch + self.rows + self.cols
        self.out_perm = [product.index(c) for c in out]            # product order -> output order
        self.product_order = [out.index(c) for c in product]       # output order -> product order
        self.w_back = [int(i) for i in np.argsort(self.w_perm)]
        self.x_back = [int(i) for i in np.argsort(self.x_perm)]
        if layer.bias_axes is not None:
            first = min(out.index(c) for c in layer.bias_axes)
            self.bias_labels = out[first:]
            self.bias_axis0 = first
        # the bias rides in the GEMM epilogue when it is exactly the trailing N block of an
        # unpermuted, unbatched product
        self.bias_in_gemm = (layer.bias_axes is not None and not self.batch
                             and self.out_perm == sorted(self.out_perm)
                             and list(self.bias_labels) == self.cols
                             and set(layer.bias_axes) == set(self.cols))

    @staticmethod
    def identity(perm):
        return perm == list(range(len(perm)))


class EinsumDense(Int8Quantizable, LoRA, ActivatedLayer):
    """A layer computing ``act(einsum(equation, x, kernel) + bias)`` on corenn's GEMM kernels.

    Args:
        equation: ``"ab,bc->ac"``, ``"...b,bc->...c"``, ``"abc,cde->abde"``, ... (module docstring).
        output_shape: an int or a tuple: the output's shape without the batch axis and the elided
            axes; None entries are taken from the input.
        activation: name or function (None: linear).
        bias_axes: None (no bias) or the output labels a bias is added along; the bias has the
            output's trailing shape from the first of them on, 1 along the other labels.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint: as in Dense.
        lora_rank, lora_alpha: LoRA (layers/lora.py): the kernel (*P, N) frozen, W + (alpha / rank)
            A @ B learned instead, A (*P, rank), B (rank, N); also ``enable_lora(rank)``.
        quantization_config: None (Keras' default). ``quantize("int8")`` (layers/quantization.py)
            quantizes the kernel per N column over its contracted (K) labels and x per row over
            the same labels: z = (q(x') q(W')) / (s_x s_k) + bias, one quantized_matmul; equations
            with batch labels (B) are not quantized.
    Weights, Keras order: kernel (its spec's sizes), bias (, lora_kernel_a, lora_kernel_b);
    int8: kernel, bias, kernel_scale (1 along the output labels not in the kernel, the N sizes
    along the others: Keras' layout, which broadcasts against the output).
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        policy = self._pop_quantized_dtype(kwargs, quantization_config)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_quantized_dtype(policy)
        if policy is not None and (type(self) is not EinsumDense or lora_rank):
            raise ValueError(f"{type(self).__name__} '{self.name}': a quantized dtype policy is supported on "
                             "EinsumDense without LoRA only")
        self.equation = equation
        self._specs = _split_equation(self, equation)
        shape = (output_shape,) if isinstance(output_shape, (int, np.integer)) else output_shape
        if not isinstance(shape, (list, tuple)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0)
                for d in shape):
            raise ValueError(f"EinsumDense '{self.name}': output_shape must be a positive int or a tuple "
                             f"of positive ints and None, got {output_shape!r}")
        self.partial_output_shape = tuple(None if d is None else int(d) for d in shape)
        in_spec, _, out_spec, side = self._specs
        expected = len(out_spec) - (0 if side == "left" else 1)
        if len(self.partial_output_shape) != expected:
            raise ValueError(f"EinsumDense '{self.name}': output_shape {self.partial_output_shape} needs "
                             f"{expected} entries for equation {equation!r} (the output spec "
                             f"{out_spec!r} without the batch axis and the ellipsis)")
        if bias_axes is not None:
            if not isinstance(bias_axes, str) or not bias_axes or len(set(bias_axes)) != len(bias_axes):
                raise ValueError(f"EinsumDense '{self.name}': bias_axes must be a string of distinct output "
                                 f"labels, got {bias_axes!r}")
            for c in bias_axes:
                if c not in out_spec:
                    raise ValueError(f"EinsumDense '{self.name}': bias dimension {c!r} was requested, but "
                                     f"is not part of the output spec {out_spec!r}")
        self.bias_axes = bias_axes
        self.activation = _activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)   # applied by the optimizer
        self.bias_constraint = constraints.get(bias_constraint)
        self._lora_args(lora_rank, lora_alpha)
        self.kernel = self.bias = None
        self._plans = {}

    # -- shapes ----------------------------------------------------------------------------------

    def _plan(self, rank):
        plan = self._plans.get(rank)
        if plan is None:
            plan = self._plans[rank] = _Plan(self, rank)
        return plan

    def _full_output(self, plan, input_shape):
        """The output shape for ``input_shape``, None where unknown (Keras' rule, with the
        sizes the input fixes filled in)."""
        partial = list(self.partial_output_shape)
        if plan.side == "left":
            out = list(input_shape[:plan.elided]) + partial
        elif plan.side == "right":
            out = [input_shape[0]] + partial + list(input_shape[len(input_shape) - plan.elided:])
        else:
            out = [input_shape[0]] + partial
        for i, label in enumerate(plan.out):
            if label in plan.inp:
                size = input_shape[plan.inp.index(label)]
                if out[i] is not None and size is not None and out[i] != size:
                    raise ValueError(f"EinsumDense '{self.name}': input shape and output shape do not "
                                     f"match at shared dimension {label!r}: input {shape_str(input_shape)} "
                                     f"has {size}, output_shape says {out[i]}")
                out[i] = size if size is not None else out[i]
        return tuple(out)

    def _sizes(self, plan, input_shape):
        out = self._full_output(plan, input_shape)
        sizes = dict(zip(plan.out, out))
        sizes.update(zip(plan.inp, input_shape))
        return sizes, out

    def compute_output_shape(self, input_shape):
        """Keras 3.15's symbolic shape: the batch and elided axes as the input's, every other axis
        as ``output_shape`` gives it, None kept even where the input fixes the size (the kernel
        and the eager output use that size; a symbolic shape promises only what output_shape
        says). An axis where the batch label moves (``abc,cd->bad``, which Keras cannot build)
        keeps the input's size."""
        input_shape = tuple(input_shape)
        plan = self._plan(len(input_shape))
        out = list(self._full_output(plan, input_shape))
        start = plan.elided if plan.side == "left" else 1
        for j, d in enumerate(self.partial_output_shape):
            if d is None and plan.out[start + j] != plan.inp[0]:
                out[start + j] = None
        return tuple(out)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        plan = self._plan(len(input_shape))
        sizes, _ = self._sizes(plan, input_shape)
        kernel_shape = tuple(sizes[c] for c in plan.w)
        if any(d is None for d in kernel_shape):
            raise ValueError(f"EinsumDense '{self.name}': the kernel {plan.w!r} of {self.equation!r} has "
                             f"unknown sizes {kernel_shape} for inputs {shape_str(input_shape)}; give "
                             f"them in output_shape or the input shape")
        if self._quantized is None:
            init = self.kernel_initializer
            if isinstance(init, initializers.VarianceScaling):
                # Keras 3.15: the fans are the sizes of the kernel axes shared with the output
                # (fan_out) and the others (fan_in), not a convolution's rule
                outs = [i for i, c in enumerate(plan.w) if c in plan.out]
                init = init.with_axes([i for i in range(len(plan.w)) if i not in outs], outs)
            self.kernel = self.add_weight("kernel", kernel_shape, init,
                                          self.kernel_regularizer, constraint=self.kernel_constraint)
        elif self._quantized == "int8":   # the int8 form (a quantized layer read back): set when loaded
            self._check_quantizable(plan)
        if self.bias_axes is not None:
            bias_shape = tuple(sizes[c] if c in self.bias_axes else 1 for c in plan.bias_labels)
            if any(d is None for d in bias_shape):
                raise ValueError(f"EinsumDense '{self.name}': the bias along {self.bias_axes!r} has unknown "
                                 f"sizes {bias_shape}; give them in output_shape")
            self.bias = self.add_weight("bias", bias_shape, self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        if self._quantized == "int4":   # read back: zeros until its weights are loaded
            self._int4_kernel_shape = kernel_shape
            self._set_int4_params(self._int4_params("kernel", shape=self._int4_rows_cols(plan, kernel_shape)))
        elif self._quantized is not None:
            # after the bias, Keras 3's order ([bias, kernel, kernel_scale])
            self._params.append(self._frozen_weight("kernel", np.zeros(kernel_shape), int8=True))
            self.kernel = self._params[-1].value
            self._params.append(self._frozen_weight("kernel_scale", np.ones(self._scale_shape(plan, sizes))))
            self.kernel_scale = self._params[-1].value
        # relu rides in the epilogue when one GEMM writes z whole (bias fused or absent)
        self._fused = self.activation.is_linear or (
            self.activation.name == "relu" and not plan.batch and _Plan.identity(plan.out_perm)
            and (self.bias_axes is None or plan.bias_in_gemm))
        super().build(input_shape)
        self._lora_build()

    # -- computation -----------------------------------------------------------------------------

    def _permuted(self, t, perm, key):
        """t transposed by ``perm`` into a buffer of this call, or t itself for the identity."""
        if _Plan.identity(perm):
            return t
        return kernels.transpose(t, perm, out=self._buffer(key, [t.shape[p] for p in perm], t.dtype))

    def forward(self, x, training=False):
        plan = self._plan(x.ndim)
        sizes, out_shape = self._sizes(plan, tuple(x.shape))
        dims = lambda labels: math.prod(sizes[c] for c in labels)
        b, m, k, n = dims(plan.batch), dims(plan.rows), dims(plan.depth), dims(plan.cols)
        x_t = self._permuted(x, plan.x_perm, "x_t")
        if self._quantized == "int4":   # weight-only int4 (Keras 3.15): the float path, dequantized kernel
            w = self._buffer("dequantized", self._int4_kernel_shape)
            np.copyto(np.asarray(w), self.int4_dequantized("kernel"))
        else:
            w = self.kernel if self._quantized else self._effective_kernel()
        w_t = self._permuted(w, plan.w_perm, "w_t")
        z = self._buffer("z", out_shape)
        direct = _Plan.identity(plan.out_perm)
        product = z if direct else self._buffer("product", [out_shape[i] for i in plan.product_order])
        if self._quantized == "int8":   # plan.batch is empty (_check_quantizable)
            fused_bias = self.bias.reshape([n]) if plan.bias_in_gemm else None
            # keep: w_t is the kernel itself (not a buffer transposed into this call), so its int8
            # form can be kept on it while its write version stands
            kernels.quantized_matmul(x_t.reshape([m, k]), w_t.reshape([k, n]), self.kernel_scale.reshape([n]),
                                     fused_bias, out=product.reshape([m, n]), keep=w_t is self.kernel,
                                     relu=self._fused and self.activation.name == "relu")   # as _activate expects
        elif plan.batch:
            kernels.batched_matmul(x_t.reshape([b, m, k]), w_t.reshape([b, k, n]),
                                   out=product.reshape([b, m, n]))
        else:
            fused_bias = self.bias.reshape([n]) if plan.bias_in_gemm else None
            act = "relu" if self._fused and self.activation.name == "relu" else "none"
            # keep_b_packed when w_t is the kernel itself (no transpose into a buffer, no LoRA
            # sum): its packed panels are kept on its storage while its write version stands, as
            # Dense's are (a MultiHeadAttention's projections at predict)
            kernels._gemm(x_t.reshape([m, k]), w_t.reshape([k, n]), product.reshape([m, n]), False, False,
                          1.0, 0.0, fused_bias, act, w_t is self.kernel)
        if not direct:
            kernels.transpose(product, plan.out_perm, out=z)
        if self.bias is not None and not plan.bias_in_gemm:
            kernels.binary_forward("add", z, self.bias, out=z)   # broadcast over the leading axes
        self._x_t, self._w_t, self._dims = x_t, w_t, (b, m, k, n)
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        plan = self._plan(self._x.ndim)
        b, m, k, n = self._dims
        dz_t = self._permuted(dz, plan.product_order, "dz_t")
        if self._quantized == "int8":
            return self._quantized_backward(plan, dz, dz_t)
        if self._quantized == "int4":   # Keras' custom gradient: dx through the dequantized
            if self.trainable and self.bias is not None:   # kernel (in _w_t), no kernel gradient
                self._bias_grad(plan, dz, self.gradients[0])
        elif self.trainable:
            grads = self.gradients
            # LoRA: the frozen kernel's gradient is dW', and the bias's comes first
            dkernel, dbias = (self._kernel_grad(), grads[:1]) if self.lora_enabled else (grads[0], grads[1:2])
            direct = _Plan.identity(plan.w_perm)
            dw_t = dkernel if direct else self._buffer("dw_t", self._w_t.shape)
            if plan.batch:
                kernels.batched_matmul(self._x_t.reshape([b, m, k]), dz_t.reshape([b, m, n]), trans_a=True,
                                       out=dw_t.reshape([b, k, n]))
            else:
                kernels._gemm(self._x_t.reshape([m, k]), dz_t.reshape([m, n]), dw_t.reshape([k, n]), True,
                              False, 1.0, 0.0, None, "none")
            if not direct:
                kernels.transpose(dw_t, plan.w_back, out=dkernel)
            if self.bias is not None:
                self._bias_grad(plan, dz, dbias[0])
            self._lora_backward()
        if not self.needs_input_grad:
            return None
        x = self._x
        direct = _Plan.identity(plan.x_perm)
        dx = self._buffer("dx", x.shape)
        dx_t = dx if direct else self._buffer("dx_t", self._x_t.shape)
        if plan.batch:
            kernels.batched_matmul(dz_t.reshape([b, m, n]), self._w_t.reshape([b, k, n]), trans_b=True,
                                   out=dx_t.reshape([b, m, k]))
        else:
            kernels._gemm(dz_t.reshape([m, n]), self._w_t.reshape([k, n]), dx_t.reshape([m, k]), False, True,
                          1.0, 0.0, None, "none")
        if not direct:
            kernels.transpose(dx_t, plan.x_back, out=dx)
        return dx

    def _bias_grad(self, plan, dz, db):
        """db = dz summed over every axis the bias is broadcast along (those before its first
        label, and its size-1 ones)."""
        kept = [plan.bias_axis0 + i for i, c in enumerate(plan.bias_labels) if c in self.bias_axes]
        summed = tuple(a for a in range(dz.ndim) if a not in kept)
        kernels.reduce_forward("sum", dz, summed, out=db.reshape([dz.shape[a] for a in kept]))

    def flops(self, input_shape):
        """2 multiply-adds per (B, M, K, N) combination per sample, + the bias, + the activation."""
        plan = self._plan(len(input_shape))
        sizes, out_shape = self._sizes(plan, tuple(input_shape))
        labels = plan.batch + plan.rows + plan.depth + plan.cols
        macs = math.prod(sizes[c] for c in labels if c != plan.inp[0])
        out = math.prod(out_shape[1:])
        return 2 * macs + (out if self.bias is not None else 0) + activation_flops(self.activation, out)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(output_shape=self.partial_output_shape, equation=self.equation,
                   activation=_activations.serialize(self.activation), bias_axes=self.bias_axes,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   kernel_constraint=constraints.serialize(self.kernel_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint))
        return self._quantized_config(self._lora_config(cfg))

    # -- int8 (layers/quantization.py) ---------------------------------------------------------

    def _check_quantizable(self, plan):
        if plan.batch:
            raise NotImplementedError(f"EinsumDense '{self.name}': equation {self.equation!r} has batch labels "
                                      f"{''.join(plan.batch)!r} (in the input, the kernel and the output); "
                                      "corenn quantizes EinsumDense without them only")

    @staticmethod
    def _scale_shape(plan, sizes):
        """Keras' kernel_scale layout: the output's rank, N sizes at their labels, 1 elsewhere."""
        return tuple(sizes[c] if c in plan.w else 1 for c in plan.out)

    def _quantize_int8(self):
        """kernel -> int8 per N column (abs-max over the K labels) and kernel_scale; frozen."""
        plan = self._plan(len(self.input_shape))
        self._check_quantizable(plan)
        w = self.kernel._copy_array()
        q, scale = abs_max_quantize(w, axis=tuple(plan.w.index(c) for c in plan.depth))
        n_in_w = [c for c in plan.w if c in plan.cols]   # the scale's N axes in kernel order
        scale = np.transpose(scale.reshape([w.shape[plan.w.index(c)] for c in n_in_w]),
                             [n_in_w.index(c) for c in plan.cols])
        sizes = dict(zip(plan.w, w.shape))
        kp = self._frozen_weight("kernel", q, int8=True)
        sp = self._frozen_weight("kernel_scale", scale.reshape(self._scale_shape(plan, sizes)))
        # Keras 3 makes the int8 kernel again after the bias: weights [bias, kernel, kernel_scale]
        self._params = [p for p in self._params if p.value is not self.kernel] + [kp, sp]
        self.kernel, self.kernel_scale = kp.value, sp.value

    def _int4_rows_cols(self, plan, kernel_shape):
        """int4's matrix of the kernel, as Keras 3.15 makes it: rows the product of the sizes of
        the kernel's contracted labels (those not in the output), columns the rest; the kernel
        is reshaped to it as stored (no transpose), and back."""
        rows = math.prod(d for c, d in zip(plan.w, kernel_shape) if c not in plan.out)
        return rows, math.prod(kernel_shape) // rows

    def _quantize_int4(self):
        """kernel -> int4 (layers/quantization.py): packed (rows, ceil(cols / 2)), kernel_scale,
        and per group kernel_zero and g_idx."""
        plan = self._plan(len(self.input_shape))
        w = self.kernel._copy_array()
        self._int4_kernel_shape = tuple(w.shape)
        q, scale, zero = int4_quantize(w.reshape(self._int4_rows_cols(plan, w.shape)), self._int4_block)
        self._params = [p for p in self._params if p.value is not self.kernel]
        self._set_int4_params(self._int4_params("kernel", q, scale, zero))

    def _quantized_backward(self, plan, dz, dz_t):
        """Keras' custom gradient: dx = dz (q / s)^T with the dequantized kernel; the bias
        learns, the int8 kernel does not."""
        b, m, k, n = self._dims
        if self.trainable and self.bias is not None:
            self._bias_grad(plan, dz, self.gradients[0])
        if not self.needs_input_grad:
            return None
        w = dequantize(self._w_t.reshape([k, n]), self.kernel_scale.reshape([n]), self._buffer("dequantized", [k, n]))
        x = self._x
        direct = _Plan.identity(plan.x_perm)
        dx = self._buffer("dx", x.shape)
        dx_t = dx if direct else self._buffer("dx_t", self._x_t.shape)
        kernels._gemm(dz_t.reshape([m, n]), w, dx_t.reshape([m, k]), False, True, 1.0, 0.0, None, "none")
        if not direct:
            kernels.transpose(dx_t, plan.x_back, out=dx)
        return dx


EinsumDense._quantizes = EinsumDense   # Keras quantizes EinsumDense itself, not its subclasses
