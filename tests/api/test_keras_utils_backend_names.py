"""keras.utils / keras.backend names that scripts use, each checked for Keras 3's behaviour."""
import io

import numpy as np
import pytest

from corenn import keras


def test_pack_and_unpack_x_y_sample_weight():
    u = keras.utils.unpack_x_y_sample_weight
    x, y, w = np.ones(2), np.zeros(2), np.full(2, 3.0)
    assert u(x)[0] is x and u(x)[1:] == (None, None)
    assert u((x,))[0] is x
    assert u((x, y))[1] is y and u((x, y))[2] is None
    assert u((x, y, w))[2] is w
    with pytest.raises(ValueError, match="4 items"):
        u((x, y, w, w))
    p = keras.utils.pack_x_y_sample_weight
    assert len(p(x)) == 1 and len(p(x, y)) == 2 and len(p(x, y, w)) == 3


def test_serialization_helpers_are_the_saving_ones():
    from corenn import saving
    for name in ("register_keras_serializable", "serialize_keras_object", "deserialize_keras_object",
                 "get_custom_objects", "custom_object_scope", "CustomObjectScope", "get_registered_name"):
        assert getattr(keras.utils, name) is getattr(saving, name)


def test_interactive_logging_switch_writes_plain_lines():
    assert keras.utils.is_interactive_logging_enabled()

    class Tty(io.StringIO):
        def isatty(self):
            return True
    try:
        keras.utils.disable_interactive_logging()
        assert not keras.utils.is_interactive_logging_enabled()
        out = Tty()
        bar = keras.utils.Progbar(4, stream=out)
        for i in range(1, 5):
            bar.update(i, [("loss", 1.0 / i)])
        assert "\r" not in out.getvalue() and out.getvalue().count("\n") >= 1
    finally:
        keras.utils.enable_interactive_logging()
    out = Tty()
    bar = keras.utils.Progbar(4, stream=out, interval=0.0)
    for i in range(1, 5):
        bar.update(i)
    assert "\r" in out.getvalue()


def test_backend_dtype_helpers():
    b = keras.backend
    assert b.is_keras_tensor(keras.Input((3,))) and not b.is_keras_tensor(np.ones(3))
    assert b.standardize_dtype("float") == "float32" and b.standardize_dtype(np.float16) == "float16"
    assert b.standardize_dtype(None) == "float32"
    assert b.result_type("int32", "float16") == "float16"     # JAX's lattice, as Keras 3
    assert b.result_type("int32", 1.0) == "float32"
    assert b.result_type("int8", "int32") == "int32"
    assert b.result_type("int64", 3) == "int64"
    assert b.result_type("float32", "float64") == "float64"
    with pytest.raises(ValueError):
        b.standardize_dtype("not-a-dtype")
