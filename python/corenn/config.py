"""``tf.config``: the devices corenn computes on (``list_physical_devices``) and the thread count
(``threading``), for scripts that ask TensorFlow about them."""
from __future__ import annotations

import collections

from . import cuda
from .kernels import get_num_threads, set_num_threads

__all__ = ["PhysicalDevice", "LogicalDevice", "LogicalDeviceConfiguration", "list_physical_devices",
           "list_logical_devices", "get_visible_devices", "set_visible_devices",
           "get_logical_device_configuration", "set_logical_device_configuration",
           "get_soft_device_placement", "set_soft_device_placement", "optimizer", "threading", "experimental", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format"]

# `import corenn as keras` makes this module keras.config too: Keras 3's settings live here as well
from .keras.backend import (epsilon, floatx, image_data_format, set_epsilon,  # noqa: E402,F401
                            set_floatx, set_image_data_format)

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])


def list_physical_devices(device_type=None):
    """The CPU, and each CUDA GPU of a CUDA build on a machine that has one."""
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    if cuda.is_available():
        devices += [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(cuda.device_count())]
    return [d for d in devices if device_type is None or d.device_type == str(device_type).upper()]


LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])
LogicalDeviceConfiguration = collections.namedtuple(
    "LogicalDeviceConfiguration", ["memory_limit", "experimental_priority", "experimental_device_ordinal"],
    defaults=(None, None, None))

# the physical devices set_visible_devices left visible (None: all of them, TensorFlow's default)
_VISIBLE = [None]
_SOFT_PLACEMENT = [True]


def get_visible_devices(device_type=None):
    """The physical devices ``set_visible_devices`` left visible (all of them by default)."""
    visible = list_physical_devices() if _VISIBLE[0] is None else list(_VISIBLE[0])
    return [d for d in visible if device_type is None or d.device_type == str(device_type).upper()]


def set_visible_devices(devices, device_type=None):
    """Which physical devices ``list_logical_devices`` (and a MirroredStrategy built from it)
    shows: ``devices`` replace the visible ones of ``device_type`` (all types when None), as in
    TensorFlow. corenn places a Tensor where it is made or moved (``Tensor.to``), so hiding a GPU
    hides it from these lists, not from an explicit ``.to('cuda')``. The CPU cannot be hidden:
    TensorFlow refuses that too (it runs the host side there)."""
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    devices = list(devices)
    known = list_physical_devices()
    for d in devices:
        if d not in known:
            raise ValueError(f"tf.config.set_visible_devices: {d!r} is not one of list_physical_devices() {known}")
        if device_type is not None and d.device_type != str(device_type).upper():
            raise ValueError(f"tf.config.set_visible_devices: {d!r} is not of device_type {device_type!r}")
    kinds = {d.device_type for d in known} if device_type is None else {str(device_type).upper()}
    kept = [d for d in get_visible_devices() if d.device_type not in kinds] + devices
    if not any(d.device_type == "CPU" for d in kept):
        raise RuntimeError("tf.config.set_visible_devices: the CPU cannot be hidden (corenn, like TensorFlow, "
                           "runs the host side of every op there)")
    _VISIBLE[0] = [d for d in known if d in kept]


def list_logical_devices(device_type=None):
    """The visible devices under TensorFlow's logical names (``/device:CPU:0``, ``/device:GPU:0``):
    one logical device per physical one, as corenn does not split devices."""
    return [LogicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in get_visible_devices(device_type)]


def get_logical_device_configuration(device):
    """None: no device is split into logical devices (TensorFlow's answer when none was set)."""
    if device not in list_physical_devices():
        raise ValueError(f"tf.config.get_logical_device_configuration: unknown device {device!r}")
    return None


def set_logical_device_configuration(device, logical_devices):
    """Refused with TensorFlow's RuntimeError (what TensorFlow raises once its runtime has started,
    and what the GPU guide catches): corenn cannot split one device into several logical ones nor
    cap a GPU's memory; its CUDA allocator grows on demand and is shared by one process."""
    if device not in list_physical_devices():
        raise ValueError(f"tf.config.set_logical_device_configuration: unknown device {device!r}")
    raise RuntimeError("tf.config.set_logical_device_configuration: corenn cannot split a device into logical "
                       f"devices or cap its memory ({len(list(logical_devices))} configurations asked for "
                       f"{device.name}); its caching allocator grows on demand")


def get_soft_device_placement():
    """Whether a ``tf.device`` scope naming a device this machine lacks runs on one it has."""
    return _SOFT_PLACEMENT[0]


def set_soft_device_placement(enabled):
    """On (the default) a ``tf.device`` scope naming a missing device (``/GPU:2`` on a machine
    with one GPU) is accepted; off, entering it raises ``tf.errors.InvalidArgumentError`` naming
    the devices there are, as TensorFlow's ops then do."""
    _SOFT_PLACEMENT[0] = bool(enabled)


class threading:
    """``tf.config.threading``: corenn's one thread pool serves both TensorFlow knobs."""

    @staticmethod
    def get_intra_op_parallelism_threads():
        return get_num_threads()

    @staticmethod
    def set_intra_op_parallelism_threads(num_threads):
        if num_threads:
            set_num_threads(int(num_threads))

    @staticmethod
    def get_inter_op_parallelism_threads():
        return get_num_threads()

    @staticmethod
    def set_inter_op_parallelism_threads(num_threads):
        pass   # no separate pool for independent ops: the kernels share one


class experimental:
    @staticmethod
    def set_memory_growth(device, enable):
        pass   # corenn's CUDA allocator grows on demand already

    @staticmethod
    def get_memory_growth(device):
        return True


# Grappler's options as TensorFlow names them (tensorflow/core/protobuf/rewriter_config.proto)
_GRAPPLER_OPTIONS = ("layout_optimizer", "constant_folding", "shape_optimization", "remapping",
                     "arithmetic_optimization", "dependency_optimization", "loop_optimization",
                     "function_optimization", "debug_stripper", "disable_model_pruning",
                     "scoped_allocator_optimization", "pin_to_host_optimization", "implementation_selector",
                     "auto_mixed_precision", "disable_meta_optimizer", "min_graph_nodes")


class optimizer:
    """``tf.config.optimizer``: TensorFlow's Grappler switches. corenn runs a tf.function's body
    eagerly, so the rewrites that only change speed (constant folding, layout, arithmetic ...)
    have nothing to act on and are just kept; ``debug_stripper`` changes behaviour and is
    honoured: inside a tf.function the tf.debugging assertions and check_numerics (and
    tf.Assert) then pass whatever the values, as in TensorFlow's stripped graphs, while eager
    code still checks."""

    _options = {"disable_model_pruning": False, "disable_meta_optimizer": False}

    @staticmethod
    def get_experimental_options():
        return dict(optimizer._options)

    @staticmethod
    def set_experimental_options(options):
        """Merges ``options`` into the current ones (an option is never unset, as TensorFlow)."""
        unknown = sorted(set(options) - set(_GRAPPLER_OPTIONS))
        if unknown:
            raise ValueError(f"tf.config.optimizer.set_experimental_options: unknown option(s) {unknown}; "
                             f"the options are {list(_GRAPPLER_OPTIONS)}")
        optimizer._options.update(options)

    _jit = [""]

    @staticmethod
    def get_jit():
        """'' (off) or 'autoclustering', as ``set_jit`` left it."""
        return optimizer._jit[0]

    @staticmethod
    def set_jit(enabled):
        """XLA auto-clustering only changes speed in TensorFlow; corenn's kernels are compiled
        already, so the switch is kept for ``get_jit`` and changes nothing else."""
        if enabled not in (True, False, None, "", "autoclustering"):
            raise ValueError(f"tf.config.optimizer.set_jit: expected True, False or 'autoclustering', got {enabled!r}")
        optimizer._jit[0] = "autoclustering" if enabled else ""


def _debug_ops_stripped():
    """True inside a tf.function while Grappler's debug_stripper is on (see ``optimizer``)."""
    return bool(optimizer._options.get("debug_stripper")) and _TF_FUNCTION_DEPTH[0] > 0


# how many tf.function calls are running (corenn.function's wrapper counts them)
_TF_FUNCTION_DEPTH = [0]
