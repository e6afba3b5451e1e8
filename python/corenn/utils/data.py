"""Small array helpers for preparing training data."""
import numpy as np

__all__ = ["to_categorical", "normalize", "img_to_array"]


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
    """Scale `x` to unit `order`-norm along `axis` (zero vectors stay zero), as Keras."""
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def img_to_array(img, data_format=None, dtype="float32"):
    """``keras.utils.img_to_array``: an image (a PIL image or any array-like of (H, W) or
    (H, W, C) pixels) as an (H, W, C) array of ``dtype`` (channels last; a grey image gets a
    channel axis of 1). corenn does not read image files (no PIL dependency): load them with
    PIL and pass the image here."""
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
