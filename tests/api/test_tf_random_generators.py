"""tf.random's generators (python/corenn/random.py): the global generator follows tf.random.set_seed
and can be replaced, draws of shape [] are 0-d as TensorFlow's, truncated normals stay within two
standard deviations. corenn draws from NumPy's generators (not TensorFlow's Philox stream), so the
checks are reproducibility and the distributions."""
import numpy as np
import pytest

import corenn as tf


def test_the_global_generator_follows_set_seed_and_can_be_replaced():
    tf.random.set_seed(3)
    a = tf.random.get_global_generator().normal([5]).numpy()
    tf.random.set_seed(3)
    b = tf.random.get_global_generator().normal([5]).numpy()
    np.testing.assert_array_equal(a, b)
    g = tf.random.Generator.from_seed(5)
    tf.random.set_global_generator(g)
    try:
        assert tf.random.get_global_generator() is g
    finally:
        tf.random.set_global_generator(tf.random.Generator.from_non_deterministic_state())
    with pytest.raises(TypeError, match="set_global_generator"):
        tf.random.set_global_generator(np.random.default_rng(0))


def test_scalar_draws_are_0_d():
    g = tf.random.Generator.from_seed(1)
    assert g.normal([]).shape == () and g.uniform([]).shape == ()
    assert tf.random.stateless_normal([], seed=[1, 2]).shape == ()
    assert tf.random.normal([]).shape == ()


def test_truncated_normal_of_a_generator():
    t = tf.random.Generator.from_seed(2).truncated_normal([20000], mean=1.0, stddev=2.0).numpy()
    assert t.min() >= 1.0 - 4.0 and t.max() <= 1.0 + 4.0
    # N(0, 1) cut at +-2: variance 1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2)) = 0.7737
    assert abs(t.mean() - 1.0) < 0.05 and abs(t.std() - 2.0 * np.sqrt(0.7737)) < 0.05
