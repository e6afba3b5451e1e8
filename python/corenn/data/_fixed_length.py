"""``tf.data.FixedLengthRecordDataset`` and ``tf.data.NumpyIterator``."""
from __future__ import annotations

import abc
import os
import zlib

from ..debugging import DataLossError
from ._structure import TensorSpec
from .dataset import Dataset


def _file_bytes(path, kind, chunk=1 << 20):
    """The (decompressed) bytes of a file, piece by piece."""
    with open(path, "rb") as raw:
        if not kind:
            while True:
                piece = raw.read(chunk)
                if not piece:
                    return
                yield piece
        inflater = zlib.decompressobj({"GZIP": 31, "ZLIB": 15}[kind])
        while True:
            piece = raw.read(chunk)
            if not piece:
                break
            try:
                yield inflater.decompress(piece)
            except zlib.error as exc:
                raise DataLossError(f"FixedLengthRecordDataset: {path}: corrupt compressed data ({exc})") from None
        yield inflater.flush()


def _records(path, record_bytes, header_bytes, footer_bytes, kind):
    """Each record_bytes-long record between the header and the footer; a body that is not a
    whole number of records is a DataLossError (as TensorFlow)."""
    buf = bytearray()
    skipped = 0
    for piece in _file_bytes(path, kind):
        buf += piece
        if skipped < header_bytes:
            drop = min(header_bytes - skipped, len(buf))
            del buf[:drop]
            skipped += drop
        while len(buf) >= record_bytes + footer_bytes + record_bytes:   # keep what may be the footer
            yield bytes(buf[:record_bytes])
            del buf[:record_bytes]
    if skipped < header_bytes or len(buf) < footer_bytes:
        raise DataLossError(f"FixedLengthRecordDataset: {path} is shorter than its header ({header_bytes} bytes) and "
                            f"footer ({footer_bytes} bytes)")
    body = len(buf) - footer_bytes
    if body % record_bytes:
        raise DataLossError(f"FixedLengthRecordDataset: excluding the header ({header_bytes} bytes) and footer "
                            f"({footer_bytes} bytes), {path} has a body of {body} bytes left, not a multiple of the "
                            f"record length ({record_bytes} bytes)")
    for i in range(0, body, record_bytes):
        yield bytes(buf[i:i + record_bytes])


def FixedLengthRecordDataset(filenames, record_bytes, header_bytes=None, footer_bytes=None, buffer_size=None,  # noqa: N802
                             compression_type=None, num_parallel_reads=None, name=None):
    """The fixed-length records of the files ``filenames`` (one name, a list, or a Dataset of
    names), in order, as bytes scalars: ``header_bytes`` skipped at the start of each file and
    ``footer_bytes`` at its end; compression None / '' / 'GZIP' / 'ZLIB'."""
    from ..io._tfrecord import _compression
    kind = _compression(compression_type, "tf.data.FixedLengthRecordDataset")
    size, head, foot = int(record_bytes), int(header_bytes or 0), int(footer_bytes or 0)
    if size < 1 or head < 0 or foot < 0:
        raise ValueError(f"tf.data.FixedLengthRecordDataset: record_bytes must be >= 1 and header / footer bytes >= 0, "
                         f"got {record_bytes}, {header_bytes}, {footer_bytes}")
    names = filenames if isinstance(filenames, Dataset) else Dataset.from_tensor_slices(
        [os.fspath(filenames)] if isinstance(filenames, (str, bytes, os.PathLike)) else [os.fspath(f) for f in filenames])

    def records(path):
        p = path.item() if hasattr(path, "item") else path
        p = p.decode() if isinstance(p, bytes) else p
        return Dataset.from_generator(lambda: _records(p, size, head, foot, kind),
                                      output_signature=TensorSpec((), "string"))
    return names.flat_map(records)


class NumpyIterator:
    """``tf.data.NumpyIterator``: what ``Dataset.as_numpy_iterator()`` returns, an iterator over
    the elements as NumPy arrays (0-d components as NumPy scalars, strings as bytes)."""

    def __init__(self, dataset):
        from . import _structure as st
        if not isinstance(dataset, Dataset):
            raise TypeError(f"tf.data.NumpyIterator: expected a Dataset, got {type(dataset).__name__}")
        self._dataset = dataset
        self._it = (st.as_numpy(e) for e in dataset._elements())

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def next(self):
        return next(self._it)

    def __repr__(self):
        return f"NumpyIterator(iterator={self._dataset!r})"


class ThreadingOptions:
    """``tf.data.ThreadingOptions``: accepted and stored (corenn's pipelines run in the calling
    thread); ``Options().threading`` takes the same attributes."""

    def __init__(self):
        self.max_intra_op_parallelism = None
        self.private_threadpool_size = None


class DatasetSpec:
    """``tf.data.DatasetSpec(element_spec, dataset_shape=())``: the type of a dataset, for
    signatures; ``is_compatible_with`` compares element specs."""

    def __init__(self, element_spec, dataset_shape=()):
        self.element_spec, self.shape = element_spec, tuple(dataset_shape)

    @classmethod
    def from_value(cls, value):
        return cls(value.element_spec)

    def is_compatible_with(self, other):
        spec = other.element_spec if isinstance(other, (Dataset, DatasetSpec)) else other
        return repr(spec) == repr(self.element_spec)

    def __eq__(self, other):
        return isinstance(other, DatasetSpec) and repr(other.element_spec) == repr(self.element_spec) \
            and other.shape == self.shape

    def __hash__(self):
        return hash(repr(self.element_spec))

    def __repr__(self):
        return f"DatasetSpec({self.element_spec!r}, TensorShape({list(self.shape)}))"


class Iterator(metaclass=abc.ABCMeta):
    """``tf.data.Iterator``: the type of ``iter(dataset)`` for isinstance checks and
    annotations (any object with ``__iter__`` and ``__next__`` is one, as collections.abc)."""

    @classmethod
    def __subclasshook__(cls, other):
        if cls is Iterator:
            return all(any(name in base.__dict__ for base in other.__mro__) for name in ("__iter__", "__next__"))
        return NotImplemented

    def get_next(self):
        try:
            return next(self)
        except StopIteration:
            from ..debugging import OutOfRangeError
            raise OutOfRangeError("End of sequence: the iterator has no more elements "
                                  "(get_next_as_optional() gives an empty Optional instead)") from None

    def get_next_as_optional(self):
        """The next element as a ``tf.experimental.Optional``; an empty one at the end, where
        ``get_next`` raises (TensorFlow's way to stop a loop without an exception)."""
        try:
            return Optional.from_value(next(self))
        except StopIteration:
            return Optional.empty(getattr(self, "element_spec", None))


class OwnedIterator(Iterator):
    """``iter(dataset)``: TensorFlow's iterator type, with ``get_next``, ``get_next_as_optional``
    and ``element_spec`` beside Python's protocol (the distributed-input tutorial calls them on
    ``iter(strategy.experimental_distribute_dataset(ds))``)."""

    def __init__(self, dataset, elements):
        self._dataset, self._elements = dataset, elements

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._elements)

    @property
    def element_spec(self):
        return self._dataset.element_spec


class Optional:
    """``tf.experimental.Optional``: a value or nothing. ``has_value()`` is a bool Tensor (so
    ``if not opt.has_value(): break`` runs), ``get_value()`` the value or a ValueError when empty."""

    def __init__(self, value, has, element_spec=None):
        self._value, self._has, self._spec = value, bool(has), element_spec

    @staticmethod
    def from_value(value):
        from ._structure import spec_of
        return Optional(value, True, spec_of(value))

    @staticmethod
    def empty(element_spec):
        return Optional(None, False, element_spec)

    def has_value(self, name=None):
        from .._tf_api import constant
        return constant(self._has)

    def get_value(self, name=None):
        if not self._has:
            raise ValueError("tf.experimental.Optional.get_value: the Optional has no value")
        return self._value

    @property
    def element_spec(self):
        return self._spec

    def __repr__(self):
        return f"<tf.experimental.Optional: {'has a value' if self._has else 'empty'}>"


class IteratorSpec:
    """``tf.data.IteratorSpec(element_spec)``: the type of an iterator over such elements."""

    def __init__(self, element_spec):
        self.element_spec = element_spec

    def __repr__(self):
        return f"IteratorSpec({self.element_spec!r})"
