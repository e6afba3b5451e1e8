"""Discretization (Keras 3's keras.layers.Discretization): numbers to bucket indices.

Bucket i holds ``bin_boundaries[i-1] <= x < bin_boundaries[i]`` (0 below the first boundary,
``len(bin_boundaries)`` from the last one on), as ``np.digitize``; ``output_mode`` 'one_hot',
'multi_hot' or 'count' encodes the indices over ``len(bin_boundaries) + 1`` buckets.

``adapt(data)`` with ``num_bins`` places ``num_bins - 1`` boundaries at the data's quantiles by
Keras' approximate quantile summary, so the boundaries are Keras' own for the same data and
batches: each batch is sorted and thinned to about ``1 / epsilon`` weighted samples (every k-th
value standing for k values); summaries are merged by sorting their samples together and then
re-sampled at the cumulative-weight fractions epsilon, 2 epsilon, ..., 1 (linear interpolation of
values and cumulative weights); the boundaries are a final re-sampling at 1/num_bins, 2/num_bins,
..., without its last point. A summary with fewer samples than the re-sampling would make is
kept as it is (so on very small data the boundaries are the data's values themselves).

NumPy in Python, like the other lookup layers: no FLOPs for a kernel to own and no gradient.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Layer
from .text_preprocessing import OUTPUT_MODES, _encode

__all__ = ["Discretization"]


def _thin(values, epsilon):
    """A batch's summary: (2, k) [sorted sample values; the count each stands for]."""
    v = np.sort(np.asarray(values, np.float32).reshape(-1))
    per_bucket = v.size * epsilon            # values per 1/epsilon-th of the batch
    first, stride = int(per_bucket), int(max(per_bucket, 1.0))
    picked = v[first::stride]
    return np.stack([picked, np.full(picked.shape, stride, np.float32)])


def _resample(summary, epsilon):
    """The summary re-sampled at the cumulative-weight fractions epsilon, 2 epsilon, ..., 1;
    unchanged when it holds fewer than 1 / epsilon samples."""
    if summary.shape[1] * epsilon < 1:
        return summary
    at = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = np.cumsum(summary[1])
    frac = cum / cum[-1]
    values = np.interp(at, frac, summary[0])
    cum_at = np.interp(at, frac, cum)
    weights = np.diff(cum_at, prepend=0.0)
    return np.stack([values, weights]).astype(np.float32)


def _merge(a, b, epsilon):
    both = np.concatenate([a, b], axis=1)
    both = both[:, np.argsort(both[0], kind="stable")]
    return _resample(both, epsilon)


class Discretization(Layer):
    """Buckets numeric inputs (Keras 3 semantics; see the module docstring).

    Args:
        bin_boundaries: sorted boundaries, or None to learn ``num_bins - 1`` of them by ``adapt``.
        num_bins: the number of buckets ``adapt`` makes.
        epsilon: the error tolerance of adapt's quantile summary (Keras' default 0.01).
        output_mode: 'int' (int32 bucket indices, the input's shape, as Keras 3.15), 'one_hot', 'multi_hot'
            or 'count' (float32 over the buckets).
    """

    # its outputs are indices / counts, not float arithmetic: the same under a float64 policy
    # (base._float64_layer runs it as it is)
    _float64_exempt = True

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, **kwargs):
        super().__init__(**kwargs)
        where = f"Discretization '{self.name}'"
        if bin_boundaries is not None and num_bins is not None:
            raise ValueError(f"{where}: give bin_boundaries or num_bins, not both (got {bin_boundaries!r} "
                             f"and {num_bins!r})")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer))
                                     or num_bins < 1):
            raise ValueError(f"{where}: num_bins must be a positive int, got {num_bins!r}")
        if not (isinstance(epsilon, (int, float)) and 0 < epsilon < 1):
            raise ValueError(f"{where}: epsilon must be in (0, 1), got {epsilon!r}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"{where}: output_mode must be one of {', '.join(OUTPUT_MODES)}, got {output_mode!r}")
        if sparse:
            raise NotImplementedError(f"{where}: sparse outputs are not supported")
        if bin_boundaries is not None:
            b = np.asarray(bin_boundaries, np.float64).reshape(-1)
            if not np.all(np.isfinite(b)) or np.any(np.diff(b) < 0):
                raise ValueError(f"{where}: bin_boundaries must be finite and sorted, got {list(bin_boundaries)}")
            bin_boundaries = [float(v) for v in b]
        self.input_bin_boundaries = bin_boundaries
        self.bin_boundaries = bin_boundaries
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = float(epsilon)
        self.output_mode = output_mode

    @property
    def output_dtype(self):
        return "int32" if self.output_mode == "int" else "float32"

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else (self.num_bins or 1)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn ``num_bins - 1`` boundaries from ``data`` (an array, or a Dataset / iterable of
        batches; a (x, y) batch uses x)."""
        where = f"Discretization '{self.name}'"
        if self.input_bin_boundaries is not None:
            raise ValueError(f"{where}: adapt needs a layer made with num_bins, not bin_boundaries")
        if not self.num_bins:
            raise ValueError(f"{where}: adapt needs num_bins")
        from ..models._data import is_batch_iterable
        if is_batch_iterable(data):
            batches = data
        else:
            arr = np.asarray(data)
            step = len(arr) if batch_size is None or arr.ndim == 0 else int(batch_size)
            batches = [arr] if arr.ndim == 0 else (arr[i:i + step] for i in range(0, len(arr), max(step, 1)))
        summary = np.zeros((2, 0), np.float32)
        seen = 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            b = np.asarray(batch)
            if b.dtype.kind not in "fiub" or not np.all(np.isfinite(b)):
                raise ValueError(f"{where}: adapt needs finite numbers, got dtype {b.dtype}")
            summary = _merge(_thin(b, self.epsilon), summary, self.epsilon)
            seen += b.size
        if not seen:
            raise ValueError(f"{where}: adapt got no data")
        self.bin_boundaries = [float(v) for v in _resample(summary, 1.0 / self.num_bins)[0, :-1]]

    def _apply(self, x):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization '{self.name}': no bin_boundaries yet; give them or call adapt")
        a = np.asarray(x)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"Discretization '{self.name}': inputs must be numbers, got dtype {a.dtype}")
        idx = np.digitize(a.astype(np.float64), np.asarray(self.bin_boundaries, np.float64))
        if self.output_mode == "int":
            return kernels.as_tensor(np.ascontiguousarray(idx, dtype=np.int32))
        return kernels.as_tensor(_encode(idx, self._depth(), self.output_mode, f"Discretization '{self.name}'"))

    def forward(self, x, training=False):
        return self._apply(x)

    def backward(self, dy):
        return None   # a step function: no gradient reaches the input (as Keras)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if self.output_mode == "one_hot" and len(input_shape) == 2 and input_shape[1] not in (1,):
            return tuple(input_shape) + (self._depth(),)
        return (input_shape[0], self._depth())

    def get_config(self):
        cfg = super().get_config()
        cfg.update(bin_boundaries=self.bin_boundaries if self.input_bin_boundaries is None else self.input_bin_boundaries,
                   num_bins=None if self.input_bin_boundaries is not None or self.bin_boundaries is not None
                   else self.num_bins,
                   epsilon=self.epsilon, output_mode=self.output_mode, sparse=False)
        return cfg
