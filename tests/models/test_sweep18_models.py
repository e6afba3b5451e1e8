"""Model features the sweep 18 programs needed: Keras' per-output sample weights (a dict keyed by
output name, or a list with one entry per output) in fit / evaluate / train_on_batch and in
dataset batches, and summary(expand_nested=True, layer_range=...)."""
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import layers


def two_output_model(seed=0):
    keras.utils.set_random_seed(seed)
    a = keras.Input((3,), name="a")
    h = layers.Dense(4, activation="tanh")(a)
    c = layers.Dense(2, activation="softmax", name="c")(h)
    s = layers.Dense(1, name="s")(h)
    model = keras.Model(a, {"c": c, "s": s})
    model.compile("sgd", loss={"c": "sparse_categorical_crossentropy", "s": "mse"},
                  loss_weights={"c": 1.0, "s": 0.5})
    return model


def data(n=8):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = {"c": rng.integers(0, 2, n), "s": rng.normal(size=(n,)).astype("float32")}
    return x, y


def reference_losses(model, x, y, w_c, w_s):
    """Keras' weighted mean: sum_i w_i loss_i / N per output, then the loss-weighted sum."""
    pred = model.predict(x, verbose=0)
    p = pred["c"][np.arange(len(x)), y["c"]]
    ce = -np.log(np.clip(p, 1e-7, 1.0))
    se = (pred["s"][:, 0] - y["s"]) ** 2
    c = np.mean(ce * (1.0 if w_c is None else w_c))
    s = np.mean(se * (1.0 if w_s is None else w_s))
    return c, s, c + 0.5 * s


@pytest.mark.parametrize("form", ["dict", "list", "dict_missing"])
def test_evaluate_weighs_each_output_by_its_own_sample_weights(form):
    model = two_output_model()
    x, y = data()
    w_c = np.linspace(0.0, 2.0, 8).astype("float32")
    w_s = np.array([1, 0, 1, 0, 1, 0, 1, 0], "float32")
    if form == "dict":
        sw = {"c": w_c, "s": w_s}
    elif form == "list":
        sw = [w_c, w_s]
    else:
        sw, w_s = {"c": w_c}, None
    got = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    c, s, total = reference_losses(model, x, y, w_c, w_s)
    np.testing.assert_allclose(got["c_loss"], c, rtol=1e-5)
    np.testing.assert_allclose(got["s_loss"], s, rtol=1e-5)
    np.testing.assert_allclose(got["loss"], total, rtol=1e-5)


def test_a_zero_weight_output_gets_no_gradient_in_fit_and_train_on_batch():
    x, y = data()
    model = two_output_model()
    head = model.get_layer("s")
    before = [w.copy() for w in head.get_weights()]
    hist = model.fit(x, y, sample_weight={"c": np.ones(8), "s": np.zeros(8)}, epochs=2, batch_size=4, verbose=0)
    assert hist.history["s_loss"] == [0.0, 0.0]
    for b, a in zip(before, head.get_weights()):
        np.testing.assert_array_equal(b, a)
    assert not np.array_equal(model.get_layer("c").get_weights()[0], two_output_model().get_layer("c").get_weights()[0])
    logs = model.train_on_batch(x, y, sample_weight=[np.ones(8), np.zeros(8)], return_dict=True)
    assert logs["s_loss"] == 0.0 and logs["c_loss"] > 0
    for b, a in zip(before, head.get_weights()):
        np.testing.assert_array_equal(b, a)


def test_fit_matches_a_manual_step_with_per_output_weights():
    x, y = data()
    w_c = np.linspace(0.5, 1.5, 8).astype("float32")
    w_s = np.linspace(2.0, 0.0, 8).astype("float32")
    model = two_output_model()
    _, _, expected = reference_losses(model, x, y, w_c, w_s)
    hist = model.fit(x, y, sample_weight={"c": w_c, "s": w_s}, epochs=1, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(hist.history["loss"][0], expected, rtol=1e-5)


def test_dataset_batches_and_validation_split_carry_per_output_weights():
    x, y = data(16)
    w = {"c": np.ones(16, "float32"), "s": np.zeros(16, "float32")}
    model = two_output_model()
    batches = ((x[i:i + 4], {k: v[i:i + 4] for k, v in y.items()}, {k: v[i:i + 4] for k, v in w.items()})
               for i in range(0, 16, 4))
    hist = model.fit(batches, epochs=1, verbose=0)
    assert hist.history["s_loss"] == [0.0]
    hist = model.fit(x, y, sample_weight=w, validation_split=0.25, epochs=1, verbose=0)
    assert hist.history["val_s_loss"] == [0.0] and hist.history["val_c_loss"][0] > 0
    ds = corenn.data.Dataset.from_tensor_slices((x, y, w)).batch(8)
    assert model.evaluate(ds, verbose=0, return_dict=True)["s_loss"] == 0.0


def test_per_output_sample_weight_errors_name_the_output():
    model = two_output_model()
    x, y = data()
    with pytest.raises(ValueError, match="'nope'.*name no output"):
        model.fit(x, y, sample_weight={"nope": np.ones(8)}, verbose=0)
    with pytest.raises(ValueError, match="output 's'.*shape"):
        model.fit(x, y, sample_weight={"s": np.ones(5)}, verbose=0)
    with pytest.raises(ValueError, match="class_weight or sample_weight"):
        model.fit(x, y, sample_weight={"c": np.ones(8)}, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_a_one_output_model_takes_its_weights_keyed_by_its_name():
    keras.utils.set_random_seed(0)
    a = keras.Input((3,))
    model = keras.Model(a, layers.Dense(1, name="only")(a))
    model.compile("sgd", "mse")
    x, y = data()
    w = np.linspace(0, 1, 8).astype("float32")
    by_name = model.evaluate(x, y["s"], sample_weight={"only": w}, verbose=0)
    plain = model.evaluate(x, y["s"], sample_weight=w, verbose=0)
    np.testing.assert_allclose(by_name, plain, rtol=1e-6)


def nested():
    base = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="inner_dense"),
                             layers.BatchNormalization(name="inner_bn")], name="base")
    inner2 = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="deep_dense")], name="deeper")
    mid = keras.Input((4,))
    outer_base = keras.Model(mid, inner2(base(mid)), name="stack")
    inp = keras.Input((4,))
    out = layers.Dense(1, name="head")(outer_base(inp))
    return keras.Model(inp, out, name="outer")


def test_summary_expand_nested_lists_inner_layers_under_their_model():
    model = nested()
    model.get_layer("stack").trainable = False
    lines = []
    model.summary(expand_nested=True, show_trainable=True, print_fn=lines.append)
    names = [l.split()[0] for l in lines[4:] if l and not l.startswith(("=", "_", "Total", "Trainable",
                                                                         "Non-", "Forward"))]
    text = "\n".join(lines)
    assert "stack (Functional)" in text and "| base (Sequential)" in text and "| | inner_dense (Dense)" in text and "| | deep_dense (Dense)" in text
    stack_row = next(l for l in lines if l.startswith("stack (Functional)"))
    inner_row = next(l for l in lines if "inner_dense (Dense)" in l)
    assert stack_row.rstrip().endswith("N") and inner_row.rstrip().endswith("N")
    assert lines.index(inner_row) > lines.index(stack_row)
    # the totals count each weight once
    assert f"Total params: {model.count_params():,}" in text
    collapsed = []
    model.summary(print_fn=collapsed.append)
    assert not any("inner_dense" in l for l in collapsed) and len(collapsed) < len(lines)
    assert names  # rows were printed


def test_summary_layer_range_prints_only_that_span():
    model = nested()
    lines = []
    model.summary(layer_range=("stack", "head"), print_fn=lines.append)
    text = "\n".join(lines)
    assert "stack (Functional)" in text and "head (Dense)" in text and "InputLayer" not in text
    with pytest.raises(ValueError, match="layer_range"):
        model.summary(layer_range=("nothing", "head"))
    with pytest.raises(ValueError, match="pair of layer names"):
        model.summary(layer_range="head")


class _Flow(keras.Model):
    """A subclassed model whose call defaults to training=True and returns a tuple."""

    def __init__(self):
        super().__init__()
        self.scale = layers.Dense(2, activation="tanh")
        self.seen = []

    def call(self, x, training=True):
        self.seen.append(training)
        keep = np.array([1.0, 0.0], "float32")
        s = self.scale(x * keep)   # from the component the layer keeps: invertible
        direction = -1.0 if training else 1.0
        from corenn.keras import ops
        y = x * keep + (1 - keep) * x * ops.exp(direction * s)
        return y, ops.sum(direction * s * (1 - keep), axis=1)


def test_a_subclassed_model_called_without_training_uses_its_call_default():
    flow = _Flow()
    x = np.random.default_rng(0).normal(size=(6, 2)).astype("float32")
    z, logdet = flow(x)
    assert flow.seen[-1] is True
    back = flow(z, training=False)[0]
    np.testing.assert_allclose(np.asarray(back), x, rtol=1e-5, atol=1e-6)
    # predict runs training=False and returns both outputs of the tuple, one batch or several
    for batch_size in (6, 4):
        out = flow.predict(np.asarray(z), batch_size=batch_size, verbose=0)
        assert len(out) == 2 and out[0].shape == (6, 2) and out[1].shape == (6,)
        np.testing.assert_allclose(out[0], x, rtol=1e-5, atol=1e-6)


def test_a_subclassed_model_without_a_training_default_still_gets_none():
    class Plain(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)
            self.seen = []

        def call(self, x, training=None):
            self.seen.append(training)
            return self.d(x)

    m = Plain()
    m(np.ones((2, 3), "float32"))
    assert m.seen[-1] is None


def test_per_output_losses_are_logged_only_when_several_outputs_have_a_loss():
    keras.utils.set_random_seed(0)
    a = keras.Input((3,))
    h = layers.Dense(2, name="h")(a)
    model = keras.Model(a, [layers.Dense(1, name="y")(h), h])
    model.compile("sgd", loss=["mse", None])
    x = np.ones((8, 3), "float32")
    hist = model.fit(x, np.ones((8, 1), "float32"), validation_split=0.25, verbose=0)
    assert sorted(hist.history) == ["loss", "val_loss"]
    assert sorted(model.evaluate(x, np.ones((8, 1)), verbose=0, return_dict=True)) == ["loss"]
    assert sorted(model.train_on_batch(x, np.ones((8, 1)), return_dict=True)) == ["loss"]
    # two losses: each output's is logged too (Keras' '<output>_loss')
    model.compile("sgd", loss=["mse", "mae"])
    hist = model.fit(x, [np.ones((8, 1)), np.zeros((8, 2))], verbose=0)
    assert sorted(hist.history) == ["h_loss", "loss", "y_loss"]


def test_compiled_metric_functions_are_named_in_snake_case():
    def PSNR(y_true, y_pred):
        return -corenn.reduce_mean((y_true - y_pred) ** 2, axis=-1)

    def meanAbsGap(y_true, y_pred):
        return corenn.reduce_mean(abs(y_true - y_pred), axis=-1)

    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    model.compile("sgd", "mse", metrics=[PSNR, meanAbsGap, lambda t, p: corenn.reduce_mean(p, axis=-1)])
    x = np.ones((4, 3), "float32")
    hist = model.fit(x, np.zeros((4, 2), "float32"), validation_data=(x, np.zeros((4, 2), "float32")), verbose=0)
    assert sorted(hist.history) == ["lambda", "loss", "mean_abs_gap", "psnr",
                                    "val_lambda", "val_loss", "val_mean_abs_gap", "val_psnr"]
    np.testing.assert_allclose(hist.history["val_psnr"][0], -hist.history["val_loss"][0], rtol=1e-5)


def test_plot_model_to_an_image_name_writes_an_image(tmp_path):
    pytest.importorskip("matplotlib")
    model = nested()
    text = keras.utils.plot_model(model, str(tmp_path / "model.png"), show_shapes=True, dpi=72)
    assert (tmp_path / "model.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "head (Dense)" in text
    keras.utils.plot_model(model, str(tmp_path / "model.svg"))
    assert b"<svg" in (tmp_path / "model.svg").read_bytes()[:400]
    assert keras.utils.plot_model(model, str(tmp_path / "model.txt"), show_shapes=True) == text
    assert (tmp_path / "model.txt").read_text() == text
