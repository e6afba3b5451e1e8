"""Dataset: tf.data's input pipelines in pure Python over NumPy.

A Dataset is a recipe, not data: each transformation (``batch``, ``shuffle``, ``map``, ...)
returns a new Dataset that wraps its input, and every iteration runs the chain from the start
(so a ``shuffle`` draws a new order per pass, a ``from_generator`` calls its generator again).
Each Dataset class implements:

- ``_elements()``: a generator of elements (structures of plain NumPy arrays, _structure.py);
- ``_card()``: the number of elements as tf.data counts it (INFINITE -1, UNKNOWN -2);
- ``_make_spec()``: the element_spec (TensorSpecs in the element's structure);
- ``_batched``: True (its elements are batches), False (single samples), None (unknown); fit
  uses it to refuse a dataset that was never batched, with the fix in the message.

Fast path. A dataset whose elements are rows of arrays (``from_tensor_slices``, ``range``, and a
``shuffle`` / ``shard`` / ``cache`` / ``prefetch`` of one) offers ``_row_source()``: the arrays
and the order of the rows. ``batch`` then slices (natural order: zero-copy views, the same
batches ``fit(x, y, shuffle=False)`` takes) or gathers with ``np.take`` instead of stacking one
element at a time. The order is produced by the same shuffle-buffer algorithm as the per-element
path, so both paths give the same elements.

Iterating a Dataset (``for x, y in ds``) yields arrays that also have ``.numpy()`` (eager
tensors in TensorFlow); ``as_numpy_iterator`` yields plain arrays and NumPy scalars.
"""
from __future__ import annotations

import builtins
import itertools
import numbers
import os
import types

import numpy as np

from . import _structure as st
from ._structure import TensorSpec

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Options"]


def _int_arg(where, name, value, minimum=None, allow=()):
    """An integer argument (a Python int, NumPy integer or 0-d integer array such as
    ``cardinality()``'s result); ValueError naming the call otherwise."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum and value not in allow:
        allowed = "".join(f" or {a}" for a in allow)
        raise ValueError(f"{where}: {name} must be >= {minimum}{allowed}, got {value}")
    return value


class Options:
    """``tf.data.Options``: accepted so scripts that set options run; corenn's pipelines have
    no threading or optimization knobs, so every attribute is stored and ignored."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = Options()
        object.__setattr__(self, name, value)
        return value



def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


class _LiveAfter(dict):
    """A snapshot of a module's globals that reads a name it lacks from the module itself."""

    def __init__(self, live):
        super().__init__()
        self._live = live

    def __missing__(self, name):
        return self._live[name]


def bound_now(fn):
    """``fn`` reading the values its free variables and globals have now. tf.data traces a
    function when the dataset is made, so the Python values it reads are those of that moment:
    the "Load text" tutorial labels each file's lines in a loop with
    ``lines.map(lambda ex: labeler(ex, i))``, and each map keeps its own ``i``. corenn calls the
    function later, so it gets a copy whose closure cells and the globals it names are a
    snapshot (the objects themselves are shared: a layer it calls is the same layer); a global
    defined only later is read when called. Functions of corenn itself and other callables run
    as given."""
    if not isinstance(fn, types.FunctionType) or (fn.__module__ or "").startswith("corenn"):
        return fn
    g = fn.__globals__
    snapshot = _LiveAfter(g)
    for name in _global_names(fn.__code__):   # co_names holds attribute names too: skipped
        if name in g:
            snapshot[name] = g[name]
    snapshot["__builtins__"] = g.get("__builtins__", builtins)
    snapshot["__name__"] = g.get("__name__")
    closure = fn.__closure__
    if closure is not None:
        cells = []
        for cell in closure:
            try:
                cells.append(types.CellType(cell.cell_contents))
            except ValueError:   # not assigned yet
                cells.append(cell)
        closure = tuple(cells)
    copy = types.FunctionType(fn.__code__, snapshot, fn.__name__, fn.__defaults__, closure)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__dict__.update(fn.__dict__)
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


class Dataset:
    """A tf.data-style input pipeline (see the module docstring). Build one with
    ``from_tensor_slices``, ``from_tensors``, ``range``, ``from_generator`` or ``zip``."""

    _batched = None

    # -- what every dataset provides -------------------------------------------------------

    def _elements(self):
        raise NotImplementedError

    def _card(self):
        return UNKNOWN_CARDINALITY

    def _make_spec(self):
        raise NotImplementedError

    def _row_source(self):
        """(structure, leaves, order) when the elements are rows of ``leaves``: ``order`` is None
        for rows 0..n-1 in order, else a callable giving a fresh iterator of row indices (one
        pass) per call."""
        return None

    # -- iteration and inspection ----------------------------------------------------------

    def __iter__(self):
        # an iterator object (get_next, get_next_as_optional, element_spec), as TensorFlow's
        from ._fixed_length import OwnedIterator
        return OwnedIterator(self, (st.as_eager(e) for e in self._elements()))

    def as_numpy_iterator(self):
        """The elements as NumPy arrays (0-d components as NumPy scalars, strings as bytes): a
        ``tf.data.NumpyIterator``."""
        from ._fixed_length import NumpyIterator
        return NumpyIterator(self)

    @property
    def element_spec(self):
        """The structure of one element: a TensorSpec (shape with None for what varies, dtype)
        per component, in the element's tuple / dict structure."""
        spec = self.__dict__.get("_spec_cache")
        if spec is None:
            spec = self._spec_cache = self._make_spec()
        return spec

    def cardinality(self):
        """The number of elements (a 0-d int64 array), or INFINITE_CARDINALITY (-1) /
        UNKNOWN_CARDINALITY (-2), as ``tf.data.Dataset.cardinality``."""
        return np.asarray(self._card(), np.int64).view(st.Array)

    def __len__(self):
        n = self._card()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True   # not len(): `if dataset:` must not fail for an infinite dataset

    def __repr__(self):
        try:
            spec = self.element_spec
        except Exception:  # noqa: BLE001 - a repr must not fail (a map whose function fails)
            spec = "?"
        return f"<{type(self).__name__} element_spec={spec}>"

    def options(self):
        return self.__dict__.get("_options") or Options()

    def with_options(self, options, name=None):
        self._options = options
        return self

    # -- constructors ----------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per row of ``tensors`` (an array, or a tuple / dict of arrays with the
        same number of rows): element i is the structure of row i of each array."""
        return _TensorSlices(tensors)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of one element: ``tensors`` itself."""
        return _FromTensors(tensors)

    @staticmethod
    def range(*args, output_type="int64", name=None):
        """``range(stop)``, ``range(start, stop[, step])`` as Python's range, int64 scalars."""
        return _Range(args, output_type)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """Elements from ``generator()`` (a callable, called again for every pass), checked
        against ``output_signature`` (TensorSpecs in the element's structure; or the older
        ``output_types`` / ``output_shapes``). Without a signature, the first element's
        structure and dtypes are the signature."""
        return _FromGenerator(generator, output_types, output_shapes, args, output_signature)

    @staticmethod
    def zip(*datasets, name=None):
        """Elements of several datasets side by side: ``zip(a, b)`` or ``zip((a, b))`` yields
        tuples, ``zip({'x': a, 'y': b})`` dicts; it ends with the shortest dataset."""
        if len(datasets) == 1 and not isinstance(datasets[0], Dataset):
            datasets = datasets[0]
        return _Zip(datasets)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None, name=None):
        """The file names matching ``file_pattern`` (a glob, or a list of them), as bytes
        scalars: sorted, then shuffled per pass unless ``shuffle=False`` (tf.data's default)."""
        import glob
        patterns = [file_pattern] if isinstance(file_pattern, (str, bytes, os.PathLike)) else list(file_pattern)
        names = sorted({os.fsdecode(f) for p in patterns for f in glob.glob(os.fsdecode(p))})
        if not names:
            raise ValueError(f"Dataset.list_files: no files match {file_pattern!r}")
        ds = Dataset.from_tensor_slices(np.array([n.encode() for n in names], dtype=object))
        return ds.shuffle(len(names), seed=seed) if shuffle is None or shuffle else ds

    @staticmethod
    def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False, rerandomize_each_iteration=None):
        """Elements drawn at random from ``datasets``, dataset i with probability weights[i]
        (default equal). An exhausted dataset ends the result with ``stop_on_empty_dataset``;
        otherwise it drops out and the others are drawn in proportion to their weights."""
        return _Sample(datasets, weights, seed, stop_on_empty_dataset)

    @staticmethod
    def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
        """For each index i of ``choice_dataset`` (int64 scalars), the next element of
        ``datasets[i]``."""
        return _Choose(datasets, choice_dataset, stop_on_empty_dataset)

    # -- transformations -------------------------------------------------------------------

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None,
              name=None):
        """Stack ``batch_size`` consecutive elements into one (a new leading axis); the last
        batch is smaller unless ``drop_remainder``. Elements must have equal shapes."""
        return _Batch(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False,
                     name=None):
        """``batch`` for elements of different shapes: each component is padded (with 0, or
        b'' for strings, or ``padding_values``) to ``padded_shapes`` (None or -1 dimensions: the
        longest in the batch)."""
        return _PaddedBatch(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def unbatch(self, name=None):
        """The rows of each element, one element per row (the inverse of ``batch``)."""
        return _Unbatch(self)

    def rebatch(self, batch_size, drop_remainder=False, name=None):
        """Batches of ``batch_size`` rows (an int, or a list of sizes used in turn) made from the
        rows of this dataset's batches: ``unbatch().batch(batch_size)``."""
        return _Rebatch(self, batch_size, drop_remainder)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Elements in random order, from a buffer of ``buffer_size`` elements (tf.data's
        algorithm: fill the buffer, then repeatedly emit a random one and put the next input
        element in its place). A buffer at least as large as the dataset gives a uniform
        permutation. ``seed`` fixes the sequence of orders; each pass draws a new order unless
        ``reshuffle_each_iteration=False``. Unseeded, the orders come from corenn's generator
        (``utils.set_random_seed`` makes them reproducible)."""
        return _Shuffle(self, buffer_size, seed, reshuffle_each_iteration)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func`` applied to each element (a tuple element is passed as arguments, as
        tf.data does); it may return arrays, numbers, corenn Tensors, tuples or dicts.
        ``num_parallel_calls`` is accepted (AUTOTUNE) and the calls run in order."""
        return _Map(self, bound_now(map_func))

    def filter(self, predicate, name=None):
        """The elements for which ``predicate`` (called as in ``map``) returns True."""
        return _Filter(self, bound_now(predicate))

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times over (None or -1: forever); each pass reruns the pipeline."""
        return _Repeat(self, count)

    def take(self, count, name=None):
        """The first ``count`` elements (-1: all)."""
        return _Take(self, count)

    def skip(self, count, name=None):
        """All but the first ``count`` elements (-1: skip all)."""
        return _Skip(self, count)

    def shard(self, num_shards, index, name=None):
        """Every ``num_shards``-th element starting at ``index``: one worker's part of the data,
        as ``dataset.shard(corenn.distributed.size(), corenn.distributed.rank())``."""
        return _Shard(self, num_shards, index)

    def prefetch(self, buffer_size, name=None):
        """Accepted for tf.data scripts; the elements are the same (produced on demand)."""
        _int_arg("Dataset.prefetch", "buffer_size", buffer_size, 0, allow=(AUTOTUNE,))
        return _PassThrough(self)

    def cache(self, filename="", name=None):
        """Keep the elements of the first complete pass in memory and replay them after it (a
        pass that stops early caches nothing). A ``filename`` is accepted; the cache stays in
        memory."""
        return _Cache(self)

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then ``dataset``'s (same structure and dtypes)."""
        return _Concatenate(self, dataset)

    def enumerate(self, start=0, name=None):
        """(index, element) pairs, the index an int64 scalar counting from ``start``."""
        return Dataset.zip((Dataset.range(_int_arg("Dataset.enumerate", "start", start), None), self))

    def flat_map(self, map_func, name=None):
        """The elements of the Datasets ``map_func`` returns for each element, in order."""
        return _FlatMap(self, bound_now(map_func))

    def interleave(self, map_func, cycle_length=None, block_length=None, num_parallel_calls=None,
                   deterministic=None, name=None):
        """Elements of the Datasets ``map_func`` returns, ``block_length`` at a time from each
        of ``cycle_length`` open datasets in turn (tf.data's deterministic order)."""
        return _Interleave(self, bound_now(map_func), cycle_length, block_length)

    def window(self, size, shift=None, stride=1, drop_remainder=False, name=None):
        """Windows of ``size`` consecutive elements, starting every ``shift`` elements (default
        ``size``), taking every ``stride``-th: each window is the element's structure with a
        Dataset per component (batch it in a ``flat_map``)."""
        return _Window(self, size, shift, stride, drop_remainder)

    def take_while(self, predicate, name=None):
        """Elements up to (not including) the first for which ``predicate`` is False."""
        return _TakeWhile(self, predicate)

    def scan(self, initial_state, scan_func, name=None):
        """A running state: ``new_state, output = scan_func(state, element)`` from
        ``initial_state``; the outputs are the elements (tf.data's ``scan``)."""
        return _Scan(self, initial_state, scan_func)

    def ragged_batch(self, batch_size, drop_remainder=False, row_splits_dtype="int64", name=None):
        """Batches whose elements may differ in length: each component with an axis becomes a
        RaggedTensor (one row per element), scalars a 1-D array."""
        return _RaggedBatch(self, _int_arg("Dataset.ragged_batch", "batch_size", batch_size, 1),
                            bool(drop_remainder))

    def rejection_resample(self, class_func, target_dist, initial_dist=None, seed=None, name=None):
        """Elements ``(class, element)`` drawn so that the classes follow ``target_dist``:
        each element of class c (``class_func(element)``, an integer) is kept with probability
        (target[c] / initial[c]) / max_j(target[j] / initial[j]). Without ``initial_dist`` the
        class fractions are estimated from the elements seen so far, as tf.data does."""
        return _RejectionResample(self, class_func, target_dist, initial_dist, seed)

    def unique(self, name=None):
        """The elements in first-seen order without repeats; each must be one integer or string
        scalar (as tf.data requires)."""
        return _Unique(self)

    def group_by_window(self, key_func, reduce_func, window_size=None, window_size_func=None, name=None):
        """Elements grouped by ``key_func(element)`` (an integer); when a group holds
        ``window_size`` elements (or ``window_size_func(key)``), ``reduce_func(key, window)``
        gets them as a Dataset and its elements are emitted. At the end of the input the
        groups still open are reduced, in increasing key order (tf.data's)."""
        return _GroupByWindow(self, key_func, reduce_func, window_size, window_size_func)

    def bucket_by_sequence_length(self, element_length_func, bucket_boundaries, bucket_batch_sizes,
                                  padded_shapes=None, padding_values=None, pad_to_bucket_boundary=False,
                                  no_padding=False, drop_remainder=False, name=None):
        """Batches of elements of similar length: ``element_length_func(element)`` picks the
        bucket (lengths < boundaries[0], then [boundaries[i-1], boundaries[i]), ..., >=
        boundaries[-1]); each bucket emits a padded batch of ``bucket_batch_sizes[i]``
        elements when full, and what is left at the end. ``pad_to_bucket_boundary`` pads to
        the bucket's boundary - 1 instead of the longest element; ``no_padding`` batches as they
        are."""
        where = "Dataset.bucket_by_sequence_length"
        bounds = [int(b) for b in bucket_boundaries]
        sizes = [_int_arg(where, "bucket_batch_sizes", b, 1) for b in bucket_batch_sizes]
        if len(sizes) != len(bounds) + 1:
            raise ValueError(f"{where}: bucket_batch_sizes needs len(bucket_boundaries) + 1 = {len(bounds) + 1} "
                             f"entries, got {len(sizes)}")
        if any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):
            raise ValueError(f"{where}: bucket_boundaries must increase, got {bounds}")
        if pad_to_bucket_boundary and padded_shapes is not None:
            raise ValueError(f"{where}: pad_to_bucket_boundary and padded_shapes cannot both be given")

        def key(*element):
            n = int(np.asarray(element_length_func(*element)))
            return int(np.searchsorted(bounds, n, side="right"))

        def reduce(bucket, window):
            size = sizes[int(bucket)]
            if no_padding:
                return window.batch(size, drop_remainder=drop_remainder)
            shapes = padded_shapes
            if pad_to_bucket_boundary:
                if int(bucket) == len(bounds):
                    raise ValueError(f"{where}: with pad_to_bucket_boundary every length must be below the "
                                     f"last boundary {bounds[-1]}")
                shapes = [bounds[int(bucket)] - 1]
            return window.padded_batch(size, padded_shapes=shapes, padding_values=padding_values,
                                       drop_remainder=drop_remainder)
        return self.group_by_window(key, reduce, window_size_func=lambda b: sizes[int(b)])

    def ignore_errors(self, log_warning=False, name=None):
        """The elements without those whose computation raised (tf.data's ``ignore_errors``).
        An element the nearest ``map`` fails on is skipped and the next one is computed; an
        error raised further upstream ends the dataset there (a Python generator cannot go on
        after raising), with a warning when ``log_warning``."""
        return _IgnoreErrors(self, bool(log_warning))

    def apply(self, transformation_func):
        """``transformation_func(self)``, which must return a Dataset."""
        out = transformation_func(self)
        if not isinstance(out, Dataset):
            raise TypeError(f"Dataset.apply: the function must return a Dataset, got {type(out).__name__}")
        return out

    def reduce(self, initial_state, reduce_func):
        """Fold the elements: state = reduce_func(state, element), starting from
        ``initial_state``; returns the final state (as arrays)."""
        state = st.to_element(initial_state, "Dataset.reduce", lists_are_data=True)
        for e in self._elements():
            state = st.to_element(_call_with_state(reduce_func, state, e), "Dataset.reduce", lists_are_data=False)
        return st.as_eager(state)

    def get_single_element(self, name=None):
        """The one element of a dataset that has exactly one."""
        it = self._elements()
        first = next(it, _END)
        if first is _END:
            raise ValueError("Dataset.get_single_element: the dataset is empty")
        if next(it, _END) is not _END:
            raise ValueError("Dataset.get_single_element: the dataset has more than one element")
        return st.as_eager(first)


_END = object()


def _call(func, element):
    """tf.data's calling convention: a tuple element is unpacked into arguments. The function
    sees the arrays as iteration hands them out (``st.Array`` views: ``.numpy()``,
    ``.set_shape()``), as TensorFlow hands it eager-like tensors."""
    element = st.as_eager(element)
    return func(*element) if type(element) is tuple else func(element)


def _first(dataset):
    return next(iter(dataset._elements()), _END)


# -- sources ------------------------------------------------------------------------------------

class _TensorSlices(Dataset):
    _batched = False

    def __init__(self, tensors):
        where = "Dataset.from_tensor_slices"
        if isinstance(tensors, Dataset):
            raise TypeError(f"{where}: got a Dataset; use the dataset itself (or .unbatch())")
        self._structure = st.to_element(tensors, where, lists_are_data=True)
        self._leaves = st.flatten(self._structure)
        if not self._leaves:
            raise ValueError(f"{where}: needs at least one array")
        for a in self._leaves:
            if a.ndim == 0:
                raise ValueError(f"{where}: each component must have a first dimension to slice, got a "
                                 f"scalar ({a!r}); use from_tensors for a single element")
        sizes = [a.shape[0] for a in self._leaves]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in self._leaves)
            raise ValueError(f"{where}: all components must have the same size in their first dimension "
                             f"(the number of elements), got shapes {shapes} for the structure "
                             f"{st.describe(self._structure)}")
        self._n = sizes[0]

    def _row_source(self):
        from ..sparse import SparseTensor
        if any(isinstance(a, SparseTensor) for a in self._leaves):
            return None   # SparseTensor rows: the element path (batch stacks them as SparseTensors)
        return self._structure, self._leaves, None

    def _elements(self):
        leaves, structure = self._leaves, self._structure
        for i in range(self._n):
            yield st.pack_as(structure, [a[i, ...] for a in leaves])

    def _card(self):
        return self._n

    def _make_spec(self):
        return st.map_structure(lambda a: TensorSpec(a.shape[1:], a.dtype), self._structure)


class _FromTensors(Dataset):
    def __init__(self, tensors):
        self._element = st.to_element(tensors, "Dataset.from_tensors", lists_are_data=True)

    def _elements(self):
        yield self._element

    def _card(self):
        return 1

    def _make_spec(self):
        return st.spec_of(self._element)


class _Range(Dataset):
    _batched = False

    def __init__(self, args, output_type):
        where = "Dataset.range"
        if not 1 <= len(args) <= 3:
            raise TypeError(f"{where}: takes stop, or start, stop[, step]; got {len(args)} arguments")
        if len(args) == 2 and args[1] is None:   # enumerate's open range
            self._range = itertools.count(_int_arg(where, "start", args[0]))
            self._start = _int_arg(where, "start", args[0])
        else:
            ints = [_int_arg(where, "argument", a) for a in args]
            if len(ints) == 3 and ints[2] == 0:
                raise ValueError(f"{where}: step must not be zero")
            self._start = None
            self._range = range(*ints)
        self._dtype = st._dtype_of(output_type)

    def _values(self):
        if self._start is not None:
            return None
        return np.arange(self._range.start, self._range.stop, self._range.step, dtype=self._dtype)

    def _row_source(self):
        values = self._values()
        return None if values is None else (values, [values], None)

    def _elements(self):
        dtype = self._dtype
        counter = itertools.count(self._start) if self._start is not None else self._range
        for i in counter:
            yield np.asarray(i, dtype)

    def _card(self):
        return INFINITE_CARDINALITY if self._start is not None else len(self._range)

    def _make_spec(self):
        return TensorSpec((), self._dtype)


class _FromGenerator(Dataset):
    def __init__(self, generator, output_types, output_shapes, args, output_signature):
        where = "Dataset.from_generator"
        if not callable(generator):
            raise TypeError(f"{where}: `generator` must be a callable that returns an iterator (pass the "
                            f"generator function, not a generator object), got {type(generator).__name__}")
        if output_signature is not None and (output_types is not None or output_shapes is not None):
            raise TypeError(f"{where}: give output_signature, or output_types/output_shapes, not both")
        if output_signature is None and output_types is not None:
            output_signature = _signature_from_types(output_types, output_shapes)
        elif output_shapes is not None:
            raise TypeError(f"{where}: output_shapes needs output_types")
        if output_signature is not None:
            for spec in st.flatten(output_signature):
                if not isinstance(spec, TensorSpec):
                    raise TypeError(f"{where}: output_signature must be TensorSpecs in the element's "
                                    f"structure, got {type(spec).__name__} {spec!r}")
        self._generator = generator
        self._args = tuple(args or ())
        self._signature = output_signature

    def _elements(self):
        where = "Dataset.from_generator"
        signature = self._signature
        for index, value in enumerate(self._generator(*self._args)):
            if isinstance(value, list) and signature is not None and isinstance(signature, tuple):
                value = tuple(value)
            if signature is None:
                yield st.to_element(value, where, lists_are_data=True)
                continue
            yield _conform(where, value, signature, index)

    def _make_spec(self):
        if self._signature is not None:
            return self._signature
        first = _first(self)
        return None if first is _END else st.spec_of(first)


def _signature_from_types(types, shapes):
    if isinstance(types, dict):
        return {k: _signature_from_types(types[k], None if shapes is None else shapes[k]) for k in types}
    if isinstance(types, (tuple, list)):
        return tuple(_signature_from_types(t, None if shapes is None else shapes[i])
                     for i, t in enumerate(types))
    return TensorSpec(shapes, types)


def _conform(where, value, signature, index):
    """A generated element converted to the signature's dtypes, checked against its structure,
    dtypes and shapes."""
    if isinstance(signature, TensorSpec):
        if isinstance(value, dict):
            raise TypeError(f"{where}: element {index} is a dict, but output_signature expects a single "
                            f"array {signature}")
        if isinstance(value, tuple):
            # a tuple against one TensorSpec is one array, as TensorFlow converts it (the
            # tf.data performance guide yields (sample_idx,) for a TensorSpec of shape (1,))
            try:
                value = np.asarray(value)
            except ValueError:
                value = None
            if value is None or value.dtype == object:
                raise TypeError(f"{where}: element {index} is a tuple that is not one array, but output_signature "
                                f"expects a single array {signature}")
        a = st.to_array(value, where)
        want = signature.dtype
        if want.kind == "O":
            if a.dtype.kind not in "OSU":
                raise TypeError(f"{where}: element {index} has dtype {a.dtype}, output_signature expects "
                                "strings")
            a = a.astype(object)
        elif a.dtype != want:
            lossless = np.can_cast(a.dtype, want, "same_kind") or (a.dtype.kind in "biu" and want.kind in "iuf")
            if not lossless or a.dtype.kind in "OSU":
                raise TypeError(f"{where}: element {index} has dtype {a.dtype}, which does not convert to "
                                f"the output_signature's {want}")
            a = a.astype(want)
        if not st.shapes_compatible(signature.shape, a.shape):
            raise ValueError(f"{where}: element {index} has shape {tuple(a.shape)}, but output_signature "
                             f"expects {signature.shape}")
        return a
    if isinstance(signature, dict):
        if not isinstance(value, dict) or sorted(value) != sorted(signature):
            got = sorted(value) if isinstance(value, dict) else type(value).__name__
            raise TypeError(f"{where}: element {index} must be a dict with keys {sorted(signature)} "
                            f"(output_signature), got {got}")
        return {k: _conform(where, value[k], signature[k], index) for k in signature}
    if not isinstance(value, tuple) or len(value) != len(signature):
        what = f"a tuple of {len(value)}" if isinstance(value, tuple) else f"a {type(value).__name__}"
        raise TypeError(f"{where}: element {index} must be a tuple of {len(signature)} components "
                        f"(output_signature {st.describe(signature)}), got {what}")
    return tuple(_conform(where, v, s, index) for v, s in zip(value, signature))


def _dataset_list(where, datasets):
    datasets = list(datasets)
    if not datasets or not all(isinstance(d, Dataset) for d in datasets):
        raise TypeError(f"{where}: datasets must be a non-empty list of Datasets")
    first = datasets[0].element_spec
    for d in datasets[1:]:
        other = d.element_spec
        if first is not None and other is not None and not st.same_structure(first, other):
            raise TypeError(f"{where}: the datasets' elements differ: {st.describe(first)} and {st.describe(other)}")
    return datasets


class _Choose(Dataset):
    def __init__(self, datasets, choice_dataset, stop_on_empty):
        where = "Dataset.choose_from_datasets"
        self._datasets = _dataset_list(where, datasets)
        if not isinstance(choice_dataset, Dataset):
            raise TypeError(f"{where}: choice_dataset must be a Dataset of int64 scalars")
        self._choices = choice_dataset
        self._stop = bool(stop_on_empty)
        flags = {d._batched for d in self._datasets}
        self._batched = flags.pop() if len(flags) == 1 else None

    def _elements(self):
        where = "Dataset.choose_from_datasets"
        its = [d._elements() for d in self._datasets]
        done = [False] * len(its)
        for c in self._choices._elements():
            i = int(c)
            if not 0 <= i < len(its):
                raise ValueError(f"{where}: choice {i} is out of range for {len(its)} datasets")
            e = _END if done[i] else next(its[i], _END)
            if e is _END:
                done[i] = True
                if self._stop:
                    return
                continue
            yield e

    def _make_spec(self):
        return self._datasets[0].element_spec


class _Sample(_Choose):
    def __init__(self, datasets, weights, seed, stop_on_empty):
        where = "Dataset.sample_from_datasets"
        self._datasets = _dataset_list(where, datasets)
        n = len(self._datasets)
        w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, np.float64).reshape(-1)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"{where}: weights must be {n} non-negative numbers with a positive sum, got {weights!r}")
        self._weights = w / w.sum()
        self._seeds = None if seed is None else np.random.default_rng(_int_arg(where, "seed", seed, 0))
        self._stop = bool(stop_on_empty)
        flags = {d._batched for d in self._datasets}
        self._batched = flags.pop() if len(flags) == 1 else None

    def _elements(self):
        rng = np.random.default_rng(self._seeds.integers(2**63) if self._seeds is not None else _global_seed())
        its = [d._elements() for d in self._datasets]
        weights = self._weights.copy()
        while weights.sum() > 0:
            i = int(rng.choice(len(its), p=weights / weights.sum()))
            e = next(its[i], _END)
            if e is _END:
                if self._stop:
                    return
                weights[i] = 0.0
                continue
            yield e


class _Zip(Dataset):
    def __init__(self, datasets):
        if isinstance(datasets, Dataset):
            datasets = (datasets,)
        if isinstance(datasets, list):
            datasets = tuple(datasets)
        if not isinstance(datasets, (tuple, dict)) or not datasets:
            raise TypeError("Dataset.zip: give datasets (zip(a, b)), or a tuple or dict of them")
        for d in st.flatten(datasets):
            if not isinstance(d, Dataset):
                raise TypeError(f"Dataset.zip: every component must be a Dataset, got {type(d).__name__}")
        self._datasets = datasets
        flags = {d._batched for d in st.flatten(datasets)}
        self._batched = flags.pop() if len(flags) == 1 else None

    def _elements(self):
        leaves = st.flatten(self._datasets)
        for items in zip(*(d._elements() for d in leaves)):
            yield st.pack_as(self._datasets, items)

    def _card(self):
        cards = [d._card() for d in st.flatten(self._datasets)]
        if UNKNOWN_CARDINALITY in cards:
            return UNKNOWN_CARDINALITY
        finite = [c for c in cards if c >= 0]
        return min(finite) if finite else INFINITE_CARDINALITY

    def _make_spec(self):
        return st.map_structure(lambda d: d.element_spec, self._datasets)


# -- transformations ----------------------------------------------------------------------------

class _Unary(Dataset):
    """A transformation of one input dataset; keeps its batched flag unless it says otherwise."""

    def __init__(self, input_dataset):
        if not isinstance(input_dataset, Dataset):
            raise TypeError(f"expected a Dataset, got {type(input_dataset).__name__}")
        self._input = input_dataset
        self._batched = input_dataset._batched

    def _card(self):
        return self._input._card()

    def _make_spec(self):
        return self._input.element_spec


class _PassThrough(_Unary):
    def _elements(self):
        return self._input._elements()

    def _row_source(self):
        return self._input._row_source()


def _stack(where, elements):
    """One batch from a list of elements of one structure; equal shapes per component."""
    from ..sparse import SparseTensor, _stack_rows
    structure = elements[0]
    flats = [st.flatten(e) for e in elements]
    out = []
    for j, first in enumerate(flats[0]):
        parts = [f[j] for f in flats]
        if isinstance(first, SparseTensor):
            out.append(_stack_rows(parts))
            continue
        for k, p in enumerate(parts):
            if p.shape != first.shape:
                raise ValueError(f"{where}: cannot batch elements of different shapes: in component {j} "
                                 f"the first element of the batch has shape {first.shape} and element {k} "
                                 f"has shape {p.shape}; pad them with padded_batch, or map them to one shape")
        out.append(np.stack(parts))
    return st.pack_as(structure, out)


def _batch_spec(spec, size):
    return st.map_structure(lambda s: TensorSpec(None if s.shape is None else (size,) + s.shape, s.dtype),
                            spec)


def _batch_card(n, size, drop_remainder):
    if n < 0:
        return n
    return n // size if drop_remainder else -(-n // size)


class _Batch(_Unary):
    _where = "Dataset.batch"

    def __init__(self, input_dataset, batch_size, drop_remainder):
        super().__init__(input_dataset)
        self._size = _int_arg(self._where, "batch_size", batch_size, 1)
        self._drop = bool(drop_remainder)
        self._batched = True

    def _elements(self):
        source = self._input._row_source()
        if source is not None:
            yield from self._from_rows(*source)
            return
        yield from self._grouped()

    def _grouped(self):
        """Batches of the input's elements, one at a time, combined by ``_combine``."""
        batch = []
        for e in self._input._elements():
            batch.append(e)
            if len(batch) == self._size:
                yield self._combine(batch)
                batch = []
        if batch and not self._drop:
            yield self._combine(batch)

    def _combine(self, elements):
        return _stack(self._where, elements)

    def _from_rows(self, structure, leaves, order):
        """Batches straight from the source arrays: slices in natural order, else np.take."""
        size, n = self._size, len(leaves[0])
        if order is None:
            stop = n - n % size if self._drop else n
            for lo in range(0, stop, size):
                yield st.pack_as(structure, [a[lo:lo + size] for a in leaves])
            return
        indices = iter(order())
        while True:
            idx = np.fromiter(itertools.islice(indices, size), np.int64)
            if len(idx) == 0 or (self._drop and len(idx) < size):
                return
            yield st.pack_as(structure, [np.take(a, idx, axis=0) for a in leaves])

    def _card(self):
        return _batch_card(self._input._card(), self._size, self._drop)

    def _make_spec(self):
        return _batch_spec(self._input.element_spec, self._size if self._drop else None)


class _PaddedBatch(_Batch):
    _where = "Dataset.padded_batch"

    def __init__(self, input_dataset, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(input_dataset, batch_size, drop_remainder)
        self._shapes = padded_shapes
        self._values = padding_values

    def _elements(self):
        # padding needs every element: no slicing of the source arrays
        return self._grouped()

    def _per_component(self, what, given, structure, default):
        """``given`` (None, one value for all, or the element's structure) as a flat list."""
        n = len(st.flatten(structure))
        if given is None:
            return [default] * n
        if not st.is_nest(structure):
            return [given]
        if st.is_nest(given) and st.same_structure(given, structure):
            return st.flatten(given)
        if what == "padding_values" and not st.is_nest(given):
            return [given] * n
        raise ValueError(f"{self._where}: {what} must match the element structure "
                         f"{st.describe(structure)}, got {given!r}")

    def _combine(self, elements):
        where = self._where
        structure = elements[0]
        flats = [st.flatten(e) for e in elements]
        shapes = self._per_component("padded_shapes", self._shapes, structure, None)
        values = self._per_component("padding_values", self._values, structure, None)
        out = []
        for j, first in enumerate(flats[0]):
            parts = [f[j] for f in flats]
            ranks = {p.ndim for p in parts}
            if len(ranks) > 1:
                raise ValueError(f"{where}: component {j} has elements of different ranks "
                                 f"{sorted(ranks)}; padding keeps the rank")
            longest = tuple(max(p.shape[d] for p in parts) for d in range(first.ndim))
            want = shapes[j]
            if want is None:
                target = longest
            else:
                want = st._as_shape(want)
                if len(want) != first.ndim:
                    raise ValueError(f"{where}: padded_shapes for component {j} is {tuple(want)}, but its "
                                     f"elements have rank {first.ndim}")
                target = tuple(longest[d] if w is None or w == -1 else int(w) for d, w in enumerate(want))
                for p in parts:
                    if any(s > t for s, t in zip(p.shape, target)):
                        raise ValueError(f"{where}: an element of component {j} has shape {p.shape}, larger "
                                         f"than the padded shape {target}")
            fill = values[j]
            if fill is None:
                fill = b"" if first.dtype.kind in "OSU" else 0
            batch = np.full((len(parts),) + target, fill, dtype=first.dtype)
            for k, p in enumerate(parts):
                if p.dtype.kind != first.dtype.kind:
                    raise ValueError(f"{where}: component {j} mixes dtypes {first.dtype} and {p.dtype}")
                batch[(k,) + tuple(slice(0, s) for s in p.shape)] = p
            out.append(batch)
        return st.pack_as(structure, out)

    def _make_spec(self):
        spec = self._input.element_spec
        shapes = self._per_component("padded_shapes", self._shapes, spec, None)
        lead = self._size if self._drop else None
        flat = []
        for s, want in zip(st.flatten(spec), shapes):
            if want is None:
                shape = None if s.shape is None else (lead,) + tuple(None for _ in s.shape)
            else:
                shape = (lead,) + tuple(None if w is None or w == -1 else int(w) for w in st._as_shape(want))
            flat.append(TensorSpec(shape, s.dtype))
        return st.pack_as(spec, flat)


class _Unbatch(_Unary):
    def __init__(self, input_dataset):
        super().__init__(input_dataset)
        self._batched = False if input_dataset._batched is not None else None

    def _elements(self):
        for index, e in enumerate(self._input._elements()):
            leaves = st.flatten(e)
            sizes = {a.shape[0] if a.ndim else None for a in leaves}
            if None in sizes or len(sizes) != 1:
                shapes = ", ".join(str(tuple(a.shape)) for a in leaves)
                raise ValueError(f"Dataset.unbatch: element {index} cannot be split into rows: its components "
                                 f"need one common first dimension, got shapes {shapes}")
            for i in range(sizes.pop()):
                yield st.pack_as(e, [a[i, ...] for a in leaves])

    def _card(self):
        return INFINITE_CARDINALITY if self._input._card() == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY

    def _make_spec(self):
        def row(s):
            if s.shape is not None and len(s.shape) == 0:
                raise ValueError("Dataset.unbatch: the elements have scalar components, which have no rows")
            return TensorSpec(None if s.shape is None else s.shape[1:], s.dtype)
        return st.map_structure(row, self._input.element_spec)


class _Rebatch(_Unary):
    def __init__(self, input_dataset, batch_size, drop_remainder):
        super().__init__(input_dataset)
        where = "Dataset.rebatch"
        sizes = list(batch_size) if isinstance(batch_size, (list, tuple, np.ndarray)) and \
            np.ndim(batch_size) == 1 else [batch_size]
        if not sizes:
            raise ValueError(f"{where}: batch_size must not be an empty list")
        self._sizes = [_int_arg(where, "batch_size", s, 1) for s in sizes]
        self._drop = bool(drop_remainder)
        self._batched = True

    def _elements(self):
        rows = _Unbatch(self._input)._elements()
        for size in itertools.cycle(self._sizes):
            batch = list(itertools.islice(rows, size))
            if not batch or (self._drop and len(batch) < size):
                return
            yield _stack("Dataset.rebatch", batch)
            if len(batch) < size:
                return

    def _card(self):
        return INFINITE_CARDINALITY if self._input._card() == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY

    def _make_spec(self):
        lead = self._sizes[0] if self._drop and len(set(self._sizes)) == 1 else None
        return st.map_structure(lambda s: TensorSpec(None if s.shape is None else (lead,) + s.shape[1:], s.dtype),
                                self._input.element_spec)


class _Shuffle(_Unary):
    def __init__(self, input_dataset, buffer_size, seed, reshuffle_each_iteration):
        super().__init__(input_dataset)
        where = "Dataset.shuffle"
        self._buffer = _int_arg(where, "buffer_size", buffer_size, 1)
        self._reshuffle = bool(reshuffle_each_iteration)
        if seed is not None:
            seed = _int_arg(where, "seed", seed, 0)
        # With a seed, the sequence of orders is fixed; without one the orders come from corenn's
        # generator: per pass, or drawn once here when every pass must repeat the first order.
        self._seeds = None if seed is None else np.random.default_rng(seed)
        self._fixed_seed = None
        if not self._reshuffle:
            self._fixed_seed = seed if seed is not None else _global_seed()

    def _next_rng(self):
        if self._fixed_seed is not None:
            return np.random.default_rng(self._fixed_seed)
        if self._seeds is not None:
            return np.random.default_rng(self._seeds.integers(2**63))
        return np.random.default_rng(_global_seed())

    def _shuffled(self, items):
        """tf.data's shuffle buffer over an iterator: fill ``buffer_size`` slots, then emit a
        random slot and refill it with the next item (at the end, move the last slot into it)."""
        rng = self._next_rng()
        items = iter(items)
        buffer = list(itertools.islice(items, self._buffer))
        draws, k = rng.random(1024), 0
        while buffer:
            if k == len(draws):
                draws, k = rng.random(1024), 0
            j = min(int(draws[k] * len(buffer)), len(buffer) - 1)
            k += 1
            out = buffer[j]
            nxt = next(items, _END)
            if nxt is _END:
                buffer[j] = buffer[-1]
                buffer.pop()
            else:
                buffer[j] = nxt
            yield out

    def _elements(self):
        return self._shuffled(self._input._elements())

    def _row_source(self):
        source = self._input._row_source()
        if source is None:
            return None
        structure, leaves, order = source

        def shuffled_order():
            return self._shuffled(range(len(leaves[0])) if order is None else order())
        return structure, leaves, shuffled_order


def _global_seed():
    from ..utils.random import get_generator
    return int(get_generator().integers(2**63))


class _Map(_Unary):
    def __init__(self, input_dataset, func):
        super().__init__(input_dataset)
        if not callable(func):
            raise TypeError(f"Dataset.map: map_func must be callable, got {type(func).__name__}")
        self._func = func

    def _apply(self, e):
        return st.to_element(_call(self._func, e), "Dataset.map", lists_are_data=False)

    def _elements(self):
        for e in self._input._elements():
            yield self._apply(e)

    def _make_spec(self):
        # tf.data traces map_func; here it runs on the first element. Over batches of unknown
        # size the first batch's size is not the others': that axis stays unknown
        first = _first(self._input)
        if first is _END:
            return None
        spec = st.spec_of(self._apply(first))
        if self._batched and _leading_unknown(self._input.element_spec):
            spec = st.map_structure(lambda s: TensorSpec((None,) + s.shape[1:], s.dtype) if s.shape else s, spec)
        return spec


def _leading_unknown(spec):
    return spec is not None and any(isinstance(s, TensorSpec) and s.shape and s.shape[0] is None
                                    for s in st.flatten(spec))


def _predicate_value(where, value):
    a = np.asarray(value)
    if a.shape != () or a.dtype.kind not in "biuf":
        raise ValueError(f"{where}: the predicate must return a scalar boolean, got "
                         f"{'dtype ' + str(a.dtype) if a.shape == () else 'shape ' + str(a.shape)}")
    return bool(a)


class _IgnoreErrors(_Unary):
    def __init__(self, input_dataset, log_warning):
        super().__init__(input_dataset)
        self._log = log_warning

    def _warn(self, exc):
        if self._log:
            import warnings
            warnings.warn(f"Dataset.ignore_errors: skipped an element: {type(exc).__name__}: {exc}",
                          stacklevel=3)

    def _elements(self):
        source = self._input
        while isinstance(source, _PassThrough):   # prefetch and the like: the same elements
            source = source._input
        if isinstance(source, _Map):
            # the map's function runs here, one element at a time, so a failing element is
            # skipped and the map's input goes on
            for e in source._input._elements():
                try:
                    out = source._apply(e)
                except Exception as exc:   # tf.data skips any error of an element's computation
                    self._warn(exc)
                    continue
                yield out
            return
        it = iter(source._elements())
        while True:
            try:
                e = next(it)
            except StopIteration:
                return
            except Exception as exc:
                self._warn(exc)
                return
            yield e

    def _card(self):
        n = self._input._card()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY


class _Filter(_Unary):
    def __init__(self, input_dataset, predicate):
        super().__init__(input_dataset)
        if not callable(predicate):
            raise TypeError(f"Dataset.filter: predicate must be callable, got {type(predicate).__name__}")
        self._predicate = predicate

    def _elements(self):
        for e in self._input._elements():
            if _predicate_value("Dataset.filter", _call(self._predicate, e)):
                yield e

    def _card(self):
        n = self._input._card()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY


class _TakeWhile(_Filter):
    def _elements(self):
        for e in self._input._elements():
            if not _predicate_value("Dataset.take_while", _call(self._predicate, e)):
                return
            yield e

    def _card(self):
        return UNKNOWN_CARDINALITY


class _Repeat(_Unary):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        count = -1 if count is None else _int_arg("Dataset.repeat", "count", count, 0, allow=(-1,))
        self._count = count

    def _elements(self):
        passes = itertools.count() if self._count == -1 else range(self._count)
        for _ in passes:
            empty = True
            for e in self._input._elements():
                empty = False
                yield e
            if empty:   # repeating nothing forever would never end
                return

    def _card(self):
        n = self._input._card()
        if self._count == 0 or n == 0:
            return 0
        if self._count == -1:
            return INFINITE_CARDINALITY
        return n * self._count if n >= 0 else n


class _Take(_Unary):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = _int_arg("Dataset.take", "count", count, 0, allow=(-1,))

    def _elements(self):
        return self._input._elements() if self._count == -1 else itertools.islice(self._input._elements(),
                                                                                   self._count)

    def _card(self):
        n = self._input._card()
        if self._count == -1:
            return n
        if n == UNKNOWN_CARDINALITY:
            return UNKNOWN_CARDINALITY
        return self._count if n == INFINITE_CARDINALITY else min(n, self._count)


class _Skip(_Unary):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = _int_arg("Dataset.skip", "count", count, 0, allow=(-1,))

    def _elements(self):
        if self._count == -1:
            for _ in self._input._elements():
                pass
            return iter(())
        return itertools.islice(self._input._elements(), self._count, None)

    def _card(self):
        n = self._input._card()
        if n < 0:
            return n
        return 0 if self._count == -1 else max(0, n - self._count)


class _Shard(_Unary):
    def __init__(self, input_dataset, num_shards, index):
        super().__init__(input_dataset)
        where = "Dataset.shard"
        self._shards = _int_arg(where, "num_shards", num_shards, 1)
        self._index = _int_arg(where, "index", index, 0)
        if self._index >= self._shards:
            raise ValueError(f"{where}: index must be in [0, num_shards), got index={self._index} with "
                             f"num_shards={self._shards}")

    def _elements(self):
        return itertools.islice(self._input._elements(), self._index, None, self._shards)

    def _row_source(self):
        source = self._input._row_source()
        if source is None:
            return None
        structure, leaves, order = source

        def sharded():
            base = range(len(leaves[0])) if order is None else order()
            return itertools.islice(iter(base), self._index, None, self._shards)
        return structure, leaves, sharded

    def _card(self):
        n = self._input._card()
        return n if n < 0 else max(0, -(-(n - self._index) // self._shards))


class _Cache(_Unary):
    def __init__(self, input_dataset):
        super().__init__(input_dataset)
        self._cached = None

    def _elements(self):
        if self._cached is not None:
            yield from self._cached
            return
        items = []
        for e in self._input._elements():
            items.append(e)
            yield e
        self._cached = items

    def _row_source(self):
        # rows in their natural order read the same arrays every pass: caching changes nothing;
        # a shuffled order must be frozen by the first pass, so that goes element by element
        source = self._input._row_source()
        if source is None or source[2] is not None:
            return None
        return source


class _Concatenate(_Unary):
    def __init__(self, input_dataset, other):
        super().__init__(input_dataset)
        where = "Dataset.concatenate"
        if not isinstance(other, Dataset):
            raise TypeError(f"{where}: expected a Dataset, got {type(other).__name__}")
        self._other = other
        self._batched = input_dataset._batched if input_dataset._batched == other._batched else None
        a, b = input_dataset.element_spec, other.element_spec
        if a is not None and b is not None:
            same = st.same_structure(a, b) and all(
                st._dtype_name(x.dtype) == st._dtype_name(y.dtype) for x, y in zip(st.flatten(a), st.flatten(b)))
            if not same:
                raise TypeError(f"{where}: the datasets' elements differ: {st.describe(a)} and {st.describe(b)}; "
                                "they need the same structure and dtypes")

    def _elements(self):
        yield from self._input._elements()
        yield from self._other._elements()

    def _card(self):
        a, b = self._input._card(), self._other._card()
        if INFINITE_CARDINALITY in (a, b):
            return INFINITE_CARDINALITY
        return UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in (a, b) else a + b

    def _make_spec(self):
        a, b = self._input.element_spec, self._other.element_spec
        if a is None or b is None:
            return a or b
        return st.map_structure(lambda x, y: x.most_specific_compatible(y), a, b)


def _dataset_result(where, value):
    if not isinstance(value, Dataset):
        raise TypeError(f"{where}: map_func must return a Dataset, got {type(value).__name__}")
    return value


class _FlatMap(_Unary):
    def __init__(self, input_dataset, func):
        super().__init__(input_dataset)
        self._func = func
        self._batched = None

    def _elements(self):
        for e in self._input._elements():
            yield from _dataset_result("Dataset.flat_map", _call(self._func, e))._elements()

    def _card(self):
        return UNKNOWN_CARDINALITY

    def _make_spec(self):
        first = _first(self._input)
        return None if first is _END else _dataset_result("Dataset.flat_map", _call(self._func, first)).element_spec


class _Interleave(_FlatMap):
    def __init__(self, input_dataset, func, cycle_length, block_length):
        super().__init__(input_dataset, func)
        where = "Dataset.interleave"
        self._cycle = None if cycle_length in (None, AUTOTUNE) else _int_arg(where, "cycle_length", cycle_length, 1)
        self._block = 1 if block_length is None else _int_arg(where, "block_length", block_length, 1)

    def _elements(self):
        # tf.data's deterministic interleave: cycle_length slots visited in turn, block_length
        # elements from each; an exhausted slot is emptied and the turn passes on, an empty slot
        # opens the next input element's dataset and is read from at once
        where = "Dataset.interleave"
        sources = self._input._elements()
        slots = [None] * (self._cycle or os.cpu_count() or 1)
        open_count, index, in_block, inputs_left = 0, 0, 0, True

        def advance():
            nonlocal index, in_block
            index, in_block = (index + 1) % len(slots), 0
        while inputs_left or open_count:
            if slots[index] is not None:
                e = next(slots[index], _END)
                if e is not _END:
                    in_block += 1
                    if in_block == self._block:
                        advance()
                    yield e
                    continue
                slots[index] = None
                open_count -= 1
                advance()
            elif inputs_left:
                e = next(sources, _END)
                if e is _END:
                    inputs_left = False
                else:
                    slots[index] = _dataset_result(where, _call(self._func, e))._elements()
                    open_count += 1
            else:
                advance()


class _ElementList(Dataset):
    """The elements of a Python list (a group's window in group_by_window)."""

    _batched = False

    def __init__(self, elements):
        self._items = list(elements)

    def _elements(self):
        return iter(self._items)

    def _card(self):
        return len(self._items)

    def _make_spec(self):
        return st.spec_of(self._items[0]) if self._items else None


def _call_with_state(func, state, element):
    """``func(state, element)`` as tf.data calls reduce / scan functions: a tuple element is one
    argument (the data guide's ``count(counts, batch)`` with ``features, labels = batch``). A
    function that takes more positional arguments (``lambda s, x, y: ...``) gets the tuple's
    items, as corenn allowed before (TensorFlow refuses it)."""
    if type(element) is tuple and _positional_arity(func) != 2:
        return func(state, *element)
    return func(state, element)


def _positional_arity(func):
    import inspect
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = [p.kind for p in params]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return 2
    return sum(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds)


class _Scan(_Unary):
    def __init__(self, input_dataset, initial_state, func):
        super().__init__(input_dataset)
        if not callable(func):
            raise TypeError(f"Dataset.scan: scan_func must be callable, got {type(func).__name__}")
        self._initial = st.to_element(initial_state, "Dataset.scan", lists_are_data=True)
        self._func = func
        self._batched = None

    def _elements(self):
        state = self._initial
        for e in self._input._elements():
            result = _call_with_state(self._func, st.as_eager(state), st.as_eager(e))
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise ValueError("Dataset.scan: scan_func must return (new_state, output)")
            state = st.to_element(result[0], "Dataset.scan", lists_are_data=False)
            yield st.to_element(result[1], "Dataset.scan", lists_are_data=False)

    def _make_spec(self):
        first = next(iter(self._elements()), _END)
        return None if first is _END else st.spec_of(first)


class _RaggedBatch(_Unary):
    def __init__(self, input_dataset, batch_size, drop_remainder):
        super().__init__(input_dataset)
        self._size, self._drop = batch_size, drop_remainder

    @staticmethod
    def _component(values):
        from ..strings import RaggedTensor
        arrays = [np.asarray(v) for v in values]
        if all(a.ndim == 0 for a in arrays):
            return np.stack(arrays)
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("Dataset.ragged_batch: a component is a scalar in some elements and not in others")
        return RaggedTensor._from_rows([a.copy() for a in arrays])

    def _elements(self):
        group = []
        for e in self._input._elements():
            group.append(e)
            if len(group) == self._size:
                yield self._batch(group)
                group = []
        if group and not self._drop:
            yield self._batch(group)

    def _batch(self, group):
        leaves = [st.flatten(e) for e in group]
        return st.pack_as(group[0], [self._component([lv[i] for lv in leaves]) for i in range(len(leaves[0]))])

    def _card(self):
        n = self._input._card()
        if n < 0:
            return n
        return n // self._size if self._drop else -(-n // self._size)


class _RejectionResample(_Unary):
    def __init__(self, input_dataset, class_func, target_dist, initial_dist, seed):
        super().__init__(input_dataset)
        where = "Dataset.rejection_resample"
        if not callable(class_func):
            raise TypeError(f"{where}: class_func must be callable, got {type(class_func).__name__}")
        target = np.asarray(target_dist, np.float64).reshape(-1)
        if target.size == 0 or (target < 0).any() or not np.isclose(target.sum(), 1.0, atol=1e-5):
            raise ValueError(f"{where}: target_dist must be probabilities summing to 1, got {target.tolist()}")
        initial = None
        if initial_dist is not None:
            initial = np.asarray(initial_dist, np.float64).reshape(-1)
            if initial.shape != target.shape or (initial < 0).any() or not np.isclose(initial.sum(), 1.0, atol=1e-5):
                raise ValueError(f"{where}: initial_dist must be {target.size} probabilities summing to 1 "
                                 f"(as target_dist), got {initial.tolist()}")
        self._class_func, self._target, self._initial = class_func, target, initial
        self._seeds = None if seed is None else np.random.default_rng(_int_arg(where, "seed", seed, 0))

    def _elements(self):
        rng = np.random.default_rng(self._seeds.integers(2**63) if self._seeds is not None else _global_seed())
        target, n_classes = self._target, self._target.size
        counts = np.zeros(n_classes, np.float64)
        for e in self._input._elements():
            c = _call(self._class_func, e)
            c_arr = np.asarray(c)
            if c_arr.ndim != 0 or c_arr.dtype.kind not in "iu":
                raise TypeError(f"Dataset.rejection_resample: class_func must return one integer, got {c!r}"[:200])
            k = int(c_arr)
            if not 0 <= k < n_classes:
                raise ValueError(f"Dataset.rejection_resample: class {k} is outside target_dist's "
                                 f"{n_classes} classes")
            if self._initial is not None:
                initial = self._initial
            else:   # the fractions seen so far, this element included
                counts[k] += 1
                initial = counts / counts.sum()
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(initial > 0, target / initial, 0.0)
            top = ratio.max()
            if top > 0 and rng.uniform() < ratio[k] / top:
                yield (np.asarray(k, c_arr.dtype if c_arr.dtype.kind in "iu" else np.int64), e)

    def _card(self):
        n = self._input._card()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY


class _Unique(_Unary):
    def _elements(self):
        seen = set()
        for e in self._input._elements():
            leaves = st.flatten(e)
            if len(leaves) != 1 or np.ndim(leaves[0]) != 0 or np.asarray(leaves[0]).dtype.kind not in "iuSUO":
                raise TypeError("Dataset.unique: each element must be one integer or string scalar, got "
                                f"{st.spec_of(e)}")
            key = np.asarray(leaves[0]).item()
            if key not in seen:
                seen.add(key)
                yield e

    def _card(self):
        n = self._input._card()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY


class _GroupByWindow(_Unary):
    def __init__(self, input_dataset, key_func, reduce_func, window_size, window_size_func):
        super().__init__(input_dataset)
        where = "Dataset.group_by_window"
        if (window_size is None) == (window_size_func is None):
            raise ValueError(f"{where}: give exactly one of window_size and window_size_func")
        self._size = (lambda key, n=_int_arg(where, "window_size", window_size, 1): n) \
            if window_size is not None else window_size_func
        self._key, self._reduce = key_func, reduce_func
        self._batched = None

    def _reduced(self, key, window):
        where = "Dataset.group_by_window"
        out = self._reduce(np.asarray(key, np.int64).view(st.Array), _ElementList(window))
        return _dataset_result(where, out)._elements()

    def _elements(self):
        where = "Dataset.group_by_window"
        groups = {}
        for e in self._input._elements():
            key = np.asarray(_call(self._key, e))
            if key.ndim != 0 or key.dtype.kind not in "iu":
                raise TypeError(f"{where}: key_func must return an integer scalar, got {key!r}")
            key = int(key)
            group = groups.setdefault(key, [])
            group.append(e)
            if len(group) >= _int_arg(where, "window size", int(np.asarray(self._size(np.int64(key)))), 1):
                del groups[key]
                yield from self._reduced(key, group)
        for key in sorted(groups):
            yield from self._reduced(key, groups[key])

    def _card(self):
        n = self._input._card()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY

    def _make_spec(self):
        first = next(iter(self._elements()), _END)
        return None if first is _END else st.spec_of(first)


class _Window(_Unary):
    def __init__(self, input_dataset, size, shift, stride, drop_remainder):
        super().__init__(input_dataset)
        where = "Dataset.window"
        self._size = _int_arg(where, "size", size, 1)
        self._shift = self._size if shift is None else _int_arg(where, "shift", shift, 1)
        self._stride = _int_arg(where, "stride", stride, 1)
        self._drop = bool(drop_remainder)
        self._batched = None

    def _elements(self):
        span = (self._size - 1) * self._stride + 1
        buffer, skip = [], 0    # skip: input elements still to drop before the next window starts
        items = self._input._elements()
        done = False
        while True:
            while not done and len(buffer) < span:
                e = next(items, _END)
                if e is _END:
                    done = True
                elif skip:
                    skip -= 1
                else:
                    buffer.append(e)
            window = buffer[:span:self._stride]
            if not window or (self._drop and len(window) < self._size):
                return
            yield self._as_datasets(window)
            skip = max(0, self._shift - len(buffer))
            buffer = buffer[self._shift:]
            if done and not buffer:
                return

    @staticmethod
    def _as_datasets(window):
        flats = [st.flatten(e) for e in window]
        parts = [_TensorSlices(np.stack([f[j] for f in flats])) for j in range(len(flats[0]))]
        return st.pack_as(window[0], parts)

    def _card(self):
        return UNKNOWN_CARDINALITY

    def _make_spec(self):
        # tf.data's is a DatasetSpec per component; here: the spec of each window's elements
        return self._input.element_spec
