"""ONNX export of Keras preprocessing layers inside a model (Discretization, CategoryEncoding,
IntegerLookup, StringLookup): ONNX Runtime's outputs equal model.predict's (indices exactly,
encodings within the suite's float tolerance) at batch 1 and a larger batch."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import corenn  # noqa: E402
from corenn import layers as L  # noqa: E402

from test_export import export_and_compare  # noqa: E402


def _floats(n, _rng=np.random.default_rng(3)):
    x = _rng.normal(0, 1.5, (n, 4)).astype(np.float32)
    x[0, :3] = [-1.0, 0.0, 0.5]   # values on boundaries land where corenn puts them
    return x


def _model(layer, shape, dtype="float32"):
    inp = corenn.Input(shape, dtype=dtype)
    return corenn.Model(inp, layer(inp))


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization(mode, tmp_path):
    bounds = [-1.0, 0.0, 0.1, 0.5, 2.0]
    if mode == "one_hot":
        model = _model(L.Discretization(bin_boundaries=bounds, output_mode=mode), (1,))
        make = lambda n: _floats(n)[:, :1]  # noqa: E731
    else:
        model = _model(L.Discretization(bin_boundaries=bounds, output_mode=mode), (4,))
        make = _floats
    proto = export_and_compare(model, make, tmp_path / "m.onnx", batches=(1, 7))
    if mode == "int":
        assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT32


def test_discretization_adapted_then_dense(tmp_path):
    layer = L.Discretization(num_bins=4, output_mode="one_hot")
    layer.adapt(np.random.default_rng(0).normal(size=(200, 1)).astype(np.float32))
    inp = corenn.Input((1,))
    model = corenn.Model(inp, L.Dense(3)(layer(inp)))
    export_and_compare(model, lambda n: _floats(n)[:, :1], tmp_path / "m.onnx", batches=(1, 7))


def _ids(n, _rng=np.random.default_rng(5)):
    return _rng.integers(0, 6, (n, 3)).astype(np.int32)


@pytest.mark.parametrize("mode,shape", [("one_hot", (1,)), ("one_hot", (3,)), ("multi_hot", (3,)),
                                        ("count", (3,)), ("multi_hot", ())])
def test_category_encoding(mode, shape, tmp_path):
    model = _model(L.CategoryEncoding(num_tokens=6, output_mode=mode), shape, "int32")
    export_and_compare(model, lambda n: _ids(n)[:, :shape[0]] if shape else _ids(n)[:, 0], tmp_path / "m.onnx",
                       batches=(1, 9))


def test_category_encoding_of_float_ids(tmp_path):
    model = _model(L.CategoryEncoding(num_tokens=6, output_mode="count"), (3,))
    export_and_compare(model, lambda n: _ids(n).astype(np.float32), tmp_path / "m.onnx", batches=(1, 9))


_INT_LOOKUPS = {
    "plain": dict(vocabulary=[12, 36, 1138, 42]),
    "mask": dict(vocabulary=[12, 36, 1138, 42], mask_token=0),
    "oov3": dict(vocabulary=[12, 36, 1138, 42], num_oov_indices=3),
    "oov3_mask": dict(vocabulary=[12, 36, 1138, 42], num_oov_indices=3, mask_token=0),
    "multi_hot": dict(vocabulary=[12, 36, 1138, 42], output_mode="multi_hot"),
    "count_padded": dict(vocabulary=[12, 36, 1138, 42], output_mode="count", max_tokens=8, pad_to_max_tokens=True),
    "tf_idf": dict(vocabulary=[12, 36, 1138, 42], output_mode="tf_idf", idf_weights=[0.5, 1.0, 2.0, 0.25]),
    "invert": dict(vocabulary=[12, 36, 1138, 42], invert=True),
}


def _tokens(n, _rng=np.random.default_rng(6)):
    pool = np.array([12, 36, 1138, 42, 0, 7, -5, 99], np.int64)
    return pool[_rng.integers(0, len(pool), (n, 3))]


@pytest.mark.parametrize("kind", sorted(_INT_LOOKUPS))
def test_integer_lookup(kind, tmp_path):
    layer = L.IntegerLookup(**_INT_LOOKUPS[kind])
    model = _model(layer, (3,), "int64")
    if kind == "invert":
        make = lambda n: np.random.default_rng(n).integers(0, 5, (n, 3)).astype(np.int64)  # noqa: E731
    else:
        make = _tokens
    export_and_compare(model, make, tmp_path / "m.onnx", batches=(1, 8))


def _string_session(model, path):
    model.export(str(path), format="onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


_WORDS = np.array([["a", "b", "zz"], ["", "c", "a"], ["[UNK]", "d", "b"]], dtype=object)


@pytest.mark.parametrize("kwargs", [dict(), dict(mask_token=""), dict(output_mode="one_hot"),
                                    dict(num_oov_indices=0, oov_token="?",
                                         vocabulary=["a", "b", "c", "d", "zz", "", "[UNK]"])],
                         ids=["plain", "mask", "one_hot", "no_oov"])
def test_string_lookup(kwargs, tmp_path):
    kwargs = {"vocabulary": ["a", "b", "c", "d"], **kwargs}
    words = _WORDS[:, :1] if kwargs.get("output_mode") == "one_hot" else _WORDS
    inp = corenn.Input(words.shape[1:], dtype="string")
    model = corenn.Model(inp, L.StringLookup(**kwargs)(inp))
    sess = _string_session(model, tmp_path / "m.onnx")
    for rows in (words[:1], words):
        got = sess.run(None, {sess.get_inputs()[0].name: rows})[0]
        ref = np.asarray(model.predict(rows, verbose=0))
        assert got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)


def test_string_lookup_invert(tmp_path):
    inp = corenn.Input((3,), dtype="int64")
    layer = L.StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
    model = corenn.Model(inp, layer(inp))
    sess = _string_session(model, tmp_path / "m.onnx")
    ids = np.array([[0, 1, 2], [3, 4, 1]], np.int64)
    got = sess.run(None, {sess.get_inputs()[0].name: ids})[0]
    np.testing.assert_array_equal(got.astype(str), np.asarray(layer(ids)).astype(str))


def test_string_lookup_with_hashed_oov_buckets_is_refused_by_name(tmp_path):
    inp = corenn.Input((2,), dtype="string")
    model = corenn.Model(inp, L.StringLookup(vocabulary=["a"], num_oov_indices=2, name="words")(inp))
    with pytest.raises(NotImplementedError, match=r"'words' \(StringLookup\).*FarmHash"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_lookup_then_embedding_and_discretized_embedding(tmp_path):
    """Indices made in the graph feed an Embedding: IntegerLookup's int64 ids, and
    Discretization's buckets beside them."""
    ids, x = corenn.Input((3,), dtype="int64"), corenn.Input((3,))
    a = L.Embedding(6, 4)(L.IntegerLookup(vocabulary=[12, 36, 1138, 42], mask_token=0)(ids))
    b = L.Embedding(4, 4)(L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5])(x))
    model = corenn.Model([ids, x], L.Dense(2)(L.Flatten()(L.Concatenate()([a, b]))))
    export_and_compare(model, lambda n: [_tokens(n), _floats(n)[:, :3]], tmp_path / "m.onnx", batches=(1, 8))


@pytest.mark.parametrize("opset", [13, 18])
def test_new_converters_at_other_opsets(opset, tmp_path):
    """Reduce* axes as attributes (13) or inputs (18): Discretization's sum, multi_hot's max, a
    masked attention and a ConvLSTM give the same results as at the default opset."""
    ids, x, v = corenn.Input((9,), dtype="int32"), corenn.Input((4,)), corenn.Input((3, 5, 5, 2))
    e = L.Embedding(20, 4, mask_zero=True)(ids)
    outs = [L.Discretization(bin_boundaries=[-1.0, 0.0, 1.0], output_mode="multi_hot")(x),
            L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 2)(e, e)),
            L.Flatten()(L.ConvLSTM2D(2, 3)(v))]
    model = corenn.Model([ids, x, v], L.Concatenate()(outs))
    path = tmp_path / "o.onnx"
    corenn.onnx.export(model, str(path), opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(opset)
    xs = [rng.integers(0, 20, (5, 9)).astype(np.int32), _floats(5),
          rng.normal(size=(5, 3, 5, 5, 2)).astype(np.float32)]
    xs[0][0, 4:] = 0
    ref = model.predict(xs, verbose=0)
    got = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), xs)})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("make,what", [
    (lambda: L.Discretization(num_bins=3, name="late"), "no bin_boundaries yet"),
    (lambda: L.IntegerLookup(name="late"), "no vocabulary yet"),
    (lambda: L.Hashing(num_bins=4, name="late"), "no ONNX converter"),
], ids=["discretization_not_adapted", "lookup_without_vocabulary", "hashing"])
def test_unexportable_preprocessing_is_refused_by_name(make, what, tmp_path):
    inp = corenn.Input((3,), dtype="int64")
    model = corenn.Model(inp, make()(inp))
    with pytest.raises(NotImplementedError, match=rf"'late' \(\w+\).*{what}"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unknown_token_without_oov_index_is_minus_one(tmp_path):
    """corenn raises on a token outside the vocabulary with num_oov_indices=0; a graph cannot
    raise, so the exported lookup gives -1 there (and the known tokens their indices)."""
    inp = corenn.Input((3,), dtype="int64")
    model = corenn.Model(inp, L.IntegerLookup(vocabulary=[5, 6], num_oov_indices=0)(inp))
    model.export(str(tmp_path / "m.onnx"), format="onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: np.array([[5, 6, 7]], np.int64)})[0]
    np.testing.assert_array_equal(got, [[0, 1, -1]])
    np.testing.assert_array_equal(model.predict(np.array([[5, 6, 5]], np.int64), verbose=0), [[0, 1, 0]])


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float64"])
def test_inputs_of_storage_dtypes_are_declared_in_their_dtype(dtype, tmp_path):
    # a uint8 image model: ONNX Runtime is fed the uint8 pixels themselves, as predict is
    inp = corenn.Input((4, 4, 1), dtype=dtype)
    x = L.Flatten()(L.Rescaling(1 / 255.0)(inp))
    model = corenn.Model(inp, L.Dense(3)(x))

    def make(n, _rng=np.random.default_rng(5)):
        return _rng.integers(0, 256, (n, 4, 4, 1)).astype(dtype)
    proto = export_and_compare(model, make, tmp_path / "m.onnx")
    declared = proto.graph.input[0].type.tensor_type.elem_type
    assert onnx.helper.tensor_dtype_to_np_dtype(declared) == np.dtype(dtype)


def test_uint8_ids_into_an_embedding(tmp_path):
    inp = corenn.Input((3,), dtype="uint8")
    model = corenn.Model(inp, L.Embedding(256, 2)(inp))
    export_and_compare(model, lambda n: np.random.default_rng(n).integers(0, 256, (n, 3)).astype(np.uint8),
                       tmp_path / "e.onnx")
