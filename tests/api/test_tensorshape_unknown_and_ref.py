"""TensorFlow's shape of unknown rank (``tf.TensorShape(None)``), ``tensor.ref()`` /
``ref.deref()`` and ``tf.range``'s dtype, each against TensorFlow 2.21's own values (run in
/work/venv-tf when written)."""
import pickle

import numpy as np
import pytest

import corenn as tf


def test_unknown_rank_shape_as_tensorflow():
    s = tf.TensorShape(None)
    assert s.rank is None and s.ndims is None and s.dims is None
    assert repr(s) == "TensorShape(None)" and str(s) == "<unknown>"
    assert not s.is_fully_defined() and s.num_elements() is None and not bool(s)
    with pytest.raises(ValueError, match=r"as_list\(\) is not defined on an unknown TensorShape\."):
        s.as_list()
    with pytest.raises(ValueError, match="Cannot take the length of shape with unknown rank."):
        len(s)
    with pytest.raises(ValueError, match="Cannot iterate over a shape with unknown rank."):
        list(s)
    assert s[0] is None and repr(s[1:]) == "TensorShape(None)"
    # equal to another unknown shape (and None, as TF converts it), never to the scalar shape ()
    assert s == tf.TensorShape(None) and s == None and not (s != tf.TensorShape(None))  # noqa: E711
    assert s != tf.TensorShape([]) and tf.TensorShape([]) != s and () != s and s != tf.TensorShape([1])
    assert hash(s) == hash(tf.TensorShape(None)) and pickle.loads(pickle.dumps(s)) == s
    assert tf.TensorShape(s) == s


def test_compatibility_merge_and_concatenation_as_tensorflow():
    s, k = tf.TensorShape(None), tf.TensorShape([3, None])
    assert s.is_compatible_with([1, 2]) and tf.TensorShape([1, 2]).is_compatible_with(s)
    assert k.is_compatible_with([3, 7]) and not k.is_compatible_with([3, 7, 1]) and not k.is_compatible_with([4, 7])
    assert s.merge_with([3, None]) == (3, None) and k.merge_with(s) == (3, None)
    assert k.merge_with([None, 5]) == (3, 5)
    with pytest.raises(ValueError, match=r"Shapes \(1, 2\) and \(2, 2\) are not compatible"):
        tf.TensorShape([1, 2]).merge_with([2, 2])
    assert str(s.concatenate([2])) == "<unknown>" and str(tf.TensorShape([2]).concatenate(s)) == "<unknown>"
    assert tf.TensorShape([2]).concatenate([None, 4]) == (2, None, 4)
    assert s.with_rank(2) == (None, None)
    # a known shape stays the tuple it was (Tensor.shape's type)
    assert tf.constant(np.zeros((2, 3), np.float32)).shape == (2, 3) and tf.TensorShape([2, 3]).rank == 2


def test_ref_is_a_hashable_handle_by_identity():
    t = tf.constant([1.0, 2.0])
    u = tf.constant([1.0, 2.0])   # equal values, another tensor
    v = tf.Variable([1.0])
    r = t.ref()
    assert type(r).__name__ == "Reference" and r.deref() is t and v.ref().deref() is v
    assert r == t.ref() and hash(r) == hash(t.ref()) and r != u.ref() and t.ref() != v.ref()
    seen = {t.ref(): "t", v.ref(): "v"}
    assert seen[t.ref()] == "t" and seen[v.ref()] == "v" and u.ref() not in seen
    assert {x.ref() for x in (t, t, v)} == {t.ref(), v.ref()}
    assert repr(r).startswith("<Reference wrapping Tensor(")
    assert t.experimental_ref() == r


def test_range_keeps_the_integer_dtype_asked_for():
    # TF 2.21 computes range in int32 / int64 / float16 / float32 / float64 on the CPU and has no
    # uint8 or int8 kernel (InvalidArgumentError / NotFoundError); corenn gives the dtype asked
    # for, as tf.experimental.numpy.arange and keras.ops.arange do
    for dtype in ("uint8", "int8", "int16", "int64", "float16", "float64"):
        r = tf.range(1, 7, 2, dtype=getattr(tf, dtype))
        assert r.dtype == dtype
        np.testing.assert_array_equal(np.asarray(r), np.array([1, 3, 5], dtype))
    assert tf.range(5, dtype=tf.uint8).dtype == "uint8"
    assert tf.range(5).dtype == "int32" and tf.range(5.0).dtype == "float32"
