"""Small array helpers for preparing training data."""
import numpy as np

__all__ = ["to_categorical", "normalize", "img_to_array", "load_img", "array_to_img", "save_img"]


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels, as `keras.utils.to_categorical`.

    Args:
        y: integer labels of shape (N,) or (N, 1) (any shape: a trailing axis of 1 is
            dropped, then a class axis is appended).
        num_classes: number of classes; default `max(y) + 1`.
        dtype: dtype of the result.

    Returns:
        An array of shape y.shape + (num_classes,) with a single 1 per row.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise ValueError("to_categorical: labels must be whole numbers")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    y = y.astype(np.int64, copy=False)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, got {int(y.min())}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    num_classes = int(num_classes)
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {int(y.max())} is out of range for "
                         f"num_classes={num_classes} (labels must be < num_classes)")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """Scale `x` to unit `order`-norm along `axis` (zero vectors stay zero), as Keras. A NumPy
    array gives a NumPy array; a tensor goes through ``ops.normalize`` (Keras 3 does the same),
    so a loss written with it is differentiable (keras.io's supervised contrastive loss)."""
    from ..kernels import Tensor
    if isinstance(x, Tensor):
        from .. import ops
        return ops.normalize(x, axis=axis, order=order)
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def img_to_array(img, data_format=None, dtype="float32"):
    """``keras.utils.img_to_array``: an image (a PIL image or any array-like of (H, W) or
    (H, W, C) pixels) as an (H, W, C) array of ``dtype`` (channels last; a grey image gets a
    channel axis of 1). ``load_img`` reads a file into such an image (with Pillow)."""
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"img_to_array: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    a = np.asarray(img, dtype=str(dtype))
    if a.ndim == 2:
        a = a[:, :, None] if data_format != "channels_first" else a[None]
    elif a.ndim != 3:
        raise ValueError(f"img_to_array: expected an image of shape (H, W) or (H, W, C), got {a.shape}")
    elif data_format == "channels_first":
        a = np.transpose(a, (2, 0, 1))
    return np.ascontiguousarray(a)


# -- image files (Keras' keras.utils image helpers; Pillow imported only when called) ----------

def _pil(op):
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"keras.utils.{op} reads and writes images with Pillow: pip install pillow "
                          '(it comes with matplotlib, pip install "corenn[plot]")') from exc
    return Image


_PIL_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """``keras.utils.load_img``: a PIL image of the file, converted to ``color_mode``
    ('grayscale', 'rgb', 'rgba') and, with ``target_size`` (height, width), resized
    ('nearest', 'bilinear', 'bicubic', 'lanczos', 'box', 'hamming'); ``keep_aspect_ratio``
    first crops the largest centred window of the target's aspect ratio, as Keras."""
    Image = _pil("load_img")
    if color_mode not in _PIL_MODES:
        raise ValueError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}")
    methods = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}
    if interpolation not in methods:
        raise ValueError(f"load_img: interpolation must be one of {', '.join(methods)}, got {interpolation!r}")
    with open(path, "rb") as f:
        img = Image.open(f)
        img.load()
    if img.mode != _PIL_MODES[color_mode]:
        img = img.convert(_PIL_MODES[color_mode])
    if target_size is not None:
        th, tw = (int(v) for v in target_size)
        if (img.height, img.width) != (th, tw):
            if keep_aspect_ratio:
                w, h = img.size
                crop_h = min(h, int(w * th / tw))
                crop_w = min(w, int(h * tw / th))
                left, top = (w - crop_w) // 2, (h - crop_h) // 2
                img = img.crop((left, top, left + crop_w, top + crop_h))
            img = img.resize((tw, th), methods[interpolation])
    return img


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """``keras.utils.array_to_img``: an (H, W, C) array (C 1, 3 or 4) as a PIL image; with
    ``scale`` the values are shifted and scaled to 0..255 first (Keras: x - min, then * 255 / max)."""
    Image = _pil("array_to_img")
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"array_to_img: expected an image array of rank 3, got shape {a.shape}")
    if data_format == "channels_first":
        a = np.transpose(a, (1, 2, 0))
    if scale:
        a = a - a.min()
        top = a.max()
        if top != 0:
            a = a / top
        a = a * 255
    c = a.shape[2]
    if c not in (1, 3, 4):
        raise ValueError(f"array_to_img: expected 1, 3 or 4 channels, got {c}")
    pixels = np.clip(a, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels[:, :, 0] if c == 1 else pixels, {1: "L", 3: "RGB", 4: "RGBA"}[c])


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """``keras.utils.save_img``: write an image array to a file (format from the name or
    ``file_format``); an RGBA image saved as JPEG loses its alpha, as in Keras."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    fmt = file_format or None
    if img.mode == "RGBA" and (fmt or str(path).rsplit(".", 1)[-1]).lower() in ("jpg", "jpeg"):
        img = img.convert("RGB")
    img.save(path, format=fmt, **kwargs)
