"""``keras.distribution``: Keras 3's distribution API over corenn's processes.

corenn computes on the CPU of its process: one device per process, named as Keras' JAX backend
names a CPU device ("cpu:0"). Launched under ``mpiexec -n N`` (or ``srun``) the job has N
devices, "cpu:0" ... "cpu:N-1", device i being rank i of ``corenn.distributed``; otherwise there
is one, "cpu:0".

- ``set_distribution(DataParallel())`` on one process changes nothing: ``fit`` trains as it would
  without it. Under N > 1 ranks it makes every later ``model.fit`` data-parallel through
  ``corenn.distributed.DataParallel`` (each rank trains on its shard of every global batch of
  NumPy arrays, the gradients are averaged over the ranks), which is what Keras'
  ``auto_shard_dataset=True`` asks for; ``set_distribution(None)`` ends it.
- ``ModelParallel`` and ``distribute_tensor`` are accepted where no tensor would be split over
  more than one device (a no-op); a layout that splits a weight or tensor raises
  NotImplementedError: corenn supports data parallelism only.

The classes validate their arguments as Keras 3.15's do, with the same messages.
"""
from __future__ import annotations

import collections.abc
import contextlib
import math
import os
import re
import warnings

import numpy as np

__all__ = ["list_devices", "get_device_count", "initialize", "DeviceMesh", "TensorLayout", "LayoutMap",
           "DataParallel", "ModelParallel", "distribute_tensor", "distribution", "set_distribution"]

DEFAULT_BATCH_DIM_NAME = "batch"
_DEVICE_TYPES = ("cpu", "gpu", "tpu")
_LAUNCHER_SIZES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS")
_state = {"distribution": None, "strategy": None}


# -- devices and processes ---------------------------------------------------------------------

def _launched_size():
    """The rank count an MPI launcher put in the environment (1 when none did)."""
    for name in _LAUNCHER_SIZES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def _processes():
    """(number of processes, this process's index): corenn.distributed's size and rank when MPI
    is running or a launcher started several ranks, else (1, 0). MPI is not started for one."""
    from ..distributed import _mpi
    if _mpi._state["comm"] is None and _launched_size() <= 1:
        return 1, 0
    return _mpi.size(), _mpi.rank()


def list_devices(device_type=None):
    """The job's devices of ``device_type`` ('cpu', the default; 'gpu' and 'tpu' have none):
    one "cpu:<rank>" per process."""
    kind = device_type.lower() if isinstance(device_type, str) else device_type
    if kind is not None and kind not in _DEVICE_TYPES:
        raise ValueError(f"keras.distribution.list_devices: device_type must be one of {_DEVICE_TYPES} or None, "
                         f"got {device_type!r}")
    if kind in ("gpu", "tpu"):
        return []   # corenn trains on the CPU
    return [f"cpu:{i}" for i in range(_processes()[0])]


def get_device_count(device_type=None):
    """``len(list_devices(device_type))``."""
    return len(list_devices(device_type))


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Join the multi-process job. corenn's processes are started by an MPI launcher (mpiexec,
    srun), which also connects them: ``job_addresses`` (or KERAS_DISTRIBUTION_JOB_ADDRESSES) is
    accepted and not needed. ``num_processes`` / ``process_id`` (or their KERAS_DISTRIBUTION_*
    variables), when given, must match the launcher's rank count and this rank."""
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in os.environ:
        process_id = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])
    size, rank = _processes()   # starts MPI when a launcher started several ranks
    if num_processes is not None and int(num_processes) != size:
        raise ValueError(f"keras.distribution.initialize: num_processes={num_processes} but this job has {size} "
                         "process(es); corenn's processes come from the MPI launcher: start the script with "
                         f"`mpiexec -n {num_processes} python ...`")
    if process_id is not None and int(process_id) != rank:
        raise ValueError(f"keras.distribution.initialize: process_id={process_id} but the launcher made this "
                         f"process rank {rank}; leave process_id out (corenn takes it from MPI)")


# -- meshes and layouts ------------------------------------------------------------------------

class DeviceMesh:
    """An n-d grid of the job's devices with a name per axis (``jax.sharding.Mesh``'s model).

    shape: the grid, e.g. ``(8,)`` for data parallelism; axis_names: one name per axis; devices:
    defaults to ``list_devices()``; their count must equal ``prod(shape)``.
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(f"Shape and axis_names cannot be empty. Received: shape={shape}, axis_names={axis_names}")
        if len(shape) != len(axis_names):
            raise ValueError(f"Shape and axis_names should have same size. Received: shape={shape}, "
                             f"axis_names={axis_names}")
        if devices is None:
            devices = list_devices()
        devices = np.array(devices)
        if math.prod(shape) != math.prod(devices.shape):
            raise ValueError(f"Shape does not match the number of devices. Received: shape={shape}; "
                             f"devices.shape={devices.shape}")
        self._shape = shape
        self._axis_names = axis_names
        self._devices = np.reshape(devices, shape)

    @property
    def shape(self):
        return self._shape

    @property
    def axis_names(self):
        return self._axis_names

    @property
    def devices(self):
        return self._devices

    def axis_size(self, name):
        """How many devices the axis ``name`` spans."""
        return int(self._shape[list(self._axis_names).index(name)])

    def __repr__(self):
        return f"<{type(self).__name__} shape={self.shape}, axis_names={self.axis_names}>"

    __str__ = __repr__


class TensorLayout:
    """How a tensor lies on a DeviceMesh: per dimension, the mesh axis it is split along, or None
    (the dimension is whole on every device). ``device_mesh`` may be set once, later."""

    def __init__(self, axes, device_mesh=None):
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self):
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh):
        if self._device_mesh is not None:
            raise ValueError(f"Cannot override device mesh value. Existing value is {self._device_mesh}")
        self._device_mesh = device_mesh
        self._validate_axes()

    def _validate_axes(self):
        if self._device_mesh:
            valid = set(self._device_mesh.axis_names)
            names = set(self._axes) - {None}
            if names - valid:
                raise ValueError(f"Invalid axis names for Layout. Valid axis names: {valid}, Got {names}")

    def _split_axes(self):
        """The mesh axes of more than one device that this layout splits a dimension along."""
        mesh = self._device_mesh
        if mesh is None:
            return []
        return [a for a in self._axes if a is not None and mesh.axis_size(a) > 1]

    def __repr__(self):
        return f"<{type(self).__name__} axes={self.axes}, device_mesh={self.device_mesh}>"

    __str__ = __repr__


class LayoutMap(collections.abc.MutableMapping):
    """A dict from variable paths to TensorLayouts whose keys are regular expressions: a lookup
    takes the exact key, else the one key that ``re.fullmatch``es the path (several: ValueError),
    else None. A tuple value is made a TensorLayout on this map's mesh."""

    def __init__(self, device_mesh):
        self._layout_map = collections.OrderedDict()
        self._device_mesh = device_mesh

    def __getitem__(self, key):
        if key in self._layout_map:
            return self._layout_map[key]
        matching = [pattern for pattern in self._layout_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ValueError(f"Path '{key}' matches multiple layout specification keys: {matching}. Please make "
                             "sure each tensor/variable path only matches at most one layout specification key in "
                             "the LayoutMap.")
        return self._layout_map[matching[0]] if matching else None

    def __setitem__(self, key, layout):
        if key in self._layout_map:
            raise ValueError(f"{key} already exist in the LayoutMap with value {self._layout_map[key]}. Please "
                             "make sure to not use duplicated keys.")
        if isinstance(layout, tuple):
            layout = TensorLayout(axes=layout, device_mesh=None)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"{layout} should be a TensorLayout type, got {type(layout)}")
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layout_map[key] = layout

    def __delitem__(self, key):
        return self._layout_map.pop(key)

    def __len__(self):
        return len(self._layout_map)

    def __iter__(self):
        return iter(self._layout_map)

    @property
    def device_mesh(self):
        return self._device_mesh


LayoutMap.get.__doc__ = LayoutMap.__getitem__.__doc__


# -- distributions -----------------------------------------------------------------------------

class Distribution:
    """What DataParallel and ModelParallel share (Keras' base class): the mesh, the batch axis,
    whether fit shards the data over the processes, and this process's place in the job."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes, self._process_id = _processes()
        self._is_multi_process = self._num_processes > 1

    @property
    def num_processes(self):
        return self._num_processes

    @property
    def num_model_replicas(self):
        raise NotImplementedError()

    @property
    def data_shard_id(self):
        replicas = self.num_model_replicas
        if replicas >= self.num_processes:
            return self._process_id
        return self._process_id // (self.num_processes // replicas)

    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self):
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, auto_shard_dataset):
        self._auto_shard_dataset = auto_shard_dataset

    def get_data_layout(self, data_shape):
        spec = [None] * len(data_shape)
        spec[0] = self.batch_dim_name   # inputs are split along their first (batch) dimension
        return TensorLayout(spec, self.device_mesh)

    def get_variable_layout(self, variable):
        raise NotImplementedError()

    def get_tensor_layout(self, path):
        raise NotImplementedError()

    def distribute_dataset(self, dataset):
        """The dataset unchanged: corenn's data-parallel fit shards NumPy arrays itself (each rank
        its part of every global batch); a dataset cannot be split that way."""
        if not self._is_multi_process or not self.auto_shard_dataset:
            return dataset
        raise ValueError(f"The dataset type {type(dataset)} is not supported for auto-sharding in multi-process "
                         "setting; corenn shards NumPy arrays passed to fit")

    @contextlib.contextmanager
    def scope(self):
        """Makes this distribution the current one for the ``with`` block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def __repr__(self):
        return f"<{type(self).__name__} device_mesh={self.device_mesh}>"

    __str__ = __repr__


class DataParallel(Distribution):
    """Data parallelism: every device holds the whole model and trains on its shard of each batch.

    device_mesh: a DeviceMesh (its first axis is the batch axis), or devices: a list making a 1-d
    mesh named "batch", or neither: ``list_devices()``. auto_shard_dataset: fit splits the data
    over the processes (True; False, data each process already holds on its own, is not
    supported on several processes).
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(f"Expect `mesh` to be an instance of `DeviceMesh`. Received: mesh={device_mesh} "
                                 f"(of type {type(device_mesh)})")
            super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)
            if device_mesh.devices.ndim != 1:
                warnings.warn(f"Expect the input mesh to be 1D, but received mesh.devices.ndim="
                              f"{device_mesh.devices.ndim}. The first axis will be used for data-parallel "
                              "sharding.", UserWarning, stacklevel=2)
            return
        devices = np.array(devices if devices else list_devices())
        mesh = DeviceMesh(shape=devices.shape, axis_names=[DEFAULT_BATCH_DIM_NAME], devices=devices)
        super().__init__(mesh, DEFAULT_BATCH_DIM_NAME, auto_shard_dataset)

    @property
    def num_model_replicas(self):
        return self.device_mesh.devices.size

    def get_variable_layout(self, variable):
        if getattr(variable, "_layout", None) is not None:
            return variable._layout
        return TensorLayout([None] * len(variable.shape), self.device_mesh)   # replicated

    def get_tensor_layout(self, path):
        return None


class ModelParallel(Distribution):
    """Keras' distribution that splits weights over a mesh axis (``layout_map``). corenn keeps
    every weight whole in its process: a layout_map that splits a weight over more than one
    device raises NotImplementedError; one that splits nothing (every axis it names spans one
    device) is data parallelism along ``batch_dim_name`` (default: the mesh's first axis)."""

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True, **kwargs):
        kwargs.pop("device_mesh", None)
        if layout_map is None:
            raise ValueError("You must specify a layout_map argument.")
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(f"Argument `layout_map` must be a `LayoutMap` instance. Received: layout_map={layout_map}")
        mesh = layout_map.device_mesh
        super().__init__(mesh, batch_dim_name or mesh.axis_names[0], auto_shard_dataset)
        self._layout_map = layout_map
        _refuse_model_parallelism(self)
        if (self._is_multi_process and self.num_processes > self.num_model_replicas
                and self.num_processes % self.num_model_replicas != 0):
            raise ValueError("If `num_processes` is greater than `num_model_replicas`, `num_processes` must be "
                             f"divisible by `num_model_replicas`. Got num_processes={self.num_processes}, "
                             f"num_model_replicas={self.num_model_replicas}.")

    @property
    def num_model_replicas(self):
        return self.device_mesh.shape[list(self.device_mesh.axis_names).index(self.batch_dim_name)]

    def get_variable_layout(self, variable):
        if getattr(variable, "_layout", None) is not None:
            return variable._layout
        layout = self._layout_map[variable.path]
        if layout is not None:
            return layout
        return TensorLayout([None] * len(variable.shape), self.device_mesh)

    def get_tensor_layout(self, path):
        return self._layout_map[path]


def _refuse_model_parallelism(dist):
    """NotImplementedError when ``dist``'s layout map splits a tensor over several devices."""
    for key, layout in getattr(dist, "_layout_map", {}).items():
        split = layout._split_axes()
        if split:
            sizes = {a: dist.device_mesh.axis_size(a) for a in split}
            raise NotImplementedError(
                f"keras.distribution.{type(dist).__name__}: the layout {key!r} -> {layout.axes} splits a tensor over "
                f"the mesh axes {sizes} (devices per axis); corenn supports data parallelism only (every weight "
                "whole in every process): use keras.distribution.DataParallel, or a LayoutMap whose axes span one "
                "device")


# -- tensors and the current distribution ------------------------------------------------------

def distribute_tensor(tensor, layout):
    """``tensor`` laid out as ``layout``: on corenn, where every tensor is whole in its process,
    the tensor itself when the layout splits nothing; NotImplementedError when it would split a
    dimension over more than one device. A KerasTensor is returned as it is."""
    from ..models.graph import KerasTensor
    if isinstance(tensor, KerasTensor):
        return tensor
    if not isinstance(layout, TensorLayout):
        raise TypeError(f"keras.distribution.distribute_tensor: layout must be a TensorLayout, got "
                        f"{type(layout).__name__}")
    if layout.device_mesh is None:
        raise ValueError("Cannot create sharding when device mesh is not set for TensorLayout.")
    split = layout._split_axes()
    if split:
        raise NotImplementedError(f"keras.distribution.distribute_tensor: the layout {layout.axes} splits the tensor "
                                  f"over the mesh axes {split}; corenn supports data parallelism only and keeps "
                                  "every tensor whole in its process")
    return tensor


def distribution():
    """The current distribution (``set_distribution``'s), or None."""
    return _state["distribution"]


def set_distribution(value):
    """Make ``value`` (a DataParallel / ModelParallel, or None) the current distribution.

    On one process this records it and changes nothing else. On several (mpiexec), a
    distribution with one replica per process makes every ``fit`` from now on data-parallel
    (corenn.distributed.DataParallel); None, or another distribution, ends that."""
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"keras.distribution.set_distribution: expected a DataParallel, a ModelParallel or None, "
                        f"got {type(value).__name__}")
    strategy = None
    if value is not None:
        _check_devices(value)
        strategy = _strategy_for(value)
    if _state["strategy"] is not None:
        _state["strategy"].__exit__(None, None, None)
        _state["strategy"] = None
    if strategy is not None:
        strategy.__enter__()
        _state["strategy"] = strategy
    _state["distribution"] = value


def _check_devices(dist):
    available = list_devices()
    unknown = [str(d) for d in np.ravel(dist.device_mesh.devices) if str(d) not in available]
    if unknown:
        raise ValueError(f"keras.distribution.set_distribution: the mesh names the devices {unknown}, which this job "
                         f"does not have; corenn has one CPU device per process: {available}")
    _refuse_model_parallelism(dist)


def _strategy_for(dist):
    """The corenn.distributed.DataParallel that runs ``dist`` on several processes, else None."""
    size = dist.num_processes
    if size <= 1:
        return None
    replicas = dist.num_model_replicas
    if replicas != size:
        raise NotImplementedError(f"keras.distribution.set_distribution: the mesh's batch axis has {replicas} "
                                  f"device(s) for {size} processes; corenn trains one replica per process, so the "
                                  f"batch axis must span all {size} devices")
    if not dist.auto_shard_dataset:
        raise NotImplementedError("keras.distribution.set_distribution: auto_shard_dataset=False (each process feeds "
                                  "its own data) is not supported by fit; fit with auto_shard_dataset=True on the "
                                  "same arrays in every process, or use corenn.distributed.DistributedOptimizer with "
                                  "broadcast_weights in your own loop")
    from ..distributed import DataParallel as MpiDataParallel
    return MpiDataParallel()
