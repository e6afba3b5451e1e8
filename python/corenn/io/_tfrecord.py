"""TFRecord files: ``tf.io.TFRecordWriter`` and the reader behind ``tf.data.TFRecordDataset``.

A record is framed as TensorFlow frames it (record_writer.cc):

    uint64 length (little endian) | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

masked_crc(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32), CRC-32C (Castagnoli,
reflected polynomial 0x82F63B78) computed here by a byte table (NumPy over many rows at once for
long records, see crc32c). The whole file may be GZIP or
ZLIB compressed (compression_type). The reader checks the length's CRC before it trusts the
length, reads the data in bounded pieces (a bad length cannot allocate more than the file holds),
then checks the data's CRC; a bad or truncated record is a ``tf.errors.DataLossError`` naming the
file and the record's offset (in the uncompressed stream).
"""
from __future__ import annotations

import functools
import struct
import zlib

import numpy as np

from ..debugging import DataLossError
from ._bytes import as_bytes, as_path


def _table():
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1)
    return [int(v) for v in t]


_TABLE = _table()
_MASK_DELTA = 0xA282EAD8


_NP_TABLE = np.asarray(_TABLE, np.uint32)
_LANES_FROM = 4096     # below this many bytes the byte loop is fast enough


def _register(c, data):
    """The CRC register after feeding ``data`` from register value ``c`` (no pre / post xor)."""
    table = _TABLE
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def _registers(lanes, start):
    """The registers of many equal-length byte rows at once: lanes (k, n) uint8, start (k,)."""
    r = start.astype(np.uint32)
    for j in range(lanes.shape[1]):
        r = _NP_TABLE[(r ^ lanes[:, j]) & 0xFF] ^ (r >> 8)
    return r


@functools.lru_cache(maxsize=64)
def _zeros_operator(n):
    """M with register(c, n zero bytes) = M c over GF(2), as 4 tables of 256: one per byte of c."""
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    cols = _registers(np.zeros((32, n), np.uint8), basis)      # the image of each bit of c
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1        # (256, 8)
    tables = []
    for byte in range(4):
        sel = cols[8 * byte:8 * byte + 8]
        t = np.zeros(256, np.uint32)
        for bit in range(8):
            t ^= np.where(bits[:, bit] == 1, sel[bit], np.uint32(0)).astype(np.uint32)
        tables.append([int(v) for v in t])
    return tables


def crc32c(data, crc=0):
    """CRC-32C of ``data`` (continuing from ``crc``).

    Long inputs are cut into k rows of n bytes whose registers (started at 0) NumPy computes
    together, one byte column per step; the CRC is linear over GF(2), so the running register is
    then carried across the rows as r = M r ^ row_register (M: the effect of n zero bytes) and
    the last bytes are fed one by one."""
    data = bytes(data)
    c = crc ^ 0xFFFFFFFF
    if len(data) < _LANES_FROM:
        return _register(c, data) ^ 0xFFFFFFFF
    n = int(len(data) ** 0.5)
    k = len(data) // n
    rows = _registers(np.frombuffer(data, np.uint8, k * n).reshape(k, n), np.zeros(k, np.uint32))
    t0, t1, t2, t3 = _zeros_operator(n)
    for row in rows.tolist():
        c = t0[c & 0xFF] ^ t1[(c >> 8) & 0xFF] ^ t2[(c >> 16) & 0xFF] ^ t3[c >> 24] ^ row
    return _register(c, data[k * n:]) ^ 0xFFFFFFFF


def masked_crc32c(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _compression(compression_type, op):
    kind = getattr(compression_type, "compression_type", compression_type)
    kind = "" if kind is None else str(kind).upper()
    if kind not in ("", "GZIP", "ZLIB"):
        raise ValueError(f"{op}: compression_type must be None, '', 'GZIP' or 'ZLIB', got {compression_type!r}")
    return kind


_WBITS = {"GZIP": 31, "ZLIB": 15}


class TFRecordOptions:
    """``tf.io.TFRecordOptions(compression_type)``: '' / 'GZIP' / 'ZLIB'."""

    def __init__(self, compression_type=None, flush_mode=None, input_buffer_size=None, output_buffer_size=None,
                 window_bits=None, compression_level=None, compression_method=None, mem_level=None,
                 compression_strategy=None):
        self.compression_type = _compression(compression_type, "tf.io.TFRecordOptions")
        self.compression_level = -1 if compression_level is None else int(compression_level)


class TFRecordWriter:
    """``tf.io.TFRecordWriter(path, options=None)``: ``write(record)`` appends one record;
    ``close()`` (or leaving the ``with`` block) finishes the file."""

    def __init__(self, path, options=None):
        self._path = as_path(path, "TFRecordWriter")
        self._kind = _compression(options, "tf.io.TFRecordWriter")
        level = getattr(options, "compression_level", -1)
        self._file = open(self._path, "wb")
        self._z = zlib.compressobj(level, zlib.DEFLATED, _WBITS[self._kind]) if self._kind else None

    def _put(self, b):
        if self._file is None:
            raise ValueError(f"tf.io.TFRecordWriter: {self._path} is closed")
        self._file.write(self._z.compress(b) if self._z else b)

    def write(self, record):
        data = as_bytes(record, "TFRecordWriter.write")
        head = struct.pack("<Q", len(data))
        self._put(head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data)))

    def flush(self):
        if self._file is not None:
            if self._z:
                self._file.write(self._z.flush(zlib.Z_SYNC_FLUSH))
            self._file.flush()

    def close(self):
        if self._file is not None:
            if self._z:
                self._file.write(self._z.flush())
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _Inflating:
    """A read(n) over a GZIP / ZLIB stream that never inflates more than it is asked for."""

    def __init__(self, f, kind, path):
        self._f, self._path, self._wbits = f, path, _WBITS[kind]
        self._z = zlib.decompressobj(self._wbits)
        self._buf = b""

    def read(self, n):
        out = [self._buf[:n]]
        have = len(out[0])
        self._buf = self._buf[n:]
        while have < n:
            if self._z.unconsumed_tail:
                chunk = self._z.unconsumed_tail
            elif self._z.eof:
                if not self._z.unused_data:
                    break
                # concatenated gzip members (what appending writers make)
                rest, self._z = self._z.unused_data, zlib.decompressobj(self._wbits)
                chunk = rest
            else:
                chunk = self._f.read(1 << 16)
                if not chunk:
                    break
            try:
                piece = self._z.decompress(chunk, min(n - have, 1 << 20))
            except zlib.error as exc:
                raise DataLossError(f"TFRecordDataset: {self._path}: corrupt compressed data ({exc})") from None
            out.append(piece)
            have += len(piece)
        return b"".join(out)


def _read_exact(f, n, path, offset, what):
    parts, have = [], 0
    while have < n:
        piece = f.read(min(n - have, 1 << 20))
        if not piece:
            raise DataLossError(f"TFRecordDataset: {path}: truncated record at offset {offset} "
                                f"({what}: {have} of {n} bytes)")
        parts.append(piece)
        have += len(piece)
    return b"".join(parts)


def read_records(path, compression_type=None):
    """Yield the records (bytes) of the TFRecord file ``path``, checking both CRCs of each."""
    path = as_path(path, "TFRecordDataset")
    kind = _compression(compression_type, "tf.data.TFRecordDataset")
    with open(path, "rb") as raw:
        f = _Inflating(raw, kind, path) if kind else raw
        offset = 0
        while True:
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                raise DataLossError(f"TFRecordDataset: {path}: truncated record at offset {offset} "
                                    f"(header: {len(head)} of 12 bytes)")
            length, crc = struct.unpack("<QI", head)
            if masked_crc32c(head[:8]) != crc:
                raise DataLossError(f"TFRecordDataset: {path}: corrupted record at offset {offset} "
                                    "(the length's CRC does not match)")
            data = _read_exact(f, length, path, offset, "data")
            tail = _read_exact(f, 4, path, offset, "data CRC")
            if masked_crc32c(data) != struct.unpack("<I", tail)[0]:
                raise DataLossError(f"TFRecordDataset: {path}: corrupted record at offset {offset} "
                                    "(the data's CRC does not match)")
            yield data
            offset += 16 + length


def tf_record_iterator(path, options=None):
    """``tf.compat.v1.io.tf_record_iterator``: the records of one file."""
    return read_records(path, options)
