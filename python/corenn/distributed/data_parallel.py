"""DataParallel: ``model.fit`` on every rank becomes one distributed fit.

Inside ``with DataParallel():`` (or ``strategy.scope()``) a fit, for its duration:
- starts by broadcasting rank 0's weights and optimizer state (after BackupAndRestore restored
  them on rank 0), and the epoch to resume from;
- takes, each epoch, rank 0's shuffled order (broadcast: the same order on every rank, the one a
  single process with that seed would draw) and trains each rank on its shard of every global
  batch of ``batch_size`` (sharding.py); validation arrays are sharded the same way;
- applies gradients through a DistributedOptimizer view of the model's optimizer, weighted by
  each rank's share of the global batch, reduced in buckets during backward (reducer.py);
- averages the logs over the ranks after every step and the val_ logs after each epoch,
  weighted by sample counts, before any callback sees them: progress bar, History,
  EarlyStopping and ReduceLROnPlateau see the same numbers on every rank;
- runs the callbacks that print or write files (ProgbarLogger, ModelCheckpoint, CSVLogger,
  BackupAndRestore's writes) on rank 0 only; the other ranks get verbose=0.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..callbacks import Callback
from . import _mpi
from .reducer import DEFAULT_BUCKET_BYTES, GradientReducer
from .sharding import global_batch_shards, shard_range


class DataParallel:
    """Makes ``fit`` data-parallel over the MPI ranks (see the module docstring).

    bucket_bytes: gradient bucket size; overlap: reduce buckets while backward runs (False:
    after it, to measure what overlap gains). ``reducer.stats`` holds the last fit's costs.
    """

    def __init__(self, bucket_bytes=DEFAULT_BUCKET_BYTES, overlap=True):
        self.reducer = GradientReducer(bucket_bytes, overlap)

    def __enter__(self):
        from ..models import training
        _mpi.init()
        if training._data_parallel is not None and training._data_parallel is not self:
            raise RuntimeError("DataParallel: another DataParallel is already active")
        training._data_parallel = self
        return self

    def __exit__(self, *exc):
        from ..models import training
        training._data_parallel = None
        return False

    def scope(self):
        """``with strategy.scope():`` as tf.distribute writes it; the same as ``with strategy:``."""
        return self

    # -- fit --------------------------------------------------------------------------------

    def fit(self, model, run_fit, args):
        """Run ``run_fit(**args)`` (the model's own fit loop) distributed."""
        from .. import callbacks as cb
        from ..models import _data
        from . import DistributedOptimizer
        where = f"{model.name}.fit"
        if _data.is_batch_source(args["x"]):
            # each rank would read the whole stream: every sample trained size times per epoch
            raise ValueError(f"{where}: DataParallel splits NumPy arrays over the ranks and cannot split "
                             f"{_data.source_kind(args['x'])}; pass arrays (x, y), or give each rank its own part "
                             "with dataset.shard(corenn.distributed.size(), corenn.distributed.rank()) and fit it "
                             "outside DataParallel with optimizer=corenn.distributed.DistributedOptimizer(opt) "
                             "after broadcast_weights(model), the same steps_per_epoch on every rank")
        world = _mpi.comm()
        rank = world.Get_rank()
        run = _FitRun(self, world)
        user = list(args["callbacks"] or [])
        verbose = args["verbose"]
        verbose = 1 if verbose == "auto" else int(verbose)
        if rank != 0:
            rank0_only = (cb.ProgbarLogger, cb.ModelCheckpoint, cb.CSVLogger, cb.BackupAndRestore)
            user = [c for c in user if not isinstance(c, rank0_only)]
            verbose = 0
        front = [_AverageLogs(run)]
        if verbose and not any(isinstance(c, cb.ProgbarLogger) for c in user):
            front.append(cb.ProgbarLogger())   # after the averaging, so it prints global numbers
        args = dict(args, verbose=verbose, callbacks=front + user + [_SyncRanks(run)])
        original = model.optimizer
        model.optimizer = DistributedOptimizer(original)
        model.optimizer._reducer = self.reducer
        self.reducer.stats.reset()
        self.reducer.attach(model)
        model._data_parallel = run
        try:
            return run_fit(**args)
        finally:
            model._data_parallel = None
            self.reducer.detach()
            self.reducer.scale = None
            state = {k: v for k, v in model.optimizer.__dict__.items() if k != "_reducer"}
            original.__dict__.update(state)   # iterations, learning rate set by callbacks, state
            model.optimizer = original


class _FitRun:
    """One distributed fit's per-rank state, read by the model's loop (training.py)."""

    def __init__(self, strategy, world):
        self.reducer = strategy.reducer
        self.world = world
        self.rank, self.size = world.Get_rank(), world.Get_size()
        self.seen = 0         # samples this rank trained on this epoch (weights its logs)
        self.val_seen = 0     # validation samples of this rank

    def shard_batches(self, model, train, order, steps, batch_size, buffers, first=0):
        """This rank's part of each global batch of the epoch, global steps [first, first +
        steps): (x, y, sw, n) as fit expects."""
        from ..models.training import data_len
        n = data_len(train[0])
        if order is not None:   # rank 0's order on every rank
            order = np.ascontiguousarray(order, np.int64)
            _mpi.wait([self.world.Ibcast(order, root=0)], "the epoch's shuffled order")
        shards = global_batch_shards(n, batch_size, self.size, self.rank, steps, first)
        if len(shards) < steps and self.rank == 0:
            warnings.warn(f"{model.name}.fit: the last global batch has fewer samples than the {self.size} "
                          "ranks and is skipped each epoch", UserWarning, stacklevel=3)
        self.seen = 0
        for lo, hi, n_global in shards:
            self.reducer.scale = (hi - lo) / n_global
            self.seen += hi - lo
            yield model._batch(train, order, lo, hi, buffers) + (hi - lo,)

    def shard_validation(self, val):
        """This rank's rows of validation arrays (x, y, sw); a stream, or fewer samples than
        ranks, is evaluated whole on every rank."""
        from ..models import _data
        from ..models.training import data_len, rows
        if val is None or isinstance(val, _data.BatchStream):
            self.val_seen = 1
            return val
        n = data_len(val[0])
        if n < self.size:
            self.val_seen = 1
            return val
        lo, hi = shard_range(n, self.size, self.rank)
        self.val_seen = hi - lo
        return tuple(None if a is None else rows(a, lo, hi) for a in val)

    def average(self, logs, keys, weight):
        """logs[k] for k in keys replaced, in place, by the mean over the ranks weighted by
        ``weight`` (this rank's sample count)."""
        if not keys:
            return
        MPI = _mpi.mpi()
        local = np.array([float(logs[k]) * weight for k in keys] + [float(weight)], np.float64)
        total = np.empty_like(local)
        _mpi.wait([self.world.Iallreduce(local, total, op=MPI.SUM)], "averaging the logs")
        for k, v in zip(keys, total[:-1]):
            logs[k] = float(v / total[-1])


class _AverageLogs(Callback):
    """First callback of a distributed fit: every later callback sees the averaged logs."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def on_train_batch_end(self, batch, logs=None):
        if logs:
            self.run.average(logs, sorted(logs), self.run.seen)

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            self.run.average(logs, sorted(k for k in logs if k.startswith("val_")), self.run.val_seen)


class _SyncRanks(Callback):
    """Last callback of a distributed fit: one starting point and one decision to stop."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def on_train_begin(self, logs=None):
        from . import broadcast_weights
        # after BackupAndRestore (rank 0 only) restored weights, optimizer and epoch
        broadcast_weights(self.model, root=0)
        epoch = np.array([getattr(self.model, "_initial_epoch", None) or -1], np.int64)
        _mpi.wait([self.run.world.Ibcast(epoch, root=0)], "the epoch to resume from")
        self.model._initial_epoch = None if epoch[0] < 0 else int(epoch[0])

    def on_epoch_end(self, epoch, logs=None):
        MPI = _mpi.mpi()
        stop = np.array([1 if self.model.stop_training else 0], np.int32)
        out = np.empty_like(stop)
        _mpi.wait([self.run.world.Iallreduce(stop, out, op=MPI.MAX)], "the stop decision")
        self.model.stop_training = bool(out[0])
