"""RandomFourierFeatures: tf.keras 2's ``layers.experimental.RandomFourierFeatures`` (Keras 3
dropped it): inputs mapped to random cosine features that approximate a shift-invariant
kernel (Rahimi & Recht), so a linear layer on top is a kernel machine (the keras.io
"Quasi-SVM" example).

Shape legend: N batch, F input features, D = output_dim.

Math (W (F, D) and b (D,) are fixed random draws; s is the scalar ``kernel_scale``):
    forward   z = x @ W / s + b,   y = cos(z)                         x (N, F) -> y (N, D)
    backward  dz = -sin(z) * dy,   dx = dz @ W.T / s,
              ds = -sum(dz * (z - b)) / s          (only when the layer is trainable)
W ~ N(0, 1) ("gaussian": the Gaussian RBF kernel) or standard Cauchy ("laplacian": the
Laplacian kernel), b ~ U[0, 2 pi). s starts at ``scale`` (default sqrt(F / 2) for
"gaussian", 1 otherwise) and is kept non-negative. As in tf.keras 2 the layer is created
with ``trainable=False``: s is learned only when ``trainable=True`` is passed.
"""
from __future__ import annotations

import numpy as np

from .. import constraints, initializers, kernels
from .base import Layer, shape_str

__all__ = ["RandomFourierFeatures"]

_KERNEL_TYPES = ("gaussian", "laplacian")


class _CauchyInitializer(initializers.Initializer):
    """Standard Cauchy draws (the Laplacian kernel's spectral density)."""

    def _generate(self, shape, rng):
        return np.tan(np.pi * (rng.random(shape) - 0.5))


class RandomFourierFeatures(Layer):
    """Random cosine features approximating a shift-invariant kernel (tf.keras 2).

    Args:
        output_dim: D, the number of random features.
        kernel_initializer: "gaussian", "laplacian", or an initializer for W.
        scale: the initial kernel scale s (> 0); None picks the kernel's default.
        trainable: whether s is learned (tf.keras 2's default: False).

    Weights: unscaled_kernel W (F, D) and bias b (D,), never trained; kernel_scale s (1,).
    """

    def __init__(self, output_dim, kernel_initializer="gaussian", scale=None, trainable=False, name=None,
                 **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        if isinstance(output_dim, bool) or not isinstance(output_dim, (int, np.integer)) or output_dim <= 0:
            raise ValueError(f"RandomFourierFeatures '{self.name}': output_dim must be a positive integer, "
                             f"got {output_dim!r}")
        if isinstance(kernel_initializer, str) and kernel_initializer.lower() not in _KERNEL_TYPES:
            raise ValueError(f"RandomFourierFeatures '{self.name}': unsupported kernel_initializer "
                             f"{kernel_initializer!r}; expected one of {list(_KERNEL_TYPES)} or an initializer")
        if scale is not None and not scale > 0.0:
            raise ValueError(f"RandomFourierFeatures '{self.name}': scale must be a positive float, got {scale!r}")
        self.output_dim = int(output_dim)
        self.kernel_initializer = kernel_initializer
        self.scale = None if scale is None else float(scale)
        self.unscaled_kernel = self.bias = self.kernel_scale = None

    def _random_features_initializer(self):
        if not isinstance(self.kernel_initializer, str):
            return initializers.get(self.kernel_initializer)
        if self.kernel_initializer.lower() == "gaussian":
            return initializers.RandomNormal(stddev=1.0)
        return _CauchyInitializer()

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[1] is None or int(input_shape[1]) <= 0:
            # zero features would give the Gaussian default scale sqrt(0 / 2) = 0 and divide by it
            raise ValueError(f"RandomFourierFeatures '{self.name}' needs inputs of shape (batch, features) "
                             f"with a known, positive number of features, got {shape_str(input_shape)}")
        input_dim = int(input_shape[1])
        self.unscaled_kernel = self.add_weight("unscaled_kernel", (input_dim, self.output_dim),
                                               self._random_features_initializer(), trainable=False)
        self.bias = self.add_weight("bias", (self.output_dim,),
                                    initializers.RandomUniform(minval=0.0, maxval=2 * np.pi), trainable=False)
        if self.scale is None:
            is_gaussian = isinstance(self.kernel_initializer, str) and self.kernel_initializer.lower() == "gaussian"
            self.scale = float(np.sqrt(input_dim / 2.0)) if is_gaussian else 1.0
        self.kernel_scale = self.add_weight("kernel_scale", (1,), initializers.Constant(self.scale),
                                            constraint=constraints.NonNeg())
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0], self.output_dim)

    def forward(self, x, training=False):
        scale = float(np.asarray(self.kernel_scale)[0])
        z = kernels.gemm(x, self.unscaled_kernel, alpha=1.0 / scale, bias=self.bias)
        self._x, self._z, self._scale = x, z, scale
        return kernels.unary_forward("cos", z, out=self._buffer("y", z.shape))

    def backward(self, dy):
        learn = self.trainable
        if not self.needs_input_grad and not learn:
            return None
        dz = kernels.unary_backward("cos", self._z, self._z, dy, out=self._buffer("dz", dy.shape))
        if learn:
            pre_bias = np.asarray(self._z, np.float64) - np.asarray(self.bias, np.float64)
            ds = -float((np.asarray(dz, np.float64) * pre_bias).sum()) / self._scale
            np.asarray(self._grad_of("kernel_scale"))[0] = ds
        if not self.needs_input_grad:
            return None
        return kernels.gemm(dz, self.unscaled_kernel, trans_b=True, alpha=1.0 / self._scale)

    def flops(self, input_shape):
        return 2 * int(input_shape[-1]) * self.output_dim + 2 * self.output_dim

    def get_config(self):
        cfg = super().get_config()
        kernel_initializer = self.kernel_initializer
        if not isinstance(kernel_initializer, str):
            kernel_initializer = initializers.serialize(initializers.get(kernel_initializer))
        cfg.update(output_dim=self.output_dim, kernel_initializer=kernel_initializer, scale=self.scale)
        return cfg
