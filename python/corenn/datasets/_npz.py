"""Reading the arrays of Keras' dataset .npz files (imdb.npz, reuters.npz, boston_housing.npz).

np.load is not used: it would unpickle the object arrays (IMDB's and Reuters' sequences) and
allocate whatever a header declares. Here the zip directory and every .npy header are checked
first; a numeric member must hold exactly the bytes its header declares, and an object member
(a ragged array of lists of ints) goes through the data-only decoder in _object_lists.
Every damaged or unexpected file is a ValueError naming it.
"""
import math
import os
import re
import zipfile
import zlib

import numpy as np

from ._object_lists import decode_object_lists

__all__ = ["read_npz", "NUMERIC", "OBJECT_LISTS"]

NUMERIC = "numeric"
OBJECT_LISTS = "object lists"

_MAX_MEMBER_BYTES = 1 << 30      # imdb.npz's largest member is ~40 MB uncompressed
# A member larger than _RATIO_FREE_BYTES must not deflate more than _MAX_DEFLATE_RATIO times:
# pickled ints deflate ~3x, floats less, a zip bomb ~1000x. Small members are exempt: a label
# array sorted by class (as stored before Keras' shuffle) deflates ~1000x too.
_MAX_DEFLATE_RATIO = 100
_RATIO_FREE_BYTES = 64 << 20
_OBJECT_DESCRS = ("|O", "|O8", "|O4")   # older numpy wrote the object dtype with its size
_MAX_HEADER_BYTES = 1 << 16
_MAX_RANK = 8
_HEADER = re.compile(r"\{\s*'descr':\s*'([<>|=][a-zA-Z][0-9]{0,2})',\s*'fortran_order':\s*"
                     r"(False|True),\s*'shape':\s*\(([0-9,\s]*)\),?\s*\}\s*", re.ASCII)
_NUMERIC_DESCR = re.compile(r"[<>|=][iuf][1248]", re.ASCII)


def read_npz(path, members):
    """The arrays `members` names, from the .npz at `path`.

    Args:
        path: the .npz file.
        members: array name -> NUMERIC (a plain integer or float array, returned as a writable
            array in native byte order) or OBJECT_LISTS (a 1-d object array of lists of ints,
            returned as a list of lists).
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as zf:
            raw = {name: _member_bytes(zf, path, name + ".npy") for name in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError,
            NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a valid .npz file: corrupt or truncated "
                         f"({type(exc).__name__}: {exc})") from None
    return {name: _decode_npy(raw[name], f"{path} ({name}.npy)", kind)
            for name, kind in members.items()}


def _member_bytes(zf, path, member):
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise ValueError(f"{path}: no member {member!r} (it holds {zf.namelist()[:10]})") from None
    if info.flag_bits & 0x1:
        raise ValueError(f"{path}: member {member!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(f"{path}: member {member!r} uses an unsupported compression method")
    if info.file_size > _MAX_MEMBER_BYTES or (
            info.file_size > _RATIO_FREE_BYTES
            and info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1)):
        raise ValueError(f"{path}: member {member!r} declares {info.file_size} bytes from "
                         f"{info.compress_size} stored bytes (too large, or a zip bomb?)")
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)   # the CRC is checked when the end is reached
    if len(data) != info.file_size:
        raise ValueError(f"{path}: member {member!r} holds {len(data)} bytes but declares "
                         f"{info.file_size}")
    return data


def _parse_header(data, label):
    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        raise ValueError(f"{label}: not a .npy array (bad magic)")
    major = data[6]
    if major == 1:
        start, hlen = 10, int.from_bytes(data[8:10], "little")
    elif major in (2, 3) and len(data) >= 12:
        start, hlen = 12, int.from_bytes(data[8:12], "little")
    else:
        raise ValueError(f"{label}: unsupported .npy version {major}")
    if hlen > _MAX_HEADER_BYTES or start + hlen > len(data):
        raise ValueError(f"{label}: truncated or oversized .npy header ({hlen} bytes)")
    m = _HEADER.fullmatch(data[start:start + hlen].decode("latin-1"))
    if m is None:
        raise ValueError(f"{label}: bad .npy header {data[start:start + 80]!r}")
    descr, fortran, dims = m.groups()
    parts = [p.strip() for p in dims.split(",")]
    if parts and not parts[-1]:
        parts.pop()
    if (len(parts) > _MAX_RANK or any(not p.isdigit() or len(p) > 12 for p in parts)
            or (len(parts) == 1 and "," not in dims)):
        raise ValueError(f"{label}: bad shape ({dims}) in the .npy header")
    if fortran == "True":
        raise ValueError(f"{label}: array in Fortran order (only C order is read)")
    return descr, tuple(int(p) for p in parts), start + hlen


def _decode_npy(data, label, kind):
    descr, shape, offset = _parse_header(data, label)
    if kind == OBJECT_LISTS:
        if descr not in _OBJECT_DESCRS or len(shape) != 1:
            raise ValueError(f"{label}: expected a 1-d object array of sequences, got dtype "
                             f"{descr!r} shape {shape}")
        return decode_object_lists(data[offset:], shape, label)
    if not _NUMERIC_DESCR.fullmatch(descr):
        raise ValueError(f"{label}: expected a plain integer or float array, got dtype "
                         f"{descr!r} (object arrays are not read here)")
    dtype = np.dtype(descr)
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - offset != expected:
        raise ValueError(f"{label}: holds {len(data) - offset} data bytes, its header declares "
                         f"shape {shape} of {descr} ({expected} bytes)")
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))   # a writable copy in native byte order
