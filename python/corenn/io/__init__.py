"""``tf.io``: files, image codecs, raw and serialized tensors, CSV and base64 records, TFRecord
files and ``tf.train.Example`` protos, with TensorFlow 2's semantics and no TensorFlow.

Strings: ``tf.io`` takes and returns binary strings (``BytesScalar``, a ``bytes`` with ``numpy()``;
_bytes.py), which is also what ``tf.data`` hands a ``map`` function, so
``Dataset.list_files(...).map(lambda p: tf.io.decode_png(tf.io.read_file(p)))`` runs as written.
Decoded images are uint8 NumPy arrays (a Tensor cannot hold uint8); ``tf.image`` keeps them and
``tf.image.convert_image_dtype(image, tf.float32)`` scales them to [0, 1].
Files read are checked before anything large is allocated (PNG chunks, TFRecord lengths and CRCs,
protobuf lengths, serialized tensors' shapes); nothing is unpickled or executed.
Layout: gfile.py (tf.io.gfile), _png.py (PNG codec), _image.py (decode_* / encode_*),
_tfrecord.py (CRC-32C, TFRecordWriter, the record reader), _example.py (tf.train.Example's wire
format), _parse.py (parse_example), this file (read_file, write_file, decode_raw,
serialize_tensor / parse_tensor, decode_csv, base64).
"""
from __future__ import annotations

import base64 as _base64
import csv as _csv
import struct as _struct

import numpy as np

from .. import dtypes as _dtypes
from .. import kernels as _kernels
from . import gfile
from ._bytes import BytesScalar, as_bytes as _as_bytes, as_path as _as_path, wrap_bytes as _wrap
from ._image import (decode_bmp, decode_gif, decode_image, decode_jpeg, decode_png, encode_jpeg,  # noqa: F401
                     encode_png)
from ._parse import (FixedLenFeature, FixedLenSequenceFeature, VarLenFeature, parse_example,  # noqa: F401
                     parse_single_example, parse_single_sequence_example)
from ._tfrecord import TFRecordOptions, TFRecordWriter, tf_record_iterator  # noqa: F401

__all__ = ["read_file", "write_file", "gfile", "decode_png", "decode_jpeg", "decode_bmp", "decode_gif",
           "decode_image", "encode_png", "encode_jpeg", "decode_raw", "serialize_tensor", "parse_tensor",
           "decode_csv", "decode_base64", "encode_base64", "TFRecordWriter", "TFRecordOptions",
           "FixedLenFeature", "VarLenFeature", "FixedLenSequenceFeature", "parse_single_example",
           "parse_example", "parse_single_sequence_example", "is_jpeg", "decode_and_crop_jpeg", "matching_files", "BytesScalar"]


def read_file(filename, name=None):
    """The bytes of the file ``filename`` as a string scalar (``tf.io.read_file``)."""
    from ..debugging import NotFoundError
    path = _as_path(filename, "read_file")
    try:
        with open(path, "rb") as f:
            return _wrap(f.read())
    except FileNotFoundError:
        raise NotFoundError(f"tf.io.read_file: {path}: no such file or directory") from None


def matching_files(pattern, name=None):
    """The sorted file names matching the glob ``pattern`` (or a list of them), as an array of bytes."""
    names = gfile.glob(pattern if not isinstance(pattern, np.ndarray) else [
        _as_path(p, "matching_files") for p in pattern.reshape(-1)])
    out = np.empty(len(names), dtype=object)
    out[:] = [n.encode() for n in names]
    return out


def write_file(filename, contents, name=None):
    """Write ``contents`` (a string scalar) to ``filename``, atomically (a temporary file renamed
    into place) and with the umask's mode; the parent directories are made."""
    from ..saving import atomic_write
    data = _as_bytes(contents, "write_file")
    atomic_write(_as_path(filename, "write_file"), lambda f: f.write(data))


def is_jpeg(contents, name=None):
    return _as_bytes(contents, "is_jpeg")[:3] == b"\xff\xd8\xff"


def decode_and_crop_jpeg(contents, crop_window, channels=0, **kwargs):
    """decode_jpeg, then the window [y, x, height, width]."""
    y, x, h, w = (int(v) for v in np.asarray(crop_window).reshape(-1))
    img = decode_jpeg(contents, channels)
    if y < 0 or x < 0 or h < 0 or w < 0 or y + h > img.shape[0] or x + w > img.shape[1]:
        raise ValueError(f"tf.io.decode_and_crop_jpeg: crop window {[y, x, h, w]} is outside the image {img.shape}")
    return np.ascontiguousarray(img[y:y + h, x:x + w]).view(type(img))


# -- numbers from bytes ------------------------------------------------------------------------

def _np_dtype(dtype, op):
    if _dtypes.is_string_dtype(dtype):
        raise TypeError(f"tf.io.{op}: out_type must be a numeric dtype, got a string type")
    try:
        return np.dtype(str(dtype))
    except TypeError:
        raise TypeError(f"tf.io.{op}: unknown dtype {dtype!r}") from None


def _numeric_out(a):
    """A Tensor of a's dtype, in the machine's byte order (bools, which a Tensor does not hold
    as a tensor of Keras's, stay NumPy arrays)."""
    from ..data._structure import Array
    if a.dtype.kind in "fiu":
        a = a.astype(a.dtype.newbyteorder("="), copy=False)
    a = np.require(a, requirements="C")   # (ascontiguousarray would make a 0-d array 1-d)
    return _kernels.Tensor.from_numpy(a) if a.dtype.kind in "fiu" else a.view(Array)


def decode_raw(input_bytes, out_type, little_endian=True, fixed_length=None, name=None):
    """The bytes of each string reinterpreted as ``out_type`` numbers: a string scalar gives a
    1-D array, an array of strings one more axis (all must have the same length, or use
    ``fixed_length`` to cut / zero-pad each to that many bytes)."""
    dt = _np_dtype(out_type, "decode_raw").newbyteorder("<" if little_endian else ">")
    strings = np.asarray(input_bytes if not isinstance(input_bytes, (bytes, str)) else
                         np.asarray(input_bytes, dtype=object), dtype=object)
    flat = [_as_bytes(s, "decode_raw") for s in strings.reshape(-1)]
    if fixed_length is not None:
        n = int(fixed_length)
        if n % dt.itemsize:
            raise ValueError(f"tf.io.decode_raw: fixed_length {n} is not a multiple of {dt.name}'s size {dt.itemsize}")
        flat = [s[:n].ljust(n, b"\0") for s in flat]
    sizes = {len(s) for s in flat}
    if len(sizes) > 1:
        raise ValueError(f"tf.io.decode_raw: the strings have different lengths {sorted(sizes)}; all must have the "
                         "same length (or pass fixed_length)")
    size = sizes.pop() if sizes else 0
    if size % dt.itemsize:
        raise ValueError(f"tf.io.decode_raw: input of {size} bytes is not a multiple of {dt.name}'s size {dt.itemsize}")
    out = np.frombuffer(b"".join(flat), dt).astype(np.dtype(dt.name))
    return _numeric_out(out.reshape(strings.shape + (size // dt.itemsize,)))


# -- serialize_tensor / parse_tensor: corenn's own self-describing format -----------------------
# b"CNNT\x01" | u8 len + dtype name | u8 rank | rank x u64 dims | data (little endian; strings:
# u64 length + bytes each). Read back only after the dims and sizes are checked against the bytes.

_MAGIC = b"CNNT\x01"
_MAX_RANK = 32


def serialize_tensor(tensor, name=None):
    """The bytes of ``tensor`` (numbers or strings) in a self-describing form ``parse_tensor`` reads."""
    from ..strings import is_string_array
    if is_string_array(tensor) or (isinstance(tensor, np.ndarray) and tensor.dtype == object):
        a = np.asarray(tensor, dtype=object)
        items = [_as_bytes(s, "serialize_tensor") for s in a.reshape(-1)]
        body = b"".join(_struct.pack("<Q", len(s)) + s for s in items)
        dname = b"string"
    else:
        a = np.asarray(tensor)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"tf.io.serialize_tensor: cannot serialize dtype {a.dtype}")
        body = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        dname = a.dtype.name.encode()
    return _wrap(_MAGIC + bytes([len(dname)]) + dname + bytes([a.ndim])
                 + b"".join(_struct.pack("<Q", d) for d in a.shape) + body)


def parse_tensor(serialized, out_type, name=None):
    """The tensor ``serialize_tensor`` wrote; ``out_type`` must be its dtype."""
    data = _as_bytes(serialized, "parse_tensor")

    def bad(what):
        return ValueError(f"tf.io.parse_tensor: not a serialized tensor ({what})")
    if data[:5] != _MAGIC or len(data) < 7:
        raise bad("bad header")
    n = data[5]
    dname, pos = data[6:6 + n].decode("ascii", "replace"), 6 + n
    if pos >= len(data):
        raise bad("truncated header")
    rank = data[pos]
    pos += 1
    if rank > _MAX_RANK or len(data) < pos + 8 * rank:
        raise bad(f"rank {rank} or truncated shape")
    shape = _struct.unpack(f"<{rank}Q", data[pos:pos + 8 * rank])
    pos += 8 * rank
    count = 1
    for d in shape:
        count *= d
    want = "string" if _dtypes.is_string_dtype(out_type) else _np_dtype(out_type, "parse_tensor").name
    if want != dname:
        raise TypeError(f"tf.io.parse_tensor: the tensor is {dname}, out_type asks for {want}")
    if dname == "string":
        if count > len(data) - pos:    # each string takes at least 8 bytes
            raise bad(f"shape {shape} does not fit in {len(data)} bytes")
        out = np.empty(count, dtype=object)
        for i in range(count):
            if len(data) - pos < 8:
                raise bad("truncated strings")
            (k,) = _struct.unpack("<Q", data[pos:pos + 8])
            if k > len(data) - pos - 8:
                raise bad("truncated strings")
            out[i] = data[pos + 8:pos + 8 + k]
            pos += 8 + k
        out = out.reshape(shape)
        return _wrap(out[()]) if rank == 0 else out
    dt = np.dtype(dname)
    if count * dt.itemsize != len(data) - pos:
        raise bad(f"shape {shape} of {dname} needs {count * dt.itemsize} bytes, {len(data) - pos} given")
    return _numeric_out(np.frombuffer(data, dt.newbyteorder("<"), count, pos).astype(dt).reshape(shape))


# -- CSV and base64 records --------------------------------------------------------------------

def _column_kind(default, i):
    """(dtype name, default value or None when the column is required) of record_defaults[i]:
    a value or one-element list gives both; a dtype or an empty list (float32) a required column."""
    if isinstance(default, _dtypes.DType) or (isinstance(default, type) and default in (float, int, str, bytes)):
        return ("string" if _dtypes.is_string_dtype(default) else np.dtype(str(default)).name), None
    if hasattr(default, "numpy"):
        default = default.numpy()
    a = np.asarray(default, dtype=object if isinstance(default, (str, bytes)) else None)
    if a.size == 0:
        return ("float32" if a.dtype.kind in "fO" else a.dtype.name), None
    v = a.reshape(-1)[0]
    if isinstance(v, (str, bytes)) or a.dtype.kind in "USO":
        return "string", v.encode() if isinstance(v, str) else bytes(v)
    if a.dtype.kind == "f":
        return "float32", float(v)
    if a.dtype.kind in "iu":
        return ("int64" if a.dtype == np.int64 and not isinstance(default, (list, tuple, int)) else "int32"), int(v)
    raise TypeError(f"tf.io.decode_csv: record_defaults[{i}] has unsupported type {a.dtype}")


def decode_csv(records, record_defaults, field_delim=",", use_quote_delim=True, na_value="", select_cols=None,
               name=None):
    """The columns of CSV ``records`` (a string or an array of them): one array per column,
    shaped like ``records``, typed by ``record_defaults`` (a value per column, used where the
    field is empty / ``na_value``; a dtype marks a required column)."""
    kinds = [_column_kind(d, i) for i, d in enumerate(record_defaults)]
    recs = np.asarray(records if not isinstance(records, (bytes, str)) else np.asarray(records, dtype=object),
                      dtype=object)
    cols = [np.empty(recs.shape, dtype=object if k == "string" else k) for k, _ in kinds]
    wanted = list(select_cols) if select_cols is not None else None
    if wanted is not None and len(wanted) != len(kinds):
        raise ValueError(f"tf.io.decode_csv: {len(wanted)} select_cols but {len(kinds)} record_defaults")
    for idx in np.ndindex(recs.shape):
        line = _as_bytes(recs[idx], "decode_csv").decode("utf-8")
        reader = _csv.reader([line], delimiter=field_delim, quoting=_csv.QUOTE_MINIMAL if use_quote_delim
                             else _csv.QUOTE_NONE)
        fields = next(reader, [])
        if wanted is not None:
            if wanted and max(wanted) >= len(fields):
                raise ValueError(f"tf.io.decode_csv: record {line!r} has {len(fields)} fields; select_cols asks for "
                                 f"column {max(wanted)}")
            fields = [fields[c] for c in wanted]
        if len(fields) != len(kinds):
            raise ValueError(f"tf.io.decode_csv: expect {len(kinds)} fields but have {len(fields)} in record "
                             f"{line!r}")
        for c, ((kind, default), text) in enumerate(zip(kinds, fields)):
            if text == "" or text == na_value:
                if default is None:
                    raise ValueError(f"tf.io.decode_csv: field {c} is required but missing in record {line!r}")
                cols[c][idx] = default
                continue
            try:
                cols[c][idx] = text.encode("utf-8") if kind == "string" else (
                    float(text) if kind == "float32" else int(text))
            except ValueError:
                raise ValueError(f"tf.io.decode_csv: field {c} {text!r} of record {line!r} is not a valid "
                                 f"{kind}") from None
    out = []
    for (kind, _), col in zip(kinds, cols):
        if kind == "string":
            out.append(_wrap(col[()]) if col.ndim == 0 else col)
        else:
            out.append(_numeric_out(col))
    return out


def _map_strings(x, fn, op):
    if isinstance(x, (bytes, str)) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return _wrap(fn(_as_bytes(x, op)))
    a = np.asarray(x, dtype=object)
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = fn(_as_bytes(a[idx], op))
    return out


def encode_base64(input, pad=False, name=None):  # noqa: A002
    """Web-safe base64 ('-' and '_' for '+' and '/'), without '=' padding unless ``pad``."""
    return _map_strings(input, lambda b: _base64.urlsafe_b64encode(b) if pad else
                        _base64.urlsafe_b64encode(b).rstrip(b"="), "encode_base64")


def decode_base64(input, name=None):  # noqa: A002
    """The bytes of web-safe base64 text, padded or not."""
    def dec(b):
        b = b.rstrip(b"=")
        if len(b) % 4 == 1 or b.translate(None, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):
            raise ValueError(f"tf.io.decode_base64: invalid web-safe base64 input {b[:40]!r}")
        return _base64.urlsafe_b64decode(b + b"=" * (-len(b) % 4))
    return _map_strings(input, dec, "decode_base64")
