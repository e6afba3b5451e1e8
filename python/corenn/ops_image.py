"""``keras.ops.image``: Keras 3's image ops on images (H, W, C) or batches (N, H, W, C), or
channels-first with data_format='channels_first' (moved to channels-last, computed, moved back).

``resize`` runs the resize2d kernel through ``corenn.image.resize`` (bilinear, nearest), and
the separable resampling of ``scale_and_translate`` for bicubic, lanczos3 / lanczos5 and
antialiased shrinking; ``affine_transform`` / ``perspective_transform`` run the image_transform
kernel of the augmentation layers (its backward recorded on the tape); ``gaussian_blur``,
``sobel_edges`` and ``ssim`` are depthwise convolutions; ``map_coordinates`` (and the 'mirror'
fill, ``elastic_transform``) sample in NumPy with a recorded scatter-back rule;
``extract_patches`` / ``extract_patches_3d`` are gathers whose gradient scatters back.
All are differentiable in the images.

scale_and_translate (JAX's algorithm, which Keras 3 ports to each backend), per spatial axis:
    sample_f[j] = (j + 0.5 - t) / s - 0.5           the input point of output pixel j
    W[i, j] = k(|sample_f[j] - i| / ks), ks = max(1/s, 1) with antialias else 1, then each
              column normalized to sum 1, and zero where sample_f[j] lies outside [-0.5, n - 0.5]
    y = x contracted with W over that axis         (k: triangle, Keys cubic a = -0.5, Lanczos)
"""
from __future__ import annotations

import numpy as np

from . import image as _image
from . import kernels, ops
from .layers import image_augmentation as _aug

__all__ = ["resize", "extract_patches", "extract_patches_3d", "rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb",
           "pad_images", "crop_images", "affine_transform", "perspective_transform", "map_coordinates",
           "elastic_transform", "gaussian_blur", "sobel_edges", "ssim", "scale_and_translate"]


def _data_format(op, data_format):
    from .keras import backend
    fmt = data_format or backend.image_data_format()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"keras.ops.image.{op}: data_format must be 'channels_last' or 'channels_first', got {fmt!r}")
    return fmt


def _as_tensor(x):
    return x if isinstance(x, ops.Tensor) else ops._to_tensor(np.asarray(x, np.float32))


def _nhwc(op, images, data_format, ranks=(3, 4)):
    """images as a float (N, H, W, C) Tensor and the function that puts a result (N, H', W', C')
    back into the caller's layout and rank."""
    fmt = _data_format(op, data_format)
    x = images if isinstance(images, ops.Tensor) and images.dtype == "float32" else ops._f32(images, f"image.{op}")
    if len(x.shape) not in ranks:
        raise ValueError(f"keras.ops.image.{op}: expected images of rank {' or '.join(map(str, ranks))} "
                         f"((batch,) height, width, channels), got shape {tuple(x.shape)}")
    single = len(x.shape) == 3
    if single:
        x = ops.expand_dims(x, 0)
    if fmt == "channels_first":
        x = ops.transpose(x, (0, 2, 3, 1))

    def undo(y):
        if fmt == "channels_first":
            y = ops.transpose(y, (0, 3, 1, 2))
        return ops.squeeze(y, 0) if single else y
    return x, undo


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resize to ``size`` (height, width) with half-pixel centres. 'bilinear' and 'nearest' run
    the resize2d kernel (TF's rule); 'bicubic' (Keys cubic, a = -0.5), 'lanczos3', 'lanczos5',
    and 'bilinear' with antialias=True when shrinking, resample as scale_and_translate with
    scale = out / in (JAX's resize, which Keras' JAX backend uses; Keras' torch backend uses
    torch's a = -0.75 cubic instead). crop_to_aspect_ratio first crops the centred box of the
    target aspect ratio; pad_to_aspect_ratio pads both sides equally with fill_value
    (fill_mode 'constant'), as Keras."""
    op = "resize"
    x, undo = _nhwc(op, images, data_format)
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"keras.ops.image.resize: size must be (height, width), got {size!r}")
    th, tw = int(size[0]), int(size[1])
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("keras.ops.image.resize: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be set")
    _, h, w, c = x.shape
    if crop_to_aspect_ratio:
        ch = max(min(h, int(w * th / tw)), 1)
        cw = max(min(w, int(h * tw / th)), 1)
        top, left = (h - ch) // 2, (w - cw) // 2
        x = x[:, top:top + ch, left:left + cw, :]
    elif pad_to_aspect_ratio:
        if fill_mode != "constant":
            raise ValueError(f"keras.ops.image.resize: fill_mode must be 'constant', got {fill_mode!r}")
        ph, pw = max(h, int(w * th / tw)), max(w, int(h * tw / th))
        top, left = (ph - h) // 2, (pw - w) // 2
        x = ops.pad(x, [(0, 0), (top, top), (left, left), (0, 0)], constant_values=float(fill_value))
    _, h, w, c = x.shape
    method = {"cubic": "bicubic"}.get(interpolation, interpolation)
    if method in ("bilinear", "nearest") and not (antialias and method == "bilinear" and (th < h or tw < w)):
        return undo(_image.resize(x, (th, tw), method=method))
    kernel = {"bilinear": "linear", "bicubic": "cubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5"}.get(method)
    if kernel is None:
        raise ValueError(f"keras.ops.image.resize: interpolation must be 'bilinear', 'nearest', 'bicubic', "
                         f"'lanczos3' or 'lanczos5', got {interpolation!r}")
    y = _resample(x, [(1, th), (2, tw)], [th / h, tw / w], [0.0, 0.0], kernel, bool(antialias), op)
    return undo(y)


# -- scale_and_translate ----------------------------------------------------------------------------

def _keys_cubic(t):
    return np.where(t >= 2.0, 0.0, np.where(t >= 1.0, ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0,
                                            ((1.5 * t - 2.5) * t) * t + 1.0))


def _lanczos(radius):
    def k(t):
        with np.errstate(all="ignore"):
            v = radius * np.sin(np.pi * t) * np.sin(np.pi * t / radius) / np.where(t != 0, (np.pi * t) ** 2, 1.0)
        return np.where(t > radius, 0.0, np.where(t > 1e-3, v, 1.0))
    return k


_KERNELS = {"linear": lambda t: np.maximum(0.0, 1.0 - t), "cubic": _keys_cubic,
            "lanczos3": _lanczos(3.0), "lanczos5": _lanczos(5.0)}
_METHODS = {"linear": "linear", "bilinear": "linear", "trilinear": "linear", "triangle": "linear",
            "cubic": "cubic", "bicubic": "cubic", "tricubic": "cubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def _weight_matrix(n_in, n_out, scale, translation, kernel, antialias):
    """W (n_in, n_out): output pixel j = sum_i W[i, j] input pixel i (see the module docstring)."""
    inv = 1.0 / scale
    ks = max(inv, 1.0) if antialias else 1.0
    sample = (np.arange(n_out) + 0.5) * inv - translation * inv - 0.5
    w = _KERNELS[kernel](np.abs(sample[None, :] - np.arange(n_in)[:, None]) / ks)
    total = w.sum(0, keepdims=True)
    w = np.where(np.abs(total) > 1000.0 * np.finfo(np.float32).eps, w / np.where(total != 0, total, 1.0), 0.0)
    return np.where(((sample >= -0.5) & (sample <= n_in - 0.5))[None, :], w, 0.0)


def _resample(x, axes_sizes, scales, translations, kernel, antialias, op):
    """x contracted with one weight matrix per (axis, output size): differentiable (tensordot)."""
    y = x
    for (axis, n_out), s, t in zip(axes_sizes, scales, translations):
        if float(s) <= 0:
            raise ValueError(f"keras.ops.image.{op}: scales must be positive, got {s}")
        w = _weight_matrix(int(y.shape[axis]), int(n_out), float(s), float(t), kernel, antialias).astype(np.float32)
        y = ops.moveaxis(ops.tensordot(y, w, axes=([axis], [0])), -1, axis)
    return y


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """Resample ``images`` (any rank) to ``output_shape``: along each axis d in spatial_dims, the
    input point of output pixel j is (j + 0.5 - translation) / scale - 0.5, weighted by the
    method's kernel ('linear' / 'bilinear' / 'triangle', 'cubic' / 'bicubic' (Keys, a = -0.5),
    'lanczos3', 'lanczos5'), stretched by 1 / scale when shrinking with antialias; outputs whose
    point falls outside the input are 0. Differentiable in the images."""
    op = "scale_and_translate"
    x = ops._f32(images, f"image.{op}")
    kernel = _METHODS.get(method)
    if kernel is None:
        raise ValueError(f"keras.ops.image.{op}: method must be one of {sorted(_METHODS)}, got {method!r}")
    dims = [int(d) % x.ndim for d in spatial_dims]
    scale, translation = np.asarray(scale, np.float64).reshape(-1), np.asarray(translation, np.float64).reshape(-1)
    if len(output_shape) != x.ndim or len(scale) != len(dims) or len(translation) != len(dims):
        raise ValueError(f"keras.ops.image.{op}: output_shape {tuple(output_shape)} must have the images' rank "
                         f"({x.ndim}) and scale / translation one entry per spatial dim ({len(dims)})")
    return _resample(x, [(d, output_shape[d]) for d in dims], scale, translation, kernel, bool(antialias), op)


# -- patches ----------------------------------------------------------------------------------------

def _ints(op, v, n, what):
    v = (v,) * n if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)
    if len(v) == n + 2 and v[0] == v[-1] == 1 and what != "size":
        v = v[1:-1]   # TensorFlow's [1, sh, sw, 1] (Keras' TensorFlow backend takes it: tf.nn.convolution)
    if len(v) != n or min(v) <= 0:
        raise ValueError(f"keras.ops.image.{op}: {what} must be a positive int or {n} of them, got {v!r}")
    return v


def _patches(op, x, size, strides, dilation_rate, padding):
    """(N, *spatial, C) -> (N, *out, prod(size) * C): each patch flattened in (spatial..., channel)
    order; 'same' pads with zeros as TensorFlow (the extra one at the end)."""
    nd = x.ndim - 2
    size = _ints(op, size, nd, "size")
    strides = size if strides is None else _ints(op, strides, nd, "strides")
    rate = _ints(op, dilation_rate, nd, "dilation_rate")
    span = [(k - 1) * r + 1 for k, r in zip(size, rate)]
    padding = padding.lower() if isinstance(padding, str) else padding   # "VALID" as TensorFlow writes it
    if padding == "same":
        sp = x.shape[1:-1]
        outs = [-(-n // s) for n, s in zip(sp, strides)]
        pads = [max((o - 1) * s + k - n, 0) for o, s, k, n in zip(outs, strides, span, sp)]
        x = ops.pad(x, [(0, 0)] + [(p // 2, p - p // 2) for p in pads] + [(0, 0)])
    elif padding != "valid":
        raise ValueError(f"keras.ops.image.{op}: padding must be 'valid' or 'same', got {padding!r}")
    sp, n, c = x.shape[1:-1], x.shape[0], x.shape[-1]
    outs = [(m - k) // s + 1 for m, k, s in zip(sp, span, strides)]
    if min(outs) <= 0:
        raise ValueError(f"keras.ops.image.{op}: patches of {size} (dilation {rate}) do not fit inputs of {tuple(sp)}")
    # grids[d]: the input coordinate along axis d of (out_0.., k_0..) broadcast over 2 nd axes
    grids = []
    for d in range(nd):
        shape = [1] * (2 * nd)
        o = np.arange(outs[d]) * strides[d]
        k = np.arange(size[d]) * rate[d]
        shape_o, shape_k = list(shape), list(shape)
        shape_o[d], shape_k[nd + d] = outs[d], size[d]
        grids.append(o.reshape(shape_o) + k.reshape(shape_k))

    def index(i):
        g = i[(slice(None),) + tuple(grids)]          # (N, *outs, *size, C)
        return g.reshape((n,) + tuple(outs) + (int(np.prod(size)) * c,))
    return ops._gather(op, x, index)


def extract_patches(images=None, size=None, strides=None, dilation_rate=1, padding="valid", data_format=None,
                    image=None):
    """(N, H, W, C) -> (N, rows, cols, ph * pw * C): each patch flattened in (row, col, channel)
    order, as Keras 3 (and tf.image.extract_patches). ``size`` an int or (ph, pw); strides
    default to the size (non-overlapping); dilation_rate spaces the taps; padding 'valid' or
    'same' (zeros). Differentiable (a gather). ``image=`` is Keras 3.0's name of the first
    argument (programs written for it pass ``image=images``)."""
    if image is not None:
        if images is not None:
            raise TypeError("keras.ops.image.extract_patches: pass images (or Keras 3.0's image=), not both")
        images = image
    if images is None or size is None:
        raise TypeError("keras.ops.image.extract_patches: missing argument(s) "
                        + ", ".join(n for n, v in (("images", images), ("size", size)) if v is None))
    x, undo = _nhwc("extract_patches", images, data_format)
    return undo(_patches("extract_patches", x, size, strides, dilation_rate, padding))


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """(N, D, H, W, C) (or without N) -> (N, d, h, w, pd * ph * pw * C): extract_patches over
    three spatial axes."""
    op = "extract_patches_3d"
    fmt = _data_format(op, data_format)
    x = ops._f32(volumes, f"image.{op}")
    if x.ndim not in (4, 5):
        raise ValueError(f"keras.ops.image.{op}: expected volumes of rank 4 or 5, got shape {tuple(x.shape)}")
    single = x.ndim == 4
    x = ops.expand_dims(x, 0) if single else x
    if fmt == "channels_first":
        x = ops.transpose(x, (0, 2, 3, 4, 1))
    y = _patches(op, x, size, strides, dilation_rate, padding)
    if fmt == "channels_first":
        y = ops.transpose(y, (0, 4, 1, 2, 3))
    return ops.squeeze(y, 0) if single else y


# -- colour ----------------------------------------------------------------------------------------

def rgb_to_grayscale(images, data_format=None):
    """The ITU-R 601 luma 0.2989 R + 0.5870 G + 0.1140 B, one channel (differentiable)."""
    x, undo = _nhwc("rgb_to_grayscale", images, data_format)
    return undo(_image.rgb_to_grayscale(x))


def _rgb(op, images, data_format):
    x, undo = _nhwc(op, images, data_format)
    if x.shape[-1] != 3:
        raise ValueError(f"keras.ops.image.{op}: expected 3 channels, got images of shape {tuple(x.shape)}")
    return x, undo


def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] -> HSV with hue in [0, 1) (TensorFlow's convention): v = max(r, g, b),
    s = (v - min) / v, h = ((g - b) / d, 2 + (b - r) / d or 4 + (r - g) / d by the largest
    channel, d = v - min) / 6 mod 1; built from ops, so differentiable away from ties."""
    x, undo = _rgb("rgb_to_hsv", images, data_format)
    a = np.asarray(x)
    r, g, b = ops.unstack(x, axis=-1)
    mx, mn = ops.max(x, axis=-1), ops.min(x, axis=-1)
    delta = ops.subtract(mx, mn)
    va, da = a.max(-1), a.max(-1) - a.min(-1)
    s = ops.where(va > 0, ops.divide(delta, ops.where(va > 0, mx, 1.0)), 0.0)
    safe = ops.where(da > 0, delta, 1.0)
    hr = ops.divide(ops.subtract(g, b), safe)
    hg = ops.add(ops.divide(ops.subtract(b, r), safe), 2.0)
    hb = ops.add(ops.divide(ops.subtract(r, g), safe), 4.0)
    h = ops.where(va == a[..., 0], hr, ops.where(va == a[..., 1], hg, hb))
    h = ops.where(da > 0, ops.mod(ops.divide(h, 6.0), 1.0), 0.0)
    return undo(ops.stack([h, s, mx], axis=-1))


def hsv_to_rgb(images, data_format=None):
    """HSV (hue in [0, 1)) -> RGB: channel n (r: 5, g: 3, b: 1) = v - v s clip(min(k, 4 - k), 0, 1)
    with k = (n + 6 h) mod 6 (the piecewise-linear hue wheel); differentiable."""
    x, undo = _rgb("hsv_to_rgb", images, data_format)
    h, s, v = ops.unstack(x, axis=-1)
    vs = ops.multiply(v, s)
    out = []
    for n in (5.0, 3.0, 1.0):
        k = ops.mod(ops.add(ops.multiply(h, 6.0), n), 6.0)
        out.append(ops.subtract(v, ops.multiply(vs, ops.clip(ops.minimum(k, ops.subtract(4.0, k)), 0.0, 1.0))))
    return undo(ops.stack(out, axis=-1))


# -- padding and cropping ---------------------------------------------------------------------------

def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zero-pad to (target_height, target_width) or by the given amounts (Keras 3's rules)."""
    x, undo = _nhwc("pad_images", images, data_format)
    h, w = x.shape[1], x.shape[2]
    top, left = top_padding or 0, left_padding or 0
    bottom = bottom_padding if bottom_padding is not None else (target_height - h - top if target_height else 0)
    right = right_padding if right_padding is not None else (target_width - w - left if target_width else 0)
    if min(top, left, bottom, right) < 0:
        raise ValueError(f"keras.ops.image.pad_images: the paddings must not be negative, got "
                         f"{(top, bottom, left, right)} for images of {h}x{w}")
    return undo(ops.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)]))


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Crop by the given amounts or to (target_height, target_width) (Keras 3's rules)."""
    x, undo = _nhwc("crop_images", images, data_format)
    h, w = x.shape[1], x.shape[2]
    top, left = top_cropping or 0, left_cropping or 0
    th = target_height if target_height is not None else h - top - (bottom_cropping or 0)
    tw = target_width if target_width is not None else w - left - (right_cropping or 0)
    return undo(_image.crop_to_bounding_box(x, top, left, th, tw))


# -- geometric transforms ---------------------------------------------------------------------------

_ORDERS = {"nearest": 0, "bilinear": 1}


def _warp(op, x, t, interpolation, fill_mode, fill_value):
    """x (N, H, W, C) warped by transforms t (N, 8) on the image_transform kernel (its backward
    recorded); 'mirror' (not a kernel mode) samples through map_coordinates."""
    if interpolation not in _ORDERS:
        raise ValueError(f"keras.ops.image.{op}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if fill_mode not in ("constant", "nearest", "wrap", "mirror", "reflect"):
        raise ValueError(f"keras.ops.image.{op}: fill_mode must be constant, nearest, wrap, mirror or reflect, "
                         f"got {fill_mode!r}")
    n, h, w, c = x.shape
    if fill_mode == "mirror":
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        k = t[:, 6, None, None] * cols + t[:, 7, None, None] * rows + 1.0
        xs = (t[:, 0, None, None] * cols + t[:, 1, None, None] * rows + t[:, 2, None, None]) / k
        ys = (t[:, 3, None, None] * cols + t[:, 4, None, None] * rows + t[:, 5, None, None]) / k
        coords = [np.broadcast_to(np.arange(n)[:, None, None, None], (n, h, w, c)),
                  np.broadcast_to(ys[..., None], (n, h, w, c)), np.broadcast_to(xs[..., None], (n, h, w, c)),
                  np.broadcast_to(np.arange(c), (n, h, w, c))]
        return map_coordinates(x, coords, _ORDERS[interpolation], fill_mode="mirror", fill_value=fill_value)
    tt = kernels.as_tensor(np.ascontiguousarray(t, dtype=np.float32))
    y = kernels.image_transform_forward(x, tt, (h, w), interpolation, fill_mode, float(fill_value))
    shape = tuple(x.shape)
    ops._record(lambda dys: [kernels.image_transform_backward(
        kernels.as_tensor(np.ascontiguousarray(np.asarray(dys[0], np.float32))), tt, shape, interpolation, fill_mode)],
        [x], [y])
    return y


def _transforms_arg(op, transform, n):
    t = np.asarray(transform, np.float64)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError(f"keras.ops.image.{op}: transform must be (8,) or (batch, 8), got shape {t.shape}")
    t = np.broadcast_to(t.reshape(-1, 8), (n, 8)) if t.ndim == 1 or t.shape[0] == 1 else t
    if t.shape[0] != n:
        raise ValueError(f"keras.ops.image.{op}: {t.shape[0]} transforms for a batch of {n} images")
    return np.ascontiguousarray(t)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Warp each image by its transform [a0 a1 a2 b0 b1 b2 c0 c1]: output pixel (x, y) samples the
    input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1 (TensorFlow's
    convention; for an affine transform c0 = c1 = 0 and k = 1). fill_mode: constant
    (fill_value), nearest, wrap, mirror, reflect. Differentiable in the images."""
    x, undo = _nhwc("affine_transform", images, data_format)
    t = _transforms_arg("affine_transform", transform, x.shape[0])
    return undo(_warp("affine_transform", x, t, interpolation, fill_mode, fill_value))


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Warp each image by the perspective transform that moves its four start_points (x, y) to
    end_points (each (4, 2) or (batch, 4, 2)): the homography solved by the RandomPerspective
    layer's helper, sampled as affine_transform with fill_mode 'constant'."""
    op = "perspective_transform"
    x, undo = _nhwc(op, images, data_format)
    sp, ep = np.asarray(start_points, np.float64), np.asarray(end_points, np.float64)
    if sp.shape[-2:] != (4, 2) or ep.shape != sp.shape or sp.ndim not in (2, 3):
        raise ValueError(f"keras.ops.image.{op}: start_points and end_points must both be (4, 2) or (batch, 4, 2), "
                         f"got {sp.shape} and {ep.shape}")
    t = _aug.homographies(sp.reshape(-1, 4, 2), ep.reshape(-1, 4, 2))
    t = _transforms_arg(op, t, x.shape[0])
    return undo(_warp(op, x, t, interpolation, "constant", fill_value))


def _fix_index(i, n, mode):
    if mode in ("constant", "nearest"):
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if mode == "mirror":                     # d c b | a b c d | c b a
        s = n - 1
        return np.abs((i + s) % (2 * s) - s) if s > 0 else np.zeros_like(i)
    if mode == "reflect":                    # d c b a | a b c d | d c b a
        return (_fix_index(2 * i + 1, 2 * n + 1, "mirror") - 1) // 2
    raise ValueError(f"keras.ops.image.map_coordinates: fill_mode must be constant, nearest, wrap, mirror or "
                     f"reflect, got {mode!r}")


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """y[...] = inputs sampled at the point (coordinates[0][...], coordinates[1][...], ...), one
    coordinate array per input axis (scipy.ndimage.map_coordinates): order 0 rounds, order 1
    weights the 2^ndim neighbours linearly. Points outside are folded back by fill_mode
    (nearest, wrap, mirror, reflect), or with 'constant' each outside neighbour reads fill_value.
    Differentiable in ``inputs`` (a weighted gather; its rule scatters dy back)."""
    op = "map_coordinates"
    x = ops._f32(inputs, f"image.{op}")
    coords = [np.asarray(c, np.float64) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError(f"keras.ops.image.{op}: needs one coordinate array per input axis ({x.ndim}), got {len(coords)}")
    if int(order) not in (0, 1):
        raise NotImplementedError(f"keras.ops.image.{op}: order must be 0 or 1, got {order}")
    try:
        coords = np.broadcast_arrays(*coords)
    except ValueError:
        raise ValueError(f"keras.ops.image.{op}: the coordinate arrays do not broadcast together") from None
    shape, a = tuple(x.shape), np.asarray(x, np.float64)
    per_axis = []
    for cd, n in zip(coords, shape):
        if int(order) == 0:
            i = np.round(cd).astype(np.int64)
            taps = [(i, np.ones(cd.shape))]
        else:
            lo = np.floor(cd)
            taps = [(lo.astype(np.int64), 1.0 - (cd - lo)), (lo.astype(np.int64) + 1, cd - lo)]
        per_axis.append([(_fix_index(i, n, fill_mode), (i >= 0) & (i < n) if fill_mode == "constant" else True, wt)
                         for i, wt in taps])
    out = np.zeros(coords[0].shape)
    flat_taps = []
    for combo in np.ndindex(*[len(t) for t in per_axis]):
        idx = [per_axis[d][k][0] for d, k in enumerate(combo)]
        valid = np.logical_and.reduce([np.broadcast_to(per_axis[d][k][1], coords[0].shape) for d, k in enumerate(combo)])
        wt = np.prod([per_axis[d][k][2] for d, k in enumerate(combo)], axis=0)
        flat = np.ravel_multi_index(idx, shape) if a.size else np.zeros(coords[0].shape, np.int64)
        out += wt * np.where(valid, a.reshape(-1)[flat] if a.size else 0.0, float(fill_value))
        flat_taps.append((flat, wt * valid))
    y = ops._t(out)

    def rule(dys):
        dy, g = np.asarray(dys[0], np.float64), np.zeros(a.size)
        for flat, wv in flat_taps:
            g += np.bincount(flat.reshape(-1), weights=(dy * wv).reshape(-1), minlength=a.size)
        return [ops._t(g.reshape(shape))]
    ops._record(rule, [x], [y])
    return y


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                      seed=None, data_format=None):
    """Each image displaced by a random smooth field, as Keras 3: dx, dy = sigma * N(0, 1) per
    pixel, each blurred by the Gaussian of standard deviation sigma (kernel int(6 sigma) | 1,
    zero padding), times alpha; output (r, c) samples the input at (r + dy, c + dx) through
    map_coordinates (differentiable in the images). ``seed`` (an int) makes it reproducible."""
    op = "elastic_transform"
    x, undo = _nhwc(op, images, data_format)
    if interpolation not in _ORDERS:
        raise ValueError(f"keras.ops.image.{op}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if float(sigma) <= 0:
        raise ValueError(f"keras.ops.image.{op}: sigma must be positive, got {sigma}")
    n, h, w, c = x.shape
    rng = np.random.default_rng(None if seed is None else np.asarray(seed, np.int64).reshape(-1).tolist())
    size = int(6 * float(sigma)) | 1
    fields = [_aug.gaussian_blur(rng.normal(size=(n, h, w, 1)) * float(sigma), (size, size),
                                 (float(sigma), float(sigma)))[..., 0] * float(alpha) for _ in range(2)]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    full = (n, h, w, c)
    coords = [np.broadcast_to(np.arange(n)[:, None, None, None], full),
              np.broadcast_to((rows + fields[1])[..., None], full),
              np.broadcast_to((cols + fields[0])[..., None], full), np.broadcast_to(np.arange(c), full)]
    return undo(map_coordinates(x, coords, _ORDERS[interpolation], fill_mode=fill_mode, fill_value=fill_value))


# -- filters ----------------------------------------------------------------------------------------

def _depthwise(x, k2d, padding):
    """Each channel of x (N, H, W, C) cross-correlated with the 2-D kernel k2d (differentiable)."""
    c = x.shape[-1]
    kernel = np.ascontiguousarray(np.repeat(k2d[:, :, None, None], c, axis=2).astype(np.float32))
    return ops.depthwise_conv(x, kernel, padding=padding)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Each channel convolved with the normalized Gaussian exp(-d^2 / 2 sigma^2) of kernel_size
    (kh, kw) and sigma (sigma_h, sigma_w), zero padding ('same'): the augmentation layer's
    kernel, run as a depthwise convolution (differentiable)."""
    op = "gaussian_blur"
    x, undo = _nhwc(op, images, data_format)
    ks = _ints(op, kernel_size, 2, "kernel_size")
    sg = (float(sigma),) * 2 if isinstance(sigma, (int, float)) else tuple(float(v) for v in sigma)
    if len(sg) != 2 or min(sg) <= 0:
        raise ValueError(f"keras.ops.image.{op}: sigma must be a positive float or two of them, got {sigma!r}")
    k2d = np.outer(_aug.gaussian_kernel1d(ks[0], sg[0]), _aug.gaussian_kernel1d(ks[1], sg[1]))
    if ks[0] % 2 == 0 or ks[1] % 2 == 0:
        raise ValueError(f"keras.ops.image.{op}: kernel_size must be odd, got {ks}")
    return undo(_depthwise(x, k2d, "same"))


_SOBEL_Y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float64)


def sobel_edges(images, data_format=None):
    """(N, H, W, C) -> (N, H, W, C, 2): each channel's Sobel responses [d/dy, d/dx] (the 3x3
    kernels [[-1 -2 -1] [0 0 0] [1 2 1]] and its transpose, zero padding), as Keras / tf.image."""
    op = "sobel_edges"
    fmt = _data_format(op, data_format)
    x, _ = _nhwc(op, images, "channels_last" if fmt == "channels_last" else "channels_first", ranks=(4,))
    edges = ops.stack([_depthwise(x, _SOBEL_Y, "same"), _depthwise(x, _SOBEL_Y.T, "same")], axis=-1)
    return ops.transpose(edges, (0, 3, 1, 2, 4)) if fmt == "channels_first" else edges


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """The structural similarity of each pair of images, averaged over channels and positions:
    with Gaussian-weighted ('valid' filter_size window) means mu, variances s^2, covariance s12,
    ssim = mean((2 mu1 mu2 + C1)(2 s12 + C2) / ((mu1^2 + mu2^2 + C1)(s1^2 + s2^2 + C2))),
    C1 = (k1 max_val)^2, C2 = (k2 max_val)^2 (Keras 3). Differentiable."""
    op = "ssim"
    a, _ = _nhwc(op, image1, data_format)
    b, _ = _nhwc(op, image2, data_format)
    single = len(np.shape(image1)) == 3
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"keras.ops.image.{op}: the images must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    g = _aug.gaussian_kernel1d(int(filter_size), float(filter_sigma))
    k2d = np.outer(g, g)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2

    def blur(v):
        return _depthwise(v, k2d, "valid")
    mu1, mu2 = blur(a), blur(b)
    s11 = ops.subtract(blur(ops.multiply(a, a)), ops.multiply(mu1, mu1))
    s22 = ops.subtract(blur(ops.multiply(b, b)), ops.multiply(mu2, mu2))
    s12 = ops.subtract(blur(ops.multiply(a, b)), ops.multiply(mu1, mu2))
    num = ops.multiply(ops.add(ops.multiply(ops.multiply(mu1, mu2), 2.0), c1), ops.add(ops.multiply(s12, 2.0), c2))
    den = ops.multiply(ops.add(ops.add(ops.multiply(mu1, mu1), ops.multiply(mu2, mu2)), c1), ops.add(ops.add(s11, s22), c2))
    val = ops.mean(ops.divide(num, den), axis=[1, 2, 3])
    return ops.squeeze(val, 0) if single else val
