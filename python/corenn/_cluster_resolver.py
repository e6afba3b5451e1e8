"""``tf.distribute.cluster_resolver``: where a multi-worker script learns its cluster and its own
task. ``TFConfigClusterResolver`` reads the TF_CONFIG environment variable as TensorFlow does
(``{"cluster": {"worker": [...], "chief": [...]}, "task": {"type": ..., "index": ...}}``);
``MultiWorkerMirroredStrategy.cluster_resolver`` is one. corenn trains one worker per process
here, so these only describe the cluster; several tasks are trained by corenn.distributed."""
from __future__ import annotations

import json
import os

__all__ = ["ClusterSpec", "ClusterResolver", "TFConfigClusterResolver", "SimpleClusterResolver",
           "TPUClusterResolver"]


class ClusterSpec:
    """The jobs of a cluster and their task addresses (``{"worker": ["host:port", ...]}``)."""

    def __init__(self, cluster):
        if isinstance(cluster, ClusterSpec):
            cluster = cluster.as_dict()
        if not isinstance(cluster, dict):
            raise TypeError(f"tf.train.ClusterSpec: expected a dict of job name -> task addresses, got {cluster!r}")
        spec = {}
        for job, tasks in cluster.items():
            if isinstance(tasks, dict):
                spec[str(job)] = {int(i): str(a) for i, a in tasks.items()}
            elif isinstance(tasks, (list, tuple)):
                spec[str(job)] = {i: str(a) for i, a in enumerate(tasks)}
            else:
                raise TypeError(f"tf.train.ClusterSpec: job {job!r} must list its task addresses, got {tasks!r}")
        self._spec = spec

    @property
    def jobs(self):
        return list(self._spec)

    def num_tasks(self, job_name):
        if job_name not in self._spec:
            raise ValueError(f"ClusterSpec: no such job {job_name!r} (jobs: {self.jobs})")
        return len(self._spec[job_name])

    def task_address(self, job_name, task_index):
        try:
            return self._spec[job_name][int(task_index)]
        except KeyError:
            raise ValueError(f"ClusterSpec: no task {task_index} in job {job_name!r}") from None

    def as_dict(self):
        """Each job's addresses, a list when its task indices are 0..n-1 (TensorFlow's form)."""
        out = {}
        for job, tasks in self._spec.items():
            out[job] = ([tasks[i] for i in range(len(tasks))] if sorted(tasks) == list(range(len(tasks)))
                        else dict(tasks))
        return out

    def __bool__(self):
        return bool(self._spec)

    def __eq__(self, other):
        return isinstance(other, ClusterSpec) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return f"ClusterSpec({self.as_dict()})"


class ClusterResolver:
    """The base TensorFlow's resolvers share: ``cluster_spec()``, ``master()``, the task."""

    task_type = None
    task_id = None
    rpc_layer = None
    environment = ""

    def cluster_spec(self):
        raise NotImplementedError

    def master(self, task_type=None, task_id=None, rpc_layer=None):
        task_type = self.task_type if task_type is None else task_type
        task_id = self.task_id if task_id is None else task_id
        if task_type is None or task_id is None:
            return ""
        address = self.cluster_spec().task_address(task_type, task_id)
        layer = rpc_layer or self.rpc_layer
        return f"{layer}://{address}" if layer else address

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
        """Accelerators per type on this machine (TensorFlow's count of local GPUs)."""
        from . import config
        gpus = len(config.list_logical_devices("GPU"))
        return {"GPU": gpus} if gpus else {}


class TFConfigClusterResolver(ClusterResolver):
    """The cluster and task TF_CONFIG describes (read when asked, as TensorFlow reads it);
    without TF_CONFIG an empty cluster whose task_type and task_id are None."""

    def __init__(self, task_type=None, task_id=None, rpc_layer=None, environment=None):
        self._task_type, self._task_id, self._rpc_layer = task_type, task_id, rpc_layer
        self._environment = environment

    @staticmethod
    def _config():
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            return {}
        try:
            cfg = json.loads(raw)
        except ValueError:
            raise ValueError(f"TF_CONFIG is not JSON: {raw[:100]!r}") from None
        if not isinstance(cfg, dict):
            raise ValueError(f"TF_CONFIG must be a JSON object, got {raw[:100]!r}")
        return cfg

    @property
    def task_type(self):
        if self._task_type is not None:
            return self._task_type
        return (self._config().get("task") or {}).get("type")

    @task_type.setter
    def task_type(self, value):
        self._task_type = value

    @property
    def task_id(self):
        if self._task_id is not None:
            return self._task_id
        index = (self._config().get("task") or {}).get("index")
        return None if index is None else int(index)

    @task_id.setter
    def task_id(self, value):
        self._task_id = value

    @property
    def rpc_layer(self):
        return self._rpc_layer if self._rpc_layer is not None else self._config().get("rpc_layer")

    @rpc_layer.setter
    def rpc_layer(self, value):
        self._rpc_layer = value

    @property
    def environment(self):
        return self._environment if self._environment is not None else self._config().get("environment", "")

    def cluster_spec(self):
        return ClusterSpec(self._config().get("cluster") or {})


class SimpleClusterResolver(ClusterResolver):
    """A resolver of a given ClusterSpec and task."""

    def __init__(self, cluster_spec, master="", task_type=None, task_id=None, environment="",
                 num_accelerators=None, rpc_layer=None):
        self._spec = ClusterSpec(cluster_spec)
        self._master = master
        self.task_type, self.task_id, self.environment, self.rpc_layer = task_type, task_id, environment, rpc_layer
        self._accelerators = num_accelerators

    def cluster_spec(self):
        return self._spec

    def master(self, task_type=None, task_id=None, rpc_layer=None):
        if task_type is None and task_id is None and self._master:
            return self._master
        return super().master(task_type, task_id, rpc_layer)

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
        return dict(self._accelerators) if self._accelerators is not None else super().num_accelerators()


class TPUClusterResolver(ClusterResolver):
    """No TPU is reachable from corenn: constructing (or ``connect()``) raises ValueError, what
    TensorFlow raises on a machine without a TPU, so the usual probe

        try:
            tpu = tf.distribute.cluster_resolver.TPUClusterResolver.connect()
            strategy = tf.distribute.TPUStrategy(tpu)
        except ValueError:
            strategy = tf.distribute.get_strategy()

    falls back to the default strategy, as it does on a CPU or GPU machine."""

    def __init__(self, tpu=None, zone=None, project=None, job_name="worker", coordinator_name=None,
                 coordinator_address=None, credentials="default", service=None, discovery_url=None):
        if tpu is None:
            raise ValueError("Please provide a TPU Name to connect to.")
        raise ValueError(f"TPUClusterResolver: corenn cannot connect to TPU {tpu!r}; it computes on the CPU "
                         "and CUDA GPUs (tf.distribute.get_strategy() is the one-replica default)")

    @staticmethod
    def connect(tpu=None, zone=None, project=None):
        return TPUClusterResolver(tpu, zone, project)
