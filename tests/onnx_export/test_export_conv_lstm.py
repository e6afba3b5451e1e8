"""ONNX export of ConvLSTM1D / 2D / 3D (unrolled Conv nodes and the gate math): ONNX Runtime
reproduces model.predict at batch 1 and a larger batch (test_export's tolerance)."""
import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import corenn  # noqa: E402
from corenn import layers as L  # noqa: E402

from test_export import export_and_compare, floats, randomize  # noqa: E402

CASES = {
    "2d_last": (lambda: L.ConvLSTM2D(3, 3), (4, 6, 5, 2)),
    "2d_sequences_same_stride": (lambda: L.ConvLSTM2D(3, (3, 2), strides=2, padding="same",
                                                     return_sequences=True), (3, 7, 6, 2)),
    "2d_backwards_sequences": (lambda: L.ConvLSTM2D(2, 3, padding="same", go_backwards=True,
                                                   return_sequences=True), (4, 5, 5, 3)),
    "2d_backwards_last_dilated": (lambda: L.ConvLSTM2D(2, 2, dilation_rate=2, go_backwards=True), (3, 6, 6, 2)),
    "2d_activations": (lambda: L.ConvLSTM2D(2, 3, activation="relu", recurrent_activation="tanh",
                                           padding="same"), (3, 5, 4, 2)),
    "1d_sequences": (lambda: L.ConvLSTM1D(4, 3, padding="same", return_sequences=True), (5, 8, 3)),
    "1d_backwards": (lambda: L.ConvLSTM1D(3, 2, go_backwards=True), (4, 7, 2)),
    "3d_last": (lambda: L.ConvLSTM3D(2, 2, padding="same"), (3, 4, 4, 3, 2)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_lstm_exports(case, tmp_path):
    make_layer, shape = CASES[case]
    model = corenn.Sequential([L.Input(shape=shape), make_layer()])
    randomize(model, np.random.default_rng(31))
    export_and_compare(model, floats(*shape), tmp_path / "m.onnx", batches=(1, 5))


def test_conv_lstm_states_in_and_out(tmp_path):
    x, h0, c0 = corenn.Input((3, 5, 5, 2)), corenn.Input((5, 5, 3)), corenn.Input((5, 5, 3))
    y, h, c = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    model = corenn.Model([x, h0, c0], [y, L.Dense(2)(h), c])
    randomize(model, np.random.default_rng(32))
    export_and_compare(model, lambda n: [floats(3, 5, 5, 2)(n), floats(5, 5, 3)(n), floats(5, 5, 3)(n)],
                       tmp_path / "m.onnx", batches=(1, 4))


def test_conv_lstm_in_a_model(tmp_path):
    model = corenn.Sequential([L.Input(shape=(4, 8, 8, 1)), L.ConvLSTM2D(4, 3, padding="same", return_sequences=True),
                               L.BatchNormalization(), L.ConvLSTM2D(2, 3), L.Flatten(), L.Dense(3)])
    randomize(model, np.random.default_rng(33))
    export_and_compare(model, floats(4, 8, 8, 1), tmp_path / "m.onnx", batches=(1, 4))


def test_stateful_conv_lstm_is_refused_by_name(tmp_path):
    model = corenn.Sequential([L.Input(shape=(3, 5, 5, 2), batch_size=2), L.ConvLSTM2D(2, 3, stateful=True, name="st")])
    with pytest.raises(NotImplementedError, match=r"'st' \(ConvLSTM2D\): stateful=True"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_masked_conv_lstm_is_refused_by_name(tmp_path):
    x = corenn.Input((3, 4, 4, 2))
    model = corenn.Model(x, L.ConvLSTM2D(2, 3, name="masked")(L.Masking(0.0)(x)))
    with pytest.raises(NotImplementedError, match=r"'masked' \(ConvLSTM2D\) reads a Keras mask"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
