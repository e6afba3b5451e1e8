"""``tf.distribute`` for one process: the strategies a Keras script opens before building its model.

TensorFlow's guide "Distributed training with Keras" writes::

    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        model = build_and_compile()
    model.fit(dataset, ...)          # BATCH_SIZE = 64 * strategy.num_replicas_in_sync

In corenn every strategy here is TensorFlow's *default* strategy under another name: one replica
in this process (``num_replicas_in_sync == 1``), whose kernels already use every core of the CPU
(``corenn.set_num_threads``). ``scope()`` changes nothing about how variables are made, ``run``
calls the function once, ``reduce`` of a per-replica value is that value, and a dataset is
"distributed" by handing it back unchanged. So a script written for a strategy trains exactly as
it would without one.

Training on several processes or machines is ``corenn.distributed`` (MPI data parallelism,
Horovod's model: ``with corenn.distributed.DataParallel(): model.fit(...)`` under ``mpirun``);
``TPUStrategy`` / ``ParameterServerStrategy`` raise and say so, and so does
``MultiWorkerMirroredStrategy`` when TF_CONFIG names a cluster of several tasks (with none, it is
the one worker TensorFlow runs then).
"""
from __future__ import annotations

import contextlib
import threading

from . import _cluster_resolver as _cluster
from . import _cluster_resolver as cluster_resolver  # noqa: F401  (tf.distribute.cluster_resolver)

__all__ = ["Strategy", "MirroredStrategy", "OneDeviceStrategy", "get_strategy", "has_strategy",
           "in_cross_replica_context", "get_replica_context", "ReduceOp", "InputContext",
           "MultiWorkerMirroredStrategy", "TPUStrategy", "ParameterServerStrategy", "ValueContext",
           "experimental", "CrossDeviceOps", "HierarchicalCopyAllReduce", "NcclAllReduce",
           "ReductionToOneDevice", "cluster_resolver"]

_local = threading.local()


class ReduceOp:
    """How ``Strategy.reduce`` combines values: ``SUM`` or ``MEAN``."""
    SUM = "SUM"
    MEAN = "MEAN"


class InputContext:
    """What ``distribute_datasets_from_function``'s function receives: one input pipeline, one
    replica."""
    num_input_pipelines = 1
    input_pipeline_id = 0
    num_replicas_in_sync = 1

    def get_per_replica_batch_size(self, global_batch_size):
        return int(global_batch_size)


class ValueContext:
    """``tf.distribute.experimental.ValueContext``: what
    ``experimental_distribute_values_from_function``'s function receives, once per replica."""

    def __init__(self, replica_id_in_sync_group=0, num_replicas_in_sync=1):
        self.replica_id_in_sync_group = int(replica_id_in_sync_group)
        self.num_replicas_in_sync = int(num_replicas_in_sync)

    def __repr__(self):
        return (f"tf.distribute.ValueContext(replica id {self.replica_id_in_sync_group}, "
                f"total replicas in sync: {self.num_replicas_in_sync})")


class _ReplicaContext:
    num_replicas_in_sync = 1
    replica_id_in_sync_group = 0

    def all_reduce(self, reduce_op, value):
        return value   # one replica: the sum and the mean over replicas are the value itself


class Strategy:
    """One replica in this process (TensorFlow's default strategy); the base of the named ones."""

    num_replicas_in_sync = 1

    def __init__(self, devices=None):
        self._devices = tuple(devices) if devices else ("/cpu:0",)

    @property
    def extended(self):
        return self

    @property
    def worker_devices(self):
        return self._devices

    @contextlib.contextmanager
    def scope(self):
        """Variables and models made inside belong to this strategy: with one replica they are
        the ordinary ones, so the block only marks the strategy as current (``get_strategy``)."""
        stack = _stack()
        stack.append(self)
        try:
            yield self
        finally:
            stack.pop()

    def run(self, fn, args=(), kwargs=None):
        """``fn(*args, **kwargs)`` on the one replica."""
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        """Combine a per-replica value over the replicas (one here: the value itself); with
        ``axis``, also over that axis of it (``SUM`` or ``MEAN``), as TensorFlow does."""
        op = getattr(reduce_op, "name", reduce_op)
        op = str(op).upper()
        if op not in (ReduceOp.SUM, ReduceOp.MEAN):
            raise ValueError(f"Strategy.reduce: reduce_op must be ReduceOp.SUM or ReduceOp.MEAN, got {reduce_op!r}")
        if axis is None:
            return value
        from . import ops
        return ops.sum(value, axis=axis) if op == ReduceOp.SUM else ops.mean(value, axis=axis)

    def experimental_distribute_dataset(self, dataset, options=None):
        return dataset

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        return dataset_fn(InputContext())

    experimental_distribute_datasets_from_function = distribute_datasets_from_function

    def experimental_distribute_values_from_function(self, value_fn):
        """``value_fn(ValueContext)`` for each replica: the one replica's value here."""
        return value_fn(ValueContext(0, self.num_replicas_in_sync))

    def experimental_local_results(self, value):
        return (value,)

    def gather(self, value, axis):
        return value

    @property
    def cluster_resolver(self):
        """None: a single-machine strategy has no cluster (TensorFlow's answer too);
        MultiWorkerMirroredStrategy's is its TFConfigClusterResolver."""
        return None

    def __repr__(self):
        return f"<corenn.distribute.{type(self).__name__}: 1 replica on {', '.join(self._devices)}>"


def _stack():
    try:
        return _local.stack
    except AttributeError:
        _local.stack = []
        return _local.stack


def _one_device(devices, who):
    devices = [devices] if isinstance(devices, str) else list(devices or [])
    devices = [getattr(d, "name", d) for d in devices]   # tf.config.LogicalDevice objects too
    if len(devices) > 1:
        raise NotImplementedError(
            f"{who}: corenn runs one replica per process, so it cannot mirror over {len(devices)} devices "
            f"({devices}); its CPU kernels already use every core. For several processes or machines use "
            "corenn.distributed (with corenn.distributed.DataParallel(): model.fit(...), launched with mpirun)")
    return devices


class MirroredStrategy(Strategy):
    """TensorFlow's synchronous multi-device strategy, here with the one replica corenn runs per
    process (what TensorFlow does on a machine without GPUs). Several processes:
    ``corenn.distributed``."""

    def __init__(self, devices=None, cross_device_ops=None):
        super().__init__(_one_device(devices, "MirroredStrategy"))


class OneDeviceStrategy(Strategy):
    """Everything on one device: corenn's placement is explicit (``Tensor.to``), so this is the
    default strategy with that device's name."""

    def __init__(self, device):
        super().__init__(_one_device(device, "OneDeviceStrategy"))


def _not_here(name):
    class Unavailable(Strategy):
        def __init__(self, *args, **kwargs):
            raise NotImplementedError(
                f"tf.distribute.{name}: corenn has no multi-worker strategy; train on several processes "
                "with corenn.distributed (with corenn.distributed.DataParallel(): model.fit(...), launched "
                "with mpirun), or use MirroredStrategy / OneDeviceStrategy for one process")
    Unavailable.__name__ = Unavailable.__qualname__ = name
    return Unavailable


class MultiWorkerMirroredStrategy(Strategy):
    """TensorFlow's multi-worker strategy as one worker, which is what TensorFlow runs when
    TF_CONFIG names no cluster (or a cluster of this one worker): the one replica of this
    process. A TF_CONFIG cluster of several tasks raises: corenn has no multi-worker runtime
    behind tf.distribute (corenn.distributed trains on several processes under mpirun)."""

    def __init__(self, cluster_resolver=None, communication_options=None):
        resolver = cluster_resolver if cluster_resolver is not None else _cluster.TFConfigClusterResolver()
        tasks = sum(len(v) for v in resolver.cluster_spec().as_dict().values())
        if tasks > 1:
            raise NotImplementedError(
                "tf.distribute.MultiWorkerMirroredStrategy: corenn has no multi-worker strategy (TF_CONFIG "
                "or the cluster resolver names several tasks); train on several processes with "
                "corenn.distributed (with corenn.distributed.DataParallel(): model.fit(...), launched "
                "with mpirun), or use MirroredStrategy / OneDeviceStrategy for one process")
        super().__init__([])
        self.communication_options = communication_options
        self._cluster_resolver = resolver

    @property
    def cluster_resolver(self):
        """The TF_CONFIG resolver the strategy read (task_type / task_id None without TF_CONFIG,
        which the multi-worker tutorial's `_is_chief` treats as the chief)."""
        return self._cluster_resolver


class CentralStorageStrategy(Strategy):
    """Variables on one device, computation mirrored over the local ones: on corenn's one
    replica per process, the default strategy (TensorFlow gives one replica too on a machine
    without GPUs)."""

    def __init__(self, compute_devices=None, parameter_device=None):
        super().__init__(_one_device(compute_devices, "CentralStorageStrategy"))


class CrossDeviceOps:
    """How MirroredStrategy all-reduces across devices (HierarchicalCopyAllReduce,
    NcclAllReduce, ReductionToOneDevice): accepted and kept; with one replica nothing is
    reduced across devices."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class HierarchicalCopyAllReduce(CrossDeviceOps):
    pass


class NcclAllReduce(CrossDeviceOps):
    pass


class ReductionToOneDevice(CrossDeviceOps):
    pass


class CommunicationImplementation:
    """tf.distribute.experimental.CommunicationImplementation: the collective backend names."""
    AUTO = "AUTO"
    RING = "RING"
    NCCL = "NCCL"


class CommunicationOptions:
    """tf.distribute.experimental.CommunicationOptions: kept on the strategy; one worker
    communicates with nobody."""

    def __init__(self, bytes_per_pack=0, timeout_seconds=None, implementation=CommunicationImplementation.AUTO):
        self.bytes_per_pack, self.timeout_seconds = bytes_per_pack, timeout_seconds
        self.implementation = implementation


TPUStrategy = _not_here("TPUStrategy")
ParameterServerStrategy = _not_here("ParameterServerStrategy")

_DEFAULT = Strategy()


def get_strategy():
    """The strategy whose ``scope()`` is open (innermost), else the default one."""
    stack = _stack()
    return stack[-1] if stack else _DEFAULT


def has_strategy():
    """Whether a strategy's ``scope()`` (not the default strategy) is open."""
    return bool(_stack())


def in_cross_replica_context():
    return True


def get_replica_context():
    return _ReplicaContext()


def experimental_set_strategy(strategy):
    """Make ``strategy`` current until it is set to ``None`` (TensorFlow's non-block form)."""
    stack = _stack()
    stack.clear()
    if strategy is not None:
        stack.append(strategy)



class experimental:   # noqa: N801 - tf.distribute.experimental
    """``tf.distribute.experimental``: the context objects user functions receive."""
    ValueContext = ValueContext
    MultiWorkerMirroredStrategy = MultiWorkerMirroredStrategy
    CentralStorageStrategy = CentralStorageStrategy
    CommunicationOptions = CommunicationOptions
    CommunicationImplementation = CommunicationImplementation
    TPUStrategy = TPUStrategy
    ParameterServerStrategy = ParameterServerStrategy
