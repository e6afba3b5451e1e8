"""The functional API as a Keras user writes it: keras.Input, layer calls on symbolic tensors,
keras.Model(inputs, outputs), compile / fit / evaluate / predict.

Oracles: the same chain as a Sequential (bitwise), float64 NumPy re-implementations with finite
differences (graph_reference.py), and PyTorch autograd where installed.
"""
import numpy as np
import pytest

import corenn
from corenn import keras, layers, ops

from graph_reference import (arrays, assert_grads_close, dense, fd_grads, mse,
                             sparse_categorical_crossentropy, torch_grads)

Add = getattr(layers, "Add", None)
Concatenate = getattr(layers, "Concatenate", None)
needs_add = pytest.mark.skipif(Add is None, reason="layers.Add (merge layers) is not on this branch yet")
needs_concatenate = pytest.mark.skipif(Concatenate is None,
                                       reason="layers.Concatenate (merge layers) is not on this branch yet")


class AddTwo(layers.Layer):
    """A user-written merge layer (what one writes before layers.Add exists): a + b with ops."""

    def call(self, inputs):
        return ops.add(inputs[0], inputs[1])


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


# -- functional chain == Sequential ----------------------------------------------------------------

def _mlp_layers():
    return [layers.Dense(8, activation="relu"), layers.Dense(6, activation="tanh"),
            layers.Dense(3, activation="softmax")]


def _cnn_layers():
    return [layers.Conv2D(4, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
            layers.Conv2D(3, 1, activation="tanh"), layers.Flatten(), layers.Dense(3, activation="softmax")]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_functional_chain_equals_sequential_bitwise(rng, kind):
    make, shape = {"mlp": (_mlp_layers, (5,)), "cnn": (_cnn_layers, (6, 6, 2))}[kind]
    seq = keras.Sequential([keras.Input(shape)] + make())
    inp = keras.Input(shape)
    h = inp
    for layer in make():
        h = layer(h)
    fun = keras.Model(inp, h)
    assert len(fun.layers) == len(seq.layers) + 1  # + the InputLayer
    _randomize(seq, rng)
    fun.set_weights(seq.get_weights())
    x = rng.standard_normal((7,) + shape).astype(np.float32)
    y = rng.integers(0, 3, 7)
    for m in (seq, fun):
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    np.testing.assert_array_equal(fun.predict(x, verbose=0), seq.predict(x, verbose=0))
    loss_s, grads_s = seq.compute_gradients(x, y)
    grads_s = arrays(grads_s)
    loss_f, grads_f = fun.compute_gradients(x, y)
    assert loss_f == loss_s
    assert len(grads_f) == len(fun.trainable_weights) == len(seq.trainable_weights)
    for gf, gs, w in zip(grads_f, grads_s, fun.trainable_weights):
        assert tuple(gf.shape) == tuple(w.shape)
        np.testing.assert_array_equal(np.asarray(gf), gs)
    # and a few training steps land on the same weights
    for m in (seq, fun):
        m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(fun.get_weights(), seq.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_functional_forward_and_gradients_match_numpy_and_torch(rng):
    inp = keras.Input((4,))
    out = layers.Dense(2)(layers.Dense(5, activation="tanh")(inp))
    model = keras.Model(inp, out)
    _randomize(model, rng)
    model.compile("sgd", "mse")
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    w = model.get_weights()

    def loss_np(p):
        return mse(y, dense(dense(x, p[0], p[1], "tanh"), p[2], p[3]))
    np.testing.assert_allclose(model.predict(x, verbose=0), dense(dense(x, w[0], w[1], "tanh"), w[2], w[3]),
                               rtol=1e-5, atol=1e-6)
    loss, grads = model.compute_gradients(x, y)
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(grads, fd_grads(loss_np, w))
    torch = pytest.importorskip("torch")

    def loss_t(p):
        h = torch.tanh(torch.tensor(x, dtype=torch.float64) @ p[0] + p[1]) @ p[2] + p[3]
        return ((h - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    t_loss, t_grads = torch_grads(loss_t, w)
    assert loss == pytest.approx(t_loss, rel=1e-5)
    assert_grads_close(grads, t_grads)


# -- a layer shared by several calls -----------------------------------------------------------------

def _siamese(merge):
    """a, b -> shared Dense(4, tanh) on each -> merged -> head Dense(2)."""
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    if merge == "custom_add":
        h = AddTwo(name="plus")([ha, hb])
    elif merge == "add":
        h = Add()([ha, hb])
    else:
        h = Concatenate()([ha, hb])
    out = layers.Dense(2, name="head")(h)
    return keras.Model([a, b], out), shared


def _siamese_loss(xa, xb, y, merge):
    def loss(p, untied=False):
        # p: shared kernel, bias, head kernel, bias[, second copy of the shared kernel, bias]
        w2, b2 = (p[4], p[5]) if untied else (p[0], p[1])
        ha, hb = dense(xa, p[0], p[1], "tanh"), dense(xb, w2, b2, "tanh")
        h = ha + hb if merge != "concat" else np.concatenate([ha, hb], axis=-1)
        return mse(y, dense(h, p[2], p[3]))
    return loss


@pytest.mark.parametrize("merge", ["custom_add", pytest.param("add", marks=needs_add),
                                   pytest.param("concat", marks=needs_concatenate)])
def test_shared_layer_gradient_is_the_sum_over_its_calls(rng, merge):
    model, shared = _siamese(merge)
    assert model.layers.count(shared) == 1
    assert len(model.trainable_weights) == 4  # the shared kernel and bias count once
    _randomize(model, rng)
    model.compile("sgd", "mse")
    xa, xb = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(2))
    y = rng.standard_normal((5, 2)).astype(np.float32)
    w = model.get_weights()
    loss_np = _siamese_loss(xa, xb, y, merge)
    loss, grads = model.compute_gradients([xa, xb], y)
    grads = arrays(grads)
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(grads, fd_grads(loss_np, w), names=["shared.kernel", "shared.bias", "head.kernel",
                                                            "head.bias"])
    # the sum over uses: untie the two calls in the reference, differentiate each copy, add
    per_use = fd_grads(lambda p: loss_np(p, untied=True), w + w[:2])
    assert_grads_close(grads[:2], [per_use[0] + per_use[4], per_use[1] + per_use[5]])
    assert np.abs(per_use[0]).max() > 1e-3 and np.abs(per_use[4]).max() > 1e-3  # both calls matter


def test_shared_layer_gradients_match_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    model, _ = _siamese("custom_add")
    _randomize(model, rng)
    model.compile("sgd", "mse")
    xa, xb = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(2))
    y = rng.standard_normal((5, 2)).astype(np.float32)
    loss, grads = model.compute_gradients([xa, xb], y)
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in (("a", xa), ("b", xb), ("y", y))}

    def loss_t(p):
        h = torch.tanh(t["a"] @ p[0] + p[1]) + torch.tanh(t["b"] @ p[0] + p[1])
        return ((h @ p[2] + p[3] - t["y"]) ** 2).mean()
    t_loss, t_grads = torch_grads(loss_t, model.get_weights())
    assert loss == pytest.approx(t_loss, rel=1e-5)
    assert_grads_close(grads, t_grads)


def test_layer_applied_twice_in_a_chain(rng):
    """x -> shared -> shared -> head: the second call's input is the first call's output."""
    inp = keras.Input((4,))
    shared = layers.Dense(4, activation="tanh", name="shared")
    model = keras.Model(inp, layers.Dense(1, name="head")(shared(shared(inp))))
    _randomize(model, rng)
    model.compile("sgd", "mse")
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 1)).astype(np.float32)
    w = model.get_weights()

    def loss_np(p):
        return mse(y, dense(dense(dense(x, p[0], p[1], "tanh"), p[0], p[1], "tanh"), p[2], p[3]))
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               dense(dense(dense(x, w[0], w[1], "tanh"), w[0], w[1], "tanh"), w[2], w[3]),
                               rtol=1e-5, atol=1e-6)
    loss, grads = model.compute_gradients(x, y)
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(grads, fd_grads(loss_np, w))


def test_shared_layer_feeding_two_outputs(rng):
    """A siamese tower with one head per branch: each output's loss reaches the shared weights."""
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    oa = layers.Dense(1, name="oa")(shared(a))
    ob = layers.Dense(1, name="ob")(shared(b))
    model = keras.Model([a, b], [oa, ob])
    _randomize(model, rng)
    model.compile("sgd", ["mse", "mse"])
    xa, xb = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(2))
    ya, yb = (rng.standard_normal((5, 1)).astype(np.float32) for _ in range(2))
    w = model.get_weights()  # shared kernel, bias, oa kernel, bias, ob kernel, bias

    def loss_np(p):
        return (mse(ya, dense(dense(xa, p[0], p[1], "tanh"), p[2], p[3]))
                + mse(yb, dense(dense(xb, p[0], p[1], "tanh"), p[4], p[5])))
    loss, grads = model.compute_gradients([xa, xb], [ya, yb])
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(grads, fd_grads(loss_np, w))


# -- two inputs, two outputs, loss dicts and lists, loss_weights -----------------------------------

def _two_in_two_out(rng, outputs_as_dict=False):
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    ha = layers.Dense(4, activation="tanh", name="ha")(a)
    hb = layers.Dense(4, activation="tanh", name="hb")(b)
    reg = layers.Dense(1, name="reg")(AddTwo(name="both")([ha, hb]))
    cls = layers.Dense(3, activation="softmax", name="cls")(hb)
    outputs = {"reg": reg, "cls": cls} if outputs_as_dict else [reg, cls]
    model = keras.Model([a, b], outputs)
    _randomize(model, rng)
    return model


def _two_out_reference(xa, xb, y_reg, y_cls, w_reg, w_cls):
    def outputs(p):
        ha, hb = dense(xa, p[0], p[1], "tanh"), dense(xb, p[2], p[3], "tanh")
        return dense(ha + hb, p[4], p[5]), dense(hb, p[6], p[7], "softmax")

    def loss(p):
        reg, cls = outputs(p)
        return w_reg * mse(y_reg, reg) + w_cls * sparse_categorical_crossentropy(y_cls, cls)
    return outputs, loss


def _two_out_data(rng, n=6):
    return (rng.standard_normal((n, 3)).astype(np.float32), rng.standard_normal((n, 2)).astype(np.float32),
            rng.standard_normal((n, 1)).astype(np.float32), rng.integers(0, 3, n))


@pytest.mark.parametrize("spec", ["dict", "list"])
def test_loss_is_the_weighted_sum_of_the_output_losses(rng, spec):
    model = _two_in_two_out(rng)
    assert model.output_names == ["reg", "cls"] and model.input_names == ["a", "b"]
    if spec == "dict":
        model.compile("sgd", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"reg": 0.3, "cls": 2.0})
    else:
        model.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.3, 2.0])
    xa, xb, y_reg, y_cls = _two_out_data(rng)
    w = model.get_weights()
    outputs, loss_np = _two_out_reference(xa, xb, y_reg, y_cls, 0.3, 2.0)
    p_reg, p_cls = model.predict([xa, xb], verbose=0)
    want_reg, want_cls = outputs(w)
    np.testing.assert_allclose(p_reg, want_reg, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p_cls, want_cls, rtol=1e-5, atol=1e-6)
    loss, grads = model.compute_gradients([xa, xb], [y_reg, y_cls])
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert loss == pytest.approx(0.3 * mse(y_reg, p_reg) + 2.0 * sparse_categorical_crossentropy(y_cls, p_cls),
                                 rel=1e-5)
    assert_grads_close(grads, fd_grads(loss_np, w))
    total, reg_loss, cls_loss = model.evaluate([xa, xb], [y_reg, y_cls], verbose=0)  # Keras' order
    assert total == pytest.approx(loss_np(w), rel=1e-5)
    assert 0.3 * reg_loss + 2.0 * cls_loss == pytest.approx(total, rel=1e-5)


def test_an_output_without_loss_gets_no_gradient(rng):
    model = _two_in_two_out(rng)
    model.compile("sgd", loss={"reg": "mse", "cls": None})
    xa, xb, y_reg, _ = _two_out_data(rng)
    w = model.get_weights()
    _, loss_np = _two_out_reference(xa, xb, y_reg, np.zeros(6, int), 1.0, 0.0)
    loss, grads = model.compute_gradients([xa, xb], {"reg": y_reg})
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    grads = arrays(grads)
    assert_grads_close(grads, fd_grads(loss_np, w))
    assert not grads[6].any() and not grads[7].any()  # the cls head is not on any loss path


def test_fit_evaluate_predict_take_lists_and_dicts_alike(rng):
    xa, xb, y_reg, y_cls = _two_out_data(rng, 16)
    models = []
    for _ in range(2):
        m = _two_in_two_out(np.random.default_rng(7))
        m.compile(keras.optimizers.SGD(0.05), loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 1.5})
        models.append(m)
    lists, dicts = models
    np.testing.assert_array_equal(lists.get_weights()[0], dicts.get_weights()[0])
    e_list = lists.evaluate([xa, xb], [y_reg, y_cls], verbose=0)
    e_dict = dicts.evaluate({"b": xb, "a": xa}, {"cls": y_cls, "reg": y_reg}, verbose=0)
    assert e_list == e_dict
    h_list = lists.fit([xa, xb], [y_reg, y_cls], batch_size=4, epochs=3, shuffle=False, verbose=0)
    h_dict = dicts.fit({"a": xa, "b": xb}, {"reg": y_reg, "cls": y_cls}, batch_size=4, epochs=3, shuffle=False,
                       verbose=0)
    assert h_list.history["loss"] == h_dict.history["loss"]
    assert h_list.history["loss"][-1] < h_list.history["loss"][0]
    for p, q in zip(lists.get_weights(), dicts.get_weights()):
        np.testing.assert_array_equal(p, q)
    p_list = lists.predict([xa, xb], verbose=0)
    p_dict = dicts.predict({"a": xa, "b": xb}, verbose=0)
    assert isinstance(p_list, list) and isinstance(p_dict, list) and len(p_list) == 2
    assert p_list[0].shape == (16, 1) and p_list[1].shape == (16, 3)
    for p, q in zip(p_list, p_dict):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_allclose(p_list[1].sum(axis=1), 1.0, rtol=1e-5)


def test_dict_outputs_predict_a_dict(rng):
    model = _two_in_two_out(rng, outputs_as_dict=True)
    assert model.output_names == ["reg", "cls"]
    xa, xb, y_reg, y_cls = _two_out_data(rng)
    out = model.predict({"a": xa, "b": xb}, verbose=0)
    assert isinstance(out, dict) and set(out) == {"reg", "cls"}
    w = model.get_weights()
    want_reg, want_cls = _two_out_reference(xa, xb, y_reg, y_cls, 1, 1)[0](w)
    np.testing.assert_allclose(out["reg"], want_reg, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["cls"], want_cls, rtol=1e-5, atol=1e-6)
    model.compile("sgd", {"reg": "mse", "cls": "sparse_categorical_crossentropy"})
    before = model.evaluate({"a": xa, "b": xb}, {"reg": y_reg, "cls": y_cls}, verbose=0)
    model.fit({"a": xa, "b": xb}, {"reg": y_reg, "cls": y_cls}, epochs=5, verbose=0)
    assert model.evaluate({"a": xa, "b": xb}, {"reg": y_reg, "cls": y_cls}, verbose=0) < before


def test_model_called_on_symbolic_inputs_nests(rng):
    """A functional model used as a layer of a bigger one: same values, its weights shared."""
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(4, activation="tanh")(inner_in))
    x_in = keras.Input((3,))
    outer = keras.Model(x_in, layers.Dense(2)(inner(x_in)))
    assert all(any(w is v for v in outer.weights) for w in inner.weights)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = outer.get_weights()
    np.testing.assert_allclose(outer.predict(x, verbose=0), dense(dense(x, w[0], w[1], "tanh"), w[2], w[3]),
                               rtol=1e-5, atol=1e-6)


# -- bad input -------------------------------------------------------------------------------------------

def test_outputs_that_do_not_depend_on_the_inputs_name_the_tensor():
    a = keras.Input((3,), name="given")
    other = keras.Input((3,), name="forgotten_input")
    out = layers.Dense(2)(other)
    with pytest.raises(ValueError, match="forgotten_input"):
        keras.Model(a, out)
    with pytest.raises(ValueError, match="forgotten_input"):
        keras.Model(a, [layers.Dense(1)(a), out])


def test_inputs_must_be_keras_inputs():
    a = keras.Input((3,))
    h = layers.Dense(3, name="hidden")(a)
    out = layers.Dense(2)(h)
    # an intermediate tensor as an input is Keras 3's way to cut a model (FeatureSpace's encoded
    # features): a fresh Input stands in for it (tests/api/test_sweep7_keras_surface.py)
    assert keras.Model(h, out).inputs[0] is not h
    other = layers.Dense(2)(keras.Input((3,)))
    with pytest.raises(ValueError, match="not one of the model's inputs"):
        keras.Model(h, other)   # outputs that do not depend on the given inputs
    with pytest.raises(TypeError):
        keras.Model(np.zeros((1, 3), np.float32), out)
    with pytest.raises(TypeError):
        layers.Dense(2)([a, np.zeros((1, 3), np.float32)])


def test_incompatible_shapes_at_a_layer_call_name_the_layer():
    a = keras.Input((3,))
    b = keras.Input((5,))
    shared = layers.Dense(2, name="my_dense")
    shared(a)
    with pytest.raises(ValueError, match="my_dense"):
        shared(b)  # built for 3 features
    with pytest.raises(ValueError, match="my_conv"):
        layers.Conv2D(2, 3, name="my_conv")(a)  # a vector is not an image
    img = keras.Input((4, 4, 1))
    with pytest.raises(ValueError, match="my_pool"):
        layers.MaxPooling2D(8, name="my_pool")(img)  # a window larger than the image


def test_fit_with_the_wrong_number_of_inputs(rng):
    model = _two_in_two_out(rng)
    model.compile("sgd", ["mse", "sparse_categorical_crossentropy"])
    xa, xb, y_reg, y_cls = _two_out_data(rng)
    with pytest.raises(ValueError, match="2 inputs"):
        model.fit(xa, [y_reg, y_cls], verbose=0)
    with pytest.raises(ValueError, match="2 inputs"):
        model.fit([xa, xb, xa], [y_reg, y_cls], verbose=0)
    with pytest.raises(ValueError, match="missing input.*b"):
        model.fit({"a": xa}, [y_reg, y_cls], verbose=0)
    with pytest.raises(ValueError, match="2 outputs"):
        model.fit([xa, xb], [y_reg], verbose=0)
    with pytest.raises(ValueError, match="expects shape"):
        model.fit([xb, xa], [y_reg, y_cls], verbose=0)  # swapped: each input's shape is checked


class _SumAndProduct(layers.Layer):
    """A layer with two outputs: its ``layer.output`` is a list of two KerasTensors (Keras)."""

    def call(self, x):
        return x + 1.0, x * 2.0


def test_outputs_nesting_a_multi_output_layers_list_come_back_grouped(rng):
    # keras.Model(inp, [layer.output for layer in ...]) where one layer has two outputs (the
    # involution example's visualisation model): predict and calls return the same nesting
    inp = keras.Input((3,))
    pair = _SumAndProduct(name="pair")
    a, b = pair(inp)
    out = layers.Dense(2, name="head")(a)
    model = keras.Model(inp, out)
    assert isinstance(model.get_layer("pair").output, list)
    vis = keras.Model(model.input, [model.get_layer("pair").output, model.get_layer("head").output])
    assert len(vis.outputs) == 3   # the graph's outputs stay flat
    x = rng.normal(size=(4, 3)).astype(np.float32)
    expected = [[x + 1.0, x * 2.0], model.predict(x, verbose=0)]
    for got in (vis.predict(x, verbose=0), vis(x)):
        assert isinstance(got, list) and isinstance(got[0], list) and len(got) == 2
        np.testing.assert_allclose(np.asarray(got[0][0]), expected[0][0], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(got[0][1]), expected[0][1], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(got[1]), expected[1], rtol=1e-6)
    # a tuple inside keeps its type, as Keras' tree does
    tup = keras.Model(inp, [tuple(pair.output), out])
    assert isinstance(tup.predict(x, verbose=0)[0], tuple)
    # under a GradientTape the grouped outputs are still differentiable
    xt = corenn.constant(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        (plus, times), head = vis(xt)
        total = ops.sum(times) + ops.sum(head)
    grad = np.asarray(tape.gradient(total, xt))
    w = model.get_layer("head").kernel.numpy()
    np.testing.assert_allclose(grad, 2.0 + np.broadcast_to(w.sum(axis=1), x.shape), rtol=1e-5)
