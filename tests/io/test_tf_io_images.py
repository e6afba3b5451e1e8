"""tf.io image codecs against TensorFlow's own decode of real files (tests/io/fixtures, written by
tools/make_io_fixtures.py with TensorFlow 2.21), round trips, and bad files."""
import os
import struct
import zlib

import numpy as np
import pytest

import corenn as tf
from corenn.io import _image, _png

FIX = os.path.join(os.path.dirname(__file__), "fixtures")
REF = dict(np.load(os.path.join(FIX, "decoded.npz")))
PNGS = ["gray.png", "gray_alpha.png", "rgb.png", "rgba.png", "palette.png", "palette_trns.png", "gray1.png",
        "smooth_rgb.png"]


def _read(name):
    return tf.io.read_file(os.path.join(FIX, name))


@pytest.mark.parametrize("name", PNGS)
@pytest.mark.parametrize("channels", [0, 1, 3, 4])
@pytest.mark.parametrize("codec", ["own", "pillow"])
def test_decode_png_matches_tensorflow(name, channels, codec, monkeypatch):
    if codec == "pillow":
        pytest.importorskip("PIL.Image")
    else:
        monkeypatch.setattr(_image, "_pil_if_installed", lambda: None)
    got = tf.io.decode_png(_read(name), channels=channels)
    want = REF[f"{name}:{channels}"]
    assert isinstance(got, np.ndarray) and got.dtype == np.uint8
    assert got.numpy().shape == want.shape and type(got.numpy()) is np.ndarray   # eager tensor's numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_png_codec_needs_no_pillow(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no Pillow here")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_pil)
    img = np.random.default_rng(0).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    assert np.array_equal(tf.io.decode_png(tf.io.encode_png(img)), img)
    with pytest.raises(ImportError, match=r"pillow.*corenn\[plot\]"):
        tf.io.decode_jpeg(_read("small.jpg"))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_encode_png_round_trip(channels):
    img = np.random.default_rng(channels).integers(0, 256, (7, 6, channels), dtype=np.uint8)
    data = tf.io.encode_png(img, compression=9)
    assert data.numpy()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(tf.io.decode_png(data), img)
    assert np.array_equal(tf.io.decode_image(data), img)


def test_decode_jpeg_matches_tensorflow():
    pytest.importorskip("PIL")
    for ch in (0, 1, 3):
        got = tf.io.decode_jpeg(_read("small.jpg"), channels=ch)
        want = REF[f"small.jpg:{ch}"]          # TensorFlow's default: libjpeg's fast integer IDCT
        assert got.dtype == np.uint8 and got.shape == want.shape
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 4
        # the same IDCT as TensorFlow's dct_method="INTEGER_ACCURATE": the same values
        np.testing.assert_array_equal(got, REF[f"small.jpg:accurate:{ch}"])
    assert tf.io.decode_image(_read("small.jpg")).shape == (24, 20, 3)
    assert tf.io.is_jpeg(_read("small.jpg")) and not tf.io.is_jpeg(_read("rgb.png"))


def test_encode_jpeg_round_trip_and_other_formats(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    yy, xx = np.mgrid[0:16, 0:16]
    img = np.stack([yy * 16, xx * 16, (yy + xx) * 8], -1).astype(np.uint8)
    back = tf.io.decode_jpeg(tf.io.encode_jpeg(img, quality=95))
    assert back.shape == img.shape and np.abs(back.astype(int) - img.astype(int)).mean() < 3
    PIL.fromarray(img).save(tmp_path / "a.bmp")
    assert np.array_equal(tf.io.decode_bmp(tf.io.read_file(str(tmp_path / "a.bmp"))), img)
    assert tf.io.decode_image(tf.io.read_file(str(tmp_path / "a.bmp")), channels=4).shape == (16, 16, 4)
    rgba = np.random.default_rng(3).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    PIL.fromarray(rgba).save(tmp_path / "b.bmp")         # 32-bit: TensorFlow reads the 4th byte as alpha
    assert np.array_equal(tf.io.decode_bmp(tf.io.read_file(str(tmp_path / "b.bmp"))), rgba)
    assert np.array_equal(tf.io.decode_bmp(tf.io.read_file(str(tmp_path / "b.bmp")), channels=3), rgba[..., :3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        tf.io.decode_bmp(tf.io.read_file(str(tmp_path / "b.bmp")).numpy()[:-10])
    with pytest.raises(ValueError, match="channels"):
        tf.io.decode_bmp(tf.io.read_file(str(tmp_path / "b.bmp")), channels=1)
    frames = [PIL.fromarray(np.full((4, 5, 3), v, np.uint8)) for v in (0, 255)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    gif = tf.io.read_file(str(tmp_path / "a.gif"))
    assert tf.io.decode_gif(gif).shape == (2, 4, 5, 3)
    assert tf.io.decode_image(gif).shape == (2, 4, 5, 3)
    assert tf.io.decode_image(gif, expand_animations=False).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="unknown image file format"):
        tf.io.decode_image(b"hello")
    with pytest.raises(ValueError, match="decode_jpeg.*cannot decode"):
        tf.io.decode_jpeg(_read("small.jpg").numpy()[:100])


def test_decode_then_convert_image_dtype_is_in_unit_range():
    img = tf.io.decode_png(_read("rgb.png"))
    f = tf.image.convert_image_dtype(img, tf.float32)
    assert f.dtype == "float32"
    np.testing.assert_allclose(np.asarray(f), img / 255.0, rtol=1e-6)
    # tf.constant of uint8 data is an int32 Tensor that still scales by 255, as in TensorFlow
    g = tf.image.convert_image_dtype(tf.constant(img), tf.float32)
    np.testing.assert_allclose(np.asarray(g), img / 255.0, rtol=1e-6)
    h = tf.image.convert_image_dtype(tf.cast(tf.constant(img.astype(np.int32)), tf.uint8), tf.float32)
    np.testing.assert_allclose(np.asarray(h), img / 255.0, rtol=1e-6)
    d = tf.io.decode_png(_read("rgb.png"), dtype=tf.float32)
    np.testing.assert_allclose(np.asarray(d), img / 255.0, rtol=1e-6)
    r = tf.image.resize(f, (4, 4))
    assert tuple(r.shape) == (4, 4, 3) and 0 <= float(np.min(r)) and float(np.max(r)) <= 1


def _png_bytes(w, h, ctype=2, depth=8, body=None, interlace=0):
    def chunk(t, p):
        return struct.pack(">I", len(p)) + t + p + struct.pack(">I", zlib.crc32(t + p))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    raw = body if body is not None else zlib.compress(b"\0" * (h * (1 + 3 * w)))
    return _png.SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d[:20], "truncated|claims"),
    (lambda d: d[:8] + d[8:20] + bytes([d[20] ^ 1]) + d[21:], "CRC mismatch"),
    (lambda d: b"\x89PNX" + d[4:], "signature"),
    (lambda d: d[:-12], "no IEND"),
])
def test_corrupt_png_is_a_clear_error(mutate, message):
    data = bytes(_read("rgb.png").numpy())
    with pytest.raises(ValueError, match=message):
        tf.io.decode_png(mutate(data))


def test_png_header_limits_are_checked_before_allocating():
    with pytest.raises(ValueError, match="above the limit"):
        _png.decode(_png_bytes(1 << 20, 1 << 20, body=b""))      # would be 3 TB
    with pytest.raises(ValueError, match="interlaced"):
        _png.decode(_png_bytes(2, 2, interlace=1))
    with pytest.raises(ValueError, match="16-bit"):
        tf.io.decode_png(_read("rgb16.png"))
    bomb = zlib.compress(b"\0" * (50 << 20))               # 50 MB of zeros for a 4x4 image
    with pytest.raises(ValueError, match="inflates to more than"):
        _png.decode(_png_bytes(4, 4, body=bomb))
    with pytest.raises(ValueError, match="filter type"):
        _png.decode(_png_bytes(1, 1, body=zlib.compress(b"\x07abc")))
    with pytest.raises(ValueError, match="channels"):
        tf.io.decode_png(_read("rgb.png"), channels=5)
    with pytest.raises(TypeError, match="uint8"):
        tf.io.encode_png(np.zeros((2, 2, 3), np.float32))


def test_encode_takes_uint8_tensors_and_int32_pixels():
    # the tutorials' tf.io.encode_png(tf.image.convert_image_dtype(x, tf.uint8))
    x = np.linspace(0.0, 1.0, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    img = tf.image.convert_image_dtype(x, tf.uint8)
    assert img.dtype == "uint8" and np.asarray(img).dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(tf.io.decode_png(tf.io.encode_png(tf.cast(img, tf.int32)))),
                                  np.asarray(img))   # int32 pixels in 0..255 are taken too
    back = tf.io.decode_png(tf.io.encode_png(img))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img).astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(tf.io.decode_png(tf.io.encode_png(tf.cast(x * 255, tf.uint8)))),
                                  (x * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="0..255"):
        tf.io.encode_png(np.full((2, 2, 1), 300, np.int32))   # not 8-bit pixels: refused, not wrapped
