"""ONNX export: every exportable layer, the example models and a residual model reproduce
``model.predict`` under ONNX Runtime's CPU provider, at batch 1 and 64 (one file, dynamic batch).

Tolerance: |onnx - predict| <= 1e-5 * |predict| + ATOL, ATOL = 1e-5 * max(1, max |predict|):
the relative bound of the issue plus a small absolute term for values near zero (two float32
implementations sum in different orders; a cancelling sum near 0 has no relative accuracy).
"""
import os
import stat

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import corenn  # noqa: E402
from corenn import layers as L  # noqa: E402

RTOL = 1e-5


def _apps_layers():
    """keras.applications' own layers: EfficientNet's SampleDropout, ConvNeXt's LayerScale."""
    from corenn.applications._builder import SampleDropout
    from corenn.applications.convnext import LayerScale
    return SampleDropout, LayerScale


def randomize(model, rng):
    """Random weights everywhere (BatchNormalization: a positive variance), so a converter that
    drops or misorders a weight shows."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in ws]
        if type(layer).__name__ == "BatchNormalization":   # moving_variance comes last
            new[-1] = rng.uniform(0.5, 2.0, ws[-1].shape).astype(np.float32)
        layer.set_weights(new)


def export_and_compare(model, make_x, path, batches=(1, 64)):
    model.export(str(path), format="onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    for n in batches:
        xs = make_x(n)
        xs = xs if isinstance(xs, list) else [xs]
        got = sess.run(None, dict(zip(names, xs)))
        ref = model.predict(xs if len(xs) > 1 else xs[0], verbose=0, batch_size=n)
        ref = ref if isinstance(ref, list) else [ref]
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            r = np.asarray(r)
            assert g.shape == r.shape, (g.shape, r.shape)
            atol = 1e-5 * max(1.0, float(np.abs(r).max()))
            np.testing.assert_allclose(g, r, rtol=RTOL, atol=atol)
    return proto


def floats(*shape):
    def make(n, _rng=np.random.default_rng(7)):
        return _rng.normal(0, 1, (n,) + shape).astype(np.float32)
    return make


def seq(*layers_, shape):
    return corenn.Sequential([L.Input(shape=shape)] + list(layers_))


# name -> (model builder, input maker). One small model per exported layer class / option.
CASES = {
    "dense": (lambda: seq(L.Dense(7, activation="tanh"), L.Dense(3), shape=(5,)), floats(5)),
    "dense_rank3": (lambda: seq(L.Dense(4, activation="relu"), shape=(3, 5)), floats(3, 5)),
    "conv2d_valid_stride": (lambda: seq(L.Conv2D(4, 3, strides=2, activation="relu"), shape=(9, 9, 3)),
                            floats(9, 9, 3)),
    "conv2d_same_dilated": (lambda: seq(L.Conv2D(3, (3, 2), padding="same", dilation_rate=2), shape=(8, 7, 2)),
                            floats(8, 7, 2)),
    "conv1d_same": (lambda: seq(L.Conv1D(4, 3, padding="same", activation="elu"), shape=(10, 3)), floats(10, 3)),
    "conv1d_causal": (lambda: seq(L.Conv1D(4, 3, dilation_rate=2, padding="causal"),
                                  L.Conv1D(2, 2, strides=2, padding="causal"), shape=(11, 3)), floats(11, 3)),
    "depthwise": (lambda: seq(L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), shape=(6, 6, 3)),
                  floats(6, 6, 3)),
    "separable": (lambda: seq(L.SeparableConv2D(4, 3, activation="relu"), shape=(6, 6, 3)), floats(6, 6, 3)),
    "conv_transpose_valid": (lambda: seq(L.Conv2DTranspose(3, 3, strides=2), shape=(4, 5, 2)), floats(4, 5, 2)),
    "conv_transpose_same": (lambda: seq(L.Conv2DTranspose(3, (3, 4), strides=2, padding="same", activation="relu"),
                                        shape=(4, 5, 2)), floats(4, 5, 2)),
    "conv_transpose_short_kernel": (lambda: seq(L.Conv2DTranspose(2, 1, strides=3), shape=(3, 3, 2)),
                                    floats(3, 3, 2)),
    "conv_transpose_output_padding": (lambda: seq(L.Conv2DTranspose(2, 3, strides=2, padding="same",
                                                                    output_padding=1), shape=(4, 4, 2)),
                                      floats(4, 4, 2)),
    "conv_transpose_dilated": (lambda: seq(L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same"),
                                           shape=(5, 5, 2)), floats(5, 5, 2)),
    "maxpool2d_same": (lambda: seq(L.MaxPooling2D(3, strides=2, padding="same"), shape=(7, 8, 2)),
                       floats(7, 8, 2)),
    "avgpool2d_same": (lambda: seq(L.AveragePooling2D(2, padding="same"), shape=(5, 5, 2)), floats(5, 5, 2)),
    "maxpool1d": (lambda: seq(L.MaxPooling1D(2), shape=(9, 3)), floats(9, 3)),
    "avgpool1d_same": (lambda: seq(L.AveragePooling1D(3, strides=2, padding="same"), shape=(8, 3)),
                       floats(8, 3)),
    "global_avg2d": (lambda: seq(L.Conv2D(3, 2), L.GlobalAveragePooling2D(), shape=(5, 5, 2)), floats(5, 5, 2)),
    "global_max2d_keepdims": (lambda: seq(L.Conv2D(3, 2), L.GlobalMaxPooling2D(keepdims=True), shape=(5, 5, 2)),
                              floats(5, 5, 2)),
    "global_avg1d": (lambda: seq(L.GlobalAveragePooling1D(), shape=(6, 3)), floats(6, 3)),
    "global_max1d": (lambda: seq(L.Conv1D(4, 2), L.GlobalMaxPooling1D(), shape=(6, 3)), floats(6, 3)),
    "batchnorm_folded_conv": (lambda: seq(L.Conv2D(4, 3), L.BatchNormalization(), L.ReLU(), shape=(6, 6, 2)),
                              floats(6, 6, 2)),
    "batchnorm_folded_dense": (lambda: seq(L.Dense(6), L.BatchNormalization(), shape=(4,)), floats(4)),
    "batchnorm_standalone": (lambda: seq(L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                                         shape=(6, 6, 2)), floats(6, 6, 2)),
    "batchnorm_no_scale_center": (lambda: seq(L.BatchNormalization(scale=False, center=False), shape=(3, 4)),
                                  floats(3, 4)),
    "dropout": (lambda: seq(L.Dense(4), L.Dropout(0.5), L.Identity(), shape=(3,)), floats(3)),
    "spatial_dropout2d": (lambda: seq(L.SpatialDropout2D(0.5), L.Conv2D(2, 1), shape=(4, 4, 2)), floats(4, 4, 2)),
    "spatial_dropout1d": (lambda: seq(L.Conv1D(2, 1), L.SpatialDropout1D(0.5), shape=(4, 2)), floats(4, 2)),
    "flatten_cnn_dense": (lambda: seq(L.Conv2D(3, 2), L.Flatten(), L.Dense(5), shape=(4, 5, 2)), floats(4, 5, 2)),
    "flatten_cnn_output": (lambda: seq(L.Conv2D(3, 2), L.Flatten(), L.ReLU(), shape=(4, 5, 2)), floats(4, 5, 2)),
    "reshape": (lambda: seq(L.Dense(12), L.Reshape((3, 4)), L.Conv1D(2, 2), shape=(5,)), floats(5)),
    "permute": (lambda: seq(L.Conv2D(3, 2), L.Permute((2, 1, 3)), L.Flatten(), L.Dense(2), shape=(4, 5, 2)),
                floats(4, 5, 2)),
    "zero_padding2d": (lambda: seq(L.ZeroPadding2D(((1, 2), (0, 1))), L.Conv2D(2, 2), shape=(4, 4, 2)),
                       floats(4, 4, 2)),
    "zero_padding1d": (lambda: seq(L.ZeroPadding1D((2, 1)), shape=(4, 3)), floats(4, 3)),
    "cropping": (lambda: seq(L.Cropping2D(((1, 0), (1, 2))), shape=(5, 6, 2)), floats(5, 6, 2)),
    "cropping1d": (lambda: seq(L.Cropping1D((1, 2)), shape=(6, 2)), floats(6, 2)),
    "upsampling2d": (lambda: seq(L.Conv2D(2, 1), L.UpSampling2D((2, 3)), shape=(3, 4, 2)), floats(3, 4, 2)),
    "upsampling2d_bilinear": (lambda: seq(L.UpSampling2D(2, interpolation="bilinear"), shape=(3, 4, 2)),
                              floats(3, 4, 2)),
    "upsampling1d": (lambda: seq(L.UpSampling1D(3), shape=(4, 2)), floats(4, 2)),
    "repeat_vector": (lambda: seq(L.Dense(3), L.RepeatVector(4), shape=(5,)), floats(5)),
    "layer_norm": (lambda: seq(L.Dense(6), L.LayerNormalization(), shape=(3, 4)), floats(3, 4)),
    "layer_norm_middle_axis": (lambda: seq(L.Conv1D(3, 2), L.LayerNormalization(axis=1), shape=(5, 2)),
                               floats(5, 2)),
    "layer_norm_axes_1_3": (lambda: seq(L.Conv2D(3, 2), L.LayerNormalization(axis=[1, 3]), shape=(4, 4, 2)),
                            floats(4, 4, 2)),
    "rms_norm": (lambda: seq(L.Dense(6), L.LayerNormalization(rms_scaling=True), shape=(3, 4)), floats(3, 4)),
    "rms_normalization": (lambda: seq(L.Dense(6), L.RMSNormalization(axis=[-2, -1]), shape=(3, 4)), floats(3, 4)),
    "unit_norm": (lambda: seq(L.Conv2D(3, 2), L.UnitNormalization(axis=[1, 2]), shape=(4, 4, 2)), floats(4, 4, 2)),
    "unit_norm_last": (lambda: seq(L.Dense(6), L.UnitNormalization(), shape=(5,)), floats(5)),
    "resizing_bilinear_down": (lambda: seq(L.Conv2D(2, 1), L.Resizing(4, 5), shape=(7, 9, 3)), floats(7, 9, 3)),
    "resizing_bilinear_up": (lambda: seq(L.Resizing(14, 11), shape=(7, 9, 3)), floats(7, 9, 3)),
    "resizing_nearest": (lambda: seq(L.Resizing(3, 20, interpolation="nearest"), L.Conv2D(2, 1), shape=(7, 9, 3)),
                         floats(7, 9, 3)),
    "spectral_norm": (lambda: seq(L.SpectralNormalization(L.Dense(4)), L.SpectralNormalization(L.Dense(2)),
                                  shape=(5,)), floats(5)),
    "applications_layers": (lambda: seq(L.Conv2D(4, 3), _apps_layers()[0](0.2), _apps_layers()[1](1e-1, 4),
                                        shape=(6, 6, 2)), floats(6, 6, 2)),
    "noise_layers": (lambda: seq(L.GaussianNoise(0.3), L.Dense(4), L.GaussianDropout(0.2), L.AlphaDropout(0.1),
                                 shape=(5,)), floats(5)),
    "layer_norm_2axes": (lambda: seq(L.Conv2D(3, 2), L.LayerNormalization(axis=[-2, -1]), shape=(4, 4, 2)),
                         floats(4, 4, 2)),
    "rescaling": (lambda: seq(L.Rescaling(1 / 255.0, offset=-0.5), shape=(3, 3, 2)), floats(3, 3, 2)),
    "normalization": (lambda: seq(L.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.25]), shape=(3, 2)),
                      floats(3, 2)),
    "time_distributed_dense": (lambda: seq(L.TimeDistributed(L.Dense(3, activation="sigmoid")), shape=(4, 5)),
                               floats(4, 5)),
    "relu_layer": (lambda: seq(L.Dense(4), L.ReLU(), shape=(3,)), floats(3)),
    "relu_layer_slope": (lambda: seq(L.Dense(4), L.ReLU(negative_slope=0.1), shape=(3,)), floats(3)),
    "leaky_relu_layer": (lambda: seq(L.LeakyReLU(negative_slope=0.3), shape=(3,)), floats(3)),
    "elu_layer": (lambda: seq(L.ELU(alpha=0.7), shape=(3,)), floats(3)),
    "softmax_layer": (lambda: seq(L.Dense(5), L.Softmax(), shape=(3,)), floats(3)),
    "softmax_on_conv": (lambda: seq(L.Conv2D(4, 2, activation="softmax"), shape=(3, 3, 2)), floats(3, 3, 2)),
    "prelu": (lambda: seq(L.Conv2D(3, 2), L.PReLU(shared_axes=[1, 2]), shape=(4, 4, 2)), floats(4, 4, 2)),
    "prelu_full": (lambda: seq(L.Conv2D(3, 2), L.PReLU(), shape=(3, 3, 2)), floats(3, 3, 2)),
    "prelu_after_flatten": (lambda: seq(L.Conv2D(3, 2), L.Flatten(), L.PReLU(), shape=(3, 3, 2)),
                            floats(3, 3, 2)),
    "simple_rnn_seq": (lambda: seq(L.SimpleRNN(5, return_sequences=True), shape=(6, 3)), floats(6, 3)),
    "simple_rnn_relu_backwards": (lambda: seq(L.SimpleRNN(4, activation="relu", go_backwards=True), shape=(6, 3)),
                                  floats(6, 3)),
    "lstm_last": (lambda: seq(L.LSTM(5), shape=(6, 3)), floats(6, 3)),
    "lstm_backwards_seq": (lambda: seq(L.LSTM(4, go_backwards=True, return_sequences=True), shape=(5, 3)),
                           floats(5, 3)),
    "gru_reset_after": (lambda: seq(L.GRU(5, return_sequences=True), L.GRU(3), shape=(6, 3)), floats(6, 3)),
    "gru_reset_before": (lambda: seq(L.GRU(4, reset_after=False, return_sequences=True), shape=(6, 3)),
                         floats(6, 3)),
    "gru_backwards": (lambda: seq(L.GRU(4, go_backwards=True), shape=(6, 3)), floats(6, 3)),
    "bidirectional_concat_seq": (lambda: seq(L.Bidirectional(L.LSTM(4, return_sequences=True)), shape=(5, 3)),
                                 floats(5, 3)),
    "bidirectional_sum_last": (lambda: seq(L.Bidirectional(L.GRU(4), merge_mode="sum"), shape=(5, 3)),
                               floats(5, 3)),
    "bidirectional_ave_seq": (lambda: seq(L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="ave"),
                                          shape=(5, 3)), floats(5, 3)),
    "bidirectional_mul_last": (lambda: seq(L.Bidirectional(L.LSTM(3), merge_mode="mul"), shape=(5, 3)),
                               floats(5, 3)),
    "rnn_then_conv1d": (lambda: seq(L.LSTM(4, return_sequences=True), L.Conv1D(3, 2), L.Flatten(), shape=(5, 3)),
                        floats(5, 3)),
}

ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "gelu", "swish",
               "softplus", "softmax", "log_softmax"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_parity(case, tmp_path):
    build, make_x = CASES[case]
    model = build()
    randomize(model, np.random.default_rng(abs(hash(case)) % 2**32))
    export_and_compare(model, make_x, tmp_path / f"{case}.onnx")


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_parity(act, tmp_path):
    model = seq(L.Dense(6, activation=act), L.Activation(act), shape=(4,))
    randomize(model, np.random.default_rng(3))
    export_and_compare(model, floats(4), tmp_path / "act.onnx")


def test_embedding_gather(tmp_path):
    inp = L.Input(shape=(6,), dtype="int32")
    x = L.Embedding(11, 4)(inp)
    out = L.GlobalAveragePooling1D()(L.Conv1D(3, 2)(x))
    model = corenn.Model(inp, out)
    randomize(model, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    proto = export_and_compare(model, lambda n: rng.integers(0, 11, (n, 6)).astype(np.int32), tmp_path / "e.onnx")
    assert any(n.op_type == "Gather" for n in proto.graph.node)


def merge_model(kind):
    a, b = L.Input(shape=(4, 3)), L.Input(shape=(4, 3))
    ca, cb = L.Conv1D(3, 1)(a), L.Conv1D(3, 1)(b)   # channels-first inside the ONNX graph
    if kind == "Concatenate":
        y = L.Concatenate(axis=-1)([ca, cb])
    elif kind == "Concatenate1":
        y = L.Concatenate(axis=1)([ca, b])
    elif kind == "Dot":
        y = L.Dot(axes=(2, 2))([ca, cb])
    elif kind == "DotNorm":
        y = L.Dot(axes=1, normalize=True)([L.Flatten()(ca), L.Flatten()(b)])
    else:
        y = getattr(L, kind)()([ca, cb] + ([a] if kind in ("Add", "Average", "Maximum", "Minimum", "Multiply") else []))
    return corenn.Model([a, b], y)


@pytest.mark.parametrize("kind", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                                  "Concatenate", "Concatenate1", "Dot", "DotNorm"])
def test_merge_parity(kind, tmp_path):
    model = merge_model(kind)
    randomize(model, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    export_and_compare(model, lambda n: [rng.normal(0, 1, (n, 4, 3)).astype(np.float32) for _ in range(2)],
                       tmp_path / "m.onnx")


def test_merge_broadcast_ranks(tmp_path):
    a, b = L.Input(shape=(4, 3)), L.Input(shape=(3,))
    model = corenn.Model([a, b], L.Add()([a, b]))
    rng = np.random.default_rng(2)
    export_and_compare(model, lambda n: [rng.normal(size=(n, 4, 3)).astype(np.float32),
                                         rng.normal(size=(n, 3)).astype(np.float32)], tmp_path / "b.onnx")


# -- the example models, a residual model, a subclassed one ------------------------------------

def mlp():
    return seq(L.Flatten(), L.Dense(512, activation="relu"), L.Dense(256, activation="relu"), L.Dense(10),
               shape=(28, 28))


def cnn():
    return seq(L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
               L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"), L.Flatten(),
               L.Dense(64, activation="relu"), L.Dense(10), shape=(28, 28, 1))


def stacked_lstm():
    return seq(L.LSTM(64, return_sequences=True), L.LSTM(64), L.Dense(10), shape=(28, 28))


def residual():
    inp = L.Input(shape=(12, 12, 3))
    x = L.Conv2D(8, 3, padding="same")(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 3, padding="same")(y)
    y = L.BatchNormalization()(y)
    x = L.ReLU()(L.Add()([x, y]))
    x = L.MaxPooling2D(2)(x)
    x = L.GlobalAveragePooling2D()(x)
    return corenn.Model(inp, L.Dense(5, activation="softmax")(x))


@pytest.mark.parametrize("name,build,shape", [("mlp", mlp, (28, 28)), ("cnn", cnn, (28, 28, 1)),
                                              ("stacked_lstm", stacked_lstm, (28, 28)),
                                              ("residual", residual, (12, 12, 3))])
def test_example_models(name, build, shape, tmp_path):
    model = build()
    # glorot weights, realistic BN statistics: the models as trained, not blown up
    rng = np.random.default_rng(11)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            g, b_, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape).astype(np.float32),
                               rng.normal(0, 0.1, b_.shape).astype(np.float32),
                               rng.normal(0, 0.1, m.shape).astype(np.float32),
                               rng.uniform(0.5, 2, v.shape).astype(np.float32)])
    proto = export_and_compare(model, floats(*shape), tmp_path / f"{name}.onnx")
    ops = [n.op_type for n in proto.graph.node]
    if name == "cnn":   # one Transpose at the input edge, none around the convolutions; Flatten
        assert ops.count("Transpose") == 1          # handled by permuting the Dense's rows
    if name == "stacked_lstm":   # one transpose into time-major; the second LSTM reads the first's Y
        assert ops.count("Transpose") == 1 and ops.count("LSTM") == 2
    if name == "residual":   # both BatchNormalizations folded into their convolutions
        assert "BatchNormalization" not in ops and "Mul" not in ops


def test_subclassed_model(tmp_path):
    class Net(corenn.Model):
        def __init__(self):
            super().__init__()
            self.conv = L.Conv2D(4, 3, activation="relu")
            self.pool = L.GlobalAveragePooling2D()
            self.out = L.Dense(3)

        def call(self, x):
            return self.out(self.pool(self.conv(x)))

    model = Net()
    model(np.zeros((2, 6, 6, 2), np.float32))
    export_and_compare(model, floats(6, 6, 2), tmp_path / "sub.onnx")


def test_corenn_onnx_export_fixed_batch_and_opset(tmp_path):
    model = mlp()
    path = tmp_path / "fixed.onnx"
    assert corenn.onnx.export(model, str(path), opset=13, dynamic_batch=False) == str(path)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 13
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 1 and not dim.dim_param
    export_and_compare(model, floats(28, 28), path, batches=(1,))


@pytest.mark.parametrize("opset", [13, 18, 20])
def test_opset_dependent_spellings(opset, tmp_path):
    """Opset 13 (LayerNormalization decomposed, Reduce* axes as attributes), 18 (axes as
    inputs) and 20 (the Gelu op) give the same results."""
    model = seq(L.Conv2D(4, 2), L.LayerNormalization(axis=[-2, -1]), L.GlobalMaxPooling2D(),
                L.Dense(6), L.LayerNormalization(), L.Dense(3, activation="gelu"), shape=(5, 5, 2))
    randomize(model, np.random.default_rng(opset))
    path = tmp_path / "o.onnx"
    corenn.onnx.export(model, str(path), opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ("LayerNormalization" in ops) == (opset >= 17)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = floats(5, 5, 2)(16)
    ref = model.predict(x, verbose=0)
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0], ref, rtol=RTOL,
                               atol=1e-5 * max(1.0, float(np.abs(ref).max())))


# -- errors: nothing written ------------------------------------------------------------------

def test_unsupported_layer_names_it_and_writes_nothing(tmp_path):
    inp = L.Input(shape=(4, 8))
    out = L.Hashing(num_bins=3, name="bins")(inp)   # FarmHash64: no ONNX op computes it
    model = corenn.Model(inp, out)
    path = tmp_path / "bad.onnx"
    with pytest.raises(NotImplementedError, match=r"'bins' \(Hashing\)"):
        corenn.onnx.export(model, str(path))
    assert os.listdir(tmp_path) == []


def test_failed_export_keeps_existing_file(tmp_path):
    path = tmp_path / "keep.onnx"
    path.write_bytes(b"old")
    ids = corenn.Input((4,), dtype="int32")
    e = L.Embedding(5, 4, mask_zero=True)(ids)
    model = corenn.Model(ids, L.Softmax()(e))   # Softmax's reading of a mask is not exported
    with pytest.raises(NotImplementedError, match="mask"):
        model.export(str(path), format="onnx")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["keep.onnx"]


def test_bad_format_and_opset(tmp_path):
    model = mlp()
    for fmt in ("tf_saved_model", "openvino", "litert", "torch"):   # Keras' formats corenn lacks
        with pytest.raises(NotImplementedError, match="format='onnx'"):
            model.export(str(tmp_path / "m"), format=fmt)
    with pytest.raises(ValueError, match="unrecognized format='tflite'"):
        model.export(str(tmp_path / "m"), format="tflite")
    # Keras' default format is a SavedModel: a plain path is refused, not written as ONNX
    with pytest.raises(NotImplementedError, match="tf_saved_model"):
        model.export(str(tmp_path / "exported_model"))
    with pytest.raises(ValueError, match="opset"):
        corenn.onnx.export(model, str(tmp_path / "m.onnx"), opset=7)
    assert os.listdir(tmp_path) == []
    model.export(str(tmp_path / "m.onnx"))   # no format, an .onnx path: ONNX
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_file_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = tmp_path / "u.onnx"
        corenn.onnx.export(seq(L.Dense(2), shape=(3,)), str(path))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_nested_shared_multi_output(tmp_path):
    """A model inside a model, a layer called twice (siamese), two outputs, an LSTM's states."""
    tower_in = L.Input(shape=(6, 3))
    tower = corenn.Model(tower_in, L.Conv1D(4, 2, activation="relu")(tower_in))
    a, b = L.Input(shape=(6, 3)), L.Input(shape=(6, 3))
    shared = L.Dense(5)
    ta, tb = tower(a), tower(b)
    seq_out, h, c = L.LSTM(3, return_sequences=True, return_state=True)(L.Concatenate()([ta, tb]))
    out1 = shared(h)
    out2 = L.Add()([shared(c), L.Dense(5)(L.Flatten()(seq_out))])
    model = corenn.Model([a, b], [out1, out2])
    randomize(model, np.random.default_rng(9))
    rng = np.random.default_rng(10)
    export_and_compare(model, lambda n: [rng.normal(size=(n, 6, 3)).astype(np.float32) for _ in range(2)],
                       tmp_path / "n.onnx")


# -- recurrent: initial_state inputs, return_state, RNN(cell), stateful refused ------------------

@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_rnn_initial_state_inputs_and_return_state(kind, tmp_path):
    rng = np.random.default_rng(3)
    n_states = 2 if kind == "LSTM" else 1
    x = corenn.Input((5, 3))
    states = [corenn.Input((4,)) for _ in range(n_states)]
    outs = getattr(L, kind)(4, return_sequences=True, return_state=True, go_backwards=True)(x, initial_state=states)
    bi = L.Bidirectional(getattr(L, kind)(4, return_state=True), merge_mode="sum")(
        outs[0], initial_state=states + states)
    model = corenn.Model([x] + states, outs + bi)
    randomize(model, rng)

    def make(n, _rng=np.random.default_rng(5)):
        return [_rng.normal(0, 1, (n, 5, 3)).astype(np.float32)] + \
               [_rng.normal(0, 1, (n, 4)).astype(np.float32) for _ in range(n_states)]
    export_and_compare(model, make, tmp_path / "rnn_states.onnx")


def test_rnn_of_a_cell_exports_and_stateful_is_refused(tmp_path):
    rng = np.random.default_rng(4)
    model = corenn.Sequential([corenn.Input((6, 3)), L.RNN(L.LSTMCell(5), return_sequences=True),
                               L.RNN(L.GRUCell(2, reset_after=False))])
    randomize(model, rng)
    export_and_compare(model, floats(6, 3), tmp_path / "cells.onnx")
    stateful = corenn.Sequential([corenn.Input(batch_shape=(2, 6, 3)), L.LSTM(3, stateful=True, name="st")])
    path = tmp_path / "stateful.onnx"
    with pytest.raises(NotImplementedError, match=r"'st' \(LSTM\): stateful=True"):
        stateful.export(str(path), format="onnx")
    assert not path.exists()


def _attention_model(kind):
    q, v = corenn.Input((6, 8)), corenn.Input((5, 8))
    if kind == "cross":
        return corenn.Model([q, v], L.MultiHeadAttention(2, 4)(q, v)), [floats(6, 8), floats(5, 8)]
    if kind == "causal_self":
        return corenn.Model(q, L.MultiHeadAttention(2, 3, value_dim=5, output_shape=7)(q, q, use_causal_mask=True)), \
            [floats(6, 8)]
    if kind == "mask_key_scores":
        m = corenn.Input((6, 5))
        out = L.MultiHeadAttention(2, 4, use_bias=False)(q, v, key=v, attention_mask=m, return_attention_scores=True)

        def mask(n, _rng=np.random.default_rng(5)):
            a = (_rng.random((n, 6, 5)) > 0.4).astype(np.float32)
            a[0, 1] = 0.0   # a fully masked query row: uniform attention, as corenn's kernel
            return a
        return corenn.Model([q, v, m], out), [floats(6, 8), floats(5, 8), mask]
    if kind == "mask_per_head":   # a (batch, heads, query, value) mask: each head its own
        m = corenn.Input((2, 6, 5))
        out = L.MultiHeadAttention(2, 4)(q, v, attention_mask=m)

        def mask(n, _rng=np.random.default_rng(6)):
            a = (_rng.random((n, 2, 6, 5)) > 0.4).astype(np.float32)
            a[0, 1, 2] = 0.0   # one head's query row fully masked: uniform, as corenn's kernel
            return a
        return corenn.Model([q, v, m], out), [floats(6, 8), floats(5, 8), mask]
    if kind == "grouped":
        return corenn.Model([q, v], L.GroupQueryAttention(head_dim=4, num_query_heads=4,
                                                          num_key_value_heads=2)(q, v)), [floats(6, 8), floats(5, 8)]
    # a Transformer encoder block: attention, residual, LayerNormalization, feed-forward
    h = L.LayerNormalization()(L.Add()([q, L.MultiHeadAttention(2, 4, dropout=0.1)(q, q)]))
    out = L.LayerNormalization()(L.Add()([h, L.Dense(8)(L.Dense(16, activation="relu")(h))]))
    return corenn.Model(q, L.Dense(3)(L.GlobalAveragePooling1D()(out))), [floats(6, 8)]


@pytest.mark.parametrize("kind", ["cross", "causal_self", "mask_key_scores", "mask_per_head", "grouped",
                                  "encoder_block"])
def test_attention_exports(kind, tmp_path):
    """MultiHeadAttention / GroupQueryAttention decomposed into MatMul / Softmax (masked scores
    set to -1e9), a Transformer block with them, against predict at batch 1 and 64."""
    model, makers = _attention_model(kind)
    randomize(model, np.random.default_rng(11))
    export_and_compare(model, lambda n: [make(n) for make in makers], tmp_path / "m.onnx")


def test_attention_over_other_axes_is_refused_by_name(tmp_path):
    x = corenn.Input((4, 5, 6))
    model = corenn.Model(x, L.MultiHeadAttention(2, 3, attention_axes=(1, 2), name="axial")(x, x))
    with pytest.raises(NotImplementedError, match=r"'axial'.*other axes"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_float64_layer_is_refused_by_name(tmp_path):
    """The exporter writes float32 graphs: a float64 model would silently lose its precision."""
    x = corenn.Input((3,), dtype="float64")
    model = corenn.Model(x, L.Dense(2, dtype="float64", name="wide")(x))
    with pytest.raises(NotImplementedError, match=r"'wide'.*float64"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_resizing_with_an_aspect_ratio_window_is_refused_by_name(tmp_path):
    model = seq(L.Resizing(4, 4, crop_to_aspect_ratio=True, name="crop"), shape=(6, 8, 3))
    with pytest.raises(NotImplementedError, match=r"'crop'.*crop_to_aspect_ratio"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_resizing_bicubic_is_refused_by_name(tmp_path):
    # ONNX Resize's cubic mode resamples at the borders otherwise than keras.ops.image.resize
    model = seq(L.Resizing(4, 4, interpolation="bicubic", name="cubic"), shape=(6, 8, 3))
    with pytest.raises(NotImplementedError, match=r"'cubic'.*'bicubic'"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()



def _token_ids(n, _rng=np.random.default_rng(9)):
    """Token ids with every padding pattern: pre, post, holes, none real, none padded."""
    ids = _rng.integers(1, 20, size=(n, 9)).astype(np.int32)
    ids[0, :4] = 0
    if n > 1:
        ids[1, 6:] = 0
    if n > 2:
        ids[2, [1, 4, 5]] = 0
    if n > 3:
        ids[3, :] = 0
    return ids


_MASKED = {
    "lstm": lambda x: L.LSTM(4)(x),
    "gru_sequences": lambda x: L.GRU(4, return_sequences=True)(x),
    "simple_rnn_backwards": lambda x: L.SimpleRNN(4, return_sequences=True, go_backwards=True)(x),
    "bidirectional_sequences": lambda x: L.Bidirectional(L.LSTM(3, return_sequences=True))(x),
    "bidirectional_sum": lambda x: L.Bidirectional(L.GRU(3), merge_mode="sum")(x),
    "stacked_then_pool": lambda x: L.GlobalAveragePooling1D()(L.LSTM(4, return_sequences=True)(x)),
    "average": lambda x: L.GlobalAveragePooling1D()(x),
    "lstm_state": lambda x: L.LSTM(4, return_state=True)(x),
}


@pytest.mark.parametrize("kind", sorted(_MASKED))
def test_masked_sequences_export(kind, tmp_path):
    """Embedding(mask_zero=True) into recurrent layers and GlobalAveragePooling1D: the real steps
    packed to the front and run with sequence_lens, outputs put back at the original steps
    (Keras' masked semantics, which corenn follows), for pre-, post- and inner padding and a
    sample with no real step."""
    ids = corenn.Input((9,), dtype="int32")
    model = corenn.Model(ids, _MASKED[kind](L.Embedding(20, 5, mask_zero=True)(ids)))
    randomize(model, np.random.default_rng(12))
    export_and_compare(model, _token_ids, tmp_path / "m.onnx", batches=(1, 6))


def test_masking_layer_exports(tmp_path):
    model = seq(L.Masking(0.0), L.LSTM(4, return_sequences=True), shape=(7, 3))
    randomize(model, np.random.default_rng(13))

    def make(n, _rng=np.random.default_rng(14)):
        x = _rng.normal(size=(n, 7, 3)).astype(np.float32)
        x[0, :3] = 0.0
        x[-1, 5] = 0.0
        return x
    export_and_compare(model, make, tmp_path / "m.onnx", batches=(1, 5))


@pytest.mark.parametrize("shape", [(6,), (3, 4)])
def test_activation_glu_exports(shape, tmp_path):
    """Activation('glu') halves the last axis: two Slices, Sigmoid, Mul."""
    model = seq(L.Dense(shape[-1]), L.Activation("glu"), L.Dense(2), shape=shape)
    randomize(model, np.random.default_rng(17))
    export_and_compare(model, floats(*shape), tmp_path / "m.onnx", batches=(1, 5))


def test_masking_of_rank_2_inputs_exports(tmp_path):
    """Masking of (N, F) (Keras 3 takes it: one flag per sample) zeroes whole samples."""
    model = seq(L.Masking(0.5), L.Dense(4), shape=(3,))
    randomize(model, np.random.default_rng(15))

    def make(n, _rng=np.random.default_rng(16)):
        x = _rng.normal(size=(n, 3)).astype(np.float32)
        x[0] = 0.5
        x[-1, 1] = 0.5   # one feature at mask_value: the sample stays
        return x
    export_and_compare(model, make, tmp_path / "m.onnx", batches=(1, 5))



_DOT_ATTENTION = {
    "dot": lambda q, v, k: L.Attention()([q, v]),
    "dot_scale_key": lambda q, v, k: L.Attention(use_scale=True)([q, v, k]),
    "concat": lambda q, v, k: L.Attention(score_mode="concat", use_scale=True)([q, v]),
    "additive": lambda q, v, k: L.AdditiveAttention()([q, v, k]),
    "additive_no_scale": lambda q, v, k: L.AdditiveAttention(use_scale=False)([q, v]),
    "causal_with_scores": lambda q, v, k: L.Attention()([v, v], use_causal_mask=True, return_attention_scores=True),
}


@pytest.mark.parametrize("kind", sorted(_DOT_ATTENTION))
def test_dot_and_additive_attention_export(kind, tmp_path):
    """Attention (dot / concat, learned scale, key given or not, causal, scores) and
    AdditiveAttention as MatMul / Tanh / ReduceSum / Softmax."""
    q, v, k = corenn.Input((5, 4)), corenn.Input((6, 4)), corenn.Input((6, 4))
    model = corenn.Model([q, v, k], _DOT_ATTENTION[kind](q, v, k))
    ws = model.get_weights()
    model.set_weights([np.random.default_rng(2).normal(size=w.shape).astype(np.float32) + 1.0 for w in ws])
    export_and_compare(model, lambda n: [floats(5, 4)(n), floats(6, 4)(n), floats(6, 4)(n)], tmp_path / "m.onnx")


def _masked_attention(kind, ids, ids2):
    """Attention layers reading Keras padding masks: self-attention over one masked sequence,
    cross-attention between two (query and value masks differ), causal + padding, the scores,
    a Masking-made mask, and a pooled classifier head that reads the output's (query) mask."""
    e = L.Embedding(20, 8, mask_zero=True)
    x, y = e(ids), L.Embedding(20, 8, mask_zero=True)(ids2)
    if kind == "mha_self":
        return L.MultiHeadAttention(2, 4)(x, x)
    if kind == "mha_cross_key":
        return L.MultiHeadAttention(2, 3, value_dim=5)(x, y, key=y)
    if kind == "mha_causal_scores":
        return L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True, return_attention_scores=True)
    if kind == "mha_pooled":
        return L.Dense(3)(L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 4)(x, x)))
    if kind == "gqa":
        return L.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)(x, y)
    if kind == "dot_cross":
        return L.Attention(use_scale=True)([x, y])
    if kind == "dot_causal_scores":
        return L.Attention()([x, x], use_causal_mask=True, return_attention_scores=True)
    if kind == "additive":
        return L.AdditiveAttention()([x, y, y])
    raise KeyError(kind)


_MASKED_ATTENTION = ["additive", "dot_causal_scores", "dot_cross", "gqa", "mha_causal_scores", "mha_cross_key",
                     "mha_pooled", "mha_self"]


@pytest.mark.parametrize("kind", _MASKED_ATTENTION)
def test_masked_attention_exports(kind, tmp_path):
    """Embedding(mask_zero=True) masks into MultiHeadAttention / GroupQueryAttention (query rows
    and value / key steps blocked; a fully masked row uniform) and Attention / AdditiveAttention
    (value steps blocked, masked query outputs 0), for pre-, post- and inner padding and a
    sample with no real step."""
    ids, ids2 = corenn.Input((9,), dtype="int32"), corenn.Input((9,), dtype="int32")
    model = corenn.Model([ids, ids2], _masked_attention(kind, ids, ids2))
    randomize(model, np.random.default_rng(21))
    export_and_compare(model, lambda n: [_token_ids(n), _token_ids(n)[::-1].copy()], tmp_path / "m.onnx",
                       batches=(1, 6))


def test_masking_into_attention_exports(tmp_path):
    x = corenn.Input((7, 3))
    m = L.Masking(0.0)(x)
    model = corenn.Model(x, L.MultiHeadAttention(2, 3)(m, m))
    randomize(model, np.random.default_rng(22))

    def make(n, _rng=np.random.default_rng(23)):
        a = _rng.normal(size=(n, 7, 3)).astype(np.float32)
        a[0, :3] = 0.0
        a[-1, 5:] = 0.0
        return a
    export_and_compare(model, make, tmp_path / "m.onnx", batches=(1, 5))
