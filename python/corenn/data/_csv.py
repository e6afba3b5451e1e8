"""``tf.data.experimental.make_csv_dataset`` and ``CsvDataset``: CSV files as Datasets.

The files are read with Python's ``csv`` module into NumPy columns when the dataset is made
(the tutorials' files are small; tf.data streams them), then the usual recipe applies:
``from_tensor_slices`` of the columns, shuffle, repeat, batch. Column types follow TensorFlow:
given (``column_defaults`` / ``record_defaults``: a dtype, or a default value whose type is the
column's) or inferred from the first rows (int32, int64 if a value does not fit, float32, else
string). Strings are corenn's (``str``, not bytes). A row with the wrong number of fields or a
value that does not parse raises a ValueError naming the file and line, or is skipped with
``ignore_errors=True``; an empty field takes the column's default (an error without one).
"""
from __future__ import annotations

import csv
import glob
import os

import numpy as np

from .dataset import Dataset

_INT32 = (np.iinfo(np.int32).min, np.iinfo(np.int32).max)


def _files(pattern, op):
    names = [pattern] if isinstance(pattern, (str, os.PathLike)) else list(pattern)
    out = []
    for name in names:
        name = os.fspath(name)
        matches = sorted(glob.glob(name)) if any(c in name for c in "*?[") else [name]
        if not matches or not all(os.path.isfile(m) for m in matches):
            raise ValueError(f"{op}: no CSV file matches {name!r}")
        out += matches
    return out


def _read_rows(files, delim, quote, header, op):
    """(column names from the first file's header or None, [(file, line, fields)])."""
    names, rows = None, []
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delim, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
            for i, fields in enumerate(reader):
                if header and i == 0:
                    names = names or fields
                    continue
                if fields:
                    rows.append((path, i + 1, fields))
    return names, rows


def _kind(dtype):
    name = str(np.dtype(str(dtype))) if str(dtype) != "string" else "string"
    if name == "object":
        return "string"
    if name not in ("int32", "int64", "float32", "float64", "string"):
        raise TypeError(f"CSV: column type {dtype!r} is not supported (int32, int64, float32, string)")
    return "float32" if name == "float64" else name


def _column_spec(spec):
    """(kind, default or None) of one column_defaults / record_defaults entry."""
    if isinstance(spec, (list, tuple, np.ndarray)):
        if len(spec) == 0:
            raise ValueError("CSV: a record default must be a dtype or a one-value list")
        spec = spec[0]
    if isinstance(spec, str) and spec not in ("string", "int32", "int64", "float32", "float64"):
        return "string", spec
    if isinstance(spec, bytes):
        return "string", spec.decode("utf-8")
    if isinstance(spec, (bool, np.bool_)):
        raise TypeError("CSV: boolean columns are not supported")
    if isinstance(spec, (int, np.integer)):
        return "int32", int(spec)
    if isinstance(spec, (float, np.floating)):
        return "float32", float(spec)
    return _kind(spec), None


def _parse(value, kind):
    if kind == "string":
        return value
    if kind in ("int32", "int64"):
        v = int(value)
        if kind == "int32" and not _INT32[0] <= v <= _INT32[1]:
            raise ValueError(f"{value!r} does not fit int32")
        return v
    return float(value)


def _infer(values, na_value):
    kind = "int32"
    for v in values:
        if v == na_value:
            continue
        if kind in ("int32", "int64"):
            try:
                n = int(v)
                if not _INT32[0] <= n <= _INT32[1]:
                    kind = "int64"
                continue
            except ValueError:
                kind = "float32"
        if kind == "float32":
            try:
                float(v)
                continue
            except ValueError:
                return "string"
    return kind


def _columns(rows, names, specs, na_value, ignore_errors, op):
    """NumPy arrays, one per column, from the rows' fields."""
    n_cols = len(specs)
    data = [[] for _ in range(n_cols)]
    for path, line, fields in rows:
        if len(fields) != n_cols:
            if ignore_errors:
                continue
            raise ValueError(f"{op}: {path}:{line} has {len(fields)} fields, expected {n_cols}")
        try:
            parsed = []
            for j, (value, (kind, default)) in enumerate(zip(fields, specs)):
                if value == na_value:
                    if default is None:
                        raise ValueError(f"column {names[j]!r} is empty and has no default")
                    parsed.append(default)
                else:
                    parsed.append(_parse(value, kind))
        except ValueError as exc:
            if ignore_errors:
                continue
            raise ValueError(f"{op}: {path}:{line}: {exc}") from None
        for j, v in enumerate(parsed):
            data[j].append(v)
    out = []
    for (kind, _), values in zip(specs, data):
        out.append(np.array(values, dtype=object) if kind == "string" else np.array(values, dtype=kind))
    return out


def make_csv_dataset(file_pattern, batch_size, column_names=None, column_defaults=None, label_name=None,
                     select_columns=None, field_delim=",", use_quote_delim=True, na_value="", header=True,
                     num_epochs=None, shuffle=True, shuffle_buffer_size=10000, shuffle_seed=None,
                     prefetch_buffer_size=None, num_parallel_reads=None, sloppy=False,
                     num_rows_for_inference=100, compression_type=None, ignore_errors=False, encoding="utf-8"):
    """Batches of (features dict, label) (or the dict alone without ``label_name``) from CSV
    files, as TensorFlow's: num_epochs=None repeats forever (and drops a last partial batch),
    shuffle=True shuffles the rows."""
    op = "make_csv_dataset"
    if compression_type:
        raise NotImplementedError(f"{op}: compressed files are not supported")
    files = _files(file_pattern, op)
    names, rows = _read_rows(files, field_delim, use_quote_delim, header, op)
    if column_names is not None:
        names = list(column_names)
    if names is None:
        raise ValueError(f"{op}: give column_names= for files without a header")
    if column_defaults is not None:
        if len(column_defaults) != len(names):
            raise ValueError(f"{op}: {len(column_defaults)} column_defaults for {len(names)} columns")
        specs = [_column_spec(d) for d in column_defaults]
    else:
        sample = [fields for _, _, fields in rows[:num_rows_for_inference] if len(fields) == len(names)]
        specs = []
        for j in range(len(names)):
            kind = _infer([f[j] for f in sample], na_value)
            specs.append((kind, "" if kind == "string" else None))
    columns = _columns(rows, names, specs, na_value, ignore_errors, op)
    keep = list(names) if select_columns is None else [
        names[c] if isinstance(c, (int, np.integer)) else c for c in select_columns]
    missing = [c for c in keep + ([label_name] if label_name else []) if c not in names]
    if missing:
        raise ValueError(f"{op}: no column {', '.join(map(repr, missing))}; the columns are {names}")
    features = {name: col for name, col in zip(names, columns) if name in keep and name != label_name}
    element = (features, columns[names.index(label_name)]) if label_name else features
    ds = Dataset.from_tensor_slices(element)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer_size, seed=shuffle_seed)
    ds = ds.repeat(num_epochs) if num_epochs is not None else ds.repeat()
    return ds.batch(batch_size, drop_remainder=num_epochs is None)


class CsvDataset(Dataset):
    """``tf.data.experimental.CsvDataset(filenames, record_defaults, header=..., select_cols=...)``:
    one tuple of scalars per row, typed by ``record_defaults`` (a dtype: required; a value: the
    default of an empty field)."""

    def __new__(cls, filenames, record_defaults, compression_type=None, buffer_size=None, header=False,
                field_delim=",", use_quote_delim=True, na_value="", select_cols=None, exclude_cols=None,
                name=None):
        op = "CsvDataset"
        if compression_type:
            raise NotImplementedError(f"{op}: compressed files are not supported")
        files = _files(filenames, op)
        _, rows = _read_rows(files, field_delim, use_quote_delim, header, op)
        specs = [_column_spec(d) for d in record_defaults]
        if rows:
            width = len(rows[0][2])
            cols = list(range(width))
            if select_cols is not None:
                cols = [int(c) for c in select_cols]
            if exclude_cols is not None:
                cols = [c for c in cols if c not in set(int(c) for c in exclude_cols)]
            if len(cols) != len(specs):
                raise ValueError(f"{op}: {len(specs)} record_defaults for {len(cols)} selected columns")
            bad = [c for c in cols if c >= width]
            if bad:
                raise ValueError(f"{op}: column {bad[0]} is outside the {width} columns of the file")
            rows = [(p, line, [f[c] for c in cols] if len(f) == width else f) for p, line, f in rows]
        columns = _columns(rows, [f"column {i}" for i in range(len(specs))], specs, na_value, False, op)
        return Dataset.from_tensor_slices(tuple(columns))
