"""keras.utils.PyDataset (and its older name, Sequence): batches by index, written in Python.

A subclass implements ``__getitem__(index)`` (one whole batch: x, (x,), (x, y) or
(x, y, sample_weight)) and ``__len__`` (the number of batches) or the ``num_batches`` property
(None: infinite). ``fit`` visits the batches of every epoch, in a shuffled order when
``fit(shuffle=True)`` (the default, as Keras 3), calling ``on_epoch_begin`` / ``on_epoch_end``
around each epoch; evaluate and predict visit them in order.

``workers > 1`` loads up to ``max_queue_size`` batches ahead on that many threads (the order of
the batches is kept); ``use_multiprocessing`` is accepted and runs threads as well (corenn does
not fork worker processes).
"""
from __future__ import annotations

import collections
import concurrent.futures
import warnings

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """Base class of a dataset whose batches are computed in Python, by index (see the module
    docstring)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _setting(self, name, default):
        if not hasattr(self, name):
            warnings.warn(f"{type(self).__name__}: a PyDataset subclass should call super().__init__(**kwargs) "
                          "in its constructor (kwargs: workers, use_multiprocessing, max_queue_size)",
                          UserWarning, stacklevel=3)
            setattr(self, name, default)
        return getattr(self, name)

    @property
    def workers(self):
        return self._setting("_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        return self._setting("_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        return self._setting("_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), returning a batch")

    @property
    def num_batches(self):
        """The number of batches per epoch, or None for an endless dataset (default: len(self))."""
        if "_num_batches" in self.__dict__:
            return self.__dict__["_num_batches"]
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ or the num_batches property")

    @num_batches.setter
    def num_batches(self, value):
        # keras.io's metric-learning example sets it in __init__ (and its __len__ returns it)
        self.__dict__["_num_batches"] = value

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset


def is_py_dataset(x):
    return isinstance(x, PyDataset)


def batches(dataset, order):
    """The batches ``dataset[i]`` for i in ``order`` (an iterable of indices), loaded ahead on
    threads when the dataset asks for workers."""
    workers = dataset.workers or 1
    if workers <= 1 and not dataset.use_multiprocessing:
        for i in order:
            yield dataset[i]
        return
    ahead = max(1, int(dataset.max_queue_size or 1))
    with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
        pending = collections.deque()
        order = iter(order)
        try:
            for i in order:
                pending.append(pool.submit(dataset.__getitem__, i))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
