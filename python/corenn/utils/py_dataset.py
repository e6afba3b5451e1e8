"""``keras.utils.PyDataset``: a dataset of batches defined by ``__len__`` (the number of
batches) and ``__getitem__(index)`` (one batch: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``),
as Keras 3 defines it. ``fit`` / ``evaluate`` / ``predict`` read it as an iterable of batches:
one pass over ``range(len(self))`` per epoch, then ``on_epoch_end()``.

Batches are produced in the calling thread: ``workers``, ``use_multiprocessing`` and
``max_queue_size`` are accepted for Keras' signature (a subclass passes them to
``super().__init__``) and kept, but corenn does not prefetch in other threads or processes.
"""


class PyDataset:
    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return self._workers

    @property
    def use_multiprocessing(self):
        return self._use_multiprocessing

    @property
    def max_queue_size(self):
        return self._max_queue_size

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) (one batch)")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_end(self):
        """Called after each pass over the batches (shuffle here, as in Keras)."""

    def __iter__(self):
        # a fresh pass each epoch: __getitem__ past the end need not raise IndexError (slicing
        # arrays returns empty ones), so the batches are counted by __len__
        for index in range(len(self)):
            yield self[index]
        self.on_epoch_end()
