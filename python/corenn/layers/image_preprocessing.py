"""Image preprocessing and augmentation layers (Keras layers/preprocessing/image_preprocessing):
Resizing, CenterCrop, and the random augmentations RandomFlip, RandomCrop, RandomTranslation,
RandomRotation, RandomZoom, RandomContrast, RandomBrightness. Images are NHWC float32. Keras 3's
further augmentation layers (RandomShear, RandomHue, MixUp, RandAugment, ...) build on these in
image_augmentation.py.

Two kernels do the geometry (csrc/ops/resize2d.h, csrc/ops/image_transform.h):
    resize2d         a window of each image resized (half-pixel centres, as TF / Keras);
                     Resizing, CenterCrop and every crop-to-aspect-ratio resize
    image_transform  one projective transform per sample with bilinear / nearest sampling and
                     the fill modes reflect / wrap / nearest / constant; flips, crops,
                     translations, rotations and zooms are all such transforms
Both have a backward (the transposed sampling), so every layer here is differentiable with
respect to its input and can sit anywhere in a model.

Every layer here (and in image_augmentation.py) also takes ``bounding_box_format=`` and Keras'
dict {"images", "bounding_boxes", "labels", "segmentation_masks"}: the boxes and masks follow the
images' geometry, from the same random draw (layers/image_boxes.py).

The random layers are active only with ``training=True`` (their default when called directly,
as Keras 3's; identity otherwise, as in Keras,
except RandomCrop, which resizes at inference). Their parameters are drawn per sample from
corenn's generator (``corenn.utils.set_random_seed``), or from a generator of their own when
``seed`` is given.
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .base import Layer, shape_str

__all__ = ["Resizing", "CenterCrop", "RandomFlip", "RandomCrop", "RandomTranslation",
           "RandomRotation", "RandomZoom", "RandomContrast", "RandomBrightness"]


def _positive_int(layer, what, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{type(layer).__name__}: {what} must be a positive int, got {v!r}")
    return int(v)


def _channels_last(layer, data_format):
    if data_format is None:   # the global keras.config.image_data_format(), as in Keras
        from ..keras.backend import image_data_format
        if image_data_format() != "channels_last":
            raise NotImplementedError(f"{type(layer).__name__} '{layer.name}': only channels_last images "
                                      "are supported, and keras.config.image_data_format() is "
                                      f"{image_data_format()!r}; pass data_format='channels_last'")
    elif data_format != "channels_last":
        raise NotImplementedError(f"{type(layer).__name__} '{layer.name}': only channels_last "
                                  "images are supported")


def _check_image_shape(layer, input_shape):
    if len(input_shape) not in (3, 4):
        raise ValueError(f"{type(layer).__name__} '{layer.name}' expects images of shape "
                         f"(batch, height, width, channels) (rank 4) or one image (height, width, "
                         f"channels) (rank 3), got {shape_str(input_shape)}")


class _TakesOneImage:
    """Keras 3: an image layer also takes one unbatched image (H, W, C) (the data-augmentation
    tutorial calls the layers on a single image). It runs as a batch of one: the subclasses'
    forward / backward / compute_output_shape see rank 4, wrapped here once per class."""

    def __init__(self, *args, bounding_box_format=None, **kwargs):
        super().__init__(*args, **kwargs)
        from ..utils.bounding_boxes import SUPPORTED_FORMATS
        if bounding_box_format is not None and (not isinstance(bounding_box_format, str) or
                                                bounding_box_format.lower() not in SUPPORTED_FORMATS):
            raise ValueError(f"{type(self).__name__}: bounding_box_format must be one of "
                             f"{', '.join(SUPPORTED_FORMATS)} or None, got {bounding_box_format!r}")
        self.bounding_box_format = bounding_box_format

    def __call__(self, inputs, training=None, **kwargs):
        # Keras' dict form {"images", "bounding_boxes", "labels", "segmentation_masks"}: the boxes
        # and masks follow the images' geometry (layers/image_boxes.py)
        if isinstance(inputs, dict):
            from .image_boxes import call_on_dict
            return call_on_dict(self, inputs, training, kwargs, super().__call__)
        return super().__call__(_float_images(inputs), training=training, **kwargs)

    def _note_geometry(self, geometry):
        """Record what this call did to the image plane, for the boxes of a dict call:
        ("window", (top, left, height, width), (out_h, out_w), (pad_top, pad_left)) or
        ("transform", (N, 8) float64 transforms, (out_h, out_w)); None: nothing moved."""
        self.__dict__.get("_owner", self).__dict__["_box_geometry"] = geometry

    def get_config(self):
        cfg = super().get_config()
        if self.__dict__.get("bounding_box_format") is not None:
            cfg["bounding_box_format"] = self.bounding_box_format
        return cfg

    def check_input_shape(self, shape):
        # these layers take any image size (and one image or a batch): only the rank is checked
        _check_image_shape(self, shape)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, wrap in (("forward", _one_image_forward), ("backward", _one_image_backward),
                           ("compute_output_shape", _one_image_shape)):
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "_takes_one_image", False):
                setattr(cls, name, wrap(fn))


def _float_images(inputs):
    """Keras 3 casts the images to the layer's compute dtype before transforming them, so an
    integer mask (the segmentation tutorial flips its uint8 labels with a RandomFlip) comes out
    float32. NumPy input already arrives as float32; an integer Tensor would reach the float32-only
    kernels, so it is cast here. Symbolic inputs (model building) are left alone."""
    from .._C import Tensor
    if isinstance(inputs, Tensor) and inputs.dtype not in ("float32", "float16", "bfloat16", "float64"):
        from ..ops import cast
        return cast(inputs, "float32")
    return inputs


def _one_image_forward(fn):
    def forward(self, x, training=False):
        one = len(x.shape) == 3
        self._one_image = one
        if not one:
            return fn(self, x, training=training)
        y = fn(self, x.reshape((1,) + tuple(x.shape)), training=training)
        return y.reshape(tuple(y.shape[1:]))
    forward._takes_one_image = True
    return forward


def _one_image_backward(fn):
    def backward(self, dy):
        if not self.__dict__.get("_one_image"):
            return fn(self, dy)
        dx = fn(self, dy.reshape((1,) + tuple(dy.shape)))
        return None if dx is None else dx.reshape(tuple(dx.shape[1:]))
    backward._takes_one_image = True
    return backward


def _one_image_shape(fn):
    def compute_output_shape(self, input_shape):
        if len(input_shape) == 3:
            return tuple(fn(self, (1,) + tuple(input_shape))[1:])
        return fn(self, input_shape)
    compute_output_shape._takes_one_image = True
    return compute_output_shape


def aspect_ratio_window(h, w, target_h, target_w):
    """(top, left, height, width): the largest centred window of an h x w image with the target's
    aspect ratio (Keras smart_resize / crop_to_aspect_ratio)."""
    crop_h = max(min(h, int(float(w * target_h) / target_w)), 1)
    crop_w = max(min(w, int(float(h * target_w) / target_h)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w


# Resizing's interpolations that run keras.ops.image.resize's resampling (kernels.resize2d has
# RESIZE_INTERPOLATIONS).
RESAMPLED_INTERPOLATIONS = ("bicubic", "lanczos3", "lanczos5")


class _ResizeWindow(_TakesOneImage, Layer):
    """A layer whose output is one window of the input resized to (height, width); subclasses
    choose the window (_window) and the interpolation."""

    interpolation = "bilinear"

    def _window(self, h, w):  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, input_shape):
        _check_image_shape(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_image_shape(self, input_shape)
        return (input_shape[0], self.height, self.width, input_shape[3])

    def forward(self, x, training=False):
        _check_image_shape(self, tuple(x.shape))
        n, h, w, c = x.shape
        self._x_shape, self._win = tuple(x.shape), self._window(h, w)
        self._note_geometry(("window", self._win, (self.height, self.width), (0, 0)))
        y = self._buffer("y", (n, self.height, self.width, c))
        return kernels.resize2d_forward(x, (self.height, self.width), self.interpolation,
                                        window=self._win, out=y)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.resize2d_backward(dy, self._x_shape, self.interpolation, window=self._win,
                                         out=self._buffer("dx", self._x_shape))


class Resizing(_ResizeWindow):
    """Resizes images to (height, width), as ``tf.image.resize`` (half-pixel centres, no
    antialiasing): 'bilinear' blends the four nearest pixels (edges clamped), 'nearest' takes
    the pixel at floor((o + 0.5) * in / out). With ``crop_to_aspect_ratio`` the largest centred
    window of the target's aspect ratio is resized instead of the whole image. Backward is the
    transposed interpolation.

    Args:
        height, width: the output size.
        interpolation: 'bilinear' or 'nearest' (the resize kernel), or 'bicubic', 'lanczos3',
            'lanczos5' (resampled as ``keras.ops.image.resize`` does, Keys' cubic with a = -0.5
            as TensorFlow and JAX; backward through the op's gradient). Keras' 'area' is not built.
        crop_to_aspect_ratio: resize a centred window of the target's aspect ratio.
        pad_to_aspect_ratio: first pad the image with ``fill_value`` to the target's aspect ratio
            (the same margin on both sides, as Keras), then resize.
        fill_mode, fill_value: 'constant' (the only mode, as in Keras) and the padding's value.
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = _positive_int(self, "height", height)
        self.width = _positive_int(self, "width", width)
        if interpolation not in kernels.RESIZE_INTERPOLATIONS + RESAMPLED_INTERPOLATIONS:
            raise NotImplementedError(f"Resizing '{self.name}': interpolation must be one of "
                                      f"{', '.join(kernels.RESIZE_INTERPOLATIONS + RESAMPLED_INTERPOLATIONS)}, "
                                      f"got {interpolation!r}")
        if pad_to_aspect_ratio and crop_to_aspect_ratio:
            raise ValueError(f"Resizing '{self.name}': only one of pad_to_aspect_ratio and "
                             f"crop_to_aspect_ratio can be True")
        if fill_mode != "constant":
            raise ValueError(f"Resizing '{self.name}': fill_mode must be 'constant', got {fill_mode!r}")
        _channels_last(self, data_format)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)

    def _margins(self, h, w):
        """(rows, columns) of fill added on each side to reach the target's aspect ratio (Keras:
        the same margin on both sides, half the shortfall rounded down)."""
        pad_h = max(h, int(float(w * self.height) / self.width))
        pad_w = max(w, int(float(h * self.width) / self.height))
        return int(float(pad_h - h) / 2), int(float(pad_w - w) / 2)

    # (not wrapped by _TakesOneImage: the parent's forward / backward are, and take one image)
    def forward(self, x, training=False):
        if self.interpolation in RESAMPLED_INTERPOLATIONS:
            return self._resampled_forward(x)
        if not self.pad_to_aspect_ratio:
            return super().forward(x, training)
        _check_image_shape(self, tuple(x.shape))
        one = len(x.shape) == 3
        n, h, w, c = (1,) + tuple(x.shape) if one else tuple(x.shape)
        top, left = self._margins(h, w)
        padded = self._buffer("padded", (n, h + 2 * top, w + 2 * left, c))
        p = np.asarray(padded)
        p[...] = self.fill_value
        p[:, top:top + h, left:left + w] = np.asarray(x).reshape(n, h, w, c)
        self._margin = (top, left, h, w, one)
        y = super().forward(padded, training)
        self._note_geometry(("window", self._win, (self.height, self.width), (top, left)))
        return y.reshape(tuple(y.shape[1:])) if one else y

    def backward(self, dy):
        if self.interpolation in RESAMPLED_INTERPOLATIONS:
            return self._resampled_backward(dy)
        if not self.pad_to_aspect_ratio:
            return super().backward(dy)
        top, left, h, w, one = self._margin
        dx = super().backward(dy.reshape((1,) + tuple(dy.shape)) if one else dy)
        if dx is None:
            return None
        out = self._buffer("dx_inner", (dx.shape[0], h, w, dx.shape[3]))
        np.asarray(out)[...] = np.asarray(dx)[:, top:top + h, left:left + w]
        return out.reshape(tuple(out.shape[1:])) if one else out

    forward._takes_one_image = backward._takes_one_image = True

    # 'bicubic' and the Lanczos kernels: keras.ops.image.resize's resampling (a separable
    # scale_and_translate), which a tape differentiates; the crop or padding is the op's own.
    def _resample(self, x):
        from .. import ops_image
        return ops_image.resize(x, (self.height, self.width), interpolation=self.interpolation,
                                crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_value=self.fill_value)

    def _resampled_forward(self, x):
        from ..autodiff import stop_recording
        _check_image_shape(self, tuple(x.shape))
        h, w = tuple(x.shape)[-3:-1]
        self._x_in = x
        with stop_recording():   # the layer's call is what a tape records
            y = self._resample(x)
        if self.pad_to_aspect_ratio:
            top, left = self._margins(h, w)
            self._note_geometry(("window", (0, 0, h + 2 * top, w + 2 * left), (self.height, self.width),
                                 (top, left)))
        else:
            self._note_geometry(("window", self._window(h, w), (self.height, self.width), (0, 0)))
        out = self._buffer("y", tuple(y.shape))
        np.copyto(np.asarray(out), np.asarray(y))
        return out

    def _resampled_backward(self, dy):
        if not self.needs_input_grad:
            return None
        from ..autodiff import GradientTape
        x = self._x_in
        with GradientTape() as tape:
            tape.watch(x)
            y = self._resample(x)
        g = tape.gradient(y, x, output_gradients=dy)
        dx = self._buffer("dx", tuple(x.shape))
        np.copyto(np.asarray(dx), 0.0 if g is None else np.asarray(g))
        return dx

    def _window(self, h, w):
        if self.crop_to_aspect_ratio:
            return aspect_ratio_window(h, w, self.height, self.width)
        return 0, 0, h, w

    def get_config(self):
        cfg = super().get_config()
        cfg.update(height=self.height, width=self.width, interpolation=self.interpolation,
                   crop_to_aspect_ratio=self.crop_to_aspect_ratio, pad_to_aspect_ratio=self.pad_to_aspect_ratio,
                   fill_mode=self.fill_mode, fill_value=self.fill_value,
                   data_format="channels_last")
        return cfg


class CenterCrop(_ResizeWindow):
    """Crops the centre (height, width) of each image: rows from (H - height) // 2. An image
    smaller than the target in either dimension is resized instead (bilinear, its largest
    centred window of the target's aspect ratio), as Keras does. Backward puts dy back into the
    window (zeros elsewhere).

    Args:
        height, width: the output size.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = _positive_int(self, "height", height)
        self.width = _positive_int(self, "width", width)
        _channels_last(self, data_format)

    def _window(self, h, w):
        if h >= self.height and w >= self.width:  # a window of the output's size: an exact crop
            return (h - self.height) // 2, (w - self.width) // 2, self.height, self.width
        return aspect_ratio_window(h, w, self.height, self.width)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(height=self.height, width=self.width, data_format="channels_last")
        return cfg


# ---------------------------------------------------------------------------------------------
# Random augmentation: per-sample projective transforms on the image_transform kernel


def _as_given(factor):
    """A factor as the config keeps it (Keras stores the argument as it was passed)."""
    return None if factor is None else \
        tuple(float(v) for v in factor) if isinstance(factor, (list, tuple)) else float(factor)


def _factor_range(layer, what, factor, lo_bound=None, hi_bound=None):
    """Keras' factor argument: a float f is (-f, f), a pair is (lower, upper)."""
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2:
            raise ValueError(f"{type(layer).__name__}: {what} must be a float or (lower, upper), "
                             f"got {factor!r}")
        lower, upper = (float(v) for v in factor)
    else:
        lower, upper = -abs(float(factor)), abs(float(factor))
    if not (math.isfinite(lower) and math.isfinite(upper)) or lower > upper:
        raise ValueError(f"{type(layer).__name__}: {what} must be finite with lower <= upper, "
                         f"got {factor!r}")
    if (lo_bound is not None and lower < lo_bound) or (hi_bound is not None and upper > hi_bound):
        raise ValueError(f"{type(layer).__name__}: {what} must lie in "
                         f"[{lo_bound}, {hi_bound}], got {factor!r}")
    return lower, upper


class TrainingByDefault:
    """Mixin (before the Layer base): Keras 3's augmentation layers (and Pipeline) default to
    training=True in their call signature: called directly (or inside a model called without
    training=) they augment; fit passes True, predict / evaluate False."""

    default_training = True

    def __call__(self, inputs, training=None, **kwargs):
        from ..models.graph import is_symbolic
        if training is None and not is_symbolic(inputs):   # a node keeps the model's flag
            training = True
        return super().__call__(inputs, training=training, **kwargs)


class _RandomLayer(_TakesOneImage, TrainingByDefault, Layer):
    """Seeded randomness (as Dropout): a generator of its own when ``seed`` is given, else
    corenn's process-wide one. Active only with training=True."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be a non-negative int or None, "
                             f"got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)

    def _augments(self, x, training):
        """Checks the images and records whether this call augments them (training)."""
        _check_image_shape(self, tuple(x.shape))
        self._active = bool(training)
        return self._active

    def _generator(self):
        if self._rng is not None:
            return self._rng
        from ..utils.random import get_generator
        return get_generator()

    def build(self, input_shape):
        _check_image_shape(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_image_shape(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(seed=self.seed)
        return cfg


class _RandomTransform(_RandomLayer):
    """Draws one projective transform per sample (_transforms) and warps the batch with it."""

    fill_mode, interpolation, fill_value = "nearest", "bilinear", 0.0

    def _transforms(self, rng, n, h, w):  # pragma: no cover - abstract
        raise NotImplementedError

    def _output_size(self, h, w):
        return h, w

    def forward(self, x, training=False):
        if not self._augments(x, training):
            self._note_geometry(None)
            return x
        n, h, w, c = x.shape
        self._x_shape = tuple(x.shape)
        t = np.zeros((n, 8), np.float64)
        if n:
            t = self._transforms(self._generator(), n, h, w)
        self._t = kernels.as_tensor(np.ascontiguousarray(t, dtype=np.float32))
        oh, ow = self._output_size(h, w)
        self._note_geometry(("transform", np.asarray(t, np.float64), (oh, ow)))
        return kernels.image_transform_forward(x, self._t, (oh, ow), self.interpolation,
                                               self.fill_mode, self.fill_value,
                                               out=self._buffer("y", (n, oh, ow, c)))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        return kernels.image_transform_backward(dy, self._t, self._x_shape, self.interpolation,
                                                self.fill_mode,
                                                out=self._buffer("dx", self._x_shape))


def _identity(n):
    t = np.zeros((n, 8), np.float64)
    t[:, 0] = t[:, 4] = 1.0
    return t


class RandomFlip(_RandomTransform):
    """Flips each image with probability 1/2 along each axis that ``mode`` names: 'horizontal'
    (left-right), 'vertical' (up-down) or 'horizontal_and_vertical' (both, independently).

    Args:
        mode: 'horizontal', 'vertical' or 'horizontal_and_vertical'.
        seed: fixes this layer's draws.
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"RandomFlip '{self.name}': mode must be one of {', '.join(self.MODES)}, "
                             f"got {mode!r}")
        _channels_last(self, data_format)
        self.mode = mode

    def _transforms(self, rng, n, h, w):
        t = _identity(n)
        if self.mode != "vertical":  # x_in = (W - 1) - X
            flip = rng.random(n) < 0.5
            t[flip, 0], t[flip, 2] = -1.0, w - 1
        if self.mode != "horizontal":
            flip = rng.random(n) < 0.5
            t[flip, 4], t[flip, 5] = -1.0, h - 1
        return t

    def get_config(self):
        cfg = super().get_config()
        cfg.update(mode=self.mode, data_format="channels_last")
        return cfg


class RandomTranslation(_RandomTransform):
    """Shifts each image by a random fraction of its size: rows by uniform(height_factor) * H,
    columns by uniform(width_factor) * W (a float f means (-f, f); positive moves down / right),
    filling what comes in by ``fill_mode``.

    Args:
        height_factor, width_factor: float or (lower, upper), within [-1, 1].
        fill_mode: 'reflect', 'wrap', 'nearest' or 'constant' (fill_value).
        interpolation: 'bilinear' or 'nearest'.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._height_range = _factor_range(self, "height_factor", height_factor, -1.0, 1.0)
        self._width_range = _factor_range(self, "width_factor", width_factor, -1.0, 1.0)
        self.height_factor, self.width_factor = _as_given(height_factor), _as_given(width_factor)
        _set_sampling(self, fill_mode, interpolation, fill_value)
        _channels_last(self, data_format)

    def _transforms(self, rng, n, h, w):
        dy = rng.uniform(*self._height_range, n) * h
        dx = rng.uniform(*self._width_range, n) * w
        t = _identity(n)
        t[:, 2], t[:, 5] = -dx, -dy
        return t

    def get_config(self):
        cfg = super().get_config()
        cfg.update(height_factor=self.height_factor, width_factor=self.width_factor,
                   **_sampling_config(self))
        return cfg


class RandomRotation(_RandomTransform):
    """Rotates each image about its centre by a random angle uniform(factor) * 2 pi (a float f
    means (-f, f); positive is counter-clockwise), filling the corners by ``fill_mode``.

    Args:
        factor: float or (lower, upper), as a fraction of a full turn.
        fill_mode: 'reflect', 'wrap', 'nearest' or 'constant' (fill_value).
        interpolation: 'bilinear' or 'nearest'.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _factor_range(self, "factor", factor)
        self.factor = _as_given(factor)
        _set_sampling(self, fill_mode, interpolation, fill_value)
        _channels_last(self, data_format)

    def _transforms(self, rng, n, h, w):
        return rotation_transforms(rng.uniform(*self._range, n) * 2.0 * np.pi, h, w)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor, **_sampling_config(self))
        return cfg


def rotation_transforms(angles, h, w):
    """Transforms (N, 8) rotating images of h x w about their centre by ``angles`` (radians,
    counter-clockwise), output pixel -> input point (as Keras / TF angles_to_projective_transforms)."""
    cos, sin = np.cos(angles), np.sin(angles)
    t = np.zeros((len(angles), 8), np.float64)
    t[:, 0], t[:, 1], t[:, 3], t[:, 4] = cos, -sin, sin, cos
    t[:, 2] = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
    t[:, 5] = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
    return t


class RandomZoom(_RandomTransform):
    """Zooms each image about its centre: the sampling step along H is 1 + uniform(height_factor)
    (positive zooms out, negative in; a float f means (-f, f)), along W 1 + uniform(width_factor),
    or the same as H when width_factor is None (aspect ratio kept).

    Args:
        height_factor: float or (lower, upper), each > -1.
        width_factor: None, float or (lower, upper).
        fill_mode: 'reflect', 'wrap', 'nearest' or 'constant' (fill_value).
        interpolation: 'bilinear' or 'nearest'.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._height_range = _factor_range(self, "height_factor", height_factor)
        self._width_range = None if width_factor is None else \
            _factor_range(self, "width_factor", width_factor)
        self.height_factor, self.width_factor = _as_given(height_factor), _as_given(width_factor)
        for f in (self._height_range, self._width_range or (0.0, 0.0)):
            if f[0] <= -1.0:
                raise ValueError(f"RandomZoom '{self.name}': factors must be > -1, got {f}")
        _set_sampling(self, fill_mode, interpolation, fill_value)
        _channels_last(self, data_format)

    def _transforms(self, rng, n, h, w):
        zy = 1.0 + rng.uniform(*self._height_range, n)
        zx = zy if self._width_range is None else 1.0 + rng.uniform(*self._width_range, n)
        t = _identity(n)
        t[:, 0], t[:, 4] = zx, zy
        t[:, 2] = (w - 1) / 2.0 * (1.0 - zx)
        t[:, 5] = (h - 1) / 2.0 * (1.0 - zy)
        return t

    def get_config(self):
        cfg = super().get_config()
        cfg.update(height_factor=self.height_factor, width_factor=self.width_factor,
                   **_sampling_config(self))
        return cfg


def check_interpolation(layer, interpolation):
    if interpolation not in kernels.RESIZE_INTERPOLATIONS:
        raise NotImplementedError(f"{type(layer).__name__} '{layer.name}': interpolation must be "
                                  f"one of {', '.join(kernels.RESIZE_INTERPOLATIONS)}, got "
                                  f"{interpolation!r}")
    return interpolation


def _set_sampling(layer, fill_mode, interpolation, fill_value):
    if fill_mode not in kernels.FILL_MODES:
        raise NotImplementedError(f"{type(layer).__name__} '{layer.name}': fill_mode must be one "
                                  f"of {', '.join(kernels.FILL_MODES)}, got {fill_mode!r}")
    layer.fill_mode, layer.interpolation = fill_mode, check_interpolation(layer, interpolation)
    layer.fill_value = float(fill_value)


def _sampling_config(layer):
    return dict(fill_mode=layer.fill_mode, interpolation=layer.interpolation,
                fill_value=layer.fill_value, data_format="channels_last")


class RandomCrop(_RandomTransform):
    """Crops a random (height, width) window of each image in training (offsets uniform per
    sample). At inference, and for images smaller than the target, it resizes instead
    (bilinear, the largest centred window of the target's aspect ratio), as Keras does.

    Args:
        height, width: the output size.
        seed: fixes this layer's draws.
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height = _positive_int(self, "height", height)
        self.width = _positive_int(self, "width", width)
        _channels_last(self, data_format)

    def compute_output_shape(self, input_shape):
        _check_image_shape(self, input_shape)
        return (input_shape[0], self.height, self.width, input_shape[3])

    def _output_size(self, h, w):
        return self.height, self.width

    def _transforms(self, rng, n, h, w):  # integer offsets: the bilinear taps are exact copies
        t = _identity(n)
        t[:, 2] = rng.integers(0, w - self.width + 1, n)
        t[:, 5] = rng.integers(0, h - self.height + 1, n)
        return t

    def forward(self, x, training=False):
        _check_image_shape(self, tuple(x.shape))
        n, h, w, c = x.shape
        self._cropping = bool(training) and h >= self.height and w >= self.width
        if self._cropping:
            return super().forward(x, training=True)
        self._x_shape, self._win = tuple(x.shape), aspect_ratio_window(h, w, self.height, self.width)
        self._note_geometry(("window", self._win, (self.height, self.width), (0, 0)))
        return kernels.resize2d_forward(x, (self.height, self.width), "bilinear", window=self._win,
                                        out=self._buffer("y", (n, self.height, self.width, c)))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if self._cropping:
            return super().backward(dy)
        return kernels.resize2d_backward(dy, self._x_shape, "bilinear", window=self._win,
                                         out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(height=self.height, width=self.width, data_format="channels_last")
        return cfg


# ---------------------------------------------------------------------------------------------
# Random colour augmentation: per-sample scalars, clipped to value_range, on the broadcasting
# binary and reduce kernels (clip = maximum then minimum; their backward routes the gradient).


def _value_range(layer, value_range):
    if not isinstance(value_range, (list, tuple)) or len(value_range) != 2:
        raise ValueError(f"{type(layer).__name__}: value_range must be (min, max), got {value_range!r}")
    lo, hi = (float(v) for v in value_range)
    if not lo < hi:
        raise ValueError(f"{type(layer).__name__}: value_range must have min < max, got {value_range!r}")
    return lo, hi


def _per_sample(values):
    """(N,) numbers -> a float32 (N, 1, 1, 1) array that broadcasts over each image."""
    return np.ascontiguousarray(np.asarray(values, np.float32).reshape(-1, 1, 1, 1))


class _RandomColour(_RandomLayer):
    """y = clip(f(x), value_range) = minimum(maximum(f(x), min), max); subclasses give f
    (_unclipped) and its input gradient (_unclipped_grad)."""

    def _unclipped(self, rng, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _unclipped_grad(self, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x, training=False):
        if not self._augments(x, training):
            return x
        lo, hi = (np.float32(v) for v in self.value_range)
        self._pre = self._unclipped(self._generator(), x)
        self._floored = kernels.binary_forward("maximum", self._pre, np.array(lo),
                                               out=self._buffer("floored", tuple(x.shape)))
        return kernels.binary_forward("minimum", self._floored, np.array(hi),
                                      out=self._buffer("y", tuple(x.shape)))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        lo, hi = (np.array(np.float32(v)) for v in self.value_range)
        g, _ = kernels.binary_backward("minimum", self._floored, hi, dy, need_b=False,
                                       da_out=self._buffer("g_floored", tuple(dy.shape)))
        g, _ = kernels.binary_backward("maximum", self._pre, lo, g, need_b=False,
                                       da_out=self._buffer("g_pre", tuple(dy.shape)))
        return self._unclipped_grad(g)


class RandomBrightness(_RandomColour):
    """Adds a random delta to each image: y = clip(x + d * (max - min), value_range) with d
    uniform in factor (a float f means (-f, f); within [-1, 1]). dx = dy where not clipped.

    Args:
        factor: float or (lower, upper).
        value_range: (min, max) of the pixel values (default (0, 255)).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _factor_range(self, "factor", factor, -1.0, 1.0)
        self.factor = _as_given(factor)
        self.value_range = _value_range(self, value_range)

    def _unclipped(self, rng, x):
        delta = rng.uniform(*self._range, x.shape[0]) * (self.value_range[1] - self.value_range[0])
        return kernels.binary_forward("add", x, _per_sample(delta), out=self._buffer("pre", tuple(x.shape)))

    def _unclipped_grad(self, g):
        return g

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor, value_range=self.value_range)
        return cfg


class RandomContrast(_RandomColour):
    """Scales each image's deviation from its per-channel mean by a random factor c, uniform in
    [1 - lower, 1 + upper] (a float f means lower = upper = f): y = clip((x - m) c + m,
    value_range), m the mean over height and width. dx = c g + (1 - c) mean_hw(g), g = dy where
    not clipped.

    Args:
        factor: float in [0, 1] or (lower, upper).
        value_range: (min, max) of the pixel values (default (0, 255)).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(factor, (list, tuple)):
            if len(factor) != 2:
                raise ValueError(f"RandomContrast: factor must be a float or (lower, upper), got {factor!r}")
            lower, upper = (float(v) for v in factor)
        else:
            lower = upper = float(factor)
        if not (0.0 <= lower <= 1.0 and 0.0 <= upper) or not math.isfinite(upper):
            raise ValueError(f"RandomContrast '{self.name}': factor must be in [0, 1] (upper >= 0), "
                             f"got {factor!r}")
        self._range, self.factor = (lower, upper), _as_given(factor)
        self.value_range = _value_range(self, value_range)

    def _unclipped(self, rng, x):  # (x - m) c + m = x c + m (1 - c)
        c = rng.uniform(1.0 - self._range[0], 1.0 + self._range[1], x.shape[0])
        self._c, self._1mc = _per_sample(c), _per_sample(1.0 - c)
        pre = kernels.binary_forward("multiply", x, self._c, out=self._buffer("pre", tuple(x.shape)))
        mean = kernels.reduce_forward("mean", x, axes=(1, 2), keepdims=True)
        return kernels.binary_forward("add", pre, kernels.binary_forward("multiply", mean, self._1mc),
                                      out=pre)

    def _unclipped_grad(self, g):  # dx = g c + mean_hw(g) (1 - c)
        dx = kernels.binary_forward("multiply", g, self._c, out=self._buffer("dx", tuple(g.shape)))
        mean = kernels.reduce_forward("mean", g, axes=(1, 2), keepdims=True)
        return kernels.binary_forward("add", dx, kernels.binary_forward("multiply", mean, self._1mc),
                                      out=dx)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(factor=self.factor, value_range=self.value_range)
        return cfg
