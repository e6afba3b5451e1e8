"""TensorFlow 2 names programs call for side effects or to ask about the runtime (tf.compat.v1
logging / eager switches, tf.test GPU queries, tf.autograph, tf.sysconfig, executing_eagerly,
get_logger) and the old paths of optimizers, callbacks and layers (legacy / experimental)."""
import logging

import numpy as np
import pytest

import corenn as tf


def test_compat_v1_logging_and_eager_switches():
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    assert tf.get_logger().getEffectiveLevel() == logging.ERROR and tf.get_logger().name == "tensorflow"
    tf.get_logger().setLevel("WARNING")
    tf.compat.v1.enable_eager_execution()
    assert tf.executing_eagerly() and tf.compat.v1.executing_eagerly()
    assert tf.compat.v2 is tf
    with pytest.raises(NotImplementedError, match="eagerly only"):
        tf.compat.v1.disable_eager_execution()
    tf.compat.v1.set_random_seed(3)
    a = np.asarray(tf.random.uniform((3,)))
    tf.random.set_seed(3)
    np.testing.assert_array_equal(a, np.asarray(tf.random.uniform((3,))))


def test_runtime_queries_and_autograph():
    assert tf.test.is_gpu_available() == tf.test.is_built_with_cuda() == tf.cuda.is_available()
    assert (tf.test.gpu_device_name() == "") == (not tf.cuda.is_available())
    assert tf.sysconfig.get_build_info()["is_cuda_build"] == tf.cuda.is_available()

    @tf.autograph.experimental.do_not_convert
    def f(x):
        return x * 2
    assert f(3) == 6
    tf.autograph.set_verbosity(0)


def test_old_paths_are_the_same_classes():
    assert tf.keras.optimizers.legacy.Adam is tf.keras.optimizers.Adam
    assert tf.keras.optimizers.experimental.AdamW is tf.keras.optimizers.AdamW
    assert tf.keras.callbacks.experimental.BackupAndRestore is tf.keras.callbacks.BackupAndRestore
    assert tf.keras.layers.experimental.EinsumDense is tf.keras.layers.EinsumDense
    bn = tf.keras.layers.experimental.SyncBatchNormalization()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(bn(x, training=True)),
                               (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4, atol=1e-5)
