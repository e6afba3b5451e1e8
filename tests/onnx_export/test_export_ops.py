"""ONNX export of the op nodes of functional models (keras.ops / tf.* / Python operators called on
KerasTensors): ONNX Runtime reproduces ``predict`` at batch 1 and 64 (test_export's tolerance)."""
import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import corenn as tf  # noqa: E402
from corenn import keras  # noqa: E402
from corenn.keras import layers, ops  # noqa: E402

from test_export import export_and_compare, floats  # noqa: E402

TABLE = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)

MODELS = {
    "arithmetic": lambda x: (2.0 - x) * x / 4.0 + x ** 2 - abs(x) + TABLE,
    "unary": lambda x: ops.exp(ops.tanh(x)) + ops.sqrt(ops.square(x) + 1.0) + ops.sigmoid(-x),
    "reductions": lambda x: ops.concatenate([ops.mean(x, axis=1), ops.max(x, axis=1), tf.reduce_sum(x, axis=1),
                                             ops.min(x, axis=-1)], axis=-1),
    "layout": lambda x: ops.squeeze(ops.expand_dims(ops.transpose(x, (0, 2, 1)), -1), -1),
    "reshape_matmul": lambda x: ops.reshape(x, (-1, 20)) @ np.ones((20, 3), np.float32),
    "indexing": lambda x: ops.concatenate([x[:, 0], x[:, -1], x[:, 1:3, ::2][:, 0, :2], x[..., 1]], axis=-1),
    "new_axis": lambda x: x[:, None, 0] * 1.0,
    "softmax_clip": lambda x: ops.clip(ops.softmax(x, axis=1), 0.1, 0.5),
    "with_layers": lambda x: layers.Dense(3)(ops.mean(layers.Dense(6)(x), axis=1) + 0.5),
    # truth values (bool tensors) and what they choose
    "comparisons": lambda x: ops.where(ops.logical_and(x > -0.5, ops.less_equal(x, 0.7)), x, 0.0)
    + ops.cast(ops.logical_or(ops.equal(x, 0.0), ops.not_equal(x, x)), "float32")
    + ops.cast(ops.logical_not(ops.greater_equal(x, 0.2)), "float32") * 2.0,
    "any_all": lambda x: ops.cast(ops.any(x > 0.9, axis=1, keepdims=True), "float32")
    - ops.cast(ops.all(x > -0.9, axis=-1, keepdims=True), "float32"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_op_nodes_export(name, tmp_path):
    inputs = keras.Input((4, 5))
    model = keras.Model(inputs, MODELS[name](inputs))
    proto = export_and_compare(model, floats(4, 5), tmp_path / f"{name}.onnx")
    assert proto.graph.node


def test_an_op_without_a_converter_names_the_layer_and_nothing_is_written(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, ops.cumsum(inputs, axis=1))
    path = tmp_path / "m.onnx"
    with pytest.raises(NotImplementedError, match="layer 'cumsum.*ops.cumsum is not exported"):
        model.export(str(path), format="onnx")
    assert not path.exists()


def test_a_bool_output_and_integer_comparisons_export(tmp_path):
    """A padding mask made from token ids (int64 compared with an int constant, as ONNX does not
    promote) used in the model and returned as a bool output."""
    ids = keras.Input((6,), dtype="int64")
    keep = ops.not_equal(ids, 0)
    vectors = layers.Embedding(10, 3)(ids) * ops.expand_dims(ops.cast(keep, "float32"), -1)
    model = keras.Model(ids, [ops.sum(vectors, axis=1), keep])
    rng = np.random.default_rng(4)

    def make(n):
        x = rng.integers(0, 10, size=(n, 6)).astype(np.int64)
        x[:, -2:] = 0   # padding
        return x
    proto = export_and_compare(model, make, tmp_path / "mask.onnx")
    assert proto.graph.output[1].type.tensor_type.elem_type == 9   # BOOL
    assert model.predict(make(2), verbose=0)[1].dtype == np.bool_
