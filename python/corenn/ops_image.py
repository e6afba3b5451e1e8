"""``keras.ops.image``: Keras 3's image ops on channels-last images (H, W, C) or batches.

``resize`` runs the resize2d kernel through ``corenn.image.resize`` (differentiable);
``extract_patches`` (the Vision Transformer examples' patching) is a gather whose gradient
scatters back, written with ``corenn.ops``' gather machinery; ``pad_images`` / ``crop_images``
use ``ops.pad`` and slicing. Only channels_last is supported (the data_format others ask for is
refused by name).
"""
from __future__ import annotations

import numpy as np

from . import image as _image
from . import ops

__all__ = ["resize", "extract_patches", "rgb_to_grayscale", "pad_images", "crop_images"]


def _channels_last(op, data_format):
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"keras.ops.image.{op}: only data_format='channels_last' is supported")


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resize to ``size`` (height, width), 'bilinear' or 'nearest' (TF's half-pixel rule)."""
    _channels_last("resize", data_format)
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise NotImplementedError("keras.ops.image.resize: crop_to_aspect_ratio / pad_to_aspect_ratio are not "
                                  "supported; use layers.Resizing(crop_to_aspect_ratio=True)")
    x = images if isinstance(images, ops.Tensor) else ops.convert_to_tensor(np.asarray(images, np.float32))
    return _image.resize(x, size, method=interpolation, antialias=antialias)


def extract_patches(images=None, size=None, strides=None, dilation_rate=1, padding="valid", data_format=None,
                    image=None):
    """(N, H, W, C) -> (N, rows, cols, ph * pw * C): each patch flattened in (row, col, channel)
    order, as Keras 3 (and tf.image.extract_patches). ``size`` an int or (ph, pw); strides
    default to the size (non-overlapping); padding 'valid' or 'same' (zeros). ``image=`` is
    Keras 3.0's name of the first argument (programs written for it pass ``image=images``)."""
    if image is not None:
        if images is not None:
            raise TypeError("keras.ops.image.extract_patches: pass images (or Keras 3.0's image=), not both")
        images = image
    if images is None or size is None:
        raise TypeError("keras.ops.image.extract_patches: missing argument(s) "
                        + ", ".join(n for n, v in (("images", images), ("size", size)) if v is None))
    _channels_last("extract_patches", data_format)
    ph, pw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    sh, sw = (ph, pw) if strides is None else ((strides, strides) if isinstance(strides, int)
                                                 else (int(strides[0]), int(strides[1])))
    if dilation_rate not in (1, (1, 1), [1, 1]):
        raise NotImplementedError("keras.ops.image.extract_patches: dilation_rate other than 1 is not supported")
    if min(ph, pw, sh, sw) <= 0:
        raise ValueError(f"keras.ops.image.extract_patches: size and strides must be positive, got {size}, {strides}")
    x = images if isinstance(images, ops.Tensor) else ops.convert_to_tensor(np.asarray(images, np.float32))
    one = len(x.shape) == 3
    if one:
        x = ops.expand_dims(x, 0)
    if len(x.shape) != 4:
        raise ValueError(f"keras.ops.image.extract_patches: expected (batch, height, width, channels), got "
                         f"{tuple(x.shape)}")
    n, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        pad_h, pad_w = max((oh - 1) * sh + ph - h, 0), max((ow - 1) * sw + pw - w, 0)
        x = ops.pad(x, [(0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
        n, h, w, c = x.shape
    elif padding != "valid":
        raise ValueError(f"keras.ops.image.extract_patches: padding must be 'valid' or 'same', got {padding!r}")
    oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"keras.ops.image.extract_patches: patches of {ph}x{pw} do not fit images of {h}x{w}")
    rows = (np.arange(oh) * sh)[:, None, None, None] + np.arange(ph)[None, None, :, None]
    cols = (np.arange(ow) * sw)[None, :, None, None] + np.arange(pw)[None, None, None, :]

    def index(i):   # i: x's entry numbers (N, H, W, C) -> (N, oh, ow, ph * pw * C)
        g = i[:, rows, cols, :]            # (N, oh, ow, ph, pw, C)
        return g.reshape(n, oh, ow, ph * pw * c)
    y = ops._gather("extract_patches", x, index)
    return y[0] if one else y


def rgb_to_grayscale(images, data_format=None):
    _channels_last("rgb_to_grayscale", data_format)
    return _image.rgb_to_grayscale(images)


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zero-pad to (target_height, target_width) or by the given amounts (Keras 3's rules)."""
    _channels_last("pad_images", data_format)
    x = images if isinstance(images, ops.Tensor) else ops.convert_to_tensor(np.asarray(images, np.float32))
    batched = len(x.shape) == 4
    h, w = x.shape[-3], x.shape[-2]
    top, left = top_padding or 0, left_padding or 0
    bottom = bottom_padding if bottom_padding is not None else (target_height - h - top if target_height else 0)
    right = right_padding if right_padding is not None else (target_width - w - left if target_width else 0)
    if min(top, left, bottom, right) < 0:
        raise ValueError(f"keras.ops.image.pad_images: the paddings must not be negative, got "
                         f"{(top, bottom, left, right)} for images of {h}x{w}")
    pads = [(top, bottom), (left, right), (0, 0)]
    return ops.pad(x, ([(0, 0)] if batched else []) + pads)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Crop by the given amounts or to (target_height, target_width) (Keras 3's rules)."""
    _channels_last("crop_images", data_format)
    x = images if isinstance(images, ops.Tensor) else ops.convert_to_tensor(np.asarray(images, np.float32))
    batched = len(x.shape) == 4
    h, w = x.shape[-3], x.shape[-2]
    top, left = top_cropping or 0, left_cropping or 0
    th = target_height if target_height is not None else h - top - (bottom_cropping or 0)
    tw = target_width if target_width is not None else w - left - (right_cropping or 0)
    return _image.crop_to_bounding_box(x, top, left, th, tw)
