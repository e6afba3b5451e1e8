"""The fusion pass on functional graphs: Conv2D(relu) -> MaxPooling2D gets the same fusion as in a
Sequential (see test_relu_pool_folding.py) with the same outputs and gradients; a conv output
with a second consumer is not fused and its gradients stay right (float64 finite differences);
a layer shared between two models runs each model's own plan."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers

import reference as ref
from graph_reference import arrays, assert_grads_close, dense, fd_grads, mse, sparse_categorical_crossentropy

from corenn.models.fusion import fused_pairs

FLAGS = ("relu_grad_by_next", "masks_relu_input")


def _fused_names(model):
    return [(c.name, p.name) for c, p in fused_pairs(model._graph)]


def _flags(model):
    """Per layer: the rule-1 flags and whether rule 2 runs it in a fused step (by position)."""
    fused = {name for pair in _fused_names(model) for name in pair}
    return [tuple(getattr(l, f) for f in FLAGS) + (l.name in fused,)
            for l in model.layers if not isinstance(l, layers.InputLayer)]


def _stack(first_conv_trainable_first):
    convs = [layers.Conv2D(4, 3, activation="relu", padding="same"), layers.MaxPooling2D(2)]
    if not first_conv_trainable_first:  # a conv before it: the fused conv needs its input gradient
        convs = [layers.Conv2D(3, 1, activation="relu")] + convs
    return convs + [layers.Flatten(), layers.Dense(3)]


def _eager_outputs(model, x):
    """The model's outputs from its layers called one at a time, eagerly, in the graph's order:
    each call is a node of its own (under a tape, recorded as such), no graph runs, so no fusion
    rule applies (``model(x)`` under a tape runs the model's planned graph)."""
    graph = model._graph
    values = {graph.input_slots[0]: x}
    for s in graph.steps:
        args = [values[i] for i in s.ins]
        values[s.outs[0]] = s.owner(args if s.packed else args[0], training=True)
    return [values[i] for i in graph.output_slots]


def _tape_gradients(model, x, y):
    """The unfused oracle: the layers called eagerly under a tape (_eager_outputs)."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, _eager_outputs(model, x)[0])
    return float(np.asarray(loss)), arrays(tape.gradient(loss, model.trainable_variables))


@pytest.mark.parametrize("conv_first", [True, False])
def test_conv_relu_pool_fuses_in_a_functional_model_as_in_sequential(rng, conv_first):
    tf.utils.set_random_seed(11)
    seq = keras.Sequential([keras.Input((6, 6, 2))] + _stack(conv_first))
    inp = keras.Input((6, 6, 2))
    h = inp
    for layer in _stack(conv_first):
        h = layer(h)
    fun = keras.Model(inp, h)
    fun.set_weights(seq.get_weights())
    x = rng.standard_normal((4, 6, 6, 2)).astype(np.float32)
    x[0] = 0.0  # ties and all-zero windows
    y = rng.integers(0, 3, 4)
    # inference: the fused conv+pool forward in both
    np.testing.assert_array_equal(fun.predict(x, verbose=0), seq.predict(x, verbose=0))
    assert _flags(fun) == _flags(seq)
    results = []
    for m in (seq, fun):
        m.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        loss, grads = m.compute_gradients(x, y)
        results.append((loss, arrays(grads), _flags(m)))
    (loss_s, grads_s, flags_s), (loss_f, grads_f, flags_f) = results
    assert flags_f == flags_s
    conv = [l for l in fun.layers if isinstance(l, layers.Conv2D)][-1]
    pool = next(l for l in fun.layers if isinstance(l, layers.MaxPooling2D))
    assert _fused_names(fun) == [(conv.name, pool.name)]
    step = next(s for s in fun._graph.run if s.owner is conv)
    assert step.ctx.weights_from_pooled == conv_first   # dW from the pooled gradient when first
    assert loss_f == loss_s
    for a, b in zip(grads_f, grads_s):
        np.testing.assert_array_equal(a, b)
    tape_loss, tape_grads = _tape_gradients(fun, x, y)
    assert loss_f == pytest.approx(tape_loss, rel=1e-6)
    for a, b in zip(grads_f, tape_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.abs(grads_f[0]).sum() > 0


def _branching(conv_bias=0.5):
    """conv(relu) feeds a max pooling AND a global average pooling: two outputs."""
    inp = keras.Input((5, 5, 1))
    conv = layers.Conv2D(2, 3, activation="relu", padding="same", name="conv")
    pool = layers.MaxPooling2D(2, name="pool")
    c = conv(inp)
    o_pool = layers.Dense(1, name="pool_head")(layers.Flatten()(pool(c)))
    o_gap = layers.Dense(1, name="gap_head")(layers.GlobalAveragePooling2D()(c))
    return keras.Model(inp, [o_pool, o_gap]), conv, pool


def _branching_reference(x, ya, yb):
    def loss(p):
        c = np.maximum(ref.conv2d_forward(x, p[0], p[1], padding="same"), 0.0)
        pooled, _ = ref.max_pool2d(c, (2, 2), (2, 2), "valid")
        out_a = dense(pooled.reshape(len(x), -1), p[2], p[3])
        out_b = dense(c.mean(axis=(1, 2)), p[4], p[5])
        return mse(ya, out_a) + mse(yb, out_b)
    return loss


def test_conv_output_with_a_second_consumer_is_not_fused(rng):
    model, conv, pool = _branching()
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    w = model.get_weights()
    w[1][:] = 0.5  # conv bias: few all-negative windows, so finite differences see no kinks
    model.set_weights(w)
    model.compile("sgd", ["mse", "mse"])
    x = rng.standard_normal((2, 5, 5, 1)).astype(np.float32)
    ya, yb = rng.standard_normal((2, 1)).astype(np.float32), rng.standard_normal((2, 1)).astype(np.float32)
    loss, grads = model.compute_gradients(x, [ya, yb])
    assert not conv.relu_grad_by_next and _fused_names(model) == []
    assert not pool.masks_relu_input
    loss_np = _branching_reference(x, ya, yb)
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_np, w), rtol=1e-4, atol=1e-5)
    # inference too: both consumers see the full conv output
    p_pool, p_gap = model.predict(x, verbose=0)
    c = np.maximum(ref.conv2d_forward(x, w[0], w[1], padding="same"), 0.0)
    np.testing.assert_allclose(p_gap, dense(c.mean(axis=(1, 2)), w[4], w[5]), rtol=1e-5, atol=1e-6)


def test_a_layer_shared_with_a_fusing_model_keeps_this_models_plan(rng):
    """Model B uses conv's output twice (no fusion); model A is a chain conv -> pool over the same
    layers (fused when A is built). B must still compute from the full conv output."""
    model_b, conv, pool = _branching()
    model_b.compile("sgd", ["mse", "mse"])
    x = rng.standard_normal((3, 5, 5, 1)).astype(np.float32)
    want = model_b.predict(x, verbose=0)
    model_a = keras.Sequential([keras.Input((5, 5, 1)), conv, pool])
    assert _fused_names(model_a) == [(conv.name, pool.name)]  # A's plan, on the shared layers
    got = model_b.predict(x, verbose=0)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    c = np.asarray(conv(x))  # eager: no fusion
    gap_w = model_b.get_layer("gap_head").get_weights()
    np.testing.assert_allclose(got[1], dense(c.mean(axis=(1, 2)), *gap_w), rtol=1e-5, atol=1e-6)
    # and A still computes its own fused output correctly
    np.testing.assert_allclose(model_a.predict(x, verbose=0),
                               ref.max_pool2d(c, (2, 2), (2, 2), "valid")[0], rtol=1e-6, atol=1e-6)
    y = [rng.standard_normal((3, 1)).astype(np.float32) for _ in range(2)]
    total, first, second = model_b.evaluate(x, y, verbose=0)   # Keras: [loss, <out>_loss, ...]
    assert total == pytest.approx(mse(y[0], want[0]) + mse(y[1], want[1]), rel=1e-5)
    assert (first, second) == pytest.approx((mse(y[0], want[0]), mse(y[1], want[1])), rel=1e-5)


def test_softmax_output_with_a_second_consumer_is_not_fused_with_the_loss(rng):
    """cls = Dense(softmax) is an output (cross-entropy) and also feeds a second head: the loss must
    not start the backward from the logits alone."""
    inp = keras.Input((4,))
    cls = layers.Dense(3, activation="softmax", name="cls")(inp)
    reg = layers.Dense(1, name="reg")(cls)
    model = keras.Model(inp, [cls, reg])
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    x = rng.standard_normal((6, 4)).astype(np.float32)
    yc, yr = rng.integers(0, 3, 6), rng.standard_normal((6, 1)).astype(np.float32)
    w = model.get_weights()

    def loss_np(p):
        probs = dense(x, p[0], p[1], "softmax")
        return sparse_categorical_crossentropy(yc, probs) + mse(yr, dense(probs, p[2], p[3]))
    loss, grads = model.compute_gradients(x, [yc, yr])
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_np, w))


def test_softmax_output_fused_with_the_loss_matches_finite_differences(rng):
    inp = keras.Input((4,))
    model = keras.Model(inp, layers.Dense(3, activation="softmax")(layers.Dense(5, activation="tanh")(inp)))
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    loss, grads = model.compute_gradients(x, y)
    assert model._preactivation == frozenset({0})  # the fused softmax + cross-entropy
    w = model.get_weights()

    def loss_np(p):
        return sparse_categorical_crossentropy(y, dense(dense(x, p[0], p[1], "tanh"), p[2], p[3], "softmax"))
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_np, w))


# ---- rule 4: BatchNormalization -> Add -> ReLU ------------------------------------------------

def _residual(relu_layer=None, skip_first=False, bn_twice=False, broadcast=False, keepdims=False):
    """The graph-models issue's residual block (Conv -> [Conv -> BN] + skip -> ReLU -> GAP -> Dense)."""
    inp = keras.Input((6, 6, 2))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = layers.BatchNormalization(name="bn")(layers.Conv2D(4, 3, padding="same")(a))
    skip = layers.GlobalAveragePooling2D(keepdims=True)(a) if broadcast else a
    s = layers.Add(name="add")([skip, b] if skip_first else [b, skip])
    h = (relu_layer or layers.Activation("relu", name="relu"))(s)
    pooled = layers.GlobalAveragePooling2D(keepdims=keepdims)(h)
    outs = [layers.Dense(3)(layers.Flatten()(pooled) if keepdims else pooled)]
    if bn_twice:   # the normalization's output is read by a second head: no fusion
        outs.append(layers.Dense(1)(layers.Flatten()(b)))
    return keras.Model(inp, outs if bn_twice else outs[0])


def _fused_blocks(model):
    from corenn.models.fusion import BatchNormAddRelu
    return [s.ctx for s in model._graph.run if isinstance(s.ctx, BatchNormAddRelu)]


@pytest.mark.parametrize("relu_layer,skip_first,keepdims", [(None, False, False), ("ReLU", True, False),
                                                             (None, False, True)])
def test_batch_norm_add_relu_fuses_and_matches_the_unfused_tape(rng, relu_layer, skip_first, keepdims):
    """The block fuses, with the GlobalAveragePooling2D after it (keepdims=False) or without it
    (keepdims=True: that pooling runs on its own)."""
    tf.utils.set_random_seed(3)
    model = _residual(layers.ReLU() if relu_layer else None, skip_first, keepdims=keepdims)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.standard_normal((5, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    bn = model.get_layer("bn")
    before = [np.array(w) for w in bn.get_weights()]
    loss, grads = model.compute_gradients(x, y)
    blocks = _fused_blocks(model)
    assert len(blocks) == 1 and blocks[0].bn is bn
    assert (blocks[0].pool is None) == keepdims
    fused_stats = [np.array(w) for w in bn.get_weights()[2:]]
    bn.set_weights(before)   # the tape run updates the moving statistics from the same values
    tape_loss, tape_grads = _tape_gradients(model, x, y)
    assert loss == pytest.approx(tape_loss, rel=1e-6)
    for a, b in zip(arrays(grads), tape_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(fused_stats, bn.get_weights()[2:]):   # moving mean / variance as unfused
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert all(np.abs(g).sum() > 0 for g in arrays(grads))
    # inference runs the three layers (moving statistics): the eager call is the oracle
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(model(x, training=False)),
                               rtol=1e-6, atol=1e-6)


def test_batch_norm_add_relu_gradients_match_finite_differences(rng):
    tf.utils.set_random_seed(5)
    model = _residual()
    model.compile("sgd", "mse")
    x = rng.standard_normal((4, 6, 6, 2)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    _, grads = model.compute_gradients(x, y)
    assert len(_fused_blocks(model)) == 1
    w = [np.array(v, np.float64) for v in model.get_weights()]

    def loss_np(p):   # conv -> relu -> conv -> bn (batch statistics) + skip -> relu -> gap -> dense
        a = np.maximum(ref.conv2d_forward(x, p[0], p[1], padding="same"), 0.0)
        z = ref.conv2d_forward(a, p[2], p[3], padding="same")
        h = ref.batch_norm_add_relu_train(z, a, p[4], p[5])[0]
        return mse(y, dense(h.mean(axis=(1, 2)), p[8], p[9]))
    trainable = [0, 1, 2, 3, 4, 5, 8, 9]   # not the moving statistics (6, 7)
    fd = fd_grads(lambda q: loss_np([q[trainable.index(i)] if i in trainable else w[i]
                                     for i in range(len(w))]), [w[i] for i in trainable])
    assert_grads_close(arrays(grads), fd, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("case", ["bn_twice", "broadcast", "frozen"])
def test_batch_norm_add_relu_not_fused_or_falls_back_where_it_cannot_apply(rng, case):
    """A second reader of the normalization's output: no fused step. A broadcasting Add or a frozen
    normalization (inference statistics): the fused step runs the three layers. Either way the
    gradients are the unfused tape's."""
    tf.utils.set_random_seed(7)
    model = _residual(bn_twice=case == "bn_twice", broadcast=case == "broadcast")
    if case == "frozen":
        model.get_layer("bn").trainable = False
    loss_fn = keras.losses.MeanSquaredError()
    model.compile("sgd", [loss_fn, loss_fn] if case == "bn_twice" else loss_fn)
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    ys = [rng.standard_normal((3, 3)).astype(np.float32)] + \
        ([rng.standard_normal((3, 1)).astype(np.float32)] if case == "bn_twice" else [])
    loss, grads = model.compute_gradients(x, ys if case == "bn_twice" else ys[0])
    assert len(_fused_blocks(model)) == (0 if case == "bn_twice" else 1)
    if case != "bn_twice":
        assert not _fused_blocks(model)[0]._fused   # ran the layers one by one
    with tf.GradientTape() as tape:
        outs = _eager_outputs(model, x)
        total = sum(loss_fn(t, o) for t, o in zip(ys, outs))
    tape_grads = arrays(tape.gradient(total, model.trainable_variables))
    assert loss == pytest.approx(float(np.asarray(total)), rel=1e-5)
    for a, b in zip(arrays(grads), tape_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---- rule 5: a relu output's gradients summed by its producer -----------------------------------

def test_relu_output_read_twice_sums_its_gradients_in_the_producer(rng):
    """The residual block's first conv output feeds the second conv and the skip; a Dense(relu)
    output is both a model output and read by a second head: the graph keeps the gradients apart
    and the producer sums them with relu' (parts_slots). Gradients as the layers called eagerly
    under a tape (no graph, no fusion)."""
    tf.utils.set_random_seed(9)
    inp = keras.Input((6, 6, 2))
    a = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    b = layers.BatchNormalization()(layers.Conv2D(4, 3, padding="same")(a))
    h = layers.Activation("relu")(layers.Add()([a, b]))
    feat = layers.Dense(5, activation="relu", name="feat")(layers.GlobalAveragePooling2D()(h))
    head = layers.Dense(3, name="head")(feat)
    model = keras.Model(inp, [feat, head])
    loss_fn = keras.losses.MeanSquaredError()
    model.compile("sgd", [loss_fn, loss_fn])
    x = rng.standard_normal((4, 6, 6, 2)).astype(np.float32)
    ys = [rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)]
    bn = [l for l in model.layers if isinstance(l, layers.BatchNormalization)][0]
    before = [np.array(w) for w in bn.get_weights()]
    loss, grads = model.compute_gradients(x, ys)
    graph = model._graph
    producers = {s.outs[0]: s.ctx.name for s in graph.run if not s.multi_out and hasattr(s.ctx, "name")}
    assert sorted(producers[slot] for slot in graph.parts_slots) == ["c1", "feat"]
    bn.set_weights(before)
    with tf.GradientTape() as tape:
        outs = _eager_outputs(model, x)
        total = loss_fn(ys[0], outs[0]) + loss_fn(ys[1], outs[1])
    tape_grads = arrays(tape.gradient(total, model.trainable_variables))
    assert loss == pytest.approx(float(np.asarray(total)), rel=1e-5)
    for g, t in zip(arrays(grads), tape_grads):
        np.testing.assert_allclose(g, t, rtol=1e-5, atol=1e-6)
    assert np.abs(arrays(grads)[0]).sum() > 0


@pytest.mark.parametrize("consumers", [2, 3])
def test_residual_stream_gradients_summed_in_the_block_tails_backward(rng, consumers):
    """A block tail's output (BN -> Add -> ReLU, fused) read by the next block's conv and Add (and,
    with three consumers, a side head): the graph keeps the parts apart and the fused backward
    adds them in its relu' pass (batch_norm_add_relu_backward's dy2). Gradients and loss as the
    layers called eagerly under a tape; and finite differences in float64 for the two-block model."""
    tf.utils.set_random_seed(11)
    inp = keras.Input((5, 5, 2))
    a = layers.Conv2D(3, 3, padding="same", activation="relu")(inp)

    def block(x, name):
        b = layers.BatchNormalization(name=f"bn_{name}")(layers.Conv2D(3, 3, padding="same")(x))
        return layers.Activation("relu", name=f"relu_{name}")(layers.Add()([b, x]))

    h1 = block(a, "one")
    h2 = block(h1, "two")
    outs = [layers.Dense(2)(layers.GlobalAveragePooling2D()(h2))]
    if consumers == 3:
        outs.append(layers.Dense(1)(layers.Flatten()(h1)))
    model = keras.Model(inp, outs if consumers == 3 else outs[0])
    loss_fn = keras.losses.MeanSquaredError()
    model.compile("sgd", [loss_fn] * len(outs) if consumers == 3 else loss_fn)
    x = rng.standard_normal((4, 5, 5, 2)).astype(np.float32)
    ys = [rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)]
    bns = [model.get_layer("bn_one"), model.get_layer("bn_two")]
    before = [[np.array(w) for w in bn.get_weights()] for bn in bns]
    loss, grads = model.compute_gradients(x, ys[:len(outs)] if consumers == 3 else ys[0])
    blocks = _fused_blocks(model)
    assert len(blocks) == 2 and all(b._fused for b in blocks)
    graph = model._graph
    tails = {s.outs[0] for s in graph.run if s.ctx is blocks[0]}
    assert tails <= graph.parts_slots   # h1's gradient stays in parts for its producer
    for bn, w in zip(bns, before):
        bn.set_weights(w)
    with tf.GradientTape() as tape:
        eager = _eager_outputs(model, x)
        total = sum(loss_fn(t, o) for t, o in zip(ys, eager))
    tape_grads = arrays(tape.gradient(total, model.trainable_variables))
    assert loss == pytest.approx(float(np.asarray(total)), rel=1e-5)
    for g, t in zip(arrays(grads), tape_grads):
        np.testing.assert_allclose(g, t, rtol=1e-5, atol=1e-6)
    assert all(np.abs(g).sum() > 0 for g in arrays(grads))
    if consumers == 3:
        return
    w = [np.array(v, np.float64) for v in model.get_weights()]

    def loss_np(p):   # weights: c0 (k, b), block one (conv k, b, bn g, b, mm, mv), two (same), dense
        h = np.maximum(ref.conv2d_forward(x, p[0], p[1], padding="same"), 0.0)
        for o in (2, 8):
            z = ref.conv2d_forward(h, p[o], p[o + 1], padding="same")
            h = ref.batch_norm_add_relu_train(z, h, p[o + 2], p[o + 3])[0]
        return mse(ys[0], dense(h.mean(axis=(1, 2)), p[14], p[15]))
    trainable = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 14, 15]
    fd = fd_grads(lambda q: loss_np([q[trainable.index(i)] if i in trainable else w[i]
                                     for i in range(len(w))]), [w[i] for i in trainable])
    for bn, wb in zip(bns, before):
        bn.set_weights(wb)
    _, grads = model.compute_gradients(x, ys[0])
    assert_grads_close(arrays(grads), fd, rtol=1e-3, atol=1e-4)


def _finishers(model):
    graph = model._graph
    return {graph.run[k].ctx.name: producer.name for k, (slot, producer) in graph.relu_sum_finishers.items()}


def test_relu_output_last_reader_conv_takes_the_parts_and_relu_grad(rng):
    """The residual block's first conv output is read by the second conv and the skip: the second
    conv's backward runs last, so it adds the skip's gradient and applies c1's relu' in its data
    gradient (conv2d_backward_data_relu_sum); c1 then starts from dL/dz. Gradients as the eager
    tape and as float64 finite differences; an intermediate gradient asked of the tape (Grad-CAM)
    is dL/da, not the finished dL/dz."""
    tf.utils.set_random_seed(13)
    model = _residual()
    model.compile("sgd", "mse")
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    y = rng.standard_normal((3, 3)).astype(np.float32)
    bn = model.get_layer("bn")
    before = [np.array(w) for w in bn.get_weights()]
    _, grads = model.compute_gradients(x, y)
    convs = [l for l in model.layers if isinstance(l, layers.Conv2D)]
    assert _finishers(model) == {convs[1].name: convs[0].name}
    bn.set_weights(before)
    loss_fn = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        total = loss_fn(y, _eager_outputs(model, x)[0])
    for g, t in zip(arrays(grads), arrays(tape.gradient(total, model.trainable_variables))):
        np.testing.assert_allclose(g, t, rtol=1e-5, atol=1e-6)
    # the intermediate output's gradient through the planned graph: a model with `a` as an output
    bn.set_weights(before)
    a = convs[0].output
    grad_model = keras.Model(model.inputs, [a, model.outputs[0]])
    with tf.GradientTape() as tape:
        a_val, out = grad_model(x, training=True)
        loss = loss_fn(y, out)
    da = np.asarray(tape.gradient(loss, a_val))
    # oracle for dL/da in float64: finite differences through the rest of the block
    w = [np.array(v, np.float64) for v in model.get_weights()]
    a0 = np.asarray(a_val, np.float64)

    def rest(a_):
        z = ref.conv2d_forward(a_, w[2], w[3], padding="same")
        h = ref.batch_norm_add_relu_train(z, a_, w[4], w[5])[0]
        return mse(y, dense(h.mean(axis=(1, 2)), w[8], w[9]))
    fd = fd_grads(lambda q: rest(q[0]), [a0])[0]
    np.testing.assert_allclose(da, fd, rtol=1e-3, atol=1e-4)
    assert np.abs(da[a0 <= 0]).sum() > 0   # dL/da, not relu'-masked dL/dz


@pytest.mark.parametrize("reader", ["conv1d", "conv2d_transpose", "conv2d_strided", "channels_first"])
def test_relu_output_last_reader_of_other_kinds(rng, reader):
    """The last reader of a relu output read twice is a Conv1D (finishes through its 4-D views),
    a strided Conv2D (finishes one pass after col2im), or a layer that cannot finish it
    (Conv2DTranspose, a channels-first Conv2D: the producer sums the parts). Gradients as the
    layers called eagerly under a tape, either way."""
    tf.utils.set_random_seed(17)
    if reader == "conv1d":
        inp = keras.Input((9, 3))
        a = layers.Conv1D(4, 3, padding="same", activation="relu", name="p")(inp)
        b = layers.Conv1D(4, 3, padding="same", name="r")(a)
    else:
        inp = keras.Input((6, 6, 3))
        a = layers.Conv2D(4, 3, padding="same", activation="relu", name="p")(inp)
        if reader == "conv2d_transpose":
            b = layers.Conv2DTranspose(4, 3, padding="same", name="r")(a)
        elif reader == "conv2d_strided":
            b = layers.UpSampling2D(2)(layers.Conv2D(4, 3, strides=2, padding="same", name="r")(a))
        else:
            b = layers.Conv2D(6, 3, padding="same", data_format="channels_first", name="r")(a)   # (C=6, 6, 4)
    h = layers.Add()([b, a])
    out = layers.Dense(2)(layers.Flatten()(h))
    model = keras.Model(inp, out)
    model.compile("sgd", "mse")
    x = rng.standard_normal((3,) + tuple(inp.shape[1:])).astype(np.float32)
    y = rng.standard_normal((3, 2)).astype(np.float32)
    loss, grads = model.compute_gradients(x, y)
    finishing = reader in ("conv1d", "conv2d_strided")
    assert _finishers(model) == ({"r": "p"} if finishing else {})
    loss_fn = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        total = loss_fn(y, _eager_outputs(model, x)[0])
    assert loss == pytest.approx(float(np.asarray(total)), rel=1e-5)
    for g, t in zip(arrays(grads), arrays(tape.gradient(total, model.trainable_variables))):
        np.testing.assert_allclose(g, t, rtol=1e-5, atol=1e-6)
    assert np.abs(arrays(grads)[0]).sum() > 0
