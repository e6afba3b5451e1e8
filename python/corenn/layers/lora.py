"""LoRA (low-rank adaptation, Keras 3) for the layers with a ``kernel``: Dense and EinsumDense.

``Dense(units, lora_rank=r, lora_alpha=a)`` (enabled when built) or ``layer.enable_lora(r)`` on a
built layer freezes the kernel W (its shape (*P, N): P the leading axes) and adds two trainable
weights, Keras' names and shapes:
    lora_kernel_a  A (*P, r)   he_uniform
    lora_kernel_b  B (r, N)    zeros (so the layer starts as it was)
and the layer computes with the effective kernel
    W' = W + (a / r) * A @ B       (A flattened to (prod P, r); s = a / r the scale)
so weights are [kernel, (bias,) lora_kernel_a, lora_kernel_b] and trainable_weights
[(bias,) lora_kernel_a, lora_kernel_b], as in Keras. Two ways to compute, the same function:
  - Dense, factored: z = x W + s (x A) B + bias (three GEMMs, the bias and relu in the last
    one's epilogue); backward dB = s (x A)^T dz, u = dz B^T, dA = s x^T u,
    dx = dz W^T + s u A^T. The frozen W's gradient (rows x K x N) is never formed, which is
    LoRA's saving; Keras differentiates through its merged kernel and forms it.
  - EinsumDense, merged (its kernel may have several axes on either side of the product):
    forward multiplies by W' built into a buffer of the call (as Keras' ``kernel`` property);
    backward gets dW' from the layer's own kernel-gradient product, then dA = s dW' B^T,
    dB = s A^T dW' (two GEMMs of size P x N x r).
Saving: corenn's files keep every weight; Keras 3's weights layout holds what Keras'
save_own_variables writes, the merged kernel and the bias (no LoRA pair: loading sets it to
zeros), see keras_variables. ONNX exports W'. Keras 3.15's Dense drops lora_alpha when it enables
LoRA at build (alpha becomes r); corenn keeps the given alpha, as Keras' EinsumDense and
documentation do.
"""
from __future__ import annotations

import numpy as np

from .. import initializers, kernels

__all__ = ["LoRA"]


class LoRA:
    """Mixin (before the layer class) for layers holding ``kernel`` and ``kernel_regularizer``;
    see the module docstring. The layer calls ``_lora_args`` in __init__ and ``_lora_build`` at
    the end of build; with LoRA on, Dense runs ``_lora_factored_forward / _backward``, EinsumDense
    multiplies by ``_effective_kernel()``, writes dL/dW' into ``_kernel_grad()`` and calls
    ``_lora_backward``."""

    def _lora_args(self, lora_rank, lora_alpha):
        kind = f"{type(self).__name__} '{self.name}'"
        for arg, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))
                                      or value <= 0):
                raise ValueError(f"{kind}: {arg} must be None or a positive number, got {value!r}")
        self.lora_rank = None if lora_rank is None else int(lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else self.lora_rank
        self.lora_enabled = False
        self.lora_kernel_a = self.lora_kernel_b = None

    def _lora_build(self):
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Freeze the kernel and add the trainable low-rank pair lora_kernel_a (*P, rank) and
        lora_kernel_b (rank, N); the scale is lora_alpha / rank (lora_alpha defaults to rank)."""
        kind = f"{type(self).__name__} '{self.name}'"
        if self.kernel_constraint is not None:
            raise ValueError(f"{kind}: LoRA is incompatible with kernel constraints; remove the "
                             f"kernel_constraint argument to enable it")
        if not self.built:
            raise ValueError(f"{kind}: cannot enable LoRA on a layer that isn't built yet")
        if getattr(self, "_quantized", None) is not None:
            # Keras 3 adds LoRA beside a quantized kernel; corenn's quantized forwards do not, and
            # would ignore the pair silently
            raise NotImplementedError(f"{kind}: LoRA on a {self._quantized}-quantized layer is not supported "
                                      "in corenn; enable LoRA before quantizing, or quantize after merging")
        if self.lora_enabled:
            raise ValueError(f"{kind}: LoRA is already enabled; it can be enabled once per layer")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank <= 0:
            raise ValueError(f"{kind}: the LoRA rank must be a positive integer, got {rank!r}")
        shape = tuple(self.kernel.shape)
        self.lora_kernel_a = self.add_weight("lora_kernel_a", shape[:-1] + (int(rank),),
                                             initializers.get(a_initializer), self.kernel_regularizer)
        self.lora_kernel_b = self.add_weight("lora_kernel_b", (int(rank), shape[-1]),
                                             initializers.get(b_initializer), self.kernel_regularizer)
        for param in self._params:
            if param.value is self.kernel:
                param.trainable = False
        marks = getattr(self.kernel, "__dict__", None)   # Keras' variable attributes (a model file's
        if marks is not None:                             # storage-less stand-in weights have none)
            marks["trainable"] = False
        self.lora_enabled = True
        self.lora_rank = int(rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else int(rank)

    def _lora_scale(self):
        return float(self.lora_alpha) / self.lora_rank

    def _flat(self, t):
        """A (*P, N) tensor as (prod P, N)."""
        return t.reshape([-1, t.shape[-1]])

    # Dense: the factored form, so the frozen kernel's gradient is never formed

    def _lora_factored_forward(self, x, z, activation):
        """z = act(x W + s (x A) B + bias) for x (rows, K): three GEMMs, the bias and the
        activation in the last one's epilogue; x A is kept for backward."""
        xa = self._buffer("lora_xa", (x.shape[0], self.lora_rank))
        kernels._gemm(x, self.kernel, z, False, False, 1.0, 0.0, None, "none", True)
        kernels._gemm(x, self.lora_kernel_a, xa, False, False, 1.0, 0.0, None, "none")
        kernels._gemm(xa, self.lora_kernel_b, z, False, False, self._lora_scale(), 1.0, self.bias, activation)
        self._lora_xa = xa

    def _lora_factored_backward(self, x, dz, dx):
        """From dz (rows, N): db, dB = s (x A)^T dz, u = dz B^T, dA = s x^T u and, when dx
        (rows, K) is given, dx = dz W^T + s u A^T."""
        scale = self._lora_scale()
        u = self._buffer("lora_u", (dz.shape[0], self.lora_rank))
        kernels._gemm(dz, self.lora_kernel_b, u, False, True, 1.0, 0.0, None, "none")
        if self.trainable:
            if self.bias is not None:
                kernels._bias_grad(dz, self._grad_of("bias"))
            kernels._gemm(self._lora_xa, dz, self._grad_of("lora_kernel_b"), True, False, scale, 0.0, None, "none")
            kernels._gemm(x, u, self._grad_of("lora_kernel_a"), True, False, scale, 0.0, None, "none")
        if dx is not None:
            kernels._gemm(dz, self.kernel, dx, False, True, 1.0, 0.0, None, "none")
            kernels._gemm(u, self.lora_kernel_a, dx, False, True, scale, 1.0, None, "none")

    # EinsumDense: the merged kernel (its kernel may have several axes on either side)

    def _effective_kernel(self):
        """W, or with LoRA W + s * A @ B in a buffer of this call."""
        if not self.lora_enabled:
            return self.kernel
        merged = self._buffer("lora_kernel", tuple(self.kernel.shape))
        np.copyto(np.asarray(merged), np.asarray(self.kernel))
        kernels._gemm(self._flat(self.lora_kernel_a), self.lora_kernel_b, self._flat(merged), False, False,
                      self._lora_scale(), 1.0, None, "none")
        return merged

    def _kernel_grad(self):
        """Where backward writes dL/dW': the kernel's gradient (frozen with LoRA: a scratch the
        LoRA gradients are computed from)."""
        return self._grad_of("kernel")

    def _lora_backward(self):
        """dA = s * dW' @ B^T and dB = s * A^T @ dW', from the dW' backward wrote."""
        if not self.lora_enabled:
            return
        dw, scale = self._flat(self._kernel_grad()), self._lora_scale()
        kernels._gemm(dw, self.lora_kernel_b, self._flat(self._grad_of("lora_kernel_a")), False, True, scale, 0.0,
                      None, "none")
        kernels._gemm(self._flat(self.lora_kernel_a), dw, self._grad_of("lora_kernel_b"), True, False, scale, 0.0,
                      None, "none")

    def merged_kernel(self):
        """W' as a NumPy array (Keras writes it as the kernel of a LoRA layer's saved weights)."""
        return np.array(self._effective_kernel(), np.float32, copy=True)

    def _lora_config(self, cfg):
        if self.lora_rank:   # Keras writes the two keys only when LoRA is on
            cfg.update(lora_rank=self.lora_rank, lora_alpha=self.lora_alpha)
        return cfg

    def keras_variables(self):
        """The arrays Keras 3 saves for this layer: the kernel merged with the LoRA product, then
        the other weights but the LoRA pair (Keras saves no LoRA weights)."""
        pair = (id(self.lora_kernel_a), id(self.lora_kernel_b))
        return [self.merged_kernel()] + [np.array(w, np.float32, copy=True) for w in self.weights[1:]
                                         if id(w) not in pair]

    def set_keras_variables(self, arrays):
        """Load what keras_variables gives (a Keras 3 file): the kernel and the rest; the LoRA
        pair starts again from zeros, as Keras' load does."""
        zeros = [np.zeros(tuple(w.shape), np.float32) for w in (self.lora_kernel_a, self.lora_kernel_b)]
        self.set_weights(list(arrays) + zeros)
