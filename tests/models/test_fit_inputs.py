"""fit / evaluate / train_on_batch inputs: sample_weight, class_weight, iterables of batches."""
import numpy as np
import pytest

import corenn
from corenn import Sequential, layers, optimizers
from corenn.utils.random import set_random_seed
from reference import f64, loss as ref_loss, loss_grad as ref_loss_grad


def _data(n=48, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)) % classes
    return x, y


def _model(loss="sparse_categorical_crossentropy", out=3, activation="softmax", hidden=True,
           optimizer=None, metrics=("accuracy",), seed=0):
    set_random_seed(seed)
    stack = [layers.Input(shape=(4,))]
    if hidden:
        stack.append(layers.Dense(5, activation="tanh"))
    stack.append(layers.Dense(out, activation=activation))
    m = Sequential(stack)
    m.compile(optimizer=optimizer or optimizers.SGD(0.1), loss=loss, metrics=list(metrics))
    return m


def _same_weights(a, b, rtol=0.0, atol=0.0):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)


CLASS_WEIGHT = {0: 0.5, 1: 2.0, 2: 1.25}


@pytest.mark.parametrize("one_hot", [False, True])
def test_class_weight_equals_equivalent_sample_weight(one_hot):
    x, y = _data()
    loss = "sparse_categorical_crossentropy"
    if one_hot:
        y, loss = corenn.utils.to_categorical(y, 3), "categorical_crossentropy"
    labels = y.argmax(-1) if one_hot else y
    sw = np.array([CLASS_WEIGHT[int(c)] for c in labels], np.float32)
    a, b, plain = _model(loss), _model(loss), _model(loss)
    ha = a.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, class_weight=CLASS_WEIGHT)
    hb = b.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, sample_weight=sw)
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    _same_weights(a, b)
    assert ha.history["loss"] == hb.history["loss"]
    assert not np.allclose(a.get_weights()[0], plain.get_weights()[0])  # the weights mattered
    # a class missing from the dict weighs 1
    c, d = _model(loss), _model(loss)
    c.train_on_batch(x, y, class_weight={1: 3.0})
    d.train_on_batch(x, y, sample_weight=np.where(labels == 1, 3.0, 1.0))
    _same_weights(c, d)


@pytest.mark.parametrize("loss,activation,out", [
    ("sparse_categorical_crossentropy", "softmax", 3),  # fused softmax + CE from the logits
    ("mean_squared_error", "linear", 2),                 # generic loss gradient
])
def test_sample_weight_gradient_matches_numpy(loss, activation, out):
    x, labels = _data(n=12)
    rng = np.random.default_rng(3)
    y = labels if out == 3 else rng.normal(size=(12, 2)).astype(np.float32)
    w = rng.uniform(0.0, 3.0, size=12).astype(np.float32)
    m = _model(loss, out=out, activation=activation, hidden=False, metrics=())
    kernel, bias = (f64(v) for v in m.get_weights())
    z = f64(x) @ kernel + bias
    if activation == "softmax":
        value = ref_loss(loss, z, y, from_logits=True, sample_weight=w)
        dz = ref_loss_grad(loss, z, y, from_logits=True, sample_weight=w)
    else:
        value = ref_loss(loss, z, y, sample_weight=w)
        dz = ref_loss_grad(loss, z, y, sample_weight=w)
    got, grads = m.compute_gradients(x, y, sample_weight=w)
    assert got == pytest.approx(value, rel=1e-5)
    np.testing.assert_allclose(np.asarray(grads[0]), f64(x).T @ dz, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grads[1]), dz.sum(0), rtol=1e-4, atol=1e-6)
    # evaluate: the same weighted mean; one SGD step moves the weights by -lr * grad
    assert m.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(value, rel=1e-5)
    m.train_on_batch(x, y, sample_weight=w)
    np.testing.assert_allclose(m.get_weights()[0], kernel - 0.1 * (f64(x).T @ dz), rtol=1e-5,
                               atol=1e-6)


def test_sample_weight_in_fit_evaluate_and_validation():
    x, y = _data()
    w = np.linspace(0.0, 2.0, len(x)).astype(np.float32)
    m = _model()
    # validation with weights: val_loss equals evaluate with the same weights after training
    h = m.fit(x, y, epochs=1, batch_size=48, verbose=0, validation_data=(x, y, w))
    weighted = m.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert h.history["val_loss"][0] == pytest.approx(weighted["loss"], rel=1e-6)
    # metrics are not weighted (Keras weights only `weighted_metrics`)
    assert weighted["accuracy"] == m.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    # a zero weight removes a sample: evaluate == evaluate on the others, rescaled by 40/48
    w0 = np.ones(len(x), np.float32)
    w0[:8] = 0.0
    full = m.evaluate(x, y, sample_weight=w0, verbose=0)[0]
    rest = m.evaluate(x[8:], y[8:], verbose=0)[0]
    assert full == pytest.approx(rest * 40 / 48, rel=1e-5)
    # test_on_batch takes weights too; validation_split splits them with the data
    assert m.test_on_batch(x, y, sample_weight=w0)[0] == pytest.approx(full, rel=1e-5)
    h = m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=w)
    assert np.isfinite(h.history["val_loss"][0])


def _batches(x, y, size, w=None):
    for lo in range(0, len(x), size):
        yield (x[lo:lo + size], y[lo:lo + size]) + (() if w is None else (w[lo:lo + size],))


class Reiterable:
    """A finite re-iterable dataset: each `iter()` starts a new pass."""

    def __init__(self, *arrays, size):
        self.arrays, self.size, self.passes = arrays, size, 0

    def __iter__(self):
        self.passes += 1
        return _batches(*self.arrays[:2], self.size, *self.arrays[2:])


def test_generator_input_equals_array_input():
    x, y = _data()
    w = np.linspace(0.5, 1.5, len(x)).astype(np.float32)
    a, b = _model(), _model()
    ha = a.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, sample_weight=w)
    hb = b.fit(_batches(x, y, 16, w), epochs=1, verbose=0)
    _same_weights(a, b)
    assert ha.history == hb.history
    ea = a.evaluate(x, y, batch_size=16, verbose=0, sample_weight=w)
    eb = b.evaluate(_batches(x, y, 16, w), verbose=0)
    assert ea == eb
    np.testing.assert_array_equal(a.predict(x, batch_size=16),
                                  b.predict(xb for xb, _ in _batches(x, y, 16)))
    np.testing.assert_array_equal(a.predict(x), b.predict(iter([(x[:30],), (x[30:], y[30:])])))


def test_reiterable_runs_one_pass_per_epoch_and_validates_from_iterables():
    x, y = _data()
    a, b = _model(), _model()
    data = Reiterable(x, y, size=16)
    ha = a.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False,
               validation_data=(x[:20], y[:20]))
    hb = b.fit(data, epochs=3, verbose=0, validation_data=Reiterable(x[:20], y[:20], size=7))
    assert data.passes == 3
    _same_weights(a, b)
    assert hb.history["loss"] == ha.history["loss"]
    np.testing.assert_allclose(hb.history["val_loss"], ha.history["val_loss"], rtol=1e-6)
    # class_weight applies to batches from an iterable too
    c, d = _model(), _model()
    c.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, class_weight=CLASS_WEIGHT)
    d.fit(Reiterable(x, y, size=16), epochs=1, verbose=0, class_weight=CLASS_WEIGHT)
    _same_weights(c, d)


def test_steps_per_epoch_continues_a_generator_across_epochs():
    x, y = _data()

    def forever():
        while True:
            yield from _batches(x, y, 16)

    a, b = _model(), _model()
    a.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)  # 3 batches per epoch
    h = b.fit(forever(), steps_per_epoch=2, epochs=3, verbose=0)  # same 6 batches in order
    assert h.epoch == [0, 1, 2]
    _same_weights(a, b)


def test_steps_per_epoch_short_of_a_pass_over_arrays_runs_on_across_epochs():
    # Keras 3.15 (torch and TensorFlow backends): 60 rows in 6 batches of 10, 4 steps per epoch:
    # epoch 1 takes batches 0-3, epoch 2 batches 4-5 (the pass ends there), epoch 3 a new pass.
    # With y = x and a zero kernel the MAE loss is the mean of the rows seen: 19.5 / 49.5.
    x = np.arange(60, dtype=np.float32).reshape(60, 1)
    m = corenn.Sequential([corenn.Input((1,)), layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    m.compile(corenn.optimizers.SGD(0.0), "mae")
    with pytest.warns(UserWarning, match=r"steps_per_epoch=4 does not divide the 6 batches"):
        h = m.fit(x, x, batch_size=10, epochs=4, steps_per_epoch=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], [19.5, 49.5, 19.5, 49.5])
    # shuffled, a pass still sees every row once: two epochs of 3 steps cover all 60 rows
    m2 = corenn.Sequential([corenn.Input((1,)), layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    m2.compile(corenn.optimizers.SGD(0.0), "mae")
    h2 = m2.fit(x, x, batch_size=10, epochs=2, steps_per_epoch=3, shuffle=True, verbose=0)
    np.testing.assert_allclose(np.sum(h2.history["loss"]) * 30, x.sum(), rtol=1e-5)


def test_exhausted_generator_ends_training_with_a_warning():
    x, y = _data()
    m = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(_batches(x, y, 16), epochs=3, verbose=0)
    assert h.epoch == [0]
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(_batches(x, y, 16), steps_per_epoch=2, epochs=3, verbose=0)
    assert h.epoch == [0, 1]  # 3 batches: epoch 1 gets one, then the data ends


def test_generator_progress_output_is_plain(capsys):
    x, y = _data()
    m = _model()
    m.fit(Reiterable(x, y, size=16), epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "Epoch 2/2" in out
    assert "3/Unknown" in out and "3/3 [" in out  # the second epoch knows the count


def test_bad_inputs_raise_value_errors_naming_fit():
    x, y = _data()
    m = _model()
    cases = [
        (dict(x=x, y=y, class_weight=CLASS_WEIGHT, sample_weight=np.ones(48)), r"fit: pass class_weight or sample_weight, not both"),
        (dict(x=x, y=y, sample_weight=np.ones(47)), r"fit: sample_weight must have shape \(48,\).*\(47,\)"),
        (dict(x=x, y=y, sample_weight=np.ones((48, 2))), r"fit: sample_weight must have shape"),
        (dict(x=x, y=y, sample_weight=np.full(48, np.nan)), r"fit: sample_weight contains NaN"),
        (dict(x=x, y=y, class_weight=[1.0, 2.0]), r"fit: class_weight must be a dict"),
        (dict(x=x, y=y, class_weight={"a": 1.0}), r"fit: class_weight keys must be integer"),
        (dict(x=x, y=y, class_weight={0: None}), r"fit: class_weight\[0\] must be a finite number"),
        (dict(x=_batches(x, y, 16), y=y), r"fit: x is a generator/iterable of batches, so y must not"),
        (dict(x=_batches(x, y, 16), sample_weight=np.ones(48)), r"fit: .*sample_weight must not"),
        # Keras 3: a batch that is not a tuple is x alone; the built-in step needs a y
        (dict(x=iter([x[:4]])), r"fit: batch 0 has no targets .* batches must be \(x, y\)"),
        (dict(x=iter([(x[:4], y[:4], None, None)])), r"fit: batch 0 .* a tuple of 4 items"),
        (dict(x=iter([(x[:4], y[:3])])), r"fit: x and y must have the same number of samples"),
        (dict(x=iter([(x[:4], y[:4], np.ones(3))])), r"fit \(batch 0\): sample_weight must have shape \(4,\)"),
        (dict(x=iter([])), r"fit: the data iterable yielded no batches"),
        (dict(x=_batches(x, y, 16), steps_per_epoch=0), r"fit: steps_per_epoch must be a positive integer"),
        (dict(x=x, y=y, validation_data=(x,)), r"fit: validation_data must be \(x_val, y_val\)"),
        (dict(x=x, y=y, validation_data=(x, y, np.ones(3))), r"fit\(validation_data\): sample_weight must have shape \(48,\)"),
        (dict(x=x, y=y, batch_size=0), r"fit: batch_size must be a positive integer"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            m.fit(verbose=0, **kwargs)
    with pytest.raises(ValueError, match=r"evaluate: sample_weight must have shape \(48,\)"):
        m.evaluate(x, y, sample_weight=np.ones(5), verbose=0)
    with pytest.raises(ValueError, match=r"train_on_batch: class_weight must be a dict"):
        m.train_on_batch(x, y, class_weight=3)
    with pytest.raises(ValueError, match=r"predict: the data iterable yielded no batches"):
        m.predict(iter([]))


def test_array_likes_are_data_not_batches():
    """An object with __array__ (a DataFrame, a torch tensor) is iterable but holds samples."""
    x, y = _data()

    class Frame:
        def __array__(self, dtype=None, copy=None):
            return x

        def __iter__(self):
            return iter(["col0", "col1"])  # what iterating a DataFrame gives

    a, b = _model(), _model()
    a.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    b.fit(Frame(), y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    _same_weights(a, b)


def test_a_callback_can_move_the_initial_epoch():
    """The Keras 3 hook BackupAndRestore uses: model._initial_epoch set in on_train_begin."""
    x, y = _data()
    m = _model()
    resume = corenn.callbacks.LambdaCallback(
        on_train_begin=lambda logs: setattr(m, "_initial_epoch", 3))
    assert m.fit(x, y, epochs=5, verbose=0, callbacks=[resume]).epoch == [3, 4]
    assert m.fit(x, y, epochs=2, verbose=0).epoch == [0, 1]  # not sticky
