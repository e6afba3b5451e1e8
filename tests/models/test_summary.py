"""model.summary(): Keras table, parameter counts, FLOPs per layer, measured times; plot_model."""
import re

import numpy as np
import pytest

import corenn
from corenn import layers


def cnn():
    corenn.utils.set_random_seed(0)
    return corenn.Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 2)),   # (4, 4, 4)
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),                                          # (2, 2, 4)
        layers.Flatten(),
        layers.Dropout(0.1),
        layers.Dense(5, activation="tanh"),
        layers.Dense(3, use_bias=False),
        layers.Activation("softmax"),
    ], name="cnn")


def lines_of(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def layer_rows(lines, model):
    rows = {}
    for layer in model.layers:
        [row] = [l for l in lines if l.startswith(f"{layer.name} (")]
        rows[layer.name] = row
    return rows


def test_parameter_counts_equal_weight_sizes():
    model = cnn()
    lines = lines_of(model)
    assert lines[0] == 'Model: "cnn"'
    assert re.match(r"Layer \(type\) +Output Shape +Param # +FLOPs$", lines[2])
    for layer in model.layers:
        row = layer_rows(lines, model)[layer.name]
        cells = re.split(r"\s{2,}", row.strip())
        assert cells[0] == f"{layer.name} ({type(layer).__name__})"
        assert cells[1] == corenn.layers.base.shape_str(layer.output_shape)
        assert int(cells[2].replace(",", "")) == sum(w.size for w in layer.get_weights())
    total = sum(w.size for w in model.get_weights())
    trainable = sum(int(w.size) for w in model.trainable_weights)
    assert f"Total params: {total:,} ({4 * total:.2f} B)" in lines
    assert f"Trainable params: {trainable:,} ({4 * trainable:.2f} B)" in lines
    assert any(l.startswith(f"Non-trainable params: {total - trainable:,} ") for l in lines)
    assert total - trainable == 8  # the BatchNormalization moving mean and variance


def test_flops_follow_the_formulas():
    model = cnn()
    conv, bn, pool, flat, drop, dense, dense2, act = model.layers
    # Conv2D: 2*KH*KW*C multiply-adds per output value, + bias, + relu (1 per value)
    out = 4 * 4 * 4
    assert conv.flops(conv.input_shape) == 2 * 3 * 3 * 2 * out + out + out
    # Dense: 2*D*U (+ U bias) + activation (tanh: 4 per value)
    assert dense.flops(dense.input_shape) == 2 * 16 * 5 + 5 + 4 * 5
    assert dense2.flops(dense2.input_shape) == 2 * 5 * 3
    assert pool.flops(pool.input_shape) == 4 * (2 * 2 * 4)
    assert bn.flops(bn.input_shape) == 4 * 64
    assert flat.flops(flat.input_shape) == drop.flops(drop.input_shape) == 0
    assert act.flops(act.input_shape) == 3 * 3
    # Dense on a 3-D input counts every row; Conv1D like a Conv2D of height 1
    assert layers.Dense(7).flops((None, 4, 6)) == 4 * (2 * 6 * 7 + 7)
    c1 = layers.Conv1D(3, 2, use_bias=False)
    assert c1.flops((None, 10, 5)) == 2 * 2 * 5 * 3 * 9
    rows = layer_rows(lines_of(model), model)
    assert rows[conv.name].split()[-1] == "2.43K" and rows[dense2.name].split()[-1] == "30"
    total = sum(l.flops(l.input_shape) for l in model.layers)
    assert f"Forward FLOPs per sample: {total / 1e3:.2f}K (a multiply-add counts 2)" in lines_of(model)


def test_timings_appear_after_fit():
    model = cnn()
    assert not any("Fwd ms" in l for l in lines_of(model))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 20)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    lines = lines_of(model)
    assert re.match(r"Layer \(type\) +Output Shape +Param # +FLOPs +Fwd ms +Bwd ms$", lines[2])
    for row in layer_rows(lines, model).values():
        fwd, bwd = (float(v) for v in row.split()[-2:])
        assert fwd >= 0 and bwd >= 0
    assert model._layer_timings.steps == 6  # 3 batches x 2 epochs
    assert sum(model._layer_timings.forward[:2]) > 0  # the conv and BN did run
    assert any(l.startswith("Time per training step (mean of 6): forward ") for l in lines)
    # evaluate / predict are not training steps
    model.predict(x)
    assert model._layer_timings.steps == 6
    # profiling off: nothing more is measured
    model.profile = False
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model._layer_timings.steps == 6


def test_line_length_print_fn_and_errors(capsys):
    model = cnn()
    lines = lines_of(model, line_length=60, expand_nested=True)
    assert all(len(l) <= 60 for l in lines[1:])
    assert lines[1] == "_" * 60
    model.summary()
    assert "Total params:" in capsys.readouterr().out
    # Keras 3: an unbuilt model's summary lists its layers as unbuilt (print_fn and line_length too)
    got = []
    corenn.Sequential([layers.Dense(2, name="pending")]).summary(print_fn=got.append, line_length=50)
    assert any("pending (Dense)" in l and "0 (unbuilt)" in l for l in got) and got[1] == "_" * 50


def test_plot_model_text(tmp_path):
    model = cnn()
    text = corenn.utils.plot_model(model, to_file=tmp_path / "model.txt", show_shapes=True)
    assert (tmp_path / "model.txt").read_text() == text
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in text
    assert "(None, 6, 6, 2) -> (None, 4, 4, 4)" in text and text.count("v\n") == len(model.layers)
    assert "->" not in corenn.utils.plot_model(model, show_shapes=False)
    with pytest.raises(ValueError, match="not built"):
        corenn.utils.plot_model(corenn.Sequential([layers.Dense(2)]))
