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


def _masked_frames(n, _rng=np.random.default_rng(34)):
    """Frames with masked (all-zero) steps: pre, post, inside, and a sample with none real."""
    x = _rng.normal(size=(n, 5, 4, 4, 2)).astype(np.float32)
    x[0, :2] = 0.0
    if n > 1:
        x[1, 4] = 0.0
    if n > 2:
        x[2, [1, 3]] = 0.0
    if n > 3:
        x[3] = 0.0
    return x


_MASKED = {
    "last": dict(),
    "sequences": dict(return_sequences=True),
    "backwards_sequences": dict(return_sequences=True, go_backwards=True),
    "backwards_last_state": dict(go_backwards=True, return_state=True),
}


@pytest.mark.parametrize("kind", sorted(_MASKED))
def test_masked_conv_lstm_exports(kind, tmp_path):
    """Masking into ConvLSTM2D: masked steps keep the states and repeat the last output (zeros
    before the first real step), as corenn's layer; padding anywhere and a fully masked sample."""
    x = corenn.Input((5, 4, 4, 2))
    out = L.ConvLSTM2D(3, 3, padding="same", **_MASKED[kind])(L.Masking(0.0)(x))
    model = corenn.Model(x, out)
    randomize(model, np.random.default_rng(35))
    export_and_compare(model, _masked_frames, tmp_path / "m.onnx", batches=(1, 5))


def test_masked_conv_lstm_from_initial_states(tmp_path):
    x, h0, c0 = corenn.Input((5, 4, 4, 2)), corenn.Input((2, 2, 3)), corenn.Input((2, 2, 3))
    y, h, c = L.ConvLSTM2D(3, 3, return_sequences=True, return_state=True)(L.Masking(0.0)(x), initial_state=[h0, c0])
    model = corenn.Model([x, h0, c0], [y, h, c])
    randomize(model, np.random.default_rng(36))
    export_and_compare(model, lambda n: [_masked_frames(n), floats(2, 2, 3)(n), floats(2, 2, 3)(n)],
                       tmp_path / "m.onnx", batches=(1, 5))
