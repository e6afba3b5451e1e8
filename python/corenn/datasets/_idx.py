"""IDX file reader (the MNIST file format), gzip-compressed or raw.

Format (all integers big-endian):
    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the dimensions, uint32 each
    the data    prod(dims) elements, row-major

So an image file opens with the magic 0x00000803 (uint8, 3-d: N x rows x cols) and a label
file with 0x00000801 (uint8, 1-d: N). Every inconsistency raises ValueError naming the file;
a damaged file never yields an array.
"""
import gzip
import os
import zlib

import numpy as np

__all__ = ["read_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    with open(path, "rb") as f:
        head = f.read(2)
    # gzip's own magic; IDX files start with two zero bytes, so this never misfires.
    if head == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    with open(path, "rb") as f:
        return f.read()


def read_idx(path, expected_magic=None):
    """Read one IDX file into a (writable) NumPy array in native byte order.

    Args:
        path: file path; gzip is detected from the content, not the name.
        expected_magic: if given, the 32-bit magic number the file must start with.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: wrong magic number 0x{magic:08x}, expected "
                         f"0x{expected_magic:08x} (is this the right IDX file?)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic number 0x{magic:08x})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated header ({len(data)} bytes, need {header} for "
                         f"{ndim} dimensions)")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    given = len(data) - header
    if given != expected:
        what = "truncated" if given < expected else "has trailing bytes"
        raise ValueError(f"{path}: data {what}: header says shape {dims} "
                         f"({expected} bytes), file holds {given} bytes")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    # astype copies into a writable array in native order (frombuffer's view is read-only).
    return array.astype(dtype.newbyteorder("="))
