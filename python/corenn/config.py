"""``tf.config``: the devices corenn computes on (``list_physical_devices``) and the thread count
(``threading``), for scripts that ask TensorFlow about them."""
from __future__ import annotations

import collections

from . import cuda
from .kernels import get_num_threads, set_num_threads

__all__ = ["PhysicalDevice", "list_physical_devices", "list_logical_devices", "threading",
           "experimental", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
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


list_logical_devices = list_physical_devices


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
