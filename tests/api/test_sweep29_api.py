"""Sweep 29: what the programs added to tests/programs in sweep 29 found missing, each checked on
its own against TensorFlow 2.21's behaviour (the values written here are what TensorFlow gave for
the same calls)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


# ---- TF guide "Use a GPU" (tutorial_use_a_gpu.py): tf.config device lists and placement ----

@pytest.fixture
def restore_config(monkeypatch):
    from corenn import config
    monkeypatch.setattr(config, "_VISIBLE", [None])
    monkeypatch.setattr(config, "_SOFT_PLACEMENT", [True])


def test_logical_devices_have_tensorflow_names(restore_config):
    cpu = tf.config.list_logical_devices("CPU")
    assert cpu == [tf.config.LogicalDevice(name="/device:CPU:0", device_type="CPU")]
    assert tf.config.get_visible_devices("CPU") == tf.config.list_physical_devices("CPU")
    assert len(tf.config.list_logical_devices("GPU")) == len(tf.config.list_physical_devices("GPU"))
    cfg = tf.config.LogicalDeviceConfiguration(memory_limit=1024)
    assert (cfg.memory_limit, cfg.experimental_priority, cfg.experimental_device_ordinal) == (1024, None, None)
    assert tf.config.get_logical_device_configuration(tf.config.list_physical_devices("CPU")[0]) is None


def test_set_visible_devices_hides_gpus_not_the_cpu(restore_config):
    # TF 2.21: hiding every GPU is allowed (list_logical_devices('GPU') is then empty); hiding the
    # CPU is a RuntimeError
    tf.config.set_visible_devices([], "GPU")
    assert tf.config.list_logical_devices("GPU") == []
    assert tf.config.get_visible_devices() == tf.config.list_physical_devices("CPU")
    with pytest.raises(RuntimeError, match="CPU cannot be hidden"):
        tf.config.set_visible_devices([], "CPU")
    with pytest.raises(ValueError, match="not one of list_physical_devices"):
        tf.config.set_visible_devices([tf.config.PhysicalDevice("/physical_device:GPU:7", "GPU")], "GPU")
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(ValueError, match="not of device_type 'GPU'"):
        tf.config.set_visible_devices(cpu, "GPU")
    tf.config.set_visible_devices(tf.config.list_physical_devices())
    assert tf.config.get_visible_devices() == tf.config.list_physical_devices()


def test_logical_device_configuration_is_refused_as_tensorflow_refuses_it(restore_config):
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(RuntimeError, match="cannot split a device"):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    with pytest.raises(ValueError, match="unknown device"):
        tf.config.set_logical_device_configuration(tf.config.PhysicalDevice("/physical_device:XLA:0", "XLA"), [])


def test_soft_device_placement(restore_config):
    assert tf.config.get_soft_device_placement() is True
    with tf.device("/device:GPU:2"):    # soft: runs where it can, as TensorFlow's eager default
        c = tf.matmul(tf.ones((2, 3)), tf.ones((3, 2)))
    np.testing.assert_array_equal(c.numpy(), np.full((2, 2), 3.0))
    tf.config.set_soft_device_placement(False)
    assert tf.config.get_soft_device_placement() is False
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not satisfy device specification "
                                                             "'/device:GPU:2'.*enable_soft_placement=0"):
        with tf.device("/device:GPU:2"):
            pass
    with tf.device("/CPU:0"):   # a device the machine has is still fine
        pass


# ---- TF guide "Graph optimization with Grappler" (tutorial_graph_optimization.py) ----

@pytest.fixture
def restore_grappler(monkeypatch):
    from corenn import config
    monkeypatch.setattr(config.optimizer, "_options", dict(config.optimizer._options))
    monkeypatch.setattr(config.optimizer, "_jit", [""])


def test_grappler_options_merge_as_tensorflow(restore_grappler):
    opt = tf.config.optimizer
    assert opt.get_experimental_options() == {"disable_model_pruning": False, "disable_meta_optimizer": False}
    opt.set_experimental_options({"constant_folding": False})
    opt.set_experimental_options({"debug_stripper": True})
    opt.set_experimental_options({})   # TF 2.21: merging nothing unsets nothing
    assert opt.get_experimental_options() == {"constant_folding": False, "debug_stripper": True,
                                              "disable_model_pruning": False, "disable_meta_optimizer": False}
    with pytest.raises(ValueError, match="unknown option.*'bogus'"):
        opt.set_experimental_options({"bogus": True})
    assert opt.get_jit() == ""
    opt.set_jit(True)
    assert opt.get_jit() == "autoclustering"
    with pytest.raises(ValueError, match="set_jit"):
        opt.set_jit("xla")


def test_debug_stripper_removes_checks_inside_tf_function_only(restore_grappler):
    @tf.function
    def checked(x):
        tf.debugging.check_numerics(x, "Bad!")
        tf.debugging.assert_positive(x)
        tf.Assert(x > 0, [x])
        return x * 2

    with pytest.raises(tf.errors.InvalidArgumentError, match="Bad!"):
        checked(tf.constant(float("inf")))
    tf.config.optimizer.set_experimental_options({"debug_stripper": True})
    # TF 2.21 returns -inf: check_numerics, assert_positive and Assert are all stripped
    assert float(checked(tf.constant(float("-inf")))) == float("-inf")
    with pytest.raises(tf.errors.InvalidArgumentError):   # eager code still checks
        tf.debugging.check_numerics(tf.constant(float("inf")), "eager")
    tf.config.optimizer.set_experimental_options({"debug_stripper": False})
    with pytest.raises(tf.errors.InvalidArgumentError):
        checked(tf.constant(-1.0))
