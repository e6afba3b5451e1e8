"""A small, strict PNG codec in zlib + NumPy: ``decode_png`` / ``encode_png`` work without Pillow.

Reads non-interlaced PNGs of 8 bits per sample (gray, gray + alpha, RGB, RGBA) and palette or
gray images of 1, 2, 4 or 8 bits; 16-bit and interlaced (Adam7) files are refused with a clear
ValueError. A file is validated before anything large is allocated: the signature, every chunk's
length (against what is left of the file) and CRC, the IHDR fields, and the image size against a
pixel budget; the pixel data is inflated with a bound of exactly the size IHDR implies, so a
deflate bomb stops at that size. Writes 8-bit PNGs with filter 0 (None) on every row.
Reference: the PNG specification (W3C, 2nd edition), sections 5 (chunks), 9 (filters), 11 (IHDR,
PLTE, tRNS).
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 1 << 28          # 268 M pixels: beyond any image a tutorial pipeline decodes
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}     # colour type -> samples per pixel
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _bad(what):
    return ValueError(f"tf.io.decode_png: {what}")


def _chunks(data):
    """(type, payload) of each chunk, checking lengths and CRCs."""
    if data[:8] != SIGNATURE:
        raise _bad("not a PNG file (bad signature)")
    pos, n = 8, len(data)
    while pos < n:
        if n - pos < 12:
            raise _bad(f"truncated chunk header at byte {pos}")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if length > 0x7FFFFFFF or length > n - pos - 12:
            raise _bad(f"chunk {ctype!r} at byte {pos} claims {length} bytes; only {n - pos - 12} remain "
                       "(truncated or corrupt file)")
        payload = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + payload) & 0xFFFFFFFF != crc:
            raise _bad(f"CRC mismatch in chunk {ctype!r} at byte {pos} (corrupt file)")
        yield ctype, payload
        pos += 12 + length
        if ctype == b"IEND":
            return
    raise _bad("no IEND chunk (truncated file)")


def _header(payload):
    if len(payload) != 13:
        raise _bad(f"IHDR has {len(payload)} bytes, expected 13")
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", payload)
    if ctype not in _CHANNELS or depth not in _DEPTHS[ctype]:
        raise _bad(f"invalid colour type {ctype} / bit depth {depth}")
    if depth == 16:
        raise _bad("16-bit PNGs are not supported (8-bit and palette images are)")
    if interlace:
        raise _bad("interlaced (Adam7) PNGs are not supported; save the image non-interlaced")
    if comp or filt:
        raise _bad(f"unknown compression ({comp}) or filter method ({filt})")
    if w == 0 or h == 0 or w > 1 << 24 or h > 1 << 24 or w * h > MAX_PIXELS:
        raise _bad(f"image size {w}x{h} is empty or above the limit of {MAX_PIXELS} pixels")
    return w, h, depth, ctype


def _unfilter(raw, h, stride, bpp):
    """The filtered scanlines ``raw`` (h rows of 1 + stride bytes) -> (h, stride) uint8."""
    rows = np.frombuffer(raw, np.uint8).reshape(h, stride + 1)
    kinds = rows[:, 0]
    if (kinds > 4).any():
        row = int(np.argmax(kinds > 4))
        raise _bad(f"row {row} has unknown filter type {int(kinds[row])}")
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        line, kind = rows[y, 1:], kinds[y]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:     # Sub: a running sum per byte of the pixel, mod 256
            pad = (-stride) % bpp
            cur = np.cumsum(np.concatenate([line, np.zeros(pad, np.uint8)]).reshape(-1, bpp),
                            axis=0, dtype=np.uint8).reshape(-1)[:stride]
        elif kind == 2:     # Up
            cur = line + prev
        else:               # Average, Paeth: each byte depends on the one bpp before it
            cur = bytearray(line.tobytes())
            up = prev.tobytes()
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                if kind == 3:
                    cur[i] = (cur[i] + ((left + up[i]) >> 1)) & 255
                else:
                    ul = up[i - bpp] if i >= bpp else 0
                    p = left + up[i] - ul
                    pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - ul)
                    pred = left if pa <= pb and pa <= pc else (up[i] if pb <= pc else ul)
                    cur[i] = (cur[i] + pred) & 255
            cur = np.frombuffer(bytes(cur), np.uint8)
        out[y] = cur
        prev = out[y]
    return out


def decode(data, with_depth=False, pillow=None):
    """(H, W, C) uint8 of the PNG bytes ``data``, C as stored: 1 gray, 2 gray + alpha, 3 RGB,
    4 RGBA; a palette image gives 3 (4 when it has a tRNS chunk). ``with_depth``: also the
    file's bit depth, as (image, depth). ``pillow`` (PIL.Image, optional): after this module
    has validated the whole file (chunks, CRCs, header, the exact inflated size), Pillow's C
    code undoes the filters: the same pixels, much faster on large images than the Python loop
    the Average / Paeth filters need here."""
    image, depth = _decode(bytes(data), pillow)
    return (image, depth) if with_depth else image


def _with_pillow(Image, data, ctype, has_trns):
    import io
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:   # the file passed our checks; anything Pillow still refuses is named
        raise _bad(f"Pillow cannot decode it ({type(exc).__name__}: {exc})") from None
    mode = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA", 3: "RGBA" if has_trns else "RGB"}[ctype]
    a = np.asarray(img if img.mode == mode else img.convert(mode), np.uint8)
    return np.ascontiguousarray(a[..., None] if a.ndim == 2 else a)


def _decode(data, pillow=None):
    header = palette = trns = None
    idat = []
    for ctype, payload in _chunks(data):
        if header is None:
            if ctype != b"IHDR":
                raise _bad("the first chunk is not IHDR")
            header = _header(payload)
        elif ctype == b"PLTE":
            if len(payload) % 3 or not 3 <= len(payload) <= 768:
                raise _bad(f"PLTE has {len(payload)} bytes (must be 3..768, a multiple of 3)")
            palette = np.frombuffer(payload, np.uint8).reshape(-1, 3)
        elif ctype == b"tRNS":
            trns = payload
        elif ctype == b"IDAT":
            idat.append(payload)
    if header is None:
        raise _bad("no IHDR chunk")
    w, h, depth, ctype = header
    if not idat:
        raise _bad("no IDAT chunk (no pixel data)")
    samples = _CHANNELS[ctype]
    stride = (w * samples * depth + 7) // 8
    expected = h * (stride + 1)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(b"".join(idat), expected + 1)
    except zlib.error as exc:
        raise _bad(f"corrupt pixel data ({exc})") from None
    if len(raw) != expected:
        raise _bad(f"pixel data inflates to {'more than ' if len(raw) > expected else ''}{len(raw)} bytes; "
                   f"a {w}x{h} image of colour type {ctype} needs {expected}")
    if pillow is not None and (ctype != 3 or palette is not None):
        return _with_pillow(pillow, data, ctype, trns is not None), depth
    lines = _unfilter(raw, h, stride, max(1, samples * depth // 8))
    if depth < 8:   # 1, 2, 4 bits: one sample per field, most significant first
        bits = np.unpackbits(lines, axis=1).reshape(h, -1, depth)
        weights = (1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
        px = (bits * weights).sum(axis=2, dtype=np.uint8)[:, :w]
    else:
        px = lines.reshape(h, w * samples)
    px = px.reshape(h, w, samples)
    if ctype == 3:
        if palette is None:
            raise _bad("palette image without a PLTE chunk")
        idx = px[..., 0]
        if int(idx.max()) >= len(palette):
            raise _bad(f"palette index {int(idx.max())} beyond the {len(palette)} PLTE entries")
        rgb = palette[idx]
        if trns is None:
            return np.ascontiguousarray(rgb), depth
        alpha = np.full(len(palette), 255, np.uint8)
        t = np.frombuffer(trns, np.uint8)[:len(palette)]
        alpha[:len(t)] = t
        return np.ascontiguousarray(np.concatenate([rgb, alpha[idx][..., None]], axis=2)), depth
    if ctype == 0 and depth < 8:
        px = px * np.uint8(255 // ((1 << depth) - 1))
    return np.ascontiguousarray(px), depth


def _chunk(ctype, payload):
    return struct.pack(">I", len(payload)) + ctype + payload + \
        struct.pack(">I", zlib.crc32(ctype + payload) & 0xFFFFFFFF)


def encode(image, compression=-1):
    """PNG bytes of an (H, W, C) uint8 array, C in 1..4."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"tf.io.encode_png: expected an image (height, width, 1..4 channels), got shape {a.shape}")
    if a.dtype != np.uint8:
        raise TypeError(f"tf.io.encode_png: expected uint8 data, got {a.dtype} (16-bit PNGs are not written); "
                        "use tf.image.convert_image_dtype(image, tf.uint8)")
    if not -1 <= int(compression) <= 9:
        raise ValueError(f"tf.io.encode_png: compression must be in -1..9, got {compression}")
    h, w, c = a.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(a).reshape(h, w * c)], axis=1)
    return (SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), int(compression)))
            + _chunk(b"IEND", b""))
