"""``tf.io.decode_*`` / ``encode_*`` for images: uint8 NumPy arrays (H, W, C), as TensorFlow's
uint8 tensors (a corenn Tensor cannot hold uint8; ``tf.image`` keeps such arrays and
``tf.image.convert_image_dtype(image, tf.float32)`` scales them by 1/255).

PNG goes through corenn's own codec (_png.py) and needs nothing else (with Pillow installed,
the file is still validated by _png.py and Pillow's C code only undoes the row filters); JPEG, BMP and GIF are
decoded, and JPEG encoded, with Pillow (the ``plot`` extra brings it); without it those raise an
ImportError naming the extra. Channel conversions follow TensorFlow: 0 keeps the file's channels,
1 is gray, 3 RGB, 4 RGBA. Checked value for value against TensorFlow 2.21's decode of the fixture
files (PNG exactly; JPEG exactly against dct_method="INTEGER_ACCURATE", the IDCT Pillow's libjpeg
uses, within a few levels of TensorFlow's default fast IDCT).
"""
from __future__ import annotations

import io as _pyio

import numpy as np

from . import _png
from ._bytes import as_bytes, wrap_bytes

_MAX_PIXELS = _png.MAX_PIXELS


def _pil(op):
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"tf.io.{op} decodes JPEG, BMP and GIF files with Pillow: pip install pillow "
                          '(it comes with matplotlib, pip install "corenn[plot]"); PNG needs no extra') from exc
    return Image


def _pil_if_installed():
    """PIL.Image, or None without Pillow (PNG then decodes in corenn's own codec)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _check_channels(op, channels, allowed):
    if channels not in allowed:
        raise ValueError(f"tf.io.{op}: channels must be one of {allowed}, got {channels!r}")


def _to_channels(a, channels, alpha_max=255):
    """(H, W, c) uint8 -> (H, W, channels): RGB -> gray as TensorFlow's PNG decoder (libpng's
    fixed point of 0.299 / 0.587 / 0.114, truncated), gray -> RGB, alpha dropped or added. The
    added alpha is ``alpha_max``: TensorFlow fills it with the file's bit-depth maximum (15 for a
    4-bit palette, 1 for a 1-bit image), and corenn does the same."""
    c = a.shape[2]
    if channels in (0, None) or channels == c:
        return a
    color = a[..., :3] if c >= 3 else a[..., :1]
    alpha = a[..., c - 1:] if c in (2, 4) else None
    if channels == 1:
        if color.shape[2] == 3:
            rgb = color.astype(np.int32)
            color = ((rgb[..., 0] * 9797 + rgb[..., 1] * 19234 + rgb[..., 2] * 3737) >> 15).astype(np.uint8)[..., None]
        return np.ascontiguousarray(color)
    if color.shape[2] == 1:
        color = np.repeat(color, 3, axis=2)
    if channels == 3:
        return np.ascontiguousarray(color)
    if alpha is None:
        alpha = np.full(a.shape[:2] + (1,), alpha_max, np.uint8)
    return np.ascontiguousarray(np.concatenate([color, alpha], axis=2))


def _eager(a):
    """The uint8 array with TensorFlow's eager methods (``numpy()``, ``set_shape``), as Dataset
    elements have them: ``plt.imshow(image.numpy())`` runs."""
    from ..data._structure import Array
    return np.ascontiguousarray(a).view(Array)


def _finish(a, dtype, op):
    if dtype is None or np.dtype(str(dtype)) == np.uint8:
        return _eager(a)
    from .. import image
    return image.convert_image_dtype(a, dtype)


def _gif_frame(data, op):
    """A one-frame GIF's image (H, W, 3), as decode_png / decode_jpeg give it (TensorFlow's
    decoders share one interface and take non-animated GIFs)."""
    frames = decode_gif(data)
    if frames.shape[0] != 1:
        raise ValueError(f"tf.io.{op}: the contents are an animated GIF of {frames.shape[0]} frames; "
                         "use tf.io.decode_gif (or decode_image) for those")
    return np.asarray(frames[0])


def decode_png(contents, channels=0, dtype="uint8", name=None):
    """The PNG ``contents`` (a bytes string) as an (H, W, C) uint8 array; ``channels`` 0 (the
    file's), 1, 3 or 4. Needs no Pillow. JPEG and non-animated GIF contents decode too, as
    TensorFlow's decode_png documents ("since the interface is the same"; keras.io's AOD-Net
    example reads its .jpg files with it), with JPEG's channels 0, 1 or 3."""
    _check_channels("decode_png", channels, (0, 1, 3, 4))
    data = as_bytes(contents, "decode_png")
    kind = _sniff(data)
    if kind == "jpeg":
        if channels == 4:
            raise ValueError("tf.io.decode_png: the contents are a JPEG image, and JPEG does not support 4 channels")
        return _finish(np.asarray(decode_jpeg(data, channels)), dtype, "decode_png")
    if kind == "gif":
        return _finish(_to_channels(_gif_frame(data, "decode_png"), channels), dtype, "decode_png")
    a, depth = _png.decode(data, with_depth=True, pillow=_pil_if_installed())
    a = _to_channels(a, channels, (1 << depth) - 1)
    if a.dtype == np.uint8 and dtype is not None and np.dtype(str(dtype)) == np.uint16:
        # libpng widens 8-bit samples to 16 by repeating the byte (x 257: 255 -> 65535), where
        # convert_image_dtype (a JPEG through decode_png) multiplies by 256, as TensorFlow does
        return _eager(a.astype(np.uint16) * np.uint16(257))
    return _finish(a, dtype, "decode_png")


def _open(data, op, kind, gray=False):
    Image = _pil(op)
    try:
        img = Image.open(_pyio.BytesIO(data))
        if kind and img.format != kind:
            raise ValueError(f"tf.io.{op}: the contents are a {img.format} image, not {kind}")
        w, h = img.size
        if w * h > _MAX_PIXELS:
            raise ValueError(f"tf.io.{op}: image size {w}x{h} is above the limit of {_MAX_PIXELS} pixels")
        if gray and img.mode != "L":
            img.draft("L", img.size)   # libjpeg decodes Y only, as TensorFlow's channels=1
        img.load()
    except ValueError:
        raise
    except Exception as exc:   # Pillow's UnidentifiedImageError, OSError on truncated data ...
        raise ValueError(f"tf.io.{op}: cannot decode the image ({type(exc).__name__}: {exc})") from None
    return img


def _pil_array(img):
    mode = {"1": "L", "L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA"}.get(img.mode)
    if mode is None:
        mode = "RGBA" if "transparency" in img.info or img.mode in ("PA", "RGBa") else "RGB"
    a = np.asarray(img.convert(mode), np.uint8)
    return a[..., None] if a.ndim == 2 else a


def decode_jpeg(contents, channels=0, ratio=1, fancy_upscaling=True, try_recover_truncated=False,
                acceptable_fraction=1, dct_method="", name=None):
    """The JPEG ``contents`` as an (H, W, C) uint8 array (Pillow); ``channels`` 0, 1 or 3. PNG
    and non-animated GIF contents decode too, as TensorFlow's decode_jpeg documents."""
    _check_channels("decode_jpeg", channels, (0, 1, 3))
    if ratio != 1:
        raise NotImplementedError("tf.io.decode_jpeg: ratio other than 1 is not supported")
    data = as_bytes(contents, "decode_jpeg")
    kind = _sniff(data)
    if kind == "png":
        return decode_png(data, channels)
    if kind == "gif":
        return _eager(_to_channels(_gif_frame(data, "decode_jpeg"), channels))
    img = _open(data, "decode_jpeg", "JPEG", gray=channels == 1)
    a = _pil_array(img)
    return _eager(_to_channels(a[..., :3] if a.shape[2] == 4 else a, channels))


def _bmp32(data):
    """An uncompressed 32-bit BMP (BI_RGB) as (H, W, 4) BGRA -> RGBA: TensorFlow reads the
    fourth byte as alpha, Pillow drops it. None for every other BMP."""
    import struct
    if len(data) < 54:
        return None
    offset, = struct.unpack_from("<I", data, 10)
    header, w, h, _, bits, compression = struct.unpack_from("<IiiHHI", data, 14)
    if bits != 32 or compression != 0 or header < 40 or w <= 0 or h == 0:
        return None
    rows = abs(h)
    if w * rows > _MAX_PIXELS or offset + 4 * w * rows > len(data):
        raise ValueError(f"tf.io.decode_bmp: a {w}x{rows} 32-bit BMP needs {4 * w * rows} bytes of pixels at "
                         f"offset {offset}; the file has {len(data)} (truncated or corrupt)")
    px = np.frombuffer(data, np.uint8, 4 * w * rows, offset).reshape(rows, w, 4)[..., [2, 1, 0, 3]]
    return px[::-1] if h > 0 else px      # a positive height stores the bottom row first


def decode_bmp(contents, channels=0, name=None):
    """The BMP ``contents`` as an (H, W, C) uint8 array (Pillow); ``channels`` 0, 3 or 4
    (an uncompressed 32-bit BMP has 4: its fourth byte is alpha, as TensorFlow reads it)."""
    _check_channels("decode_bmp", channels, (0, 3, 4))
    data = as_bytes(contents, "decode_bmp")
    a = _bmp32(data)
    if a is None:
        a = _pil_array(_open(data, "decode_bmp", "BMP"))
    return _eager(_to_channels(a, channels))


def decode_gif(contents, name=None):
    """Every frame of the GIF ``contents``, composed as displayed: (frames, H, W, 3) uint8."""
    img = _open(as_bytes(contents, "decode_gif"), "decode_gif", "GIF")
    n = getattr(img, "n_frames", 1)
    w, h = img.size
    if n * w * h > _MAX_PIXELS:
        raise ValueError(f"tf.io.decode_gif: {n} frames of {w}x{h} are above the limit of {_MAX_PIXELS} pixels")
    frames = []
    for i in range(n):
        img.seek(i)
        frames.append(np.asarray(img.convert("RGB"), np.uint8))
    return _eager(np.stack(frames))


def _sniff(data):
    if data[:8] == _png.SIGNATURE:
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:4] in (b"GIF8",):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    return None


def decode_image(contents, channels=None, dtype="uint8", name=None, expand_animations=True):
    """Any of PNG, JPEG, GIF, BMP by its first bytes. A GIF is (frames, H, W, 3) with
    ``expand_animations`` (its first frame (H, W, 3) without). ``dtype`` float32 scales to [0, 1]."""
    data = as_bytes(contents, "decode_image")
    kind = _sniff(data)
    channels = channels or 0
    if kind is None:
        raise ValueError("tf.io.decode_image: unknown image file format; one of JPEG, PNG, GIF, BMP required")
    if kind == "png":
        return decode_png(data, channels, dtype)
    if kind == "jpeg":
        a = decode_jpeg(data, channels)
    elif kind == "bmp":
        a = decode_bmp(data, channels)
    else:
        _check_channels("decode_image", channels, (0, 3))
        a = decode_gif(data)
        if not expand_animations:
            a = a[0]
    return _finish(a, dtype, "decode_image")


def uint8_pixels(image, op):
    """``image`` as uint8 pixels. corenn stores a uint8 tensor (``tf.cast(x, tf.uint8)``,
    ``tf.image.convert_image_dtype(x, tf.uint8)``) as int32, so integer data whose values all lie
    in 0..255 is taken as uint8; other integer data is refused by name rather than wrapped."""
    a = np.asarray(image)
    if a.dtype == np.uint8 or a.dtype.kind not in "iu":
        return a
    if a.size and (int(a.min()) < 0 or int(a.max()) > 255):
        raise ValueError(f"tf.io.{op}: integer pixels must lie in 0..255 for an 8-bit image, got "
                         f"{int(a.min())}..{int(a.max())} ({a.dtype})")
    return a.astype(np.uint8)


def encode_png(image, compression=-1, name=None):
    """PNG bytes of an (H, W, C) uint8 image (C 1..4). Needs no Pillow."""
    return wrap_bytes(_png.encode(uint8_pixels(image, "encode_png"), compression))


def encode_jpeg(image, format="", quality=95, progressive=False, optimize_size=False, chroma_downsampling=True,
                density_unit="in", x_density=300, y_density=300, xmp_metadata="", name=None):
    """JPEG bytes of an (H, W, 1 or 3) uint8 image (Pillow), ``quality`` 0..100."""
    a = uint8_pixels(image, "encode_jpeg")
    if a.ndim != 3 or a.shape[2] not in (1, 3) or a.dtype != np.uint8:
        raise ValueError(f"tf.io.encode_jpeg: expected a uint8 image (height, width, 1 or 3), got "
                         f"{a.dtype} of shape {a.shape}")
    if not 0 <= int(quality) <= 100:
        raise ValueError(f"tf.io.encode_jpeg: quality must be in 0..100, got {quality}")
    Image = _pil("encode_jpeg")
    img = Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)
    buf = _pyio.BytesIO()
    img.save(buf, "JPEG", quality=int(quality), progressive=bool(progressive), optimize=bool(optimize_size),
             subsampling=2 if chroma_downsampling else 0)
    return wrap_bytes(buf.getvalue())
