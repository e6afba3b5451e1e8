"""``tf.image``: image functions of the TensorFlow tutorials' input pipelines, on corenn Tensors.

Images are (H, W, C) or batches (N, H, W, C), channels last, as in TensorFlow. Resizing runs the
resize2d kernel (TF's half-pixel centres, the same kernel as ``layers.Resizing``) and records its
exact backward on a GradientTape; the rest is written with ``corenn.ops`` (flips, crops, pads,
colour arithmetic), so it is differentiable where TensorFlow's is. Results are float32 Tensors
except where TensorFlow keeps the dtype (flips, crops, nearest resize of integers: int32 / int64
Tensors). A Tensor cannot hold uint8 (nor int8 / int16 / uint16 / uint32 / uint64), so the
functions that keep TensorFlow's dtype (flips, crops, pads, nearest resize) return a NumPy array
of that dtype for such data: a decoded uint8 mask stays uint8 through them, and
``convert_image_dtype`` then scales by 255 as TensorFlow does. ``tf.constant(uint8 array)`` and
``tf.cast(x, tf.uint8)`` give int32 Tensors marked with the uint8 they stand for, and
``convert_image_dtype`` scales those by 255 too (not by int32's maximum).
Random functions draw from corenn's generator (``tf.random.set_seed``) or ``seed=``.
"""
from __future__ import annotations

import functools

import numpy as np

from . import autodiff, kernels, ops
from .kernels import Tensor

__all__ = ["sobel_edges", "ssim", "adjust_gamma", "crop_and_resize", "resize", "convert_image_dtype", "flip_left_right", "flip_up_down", "rot90",
           "transpose", "rgb_to_grayscale", "grayscale_to_rgb", "adjust_brightness",
           "adjust_contrast", "per_image_standardization", "central_crop", "crop_to_bounding_box",
           "pad_to_bounding_box", "resize_with_crop_or_pad", "random_flip_left_right",
           "random_flip_up_down", "random_brightness", "random_contrast", "random_crop",
           "adjust_saturation", "random_saturation", "rgb_to_hsv", "hsv_to_rgb",
           "stateless_random_brightness", "stateless_random_contrast", "stateless_random_crop",
           "stateless_random_flip_left_right", "stateless_random_flip_up_down",
           "stateless_random_saturation", "rgb_to_yuv", "yuv_to_rgb", "psnr", "total_variation",
           "image_gradients", "extract_patches", "ResizeMethod", "adjust_hue", "random_hue",
           "stateless_random_hue"]

# object detection: NMS, drawing boxes, sampled crops, resize_with_pad, YIQ, glimpses
from .image_detection import (combined_non_max_suppression, draw_bounding_boxes,  # noqa: E402
                              extract_glimpse, non_max_suppression, non_max_suppression_overlaps,
                              non_max_suppression_padded, non_max_suppression_with_scores,
                              resize_with_pad, rgb_to_yiq, sample_distorted_bounding_box,
                              stateless_sample_distorted_bounding_box, yiq_to_rgb)
from . import image_detection as _image_detection  # noqa: E402
__all__ += _image_detection.__all__


class ResizeMethod:
    """TensorFlow's ``tf.image.ResizeMethod`` names: the strings ``resize`` takes
    (``method=tf.image.ResizeMethod.NEAREST_NEIGHBOR``). ``resize`` computes bilinear, nearest,
    bicubic, lanczos3 / lanczos5 and area; gaussian and mitchellcubic raise there, naming the method."""
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


def _keeps_small_ints(fn):
    """Run ``fn`` on int64 for integer NumPy data a Tensor cannot hold, and give the result back
    as a NumPy array of the data's dtype (TensorFlow keeps it)."""
    @functools.wraps(fn)
    def run(image, *args, **kwargs):
        dtype = getattr(image, "dtype", None)
        if isinstance(image, np.ndarray) and dtype.kind in "iu" and dtype not in (np.int32, np.int64):
            out = fn(image.astype(np.int64), *args, **kwargs)
            return np.asarray(out).astype(dtype)
        return fn(image, *args, **kwargs)
    return run


def _image(x, op):
    """(tensor, batched): ``x`` as a Tensor of rank 3 or 4."""
    t = x if isinstance(x, Tensor) else ops._to_tensor(np.asarray(x))
    if len(t.shape) not in (3, 4):
        raise ValueError(f"tf.image.{op}: expected an image (height, width, channels) or a batch "
                         f"(batch, height, width, channels), got shape {tuple(t.shape)}")
    return t, len(t.shape) == 4


def _result_float(images):
    """The dtype a NumPy-computed colour conversion returns: float64 for a float64 Tensor (its
    digits kept, as TensorFlow), else float32."""
    return np.float64 if isinstance(images, Tensor) and images.dtype == "float64" else np.float32


def _hw_axes(batched):
    return (1, 2) if batched else (0, 1)


def resize(images, size, method="bilinear", preserve_aspect_ratio=False, antialias=False, name=None):
    """Resize to ``size`` (height, width): 'bilinear' (float32 result) or 'nearest' (keeps the
    dtype) on the resize kernels, 'bicubic' / 'lanczos3' / 'lanczos5' and antialiased shrinking
    through keras.ops.image.resize, 'area' as box averages; half-pixel centres as TensorFlow 2.
    ``preserve_aspect_ratio`` fits the image inside ``size``."""
    method = str(method).lower()
    dtype = getattr(images, "dtype", None)
    if method == "nearest" and isinstance(images, np.ndarray) and dtype.kind in "iu" and \
            dtype not in (np.int32, np.int64):   # TensorFlow keeps uint8 & co: a NumPy array of it
        out = resize(images.astype(np.int64), size, method, preserve_aspect_ratio, antialias)
        return np.asarray(out).astype(dtype)
    t, batched = _image(images, "resize")
    if method == "area":
        return _resize_area(t, batched, size, preserve_aspect_ratio)
    if method not in ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"):
        raise NotImplementedError(f"tf.image.resize: method {method!r} is not supported; use 'bilinear', "
                                  "'nearest', 'bicubic', 'lanczos3', 'lanczos5' or 'area'")
    h, w = t.shape[1:3] if batched else t.shape[0:2]
    oh, ow = (int(v) for v in size)
    if preserve_aspect_ratio:
        scale = min(oh / h, ow / w)
        oh, ow = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    if method in ("bicubic", "lanczos3", "lanczos5") or (antialias and (oh < h or ow < w)):
        # keras.ops.image.resize's separable kernels (Keys a = -0.5 cubic, Lanczos, and the
        # kernel widened by the scale when antialiasing a shrink, as TensorFlow's scale_and_translate)
        from . import ops_image
        x = t if t.dtype == "float32" else ops.cast(t, "float32")
        return ops_image.resize(x, (oh, ow), interpolation=method, antialias=bool(antialias))
    x4 = t if batched else ops.expand_dims(t, 0)
    keep_int = method == "nearest" and t.dtype != "float32"
    x = x4 if x4.dtype == "float32" else ops.cast(x4, "float32")
    y = kernels.resize2d_forward(x, (oh, ow), method)
    if x.dtype == "float32" and x is x4:
        in_shape = tuple(x.shape)
        autodiff.record_op(lambda dys: [kernels.resize2d_backward(kernels.as_tensor(np.asarray(
            np.asarray(dys[0], np.float32), order="C")), in_shape, method)], [x], [y])
    if keep_int:
        y = ops.cast(y, t.dtype)
    return y if batched else y[0]


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Integers <-> floats with TensorFlow's scaling: an integer image becomes floats in [0, 1]
    (divided by the type's maximum), floats become integers times that maximum (rounded);
    integers to other integers by the power-of-two ratio of their ranges, as TensorFlow;
    float to float and int to the same int is the identity."""
    from . import dtypes
    target = np.dtype(str(dtype))
    a = np.asarray(image)
    src_int, dst_int = a.dtype.kind in "iu", target.kind in "iu"
    if not src_int and not dst_int:
        return ops.cast(image, target.name)
    if src_int and dst_int:
        if a.dtype == target:
            return image if isinstance(image, (Tensor, np.ndarray)) else ops._to_tensor(a)
        # TensorFlow's integer rescaling is by a power of two, (max + 1) ratios: uint8 -> uint16
        # multiplies by 256 (255 -> 65280, not 65535), uint16 -> uint8 floor-divides by 256;
        # the cast then wraps as tf.cast does (int16 -300 -> -3 -> uint8 253)
        in_max, out_max = int(np.iinfo(a.dtype).max), int(np.iinfo(target).max)
        wide = a.astype(np.int64)
        out = wide // ((in_max + 1) // (out_max + 1)) if in_max > out_max else wide * ((out_max + 1) // (in_max + 1))
        return ops.cast(out.astype(target), target.name)
    if src_int:
        store = dtypes.storage_dtype(target, "tf.image.convert_image_dtype")
        if store != np.float32:   # float64 / float16: scaled in that type, as TensorFlow does
            return ops.cast(a.astype(store) * store.type(1.0 / np.iinfo(a.dtype).max), store.name)
        scale = np.float32(1.0 / np.iinfo(a.dtype).max)
        return ops.multiply(ops.cast(a, "float32"), scale)
    top = np.iinfo(target).max
    # TensorFlow's scale: max + 0.5, the product truncated by the cast (0.5 -> 127 in uint8),
    # in the image's float type
    a = np.asarray(image)
    a = a if a.dtype in (np.float64, np.float16) else a.astype(np.float32)
    v = a * a.dtype.type(top + 0.5)
    if saturate:
        # clamped where the float is at or beyond the integer range (float32 rounds int64's max
        # up to 2**63, which no int64 holds: a plain clip-and-cast would wrap to -2**63)
        lo = np.iinfo(target).min
        high, low = v >= np.float64(top), v <= np.float64(lo)
        with np.errstate(invalid="ignore"):
            mid = np.where(high | low, 0, v).astype(target)
        return ops.cast(np.where(high, top, np.where(low, lo, mid)).astype(target), target.name)
    return ops.cast(v, target.name)


@_keeps_small_ints
def flip_left_right(image):
    t, batched = _image(image, "flip_left_right")
    return ops.flip(t, axis=_hw_axes(batched)[1])


@_keeps_small_ints
def flip_up_down(image):
    t, batched = _image(image, "flip_up_down")
    return ops.flip(t, axis=_hw_axes(batched)[0])


@_keeps_small_ints
def rot90(image, k=1, name=None):
    """Rotate by k * 90 degrees counter-clockwise."""
    t, batched = _image(image, "rot90")
    return ops.rot90(t, k=int(k), axes=_hw_axes(batched))


@_keeps_small_ints
def transpose(image, name=None):
    t, batched = _image(image, "transpose")
    return ops.transpose(t, (0, 2, 1, 3) if batched else (1, 0, 2))


def _float_inside(fn):
    """TensorFlow's colour adjustments on an integer image (uint8 pixels): converted to float32
    in [0, 1] (convert_image_dtype), adjusted, converted back to the image's dtype, saturating.
    Float images pass as they are."""
    @functools.wraps(fn)
    def adjusted(image, *args, **kwargs):
        dtype = np.dtype(str(image.dtype)) if hasattr(image, "dtype") else np.asarray(image).dtype
        if dtype.kind not in "iu":
            return fn(image, *args, **kwargs)
        out = fn(convert_image_dtype(image, "float32"), *args, **kwargs)
        return convert_image_dtype(out, dtype.name, saturate=True)
    return adjusted


@_float_inside
def rgb_to_grayscale(images, name=None):
    """The ITU-R 601 luma (0.2989 R + 0.5870 G + 0.1140 B), keeping a channel axis of 1."""
    t, _ = _image(images, "rgb_to_grayscale")
    if t.shape[-1] != 3:
        raise ValueError(f"tf.image.rgb_to_grayscale: expected 3 channels, got shape {tuple(t.shape)}")
    weights = np.array([[0.2989], [0.5870], [0.1140]])   # NumPy data: float32 images stay float32
    return ops.matmul(t if t.dtype in ("float32", "float64") else ops.cast(t, "float32"), weights)


def grayscale_to_rgb(images, name=None):
    t, _ = _image(images, "grayscale_to_rgb")
    if t.shape[-1] != 1:
        raise ValueError(f"tf.image.grayscale_to_rgb: expected 1 channel, got shape {tuple(t.shape)}")
    return ops.concatenate([t, t, t], axis=-1)


@_float_inside
def adjust_brightness(image, delta):
    t, _ = _image(image, "adjust_brightness")
    return ops.add(t, float(delta))   # a Python float: weak, float64 images keep their digits


@_float_inside
def adjust_contrast(images, contrast_factor):
    """(x - mean) * factor + mean, the mean per image and channel."""
    t, batched = _image(images, "adjust_contrast")
    mean = ops.mean(t, axis=_hw_axes(batched), keepdims=True)
    return ops.add(ops.multiply(ops.subtract(t, mean), float(contrast_factor)), mean)   # weak: the image's dtype


def per_image_standardization(image):
    """(x - mean) / max(std, 1 / sqrt(number of values)) over each whole image."""
    t, batched = _image(image, "per_image_standardization")
    t = t if t.dtype == "float32" else ops.cast(t, "float32")
    axes = (1, 2, 3) if batched else (0, 1, 2)
    n = int(np.prod([t.shape[a] for a in axes]))
    mean = ops.mean(t, axis=axes, keepdims=True)
    std = ops.maximum(ops.std(t, axis=axes, keepdims=True), np.float32(1.0 / np.sqrt(n)))
    return ops.divide(ops.subtract(t, mean), std)


@_keeps_small_ints
def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    t, batched = _image(image, "crop_to_bounding_box")
    h, w = t.shape[1:3] if batched else t.shape[0:2]
    oh, ow, th, tw = (int(v) for v in (offset_height, offset_width, target_height, target_width))
    if min(oh, ow) < 0 or th <= 0 or tw <= 0 or oh + th > h or ow + tw > w:
        raise ValueError(f"tf.image.crop_to_bounding_box: box (offset {oh}, {ow}, size {th}, {tw}) does not "
                         f"fit an image of {h}x{w}")
    return t[:, oh:oh + th, ow:ow + tw] if batched else t[oh:oh + th, ow:ow + tw]


@_keeps_small_ints
def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    t, batched = _image(image, "pad_to_bounding_box")
    h, w = t.shape[1:3] if batched else t.shape[0:2]
    oh, ow, th, tw = (int(v) for v in (offset_height, offset_width, target_height, target_width))
    if min(oh, ow) < 0 or th < oh + h or tw < ow + w:
        raise ValueError(f"tf.image.pad_to_bounding_box: an image of {h}x{w} at offset {oh}, {ow} does not "
                         f"fit {th}x{tw}")
    spatial = [(oh, th - oh - h), (ow, tw - ow - w), (0, 0)]
    return ops.pad(t, ([(0, 0)] if batched else []) + spatial)


@_keeps_small_ints
def resize_with_crop_or_pad(image, target_height, target_width):
    """Centre-crop or zero-pad each dimension to the target (TensorFlow's offsets)."""
    t, batched = _image(image, "resize_with_crop_or_pad")
    h, w = t.shape[1:3] if batched else t.shape[0:2]
    th, tw = int(target_height), int(target_width)
    ch, cw = max(h - th, 0) // 2, max(w - tw, 0) // 2
    t = crop_to_bounding_box(t, ch, cw, min(h, th), min(w, tw))
    ph, pw = max(th - h, 0) // 2, max(tw - w, 0) // 2
    return pad_to_bounding_box(t, ph, pw, th, tw)


@_keeps_small_ints
def central_crop(image, central_fraction):
    t, batched = _image(image, "central_crop")
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"tf.image.central_crop: central_fraction must be in (0, 1], got {central_fraction}")
    h, w = t.shape[1:3] if batched else t.shape[0:2]
    top, left = int((h - h * central_fraction) / 2), int((w - w * central_fraction) / 2)
    return crop_to_bounding_box(t, top, left, h - 2 * top, w - 2 * left)


def _rng(seed):
    from .utils import random as _random
    return np.random.default_rng(seed) if seed is not None else _random.get_generator()


def _per_image(t, batched, fn, rng):
    """Apply ``fn(image, rng)`` to every image of a batch (each its own draw)."""
    if not batched:
        return fn(t, rng)
    return ops.stack([fn(t[i], rng) for i in range(t.shape[0])], axis=0)


@_keeps_small_ints
def random_flip_left_right(image, seed=None):
    t, batched = _image(image, "random_flip_left_right")
    return _per_image(t, batched, lambda im, r: flip_left_right(im) if r.random() < 0.5 else im, _rng(seed))


@_keeps_small_ints
def random_flip_up_down(image, seed=None):
    t, batched = _image(image, "random_flip_up_down")
    return _per_image(t, batched, lambda im, r: flip_up_down(im) if r.random() < 0.5 else im, _rng(seed))


def random_brightness(image, max_delta, seed=None):
    if max_delta < 0:
        raise ValueError(f"tf.image.random_brightness: max_delta must be non-negative, got {max_delta}")
    t, _ = _image(image, "random_brightness")
    return adjust_brightness(t, _rng(seed).uniform(-max_delta, max_delta))


def random_contrast(image, lower, upper, seed=None):
    if not 0 <= lower < upper:
        raise ValueError(f"tf.image.random_contrast: need 0 <= lower < upper, got {lower}, {upper}")
    t, _ = _image(image, "random_contrast")
    return adjust_contrast(t, _rng(seed).uniform(lower, upper))


@_keeps_small_ints
def random_crop(value, size, seed=None, name=None):
    """A crop of ``size`` (the full shape of the result) at a random offset."""
    t = value if isinstance(value, Tensor) else ops._to_tensor(np.asarray(value))
    size = tuple(int(s) for s in size)
    if len(size) != len(t.shape) or any(s > d or s < 0 for s, d in zip(size, t.shape)):
        raise ValueError(f"tf.image.random_crop: size {size} does not fit a value of shape {tuple(t.shape)}")
    rng = _rng(seed)
    starts = [int(rng.integers(0, d - s + 1)) for s, d in zip(size, t.shape)]
    return t[tuple(slice(b, b + s) for b, s in zip(starts, size))]


# -- saturation (HSV) and the stateless random functions ----------------------------------------

def rgb_to_hsv(images, name=None):
    """RGB in [0, 1] -> HSV (hue in [0, 1)), per pixel, as TensorFlow."""
    rgb = np.asarray(images, np.float64)
    if rgb.shape[-1] != 3:
        raise ValueError(f"tf.image.rgb_to_hsv: expected 3 channels, got shape {rgb.shape}")
    mx, mn = rgb.max(-1), rgb.min(-1)
    delta = mx - mn
    s = np.where(mx > 0, delta / np.where(mx > 0, mx, 1), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(delta > 0, delta, 1)
    h = np.where(mx == r, (g - b) / safe, np.where(mx == g, 2 + (b - r) / safe, 4 + (r - g) / safe))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return Tensor.from_numpy(np.asarray(np.stack([h, s, mx], -1).astype(_result_float(images)), order="C"))


def hsv_to_rgb(images, name=None):
    hsv = np.asarray(images, np.float64)
    h, s, v = hsv[..., 0] % 1.0 * 6, hsv[..., 1], hsv[..., 2]
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(hsv.shape)
    for k, (r, g, b) in enumerate(choices):
        sel = i == k
        out[..., 0] = np.where(sel, r, out[..., 0])
        out[..., 1] = np.where(sel, g, out[..., 1])
        out[..., 2] = np.where(sel, b, out[..., 2])
    return Tensor.from_numpy(np.asarray(out.astype(_result_float(images)), order="C"))


@_float_inside
def adjust_saturation(image, saturation_factor, name=None):
    """Scale the HSV saturation by the factor (clipped to [0, 1]); RGB values in [0, 1]. Not
    differentiable (computed in NumPy), as TensorFlow's kernel has no gradient either."""
    t, _ = _image(image, "adjust_saturation")
    hsv = np.asarray(rgb_to_hsv(t), np.float64)
    hsv[..., 1] = np.clip(hsv[..., 1] * float(saturation_factor), 0.0, 1.0)
    return hsv_to_rgb(hsv)


@_float_inside
def adjust_gamma(image, gamma=1, gain=1):
    """gain * image ** gamma (float images; gamma >= 0), differentiable."""
    if float(gamma) < 0:
        raise ValueError(f"tf.image.adjust_gamma: gamma must be >= 0, got {gamma}")
    t, _ = _image(image, "adjust_gamma")
    return ops.multiply(float(gain), ops.power(t, float(gamma)))   # weak numbers: the image's dtype


def crop_and_resize(image, boxes, box_indices, crop_size, method="bilinear", extrapolation_value=0.0, name=None):
    """For each box [y1, x1, y2, x2] (normalised: 0 and 1 are the first and last pixel
    centres) of image ``box_indices[i]`` of the (N, H, W, C) batch, a crop of ``crop_size``
    (h, w) sampled at h x w evenly spaced points from y1 (H - 1) to y2 (H - 1) (one point: the
    middle), bilinearly or at the nearest pixel; points outside the image take
    ``extrapolation_value``. (num_boxes, h, w, C) float32, computed in NumPy (no gradient)."""
    a = np.asarray(image, np.float64)
    if a.ndim != 4:
        raise ValueError(f"tf.image.crop_and_resize: image must be (batch, height, width, channels), got shape {a.shape}")
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    idx = np.asarray(box_indices).astype(np.int64).reshape(-1)
    if len(idx) != len(b):
        raise ValueError(f"tf.image.crop_and_resize: {len(b)} boxes but {len(idx)} box_indices")
    if idx.size and (idx.min() < 0 or idx.max() >= a.shape[0]):
        raise ValueError(f"tf.image.crop_and_resize: box_indices must lie in [0, {a.shape[0]})")
    ch, cw = (int(v) for v in crop_size)
    if ch < 1 or cw < 1:
        raise ValueError(f"tf.image.crop_and_resize: crop_size must be positive, got {tuple(crop_size)}")
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"tf.image.crop_and_resize: method must be 'bilinear' or 'nearest', got {method!r}")
    _, h, w, c = a.shape

    def points(lo, hi, n, size):
        if n == 1:
            return np.array([0.5 * (lo + hi) * (size - 1)])
        return lo * (size - 1) + np.arange(n) * (hi - lo) * (size - 1) / (n - 1)
    out = np.full((len(b), ch, cw, c), float(extrapolation_value))
    for k, ((y1, x1, y2, x2), i) in enumerate(zip(b, idx)):
        ys, xs = points(y1, y2, ch, h), points(x1, x2, cw, w)
        yin, xin = (ys >= 0) & (ys <= h - 1), (xs >= 0) & (xs <= w - 1)
        if method == "nearest":
            yi, xi = np.clip(np.round(ys).astype(int), 0, h - 1), np.clip(np.round(xs).astype(int), 0, w - 1)
            vals = a[i][yi][:, xi]
        else:
            y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
            x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
            y1i, x1i = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
            dy, dx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
            img = a[i]
            top = img[y0][:, x0] * (1 - dx) + img[y0][:, x1i] * dx
            bottom = img[y1i][:, x0] * (1 - dx) + img[y1i][:, x1i] * dx
            vals = top * (1 - dy) + bottom * dy
        inside = yin[:, None] & xin[None, :]
        out[k][inside] = vals[inside]
    return ops._to_tensor(out.astype(np.float32))


def random_saturation(image, lower, upper, seed=None):
    if not 0 <= lower < upper:
        raise ValueError(f"tf.image.random_saturation: need 0 <= lower < upper, got {lower}, {upper}")
    return adjust_saturation(image, _rng(seed).uniform(lower, upper))


@_float_inside
def adjust_hue(image, delta, name=None):
    """Rotate the HSV hue by ``delta`` (in [-1, 1], a fraction of the colour circle, wrapping);
    RGB values in [0, 1]. Not differentiable (computed in NumPy), as adjust_saturation."""
    if not -1.0 <= float(delta) <= 1.0:
        raise ValueError(f"tf.image.adjust_hue: delta must be in [-1, 1], got {delta}")
    t, _ = _image(image, "adjust_hue")
    hsv = np.asarray(rgb_to_hsv(t), np.float64)
    hsv[..., 0] = (hsv[..., 0] + float(delta)) % 1.0
    return hsv_to_rgb(hsv)


def random_hue(image, max_delta, seed=None):
    """adjust_hue by a delta drawn uniformly from [-max_delta, max_delta], max_delta in [0, 0.5]."""
    if not 0.0 <= float(max_delta) <= 0.5:
        raise ValueError(f"tf.image.random_hue: max_delta must be in [0, 0.5], got {max_delta}")
    return adjust_hue(image, _rng(seed).uniform(-float(max_delta), float(max_delta)))


def stateless_random_hue(image, max_delta, seed):
    if not 0.0 <= float(max_delta) <= 0.5:
        raise ValueError(f"tf.image.stateless_random_hue: max_delta must be in [0, 0.5], got {max_delta}")
    return adjust_hue(image, _stateless(seed, "stateless_random_hue").uniform(-float(max_delta), float(max_delta)))


def _stateless(seed, op):
    from .random import stateless_rng
    return stateless_rng(seed, f"image.{op}")


def stateless_random_brightness(image, max_delta, seed):
    if max_delta < 0:
        raise ValueError(f"tf.image.stateless_random_brightness: max_delta must be non-negative, got {max_delta}")
    return adjust_brightness(image, _stateless(seed, "stateless_random_brightness").uniform(-max_delta, max_delta))


def stateless_random_contrast(image, lower, upper, seed):
    if not 0 <= lower < upper:
        raise ValueError(f"tf.image.stateless_random_contrast: need 0 <= lower < upper, got {lower}, {upper}")
    return adjust_contrast(image, _stateless(seed, "stateless_random_contrast").uniform(lower, upper))


def stateless_random_saturation(image, lower, upper, seed):
    if not 0 <= lower < upper:
        raise ValueError(f"tf.image.stateless_random_saturation: need 0 <= lower < upper, got {lower}, {upper}")
    return adjust_saturation(image, _stateless(seed, "stateless_random_saturation").uniform(lower, upper))


def stateless_random_crop(value, size, seed, name=None):
    rng = _stateless(seed, "stateless_random_crop")
    return random_crop(value, size, seed=int(rng.integers(0, 2 ** 31 - 1)))


def stateless_random_flip_left_right(image, seed):
    rng = _stateless(seed, "stateless_random_flip_left_right")
    return random_flip_left_right(image, seed=int(rng.integers(0, 2 ** 31 - 1)))


def stateless_random_flip_up_down(image, seed):
    rng = _stateless(seed, "stateless_random_flip_up_down")
    return random_flip_up_down(image, seed=int(rng.integers(0, 2 ** 31 - 1)))


def _area_matrix(out_size, in_size):
    """(out, in) weights of TensorFlow's 'area' resize along one axis: output pixel o averages the
    input over the box [o*s, (o+1)*s), s = in/out, each input pixel weighted by its overlap."""
    s = in_size / out_size
    m = np.zeros((out_size, in_size), np.float64)
    for o in range(out_size):
        lo, hi = o * s, (o + 1) * s
        for i in range(int(np.floor(lo)), min(in_size, int(np.ceil(hi)))):
            m[o, i] = max(0.0, min(hi, i + 1) - max(lo, i)) / s
    return m.astype(np.float32)


def _resize_area(t, batched, size, preserve_aspect_ratio):
    """'area' resizing as two matrix products (rows, then columns), so it is differentiable and
    exact for the usual integer shrink factors (the mean of each block)."""
    h, w = t.shape[1:3] if batched else t.shape[0:2]
    oh, ow = (int(v) for v in size)
    if preserve_aspect_ratio:
        scale = min(oh / h, ow / w)
        oh, ow = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    x = t if t.dtype == "float32" else ops.cast(t, "float32")
    rows, cols = _area_matrix(oh, h), _area_matrix(ow, w)
    eq = "oh,nhwc,pw->nopc" if batched else "oh,hwc,pw->opc"
    return ops.einsum(eq, rows, x, cols)


def _yuv(images, op, matrix):
    t, _ = _image(images, op)
    if t.shape[-1] != 3:
        raise ValueError(f"tf.image.{op}: expected 3 channels, got shape {tuple(t.shape)}")
    return ops.matmul(t if t.dtype == "float32" else ops.cast(t, "float32"), np.asarray(matrix, np.float32))


def rgb_to_yuv(images, name=None):
    """RGB in [0, 1] to YUV (TensorFlow's matrix: Y in [0, 1], U and V centred on 0)."""
    return _yuv(images, "rgb_to_yuv", [[0.299, -0.14714119, 0.61497538],
                                       [0.587, -0.28886916, -0.51496512],
                                       [0.114, 0.43601035, -0.10001026]])


def yuv_to_rgb(images, name=None):
    """The inverse of ``rgb_to_yuv``."""
    return _yuv(images, "yuv_to_rgb", [[1.0, 1.0, 1.0],
                                       [0.0, -0.394642334, 2.03206185],
                                       [1.13988303, -0.58062185, 0.0]])


def psnr(a, b, max_val, name=None):
    """Peak signal-to-noise ratio per image, 20 log10(max_val) - 10 log10(mean squared error over
    height, width and channels): one value per image of a batch, a scalar for one image.
    Identical images give +inf, as TensorFlow."""
    ta, batched = _image(a, "psnr")
    tb, _ = _image(b, "psnr")
    if tuple(ta.shape) != tuple(tb.shape):
        raise ValueError(f"tf.image.psnr: the images must have the same shape, got {tuple(ta.shape)} "
                         f"and {tuple(tb.shape)}")
    ta = ta if ta.dtype == "float32" else ops.cast(ta, "float32")
    tb = tb if tb.dtype == "float32" else ops.cast(tb, "float32")
    mse = ops.mean(ops.square(ops.subtract(ta, tb)), axis=[-3, -2, -1])
    log10 = float(np.log(10.0))
    with np.errstate(divide="ignore"):
        return ops.subtract(20.0 * float(np.log10(float(max_val))), ops.multiply(10.0 / log10, ops.log(mse)))


def total_variation(images, name=None):
    """The sum of absolute differences between neighbouring pixels (vertically and horizontally,
    all channels): one value per image of a batch, a scalar for one image. Differentiable, as a
    style-transfer loss needs."""
    t, batched = _image(images, "total_variation")
    t = t if t.dtype in ("float32", "float64") else ops.cast(t, "float32")   # float64 sums in float64
    h, w = (1, 2) if batched else (0, 1)
    n = t.ndim
    down = ops.subtract(t[(slice(None),) * h + (slice(1, None),)], t[(slice(None),) * h + (slice(None, -1),)])
    right = ops.subtract(t[(slice(None),) * w + (slice(1, None),)], t[(slice(None),) * w + (slice(None, -1),)])
    axes = list(range(1, n)) if batched else None
    return ops.add(ops.sum(ops.abs(down), axis=axes), ops.sum(ops.abs(right), axis=axes))


def image_gradients(image):
    """(dy, dx) of a batch (N, H, W, C): forward differences, zero in the last row / column."""
    t, batched = _image(image, "image_gradients")
    if not batched:
        raise ValueError(f"tf.image.image_gradients: expected a batch (N, H, W, C), got shape {tuple(t.shape)}")
    n, h, w, c = t.shape
    dy = ops.concatenate([ops.subtract(t[:, 1:], t[:, :-1]), ops.zeros((n, 1, w, c))], axis=1)
    dx = ops.concatenate([ops.subtract(t[:, :, 1:], t[:, :, :-1]), ops.zeros((n, h, 1, c))], axis=2)
    return dy, dx


def extract_patches(images, sizes, strides, rates, padding, name=None):
    """TensorFlow's signature (``sizes=[1, p, p, 1]``, ``strides``, ``rates``, 'VALID' / 'SAME')
    over ``keras.ops.image.extract_patches``: (N, H', W', p*p*C) patches, differentiable."""
    from . import ops_image

    def pair(v, what):
        v = [int(a) for a in np.asarray(v).reshape(-1)]
        if len(v) != 4 or v[0] != 1 or v[3] != 1:
            raise ValueError(f"tf.image.extract_patches: {what} must be [1, rows, cols, 1], got {v}")
        return v[1], v[2]
    return ops_image.extract_patches(images, pair(sizes, "sizes"), strides=pair(strides, "strides"),
                                     dilation_rate=pair(rates, "rates"), padding=str(padding).lower())


def sobel_edges(image):
    """(N, H, W, C, 2): the vertical (dy) then horizontal (dx) Sobel responses per channel,
    edges padded by reflection, as TensorFlow's (keras.ops.image.sobel_edges' kernels)."""
    from . import ops_image
    t, batched = _image(image, "sobel_edges")
    t = t if batched else ops.expand_dims(t, 0)
    # TensorFlow pads by reflection (keras.ops.image.sobel_edges pads with zeros: its own rule)
    padded = ops.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    return ops.stack([ops_image._depthwise(padded, ops_image._SOBEL_Y, "valid"),
                      ops_image._depthwise(padded, ops_image._SOBEL_Y.T, "valid")], axis=-1)


def ssim(img1, img2, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity per image (mean over the valid Gaussian windows and channels), as
    TensorFlow's (keras.ops.image.ssim)."""
    from . import ops_image
    kw = dict(max_val=max_val, filter_size=filter_size, filter_sigma=filter_sigma, k1=k1, k2=k2)
    a, b = (ops.stack(list(v)) if isinstance(v, (list, tuple)) else ops._to_tensor(v) for v in (img1, img2))
    if a.ndim <= 4 and tuple(a.shape) == tuple(b.shape):
        return ops_image.ssim(a, b, **kw)
    # TensorFlow: the last three axes are (height, width, channels), the ones before them batch
    # axes that broadcast (BASNet compares one mask batch with a list of 8 predicted batches)
    if a.ndim < 3 or b.ndim < 3 or tuple(a.shape[-3:]) != tuple(b.shape[-3:]):
        raise ValueError(f"tf.image.ssim: the images' last three axes (height, width, channels) must agree, "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    try:
        lead = tuple(np.broadcast_shapes(tuple(a.shape[:-3]), tuple(b.shape[:-3])))
    except ValueError:
        raise ValueError(f"tf.image.ssim: the batch axes of shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                         "broadcast") from None
    hwc = tuple(a.shape[-3:])
    a, b = (ops.reshape(ops.broadcast_to(v, lead + hwc), (-1,) + hwc) for v in (a, b))
    return ops.reshape(ops_image.ssim(a, b, **kw), lead)
