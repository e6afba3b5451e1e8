"""More of Keras 3's image augmentation layers (layers/preprocessing/image_preprocessing):

    geometry on the C++ kernels (differentiable, as the layers in image_preprocessing.py)
        RandomHeight, RandomWidth   resize2d to a random height / width (one per batch, so the
                                    output size changes from call to call, as Keras)
        RandomShear, RandomPerspective
                                    image_transform with an affine / projective transform per
                                    sample
    colour and mixing, per-pixel math in float64 NumPy (not differentiable, as in Keras: they
    are the front end of a model, before any layer that learns)
        RandomGrayscale, RandomSaturation, RandomHue, RandomColorDegeneration, RandomSharpness,
        RandomPosterization, RandomInvert, Solarization, AutoContrast, Equalization,
        RandomErasing, RandomGaussianBlur, RandomColorJitter, MixUp, CutMix
    composition
        Pipeline                    its layers one after another
        RandAugment                 num_ops augmentations drawn from a fixed list per call
        AugMix                      chains of such augmentations mixed with the image

Like corenn's other augmentation layers they augment only in training (training=True, or an
eager call without training=), are the identity at inference (AutoContrast excepted: it is not
random and applies always, as Keras), take a batch (N, H, W, C) or one image (H, W, C) and draw
their parameters from their own generator when ``seed`` is given. The NumPy layers also take
data_format='channels_first'; the geometric ones are channels-last, as their kernels.
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ._channels_first import data_format_arg
from .base import Layer
from .image_preprocessing import (RandomBrightness, RandomContrast, RandomRotation,
                                  RandomTranslation, TrainingByDefault, _RandomLayer,
                                  _RandomTransform, _as_given, _channels_last, check_interpolation,
                                  _check_image_shape, _factor_range, _identity, _sampling_config,
                                  _set_sampling, _value_range)

__all__ = ["RandomHeight", "RandomWidth", "RandomShear", "RandomPerspective", "RandomGrayscale",
           "RandomSaturation", "RandomHue", "RandomColorDegeneration", "RandomSharpness",
           "RandomPosterization", "RandomInvert", "Solarization", "AutoContrast", "Equalization",
           "RandomErasing", "RandomGaussianBlur", "RandomColorJitter", "MixUp", "CutMix",
           "Pipeline", "RandAugment", "AugMix"]

# ITU-R 601 luma weights, as Keras' rgb_to_grayscale
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])


def _bounded_range(layer, what, factor, lo_bound, hi_bound):
    """Keras' factor of a strength or probability: a number f means (lo_bound, f), a pair is
    (lower, upper) (in either order); everything within [lo_bound, hi_bound]."""
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2:
            raise ValueError(f"{type(layer).__name__}: {what} must be a number or (lower, upper), "
                             f"got {factor!r}")
        lower, upper = sorted(float(v) for v in factor)
    elif isinstance(factor, (int, float, np.integer, np.floating)) and not isinstance(factor, bool):
        lower, upper = float(lo_bound), float(factor)
    else:
        raise ValueError(f"{type(layer).__name__}: {what} must be a number or (lower, upper), "
                         f"got {factor!r}")
    if not (lo_bound <= lower <= upper <= hi_bound):   # NaN fails too
        raise ValueError(f"{type(layer).__name__}: {what} must lie in [{lo_bound}, {hi_bound}], "
                         f"got {factor!r}")
    return lower, upper


# ---------------------------------------------------------------------------------------------
# Geometry on the C++ kernels


class _RandomResize(_RandomLayer):
    """Resizes the batch along one axis (1: height, 2: width) by 1 + uniform(factor), truncated
    to an int, as Keras' RandomHeight / RandomWidth (one draw per call)."""

    axis = 1

    def __init__(self, factor, interpolation="bilinear", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _factor_range(self, "factor", factor, -1.0)   # a size cannot shrink below 0
        self.factor, self.interpolation = _as_given(factor), check_interpolation(self, interpolation)
        _channels_last(self, data_format)

    def compute_output_shape(self, input_shape):
        _check_image_shape(self, input_shape)
        shape = list(input_shape)
        shape[self.axis] = None   # a new size every call
        return tuple(shape)

    def forward(self, x, training=False):
        if not self._augments(x, training):
            return x
        n, h, w, c = x.shape
        size = [h, w]
        scale = 1.0 + self._generator().uniform(*self._range)
        size[self.axis - 1] = max(1, int(scale * size[self.axis - 1]))
        self._x_shape = tuple(x.shape)
        self._note_geometry(("window", (0, 0, h, w), tuple(size), (0, 0)))
        return kernels.resize2d_forward(x, size, self.interpolation,
                                        out=self._buffer("y", (n, size[0], size[1], c)))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        return kernels.resize2d_backward(dy, self._x_shape, self.interpolation,
                                         out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor, interpolation=self.interpolation)
        return cfg


class RandomHeight(_RandomResize):
    """Resizes the batch to a random height int(H * (1 + u)), u uniform in factor (a float f
    means (-f, f); lower >= -1), the width kept; one height per call, so the output's height is
    None in the model's shapes (follow it with Resizing or a layer that takes any size).
    Args: factor (float or (lower, upper)), interpolation ('bilinear' or 'nearest'), seed."""

    axis = 1


class RandomWidth(_RandomResize):
    """RandomHeight's twin along the width: int(W * (1 + u)), the height kept."""

    axis = 2


class RandomShear(_RandomTransform):
    """Shears each image about its top-left corner: the output pixel (X, Y) reads the input at
    (X + s sx Y, Y + s sy X), sx uniform in x_factor, sy in y_factor (a float f means (-f, f);
    within [0, 1]), s = +-1 with probability 1/2 (as Keras), filling by ``fill_mode``.

    Args:
        x_factor, y_factor: float or (lower, upper), in [0, 1].
        interpolation: 'bilinear' or 'nearest'.
        fill_mode: 'reflect', 'wrap', 'nearest' or 'constant' (fill_value).
    """

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        for what, f in (("x_factor", x_factor), ("y_factor", y_factor)):
            values = f if isinstance(f, (list, tuple)) else [f]
            if not all(0.0 <= float(v) <= 1.0 for v in values):
                raise ValueError(f"RandomShear '{self.name}': {what} must be in [0, 1], got {f!r}")
        self._x_range = tuple(sorted(_factor_range(self, "x_factor", x_factor)))
        self._y_range = tuple(sorted(_factor_range(self, "y_factor", y_factor)))
        self.x_factor, self.y_factor = _as_given(x_factor), _as_given(y_factor)
        _set_sampling(self, fill_mode, interpolation, fill_value)
        _channels_last(self, data_format)

    def _transforms(self, rng, n, h, w):
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        t = _identity(n)
        t[:, 1] = sign * rng.uniform(*self._x_range, n)
        t[:, 3] = sign * rng.uniform(*self._y_range, n)
        return t

    def get_config(self):
        cfg = super().get_config()
        cfg.update(x_factor=self.x_factor, y_factor=self.y_factor, **_sampling_config(self))
        return cfg


def homographies(start_points, end_points):
    """Transforms (N, 8) mapping each output point end_points[n, i] (x, y) to the input point
    start_points[n, i] (four points per sample), as Keras' perspective_transform: solves the
    eight equations a0 x + a1 y + a2 = xs (c0 x + c1 y + 1), b0 x + b1 y + b2 = ys (...)."""
    start = np.asarray(start_points, np.float64)
    end = np.asarray(end_points, np.float64)
    n = start.shape[0]
    a = np.zeros((n, 8, 8))
    b = np.zeros((n, 8))
    x, y = end[..., 0], end[..., 1]
    xs, ys = start[..., 0], start[..., 1]
    a[:, 0::2, 0], a[:, 0::2, 1], a[:, 0::2, 2] = x, y, 1.0
    a[:, 0::2, 6], a[:, 0::2, 7] = -x * xs, -y * xs
    a[:, 1::2, 3], a[:, 1::2, 4], a[:, 1::2, 5] = x, y, 1.0
    a[:, 1::2, 6], a[:, 1::2, 7] = -x * ys, -y * ys
    b[:, 0::2], b[:, 1::2] = xs, ys
    return np.linalg.solve(a, b[..., None])[..., 0]


class RandomPerspective(_RandomTransform):
    """Warps each image, with probability p (p uniform in factor), by the perspective transform
    that moves its corners (0, 0), (W-1, 0), (0, H-1), (W-1, H-1) to corner * (1 + u), u
    uniform in [-scale / 2, scale / 2] per coordinate (as Keras: the top-left corner stays),
    filling outside the image with fill_value.

    Args:
        factor: probability, float in [0, 1] (meaning (0, f)) or (lower, upper).
        scale: in [0, 1], the strength of the corner displacement.
        interpolation: 'bilinear' or 'nearest'.
        fill_value: the value outside the warped image.
    """

    fill_mode = "constant"

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _bounded_range(self, "factor", factor, 0.0, 1.0)
        if not 0.0 <= float(scale) <= 1.0:
            raise ValueError(f"RandomPerspective '{self.name}': scale must be in [0, 1], got {scale!r}")
        self.factor, self.scale = _as_given(factor), float(scale)
        _set_sampling(self, "constant", interpolation, fill_value)
        _channels_last(self, data_format)

    def _transforms(self, rng, n, h, w):
        apply = rng.random(n) < rng.uniform(*self._range, n)
        offsets = rng.uniform(-0.5 * self.scale, 0.5 * self.scale, (n, 4, 2))
        start = np.broadcast_to(np.array([[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]]),
                                (n, 4, 2))
        end = np.where(apply[:, None, None], start * (1.0 + offsets), start)
        return homographies(start, end)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor, scale=self.scale, interpolation=self.interpolation,
                   fill_value=self.fill_value, data_format="channels_last")
        return cfg


# ---------------------------------------------------------------------------------------------
# Colour and mixing: float64 NumPy on the whole batch


class _NumpyAugmentation(_RandomLayer):
    """y = _augment(rng, x) in float64 on channels-last (N, H, W, C) images (channels-first ones
    are transposed around it). Not differentiable: backward passes dy through at inference and
    refuses when the layer augmented and someone needs the input's gradient."""

    augments_at_inference = False
    rgb_only = False   # the layer needs 3 channels (colour math)

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.data_format = data_format_arg(self, data_format)

    def _augment(self, rng, images):  # pragma: no cover - abstract
        raise NotImplementedError

    def _channels_last_images(self, x):
        images = np.asarray(x, np.float64)
        if self.data_format == "channels_first":
            images = images.transpose(0, 2, 3, 1)
        if self.rgb_only and images.shape[-1] != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs RGB images (3 channels), "
                             f"got {images.shape[-1]} channels in {tuple(x.shape)}")
        return images

    def _in_given_layout(self, images):
        if self.data_format == "channels_first":
            images = images.transpose(0, 3, 1, 2)
        return kernels.as_tensor(np.ascontiguousarray(images, np.float32))

    def forward(self, x, training=False):
        if not (self._augments(x, training) or self.augments_at_inference):
            return x
        self._active = True
        images = self._channels_last_images(x)
        if images.size == 0:
            return x
        return self._in_given_layout(self._augment(self._generator(), images))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        raise NotImplementedError(
            f"{type(self).__name__} '{self.name}' is not differentiable with respect to its input "
            "while it augments (training=True), as in Keras; put it before the layers that learn")

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format)
        return cfg


class _ValueRangeAugmentation(_NumpyAugmentation):
    """An augmentation of images whose pixels lie in value_range (min, max)."""

    def __init__(self, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _value_range(self, value_range)

    def _to_unit(self, images, top=1.0):
        lo, hi = self.value_range
        return (images - lo) * (top / (hi - lo))

    def _from_unit(self, images, top=1.0):
        lo, hi = self.value_range
        return images * ((hi - lo) / top) + lo

    def _clip(self, images):
        return np.clip(images, *self.value_range)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(value_range=self.value_range)
        return cfg


def grayscale(images):
    """(N, H, W, 3) -> (N, H, W, 1), the luma of each pixel."""
    return (images @ GRAY_WEIGHTS)[..., None]


def rgb_to_hsv(rgb):
    """(..., 3) RGB -> HSV: hue in [0, 1), saturation (max - min) / max, value max."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=-1)
    spread = value - rgb.min(axis=-1)
    saturation = np.where(value > 0, spread / np.where(value > 0, value, 1.0), 0.0)
    d = np.where(spread > 0, spread, 1.0)
    hue = np.where(value == r, (g - b) / d, np.where(value == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    hue = np.where(spread > 0, (hue / 6.0) % 1.0, 0.0)
    return np.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(hsv):
    """(..., 3) HSV (hue in [0, 1)) -> RGB, the inverse of rgb_to_hsv."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    h6 = (h % 1.0) * 6.0
    sector = np.floor(h6)
    f = h6 - sector
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    sector = sector.astype(np.int64)[..., None] % 6
    choices = [np.stack(c, axis=-1) for c in
               ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))]
    return np.choose(sector, choices)


def _per_image(values):
    return np.asarray(values, np.float64).reshape(-1, 1, 1, 1)


class RandomGrayscale(_NumpyAugmentation):
    """Turns each RGB image grey with probability ``factor``: all three channels become its luma
    0.2989 R + 0.587 G + 0.114 B.

    Args:
        factor: the probability, in [0, 1].
    """

    rgb_only = True

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, bool) or not 0.0 <= float(factor) <= 1.0:
            raise ValueError(f"RandomGrayscale '{self.name}': factor must be in [0, 1], got {factor!r}")
        self.factor = float(factor)

    def _augment(self, rng, images):
        apply = rng.random(images.shape[0]) < self.factor
        return np.where(apply[:, None, None, None], grayscale(images), images)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor)
        return cfg


class _FactorAugmentation(_ValueRangeAugmentation):
    """An augmentation with a strength ``factor`` in [lo_bound, hi_bound] (a number f means
    (lo_bound, f)) and value_range."""

    factor_bounds = (0.0, 1.0)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self._range = _bounded_range(self, "factor", factor, *self.factor_bounds)
        self.factor = _as_given(factor)

    def _draw(self, rng, n):
        return rng.uniform(*self._range, n)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor)
        return cfg


class RandomSaturation(_FactorAugmentation):
    """Scales each RGB image's HSV saturation by f / (1 - f) (f uniform in factor, in [0, 1]):
    0 makes it grey, 0.5 keeps it, 1 saturates it fully. The saturation is clipped to [0, 1]
    (Keras clips it to value_range, which lets it exceed 1 and the colours leave the range).

    Args:
        factor: float in [0, 1] (meaning (0, f)) or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    rgb_only = True

    def _augment(self, rng, images):
        f = self._draw(rng, images.shape[0])
        scale = f / (1.0 - f + 1e-7)
        hsv = rgb_to_hsv(images)
        hsv[..., 1] = np.clip(hsv[..., 1] * scale[:, None, None], 0.0, 1.0)
        return hsv_to_rgb(hsv)


class RandomHue(_FactorAugmentation):
    """Rotates each RGB image's hue by +-f / 2 of a turn (f uniform in factor, in [0, 1], the sign
    +-1 with probability 1/2), in HSV space on pixels scaled from value_range to [0, 1].

    Args:
        factor: float in [0, 1] (meaning (0, f)) or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    rgb_only = True

    def _augment(self, rng, images):
        n = images.shape[0]
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        delta = sign * self._draw(rng, n) * 0.5
        hsv = rgb_to_hsv(self._to_unit(images))
        hsv[..., 0] = (hsv[..., 0] + delta[:, None, None]) % 1.0
        return self._from_unit(np.clip(hsv_to_rgb(hsv), 0.0, 1.0))


class RandomColorDegeneration(_FactorAugmentation):
    """Blends each RGB image towards its grey version: y = clip(x + f (gray(x) - x),
    value_range), f uniform in factor (0 keeps it, 1 makes it grey).

    Args:
        factor: float in [0, 1] (meaning (0, f)) or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    rgb_only = True

    def _augment(self, rng, images):
        f = _per_image(self._draw(rng, images.shape[0]))
        return self._clip(images + f * (grayscale(images) - images))


def smooth3x3(images):
    """Keras' sharpness smoothing: each channel convolved (zero padding, 'same') with the 3x3
    kernel of weight 5/13 at the centre and 1/13 around it."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = images.shape[1:3]
    around = sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3))
    return (around + 4.0 * images) / 13.0


class RandomSharpness(_FactorAugmentation):
    """Sharpens or softens each image: y = clip(x + (1 - 2 f)(smooth(x) - x), value_range), f
    uniform in factor (0 smooths, 0.5 keeps, 1 sharpens), smooth the 3x3 filter of PIL's
    ImageEnhance.Sharpness.

    Args:
        factor: float in [0, 1] (meaning (0, f)) or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    def _augment(self, rng, images):
        f = _per_image(self._draw(rng, images.shape[0]))
        return self._clip(images + (1.0 - 2.0 * f) * (smooth3x3(images) - images))


class RandomPosterization(_FactorAugmentation):
    """Keeps the top b bits of each 8-bit pixel (pixels mapped from value_range to [0, 255] and
    truncated to ints, then back), b a random int in [lower, upper) (b = lower when they are
    equal; a number f means (1, f)), within [1, 8].

    Args:
        factor: int in [1, 8] or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    factor_bounds = (1, 8)

    def _augment(self, rng, images):
        n = images.shape[0]
        lower, upper = (int(v) for v in self._range)
        bits = rng.integers(lower, upper, n) if lower < upper else np.full(n, lower)
        shift = (8 - bits).astype(np.uint8).reshape(-1, 1, 1, 1)
        pixels = np.clip(self._to_unit(images, 255.0), 0, 255).astype(np.uint8)
        return self._from_unit(((pixels >> shift) << shift).astype(np.float64), 255.0)


class RandomInvert(_FactorAugmentation):
    """Inverts each image, y = max + min - x on value_range (min, max), with probability p, p
    uniform in factor. (Keras writes max - x, the same for ranges starting at 0.)

    Args:
        factor: probability, float in [0, 1] (meaning (0, f)) or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range=value_range, seed=seed, data_format=data_format,
                         **kwargs)

    def _augment(self, rng, images):
        n = images.shape[0]
        apply = rng.random(n) < self._draw(rng, n)
        lo, hi = self.value_range
        return np.where(apply[:, None, None, None], lo + hi - images, images)


class Solarization(_ValueRangeAugmentation):
    """Solarizes each image on the 8-bit scale: with x mapped from value_range to [0, 255],
    y = clip(x + a, 0, 255), then 255 - y where y >= t; a = 255 uniform(addition_factor),
    t = 255 uniform(threshold_factor) per image (a number f means (0, f)); mapped back.

    Args:
        addition_factor, threshold_factor: float in [0, 1] or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None,
                 **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self._addition = _bounded_range(self, "addition_factor", addition_factor, 0.0, 1.0)
        self._threshold = _bounded_range(self, "threshold_factor", threshold_factor, 0.0, 1.0)
        self.addition_factor = _as_given(addition_factor)
        self.threshold_factor = _as_given(threshold_factor)

    def _augment(self, rng, images):
        n = images.shape[0]
        addition = _per_image(rng.uniform(*self._addition, n) * 255.0)
        threshold = _per_image(rng.uniform(*self._threshold, n) * 255.0)
        shifted = np.clip(self._to_unit(images, 255.0) + addition, 0.0, 255.0)
        return self._from_unit(np.where(shifted < threshold, shifted, 255.0 - shifted), 255.0)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(addition_factor=self.addition_factor, threshold_factor=self.threshold_factor)
        return cfg


class AutoContrast(_ValueRangeAugmentation):
    """Stretches each channel of each image to the full value_range: y = (x - lo) / (hi - lo)
    mapped onto (min, max), lo / hi the channel's extremes (a constant channel is kept). Not
    random: it applies at inference too, as in Keras.

    Args:
        value_range: (min, max) of the pixel values.
    """

    augments_at_inference = True

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(value_range=value_range, **kwargs)

    def _augment(self, rng, images):
        low = images.min(axis=(1, 2), keepdims=True)
        spread = images.max(axis=(1, 2), keepdims=True) - low
        stretched = (images - low) / np.where(spread > 0, spread, 1.0)
        return np.where(spread > 0, self._from_unit(np.clip(stretched, 0.0, 1.0)), images)

    def get_config(self):
        cfg = super().get_config()
        del cfg["seed"]
        return cfg


class Equalization(_ValueRangeAugmentation):
    """Histogram-equalizes each channel of each image (in training, as Keras): on the 8-bit scale
    (x mapped from value_range to [0, 255]) a histogram of ``bins`` bins (bin int(x (bins - 1) /
    255)), its cumulative counts cdf, and y = round(255 (cdf[bin] - cdf_min) / (count - cdf_min))
    clipped to [0, 255], mapped back; a channel whose pixels fill one bin is kept.

    Args:
        value_range: (min, max) of the pixel values.
        bins: the number of histogram bins (>= 1).
    """

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(value_range=value_range, data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"Equalization '{self.name}': bins must be a positive int, got {bins!r}")
        self.bins = int(bins)

    def _augment(self, rng, images):
        scaled = self._to_unit(images, 255.0)
        out = scaled.copy()
        bins = self.bins
        # a NaN pixel has no bin: it stays NaN and stays out of the histogram (cast to int it was
        # a huge negative bin index, and np.bincount's error named no layer)
        nan = np.isnan(scaled)
        index = np.clip(np.where(nan, 0.0, scaled) * ((bins - 1) / 255.0), 0, bins - 1).astype(np.int64)
        n, _, _, c = images.shape
        for b in range(n):
            for ch in range(c):
                idx = index[b, :, :, ch]
                hist = np.bincount(idx[~nan[b, :, :, ch]].ravel(), minlength=bins)
                if np.count_nonzero(hist) <= 1:
                    continue
                cdf = np.cumsum(hist)
                cdf_min = cdf[np.flatnonzero(cdf)[0]]
                lut = np.clip(np.round((cdf - cdf_min) * 255.0 / (cdf[-1] - cdf_min)), 0, 255)
                out[b, :, :, ch] = np.where(nan[b, :, :, ch], np.nan, lut[idx])
        return self._from_unit(out, 255.0)

    def get_config(self):
        cfg = super().get_config()
        del cfg["seed"]
        cfg.update(bins=self.bins)
        return cfg


def random_boxes(rng, n, h, w, ratio_h, ratio_w):
    """Boxes (y0, y1, x0, x1) (N,) of ratio_h * H by ratio_w * W at uniform offsets, and the mask
    (N, H, W, 1) of the pixels (y, x) with y0 <= y < y1 and x0 <= x < x1, as Keras' CutMix and
    RandomErasing draw them."""
    box_w, box_h = ratio_w * w, ratio_h * h
    x0 = rng.random(n) * (w - box_w)
    y0 = rng.random(n) * (h - box_h)
    x1, y1 = x0 + box_w, y0 + box_h
    ys = np.arange(h)[None, :, None, None]
    xs = np.arange(w)[None, None, :, None]
    mask = ((ys >= _per_image(y0)) & (ys < _per_image(y1)) &
            (xs >= _per_image(x0)) & (xs < _per_image(x1)))
    return (y0, y1, x0, x1), mask


class RandomErasing(_FactorAugmentation):
    """Erases a random box of each image with probability p (p uniform in factor): the box is
    sqrt(s_h) H by sqrt(s_w) W (s_h, s_w uniform in scale) at a uniform offset, filled with
    fill_value (a number, or one per channel), or when it is None with Gaussian noise N(0, 1)
    times max; the fill is clipped to value_range.

    Args:
        factor: probability, float in [0, 1] (meaning (0, f)) or (lower, upper).
        scale: (lower, upper) fractions of the height / width (before the square root), in [0, 1].
        fill_value: None, a number or a list of one value per channel.
        value_range: (min, max) of the pixel values.
    """

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range=value_range, seed=seed, data_format=data_format,
                         **kwargs)
        self._scale = _bounded_range(self, "scale", scale, 0.0, 1.0)
        if fill_value is not None:
            values = fill_value if isinstance(fill_value, (list, tuple)) else [fill_value]
            try:
                fill_value = [float(v) for v in values] if isinstance(fill_value, (list, tuple)) \
                    else float(fill_value)
            except (TypeError, ValueError):
                raise ValueError(f"RandomErasing '{self.name}': fill_value must be None, a number "
                                 f"or a list of numbers, got {fill_value!r}") from None
        self.scale, self.fill_value = _as_given(scale), fill_value

    def _augment(self, rng, images):
        n, h, w, c = images.shape
        ratios = np.sqrt(rng.uniform(*self._scale, (n, 2)))
        _, mask = random_boxes(rng, n, h, w, ratios[:, 1], ratios[:, 0])
        apply = rng.random(n) < self._draw(rng, n)
        if self.fill_value is None:
            fill = rng.standard_normal(images.shape) * self.value_range[1]
        elif isinstance(self.fill_value, list):
            if len(self.fill_value) != c:
                raise ValueError(f"RandomErasing '{self.name}': fill_value has "
                                 f"{len(self.fill_value)} values for {c} channels")
            fill = np.asarray(self.fill_value)
        else:
            fill = self.fill_value
        erased = np.where(mask, self._clip(fill), images)
        return np.where(apply[:, None, None, None], erased, images)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(scale=self.scale, fill_value=self.fill_value)
        return cfg


def gaussian_kernel1d(size, sigma):
    x = np.arange(size) - (size - 1) / 2.0
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(images, kernel_size, sigma):
    """Each channel convolved ('same', zero padding) with the Gaussian of kernel_size (kh, kw)
    and sigma (sigma_h, sigma_w): one 1-D pass along each axis (the 2-D kernel is their outer
    product)."""
    out = images
    for axis, size, s in ((1, kernel_size[0], sigma[0]), (2, kernel_size[1], sigma[1])):
        k = gaussian_kernel1d(size, s)
        pad = [(0, 0)] * 4
        pad[axis] = ((size - 1) // 2, size - 1 - (size - 1) // 2)
        padded = np.pad(out, pad)
        length = out.shape[axis]
        out = sum(k[i] * np.take(padded, np.arange(i, i + length), axis=axis) for i in range(size))
    return out


class RandomGaussianBlur(_FactorAugmentation):
    """Blurs each image with probability p (p uniform in factor) with a Gaussian of kernel_size
    and sigma (sigma_h, sigma_w) uniform in ``sigma`` (one pair per call, as Keras), zero padding
    at the borders; the batch is clipped to value_range.

    Args:
        factor: probability, float in [0, 1] (meaning (0, f)) or (lower, upper).
        kernel_size: odd int, or (height, width) odd ints.
        sigma: float > 0 (meaning (0, sigma)) or (lower, upper).
        value_range: (min, max) of the pixel values.
    """

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(factor, value_range=value_range, seed=seed, data_format=data_format,
                         **kwargs)
        sizes = kernel_size if isinstance(kernel_size, (list, tuple)) else (kernel_size, kernel_size)
        if len(sizes) != 2 or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                                      and k > 0 and k % 2 == 1 for k in sizes):
            raise ValueError(f"RandomGaussianBlur '{self.name}': kernel_size must be an odd positive "
                             f"int or two of them, got {kernel_size!r}")
        self._sigma = _bounded_range(self, "sigma", sigma, 0.0, math.inf)
        self._kernel_size = tuple(int(k) for k in sizes)
        self.kernel_size = _as_int_given(kernel_size)
        self.sigma = _as_given(sigma)

    def _augment(self, rng, images):
        n = images.shape[0]
        apply = rng.random(n) < self._draw(rng, n)
        sigma = rng.uniform(*self._sigma, 2) + 1e-6
        blurred = gaussian_blur(images, self._kernel_size, sigma)
        return self._clip(np.where(apply[:, None, None, None], blurred, images))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(kernel_size=self.kernel_size, sigma=self.sigma)
        return cfg


def _as_int_given(value):
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)


class RandomColorJitter(_NumpyAugmentation):
    """RandomBrightness, RandomContrast, RandomSaturation and RandomHue, in that order, each
    only when its factor is given (each with the layer's seed and value_range).

    Args:
        value_range: (min, max) of the pixel values.
        brightness_factor, contrast_factor, saturation_factor, hue_factor: the factors of those
            layers, or None to leave that one out.
    """

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _value_range(self, value_range)
        self.brightness_factor, self.contrast_factor = _as_given(brightness_factor), _as_given(contrast_factor)
        self.saturation_factor, self.hue_factor = _as_given(saturation_factor), _as_given(hue_factor)
        self.rgb_only = saturation_factor is not None or hue_factor is not None
        self._steps = [cls(factor, value_range=self.value_range, seed=seed)
                       for cls, factor in ((RandomBrightness, brightness_factor),
                                           (RandomContrast, contrast_factor),
                                           (RandomSaturation, saturation_factor),
                                           (RandomHue, hue_factor))
                       if factor is not None]

    def _augment(self, rng, images):
        return apply_ops(self._steps, images)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(value_range=self.value_range, brightness_factor=self.brightness_factor,
                   contrast_factor=self.contrast_factor, saturation_factor=self.saturation_factor,
                   hue_factor=self.hue_factor)
        return cfg


class _Mixing(_NumpyAugmentation):
    """Mixes each image of a batch with another one (a random permutation). Called eagerly on a
    dict {"images": ..., "labels": ...} (Keras' form for a tf.data map) it mixes the labels with
    the same weights and returns such a dict; MixUp also takes "bounding_boxes" (both images'
    boxes kept)."""

    mixes_boxes = False

    def _mix(self, rng, images):  # pragma: no cover - abstract
        """(mixed images, permutation, the weight of each image's own label)"""
        raise NotImplementedError

    def _augment(self, rng, images):
        mixed, permutation, label_weight = self._mix(rng, images)
        self._owner_dict()["_last_mix"] = (permutation, label_weight)
        return mixed

    def _owner_dict(self):   # a call context (under a tape) keeps the layer as its owner
        return self.__dict__.get("_owner", self).__dict__

    def __call__(self, inputs, training=None, **kwargs):
        if not isinstance(inputs, dict):
            return super().__call__(inputs, training=training, **kwargs)
        unknown = set(inputs) - {"images", "labels", "bounding_boxes"}
        if "images" not in inputs or unknown:
            raise ValueError(f"{type(self).__name__} '{self.name}': a dict input holds 'images' and "
                             f"optionally 'labels' (and 'bounding_boxes' for MixUp), got keys "
                             f"{sorted(inputs)}")
        if "bounding_boxes" in inputs and not self.mixes_boxes:
            raise NotImplementedError(f"{type(self).__name__} '{self.name}': bounding boxes are "
                                      "not supported (as Keras)")
        if "bounding_boxes" in inputs and not self.bounding_box_format:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input has 'bounding_boxes' "
                             "but the layer has no bounding_box_format")
        self._owner_dict()["_last_mix"] = None
        images = super().__call__(inputs["images"], training=training, **kwargs)
        out = {"images": images}
        mix = self._owner_dict().pop("_last_mix", None)
        if "labels" in inputs:
            labels = np.asarray(inputs["labels"], np.float64)
            if mix is not None and labels.ndim >= 1 and len(labels) == len(mix[0]):
                permutation, weight = mix
                w = weight.reshape((-1,) + (1,) * (labels.ndim - 1))
                labels = w * labels + (1.0 - w) * labels[permutation]
            out["labels"] = kernels.as_tensor(np.ascontiguousarray(labels, np.float32))
        if "bounding_boxes" in inputs:
            out["bounding_boxes"] = self._mixed_boxes(inputs, mix)
        return out

    def _mixed_boxes(self, inputs, mix):
        """Keras' MixUp: each image's boxes followed by those of the image mixed into it
        (boxes (B, 2N, 4), labels (B, 2N)); unchanged when nothing was mixed."""
        from .image_boxes import dense_boxes
        from ..utils.bounding_boxes import labels_result
        one = len(np.shape(inputs["images"])) == 3
        boxes, labels = dense_boxes(self, inputs["bounding_boxes"], not one)
        if mix is not None and not one:
            perm = mix[0]
            boxes = np.concatenate([boxes, boxes[perm]], axis=1)
            labels = np.concatenate([labels, labels[perm]], axis=1)
        result = dict(inputs["bounding_boxes"])
        result["boxes"] = kernels.as_tensor(np.ascontiguousarray(
            (boxes[0] if one else boxes).astype(np.float32)))
        result["labels"] = labels_result(labels[0] if one else labels)
        return result


class MixUp(_Mixing):
    """MixUp (Zhang et al. 2018): y = w x + (1 - w) x[perm], w ~ Beta(alpha, alpha) per image,
    perm a random permutation of the batch; labels (dict input) mixed with the same w.

    Args:
        alpha: the Beta distribution's parameter, > 0.
    """

    mixes_boxes = True

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(alpha, bool) or not float(alpha) > 0.0 or not math.isfinite(float(alpha)):
            raise ValueError(f"MixUp '{self.name}': alpha must be a positive number, got {alpha!r}")
        self.alpha = float(alpha)

    def _mix(self, rng, images):
        n = images.shape[0]
        perm = rng.permutation(n)
        weight = rng.beta(self.alpha, self.alpha, n)
        return _per_image(weight) * images + _per_image(1.0 - weight) * images[perm], perm, weight

    def get_config(self):
        cfg = super().get_config()
        cfg.update(alpha=self.alpha)
        return cfg


class CutMix(_Mixing):
    """CutMix (Yun et al. 2019): pastes into each image a box of another one (a random
    permutation): w ~ Beta(a, a) per image (a uniform in factor, one per call), the box sqrt(1 -
    w) H by sqrt(1 - w) W at a uniform offset; labels (dict input) are mixed by the area kept.
    One image alone is left as it is.

    Args:
        factor: float in [0, 1] (meaning (0, f)) or (lower, upper), the range of a.
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self._range = _bounded_range(self, "factor", factor, 0.0, 1.0)
        self.factor = _as_given(factor)

    def _mix(self, rng, images):
        n, h, w, _ = images.shape
        a = rng.uniform(*self._range) + 1e-6
        ratio = np.sqrt(1.0 - rng.beta(a, a, n))
        (y0, y1, x0, x1), mask = random_boxes(rng, n, h, w, ratio, ratio)
        perm = rng.permutation(n)
        kept = 1.0 - (x1 - x0) * (y1 - y0) / (w * h)
        return np.where(mask, images[perm], images), perm, kept

    def _augment(self, rng, images):
        if self.__dict__.get("_one_image"):   # Keras: nothing to mix a single image with
            return images
        return super()._augment(rng, images)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor)
        return cfg


# ---------------------------------------------------------------------------------------------
# Composition


class Pipeline(TrainingByDefault, Layer):
    """Applies its layers one after another (Keras 3's Pipeline: a Sequential for
    preprocessing, passing ``training`` to each). Differentiable where all its layers are.

    Args:
        layers: a list of layers.
    """

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        layers = list(layers)
        if not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError(f"Pipeline '{self.name}': layers must be a list of layers, got "
                             f"{[type(layer).__name__ for layer in layers]}")
        self.layers = layers

    def _sublayers(self):
        return list(self.layers)

    def __call__(self, inputs, training=None, **kwargs):
        if isinstance(inputs, dict):   # Keras' dict form (images, bounding_boxes, ...): each
            training = True if training is None else training   # layer's own dict call in turn
            for layer in self.layers:
                inputs = layer(inputs, training=training, **kwargs)
            return inputs
        return super().__call__(inputs, training=training, **kwargs)

    def check_input_shape(self, shape):
        if self.layers:
            self.layers[0].check_input_shape(shape)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def forward(self, x, training=False):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy):
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            layer.needs_input_grad = self.needs_input_grad if i == 0 else True
            dy = layer.backward(dy)
        return dy

    def get_config(self):
        from . import serialize
        cfg = super().get_config()
        cfg["layers"] = [serialize(layer) for layer in self.layers]
        return cfg

    @classmethod
    def from_config(cls, config):
        from . import deserialize
        config = dict(config)
        config["layers"] = [deserialize(spec) for spec in config["layers"]]
        return cls(**config)


def augmentation_ops(magnitude, value_range, interpolation, seed, colour=True):
    """The layers RandAugment and AugMix draw from, at ``magnitude`` (lower, upper) (Keras'
    lists): geometry, posterization, solarization, auto-contrast, equalization and, with
    ``colour``, brightness, colour degeneration, contrast and sharpness."""
    m, vr = magnitude, value_range
    ops = [RandomShear(x_factor=m, y_factor=m, interpolation=interpolation, seed=seed),
           RandomTranslation(m, m, interpolation=interpolation, seed=seed),
           RandomRotation(m, interpolation=interpolation, seed=seed),
           RandomPosterization(max(1, int(8 * m[1])), value_range=vr, seed=seed),
           Solarization(addition_factor=m, threshold_factor=m, value_range=vr, seed=seed),
           AutoContrast(value_range=vr),
           Equalization(value_range=vr)]
    if colour:
        ops += [RandomBrightness(m, value_range=vr, seed=seed),
                RandomColorDegeneration(m, value_range=vr, seed=seed),
                RandomContrast(m, value_range=vr, seed=seed),
                RandomSharpness(m, value_range=vr, seed=seed)]
    return ops


def apply_ops(ops, images, geometries=None):
    """images (N, H, W, C) float64 through the augmentation layers ``ops`` in turn (training);
    each op's recorded geometry (or None) is appended to ``geometries`` when given."""
    y = np.ascontiguousarray(images, np.float32)
    for op in ops:
        op.__dict__.pop("_box_geometry", None)
        # a copy out of the op's output buffer: the same op drawn twice in a row would otherwise
        # read and write one buffer
        y = np.array(op.forward(kernels.as_tensor(y), training=True), np.float32)
        if geometries is not None:
            geometries.append(op.__dict__.pop("_box_geometry", None))
    return y.astype(np.float64)


def compose_transforms(geometries, n):
    """One ("transform", (N, 8), size) geometry for a chain of same-size projective transforms
    (output -> input each, so the chain's matrix is M_1 M_2 ... M_k), or None when none moved."""
    total, size = None, None
    for g in geometries:
        if g is None:
            continue
        m = np.concatenate([g[1], np.ones((n, 1))], axis=1).reshape(n, 3, 3)
        total, size = (m if total is None else total @ m), g[2]
    if total is None:
        return None
    total = total / total[:, 2:3, 2:3]
    return ("transform", total.reshape(n, 9)[:, :8], size)


class _MagnitudeAugmentation(_ValueRangeAugmentation):
    """RandAugment / AugMix: a magnitude ``factor`` for the augmentation_ops they draw from."""

    def __init__(self, value_range, factor, interpolation, seed, data_format, colour=True, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self._range = _bounded_range(self, "factor", factor, 0.0, 1.0)
        self.factor, self.interpolation = _as_given(factor), check_interpolation(self, interpolation)
        self._ops = augmentation_ops(self._range, self.value_range, interpolation, seed, colour)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor, interpolation=self.interpolation)
        return cfg


def _count(layer, what, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {what} must be an int >= {minimum}, "
                         f"got {value!r}")
    return int(value)


class RandAugment(_MagnitudeAugmentation):
    """RandAugment (Cubuk et al. 2020): num_ops augmentations, each drawn uniformly per call from
    RandomShear, RandomTranslation, RandomRotation, RandomPosterization, Solarization,
    AutoContrast, Equalization, RandomBrightness, RandomColorDegeneration, RandomContrast and
    RandomSharpness, with strength ``factor`` (as Keras).

    Args:
        value_range: (min, max) of the pixel values.
        num_ops: how many augmentations per call (>= 0).
        factor: the magnitude, float in [0, 1] (meaning (0, f)) or (lower, upper).
        interpolation: 'bilinear' or 'nearest' for the geometric ones.
    """

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, **kwargs):
        super().__init__(value_range, factor, interpolation, seed, data_format, **kwargs)
        self.num_ops = _count(self, "num_ops", num_ops, 0)

    def _augment(self, rng, images):
        choices = rng.integers(0, len(self._ops), self.num_ops)
        geometries = []
        out = apply_ops([self._ops[i] for i in choices], images, geometries)
        self._note_geometry(compose_transforms(geometries, len(images)))   # boxes follow the chain
        return out

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_ops=self.num_ops)
        return cfg


class AugMix(_MagnitudeAugmentation):
    """AugMix (Hendrycks et al. 2020): num_chains chains of chain_depth steps, each step one of
    the augmentation layers (as RandAugment's; without the colour ones unless ``all_ops``) or
    nothing, drawn uniformly per call; the chains are summed with Dirichlet(alpha) weights and
    mixed with the image: y = clip(m x + (1 - m) sum_i w_i chain_i(x), value_range), m ~
    Beta(alpha, alpha).

    Args:
        value_range: (min, max) of the pixel values.
        num_chains: how many chains (>= 1).
        chain_depth: the steps per chain (>= 1).
        factor: the magnitude, float in [0, 1] (meaning (0, f)) or (lower, upper).
        alpha: the Dirichlet and Beta parameter, > 0.
        all_ops: also draw brightness, colour degeneration, contrast and sharpness.
        interpolation: 'bilinear' or 'nearest' for the geometric ones.
    """

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3, alpha=1.0,
                 all_ops=True, interpolation="bilinear", seed=None, data_format=None, **kwargs):
        super().__init__(value_range, factor, interpolation, seed, data_format,
                         colour=bool(all_ops), **kwargs)
        self.num_chains = _count(self, "num_chains", num_chains, 1)
        self.chain_depth = _count(self, "chain_depth", chain_depth, 1)
        if isinstance(alpha, bool) or not float(alpha) > 0.0 or not math.isfinite(float(alpha)):
            raise ValueError(f"AugMix '{self.name}': alpha must be a positive number, got {alpha!r}")
        self.alpha, self.all_ops = float(alpha), bool(all_ops)

    def _augment(self, rng, images):
        chain_weights = rng.dirichlet([self.alpha] * self.num_chains)
        keep = rng.beta(self.alpha, self.alpha)
        chains = np.zeros_like(images)
        for weight in chain_weights:
            steps = rng.integers(0, len(self._ops) + 1, self.chain_depth)   # len(ops): no step
            chains += weight * apply_ops([self._ops[i] for i in steps if i < len(self._ops)], images)
        return self._clip(keep * images + (1.0 - keep) * chains)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_chains=self.num_chains, chain_depth=self.chain_depth, alpha=self.alpha,
                   all_ops=self.all_ops)
        return cfg
