"""corenn.data: tf.data's input pipelines (``Dataset``) in pure Python over NumPy, so
``tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32)`` runs after
``import corenn as tf`` and feeds ``fit`` / ``evaluate`` / ``predict`` (dataset.py)."""
import os
from types import SimpleNamespace as _Namespace

from ._structure import TensorSpec
from .dataset import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, Options
from ._csv import CsvDataset, make_csv_dataset


def TextLineDataset(filenames, compression_type=None, buffer_size=None, num_parallel_reads=None, name=None):
    """The lines of the text files ``filenames`` (one name, a list, or a Dataset of names), in
    order, as bytes without their line ending (``tf.data.TextLineDataset``)."""
    if compression_type not in (None, ""):
        raise ValueError(f"TextLineDataset: compressed files ({compression_type!r}) are not supported")
    names = filenames if isinstance(filenames, Dataset) else Dataset.from_tensor_slices(
        [filenames] if isinstance(filenames, (str, bytes)) else list(filenames))

    def lines(path):
        def read():
            with open(path.item() if hasattr(path, "item") else path, "rb") as f:
                for line in f:
                    yield line.rstrip(b"\r\n") if line.endswith(b"\n") else line
        return Dataset.from_generator(read, output_signature=TensorSpec((), "string"))
    return names.flat_map(lines)


def TFRecordDataset(filenames, compression_type=None, buffer_size=None, num_parallel_reads=None, name=None):
    """The records of the TFRecord files ``filenames`` (one name, a list, or a Dataset of names),
    in order, as bytes scalars (``tf.data.TFRecordDataset``); ``compression_type`` None / '' /
    'GZIP' / 'ZLIB'. Each record's two CRC-32Cs are checked (io/_tfrecord.py): a corrupted or
    truncated record raises ``tf.errors.DataLossError`` naming the file and offset."""
    from ..io._tfrecord import _compression, read_records
    kind = _compression(compression_type, "tf.data.TFRecordDataset")
    names = filenames if isinstance(filenames, Dataset) else Dataset.from_tensor_slices(
        [filenames] if isinstance(filenames, (str, bytes, os.PathLike)) else [os.fspath(f) for f in filenames])

    def records(path):
        return Dataset.from_generator(lambda: read_records(path, kind), output_signature=TensorSpec((), "string"))
    return names.flat_map(records)


class _TFRecordDatasetWriter:
    """``tf.data.experimental.TFRecordWriter(filename, compression_type=None)``: ``write(dataset)``
    writes each element of a dataset of string scalars as one record."""

    def __init__(self, filename, compression_type=None):
        self._filename, self._kind = filename, compression_type

    def write(self, dataset):
        from ..io._tfrecord import TFRecordWriter
        if not isinstance(dataset, Dataset):
            raise TypeError(f"tf.data.experimental.TFRecordWriter.write: expected a Dataset, got {type(dataset).__name__}")
        with TFRecordWriter(self._filename, self._kind) as w:
            for element in dataset.as_numpy_iterator():
                w.write(element)


def _counter(start=0, step=1, dtype="int64", name=None):
    """``tf.data.experimental.Counter``: start, start + step, ... without end (a range of 2**62
    steps: its cardinality is that number, not INFINITE_CARDINALITY)."""
    if step == 0:
        raise ValueError("tf.data.experimental.Counter: step must not be 0")
    return Dataset.range(start, start + step * 2 ** 62, step, output_type=dtype)


def _ignore_errors(log_warning=False):
    """``tf.data.experimental.ignore_errors()``: for ``ds.apply``, ``ds.ignore_errors()``."""
    return lambda dataset: dataset.ignore_errors(log_warning)


def _cardinality(dataset):
    """``tf.data.experimental.cardinality(ds)``: the same as ``ds.cardinality()``."""
    return dataset.cardinality()


# tf.data.experimental as scripts use it (AUTOTUNE and cardinality lived there before TF 2.4)
# AutoShardPolicy: accepted in Options for tf.distribute scripts; corenn does not shard by itself
experimental = _Namespace(AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE_CARDINALITY,
                          UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY, cardinality=_cardinality,
                          AutoShardPolicy=_Namespace(AUTO=0, FILE=1, DATA=2, HINT=3, OFF=-1),
                          sample_from_datasets=Dataset.sample_from_datasets,
                          choose_from_datasets=Dataset.choose_from_datasets, Counter=_counter,
                          make_csv_dataset=make_csv_dataset, CsvDataset=CsvDataset,
                          TFRecordWriter=_TFRecordDatasetWriter, ignore_errors=_ignore_errors)

from ._fixed_length import (DatasetSpec, FixedLengthRecordDataset, Iterator, IteratorSpec, NumpyIterator,  # noqa: E402
                            ThreadingOptions)

__all__ = ["Dataset", "TextLineDataset", "TFRecordDataset", "TensorSpec", "Options", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY",
           "experimental", "FixedLengthRecordDataset", "NumpyIterator", "ThreadingOptions", "DatasetSpec",
           "Iterator", "IteratorSpec"]
