"""Keras 3's step options on every optimizer: use_ema (+ ema_overwrite_frequency,
finalize_variable_values, callbacks.SwapEMAWeights), gradient_accumulation_steps and
loss_scale_factor, against NumPy replays of Keras 3's rules."""
import numpy as np
import pytest

from corenn import GradientTape, keras, kernels, optimizers


def _var(values):
    return kernels.Tensor.from_numpy(np.asarray(values, np.float32))


def test_ema_follows_keras_rule_and_finalizes(rng):
    w = _var(rng.standard_normal(5))
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9)
    grads = [rng.standard_normal(5).astype(np.float32) for _ in range(4)]
    raw, ema = np.asarray(w, np.float64).copy(), None
    for k, g in enumerate(grads):
        opt.apply([g], [w])
        raw = raw - 0.1 * g
        ema = raw.copy() if k == 0 else 0.9 * ema + 0.1 * raw   # the first step copies the variable
    np.testing.assert_allclose(np.asarray(w), raw, rtol=1e-6)
    np.testing.assert_allclose(opt.ema_variables[0], ema, rtol=1e-5)
    assert opt.iterations == 4
    opt.finalize_variable_values([w])
    np.testing.assert_allclose(np.asarray(w), ema, rtol=1e-5)
    cfg = opt.get_config()
    assert cfg["use_ema"] is True and cfg["ema_momentum"] == 0.9
    assert optimizers.SGD.from_config(cfg).use_ema


def test_ema_overwrite_frequency(rng):
    w = _var(np.zeros(3))
    opt = optimizers.SGD(1.0, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    opt.apply([np.ones(3, np.float32)], [w])        # w = -1, ema = -1
    opt.apply([np.ones(3, np.float32)], [w])        # w = -2, ema = -1.5, then w := ema
    np.testing.assert_allclose(np.asarray(w), -1.5)


def test_gradient_accumulation_applies_the_mean_every_n_calls(rng):
    w = _var(rng.standard_normal(4))
    start = np.asarray(w).copy()
    opt = optimizers.Adam(0.01, gradient_accumulation_steps=3)
    ref = optimizers.Adam(0.01)
    w_ref = _var(start)
    gs = [rng.standard_normal(4).astype(np.float32) for _ in range(6)]
    for k, g in enumerate(gs):
        opt.apply([g], [w])
        if k % 3 != 2:
            continue
        # the update uses the mean of the three gradients, and as its step count the updates
        # made so far (Keras 3: iterations = calls // n; Adam's bias correction uses it)
        assert ref.iterations == k // 3
        ref.apply([np.mean(gs[k - 2:k + 1], axis=0)], [w_ref])
        np.testing.assert_allclose(np.asarray(w), np.asarray(w_ref), rtol=1e-6)
    assert opt.iterations == 2 and opt._iterations == 6
    np.testing.assert_array_equal(np.asarray(_var(start)), start)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=1)


def test_loss_scale_factor_in_a_tape_loop_and_in_fit(rng):
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)

    def run(factor, use_fit):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        opt = optimizers.SGD(0.05, loss_scale_factor=factor)
        if use_fit:
            model.compile(opt, "mse")
            model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
        else:
            loss_fn = keras.losses.MeanSquaredError()
            for _ in range(3):
                with GradientTape() as tape:
                    loss = opt.scale_loss(loss_fn(y, model(x, training=True)))
                grads = tape.gradient(loss, model.trainable_weights)
                opt.apply_gradients(zip(grads, model.trainable_weights))
        return [np.asarray(w) for w in model.get_weights()]
    for use_fit in (False, True):
        plain, scaled = run(None, use_fit), run(1024.0, use_fit)
        for a, b in zip(plain, scaled):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_fit_ends_with_the_ema_weights_and_swap_callback(rng):
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)

    def build():
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8), "binary_crossentropy")
        return model
    model = build()
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    # the same run, replayed without fit's finalize: its raw weights and averages
    shadow = build()
    opt = shadow.optimizer
    for _ in range(2):
        for lo in range(0, 64, 16):
            with GradientTape() as tape:
                loss = keras.losses.BinaryCrossentropy()(y[lo:lo + 16], shadow(x[lo:lo + 16], training=True))
            opt.apply_gradients(zip(tape.gradient(loss, shadow.trainable_weights), shadow.trainable_weights))
    for w, avg in zip(model.get_weights(), opt.ema_variables):
        np.testing.assert_allclose(w, avg, rtol=1e-5, atol=1e-7)
    assert not np.allclose(shadow.get_weights()[0], opt.ema_variables[0])
    # SwapEMAWeights: validation sees the averages, training goes on from the raw weights
    swapped = build()
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            seen.append(np.asarray(self.model.trainable_weights[0]).copy())
    swapped.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_data=(x, y),
                callbacks=[keras.callbacks.SwapEMAWeights(), Probe()])
    np.testing.assert_allclose(seen[0], swapped.get_weights()[0], rtol=1e-6)   # finalize kept the averages
    with pytest.raises(ValueError, match="use_ema=True"):
        plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        plain.compile("sgd", "mse")
        plain.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.SwapEMAWeights()])


def test_ema_state_saves_and_resumes(rng, tmp_path):
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizers.SGD(0.01, use_ema=True, gradient_accumulation_steps=2), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.models.load_model(path)
    assert again.optimizer.use_ema and again.optimizer.gradient_accumulation_steps == 2
    for a, b in zip(again.optimizer.ema_variables, model.optimizer.ema_variables):
        np.testing.assert_array_equal(a, b)


def test_cosine_decay_restarts_matches_sgdr():
    from corenn.optimizers import schedules
    sched = schedules.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5, alpha=0.1)

    def ref(step):   # walk the periods one by one
        start, length, m = 0, 10, 1.0
        while step >= start + length:
            start, length, m = start + length, length * 2, m * 0.5
        f = (step - start) / length
        return 0.1 * ((1 - 0.1) * m * 0.5 * (1 + np.cos(np.pi * f)) + 0.1)
    for step in (0, 1, 5, 9, 10, 11, 29, 30, 31, 69, 70, 100):
        np.testing.assert_allclose(sched(step), ref(step), rtol=1e-9)
    flat = schedules.CosineDecayRestarts(1.0, 4, t_mul=1.0)
    np.testing.assert_allclose([flat(s) for s in (0, 4, 8)], [1.0, 1.0, 1.0])
    again = schedules.deserialize(schedules.serialize(sched))
    assert again.get_config() == sched.get_config()
    assert keras.optimizers.LossScaleOptimizer.__name__ == "LossScaleOptimizer"


_DECAYING = [lambda wd: optimizers.SGD(0.1, momentum=0.9, weight_decay=wd),
             lambda wd: optimizers.Adam(0.01, weight_decay=wd), lambda wd: optimizers.AdamW(0.01, weight_decay=wd),
             lambda wd: optimizers.RMSprop(0.01, weight_decay=wd), lambda wd: optimizers.Adagrad(0.1, weight_decay=wd),
             lambda wd: optimizers.Lion(0.01, weight_decay=wd), lambda wd: optimizers.Nadam(0.01, weight_decay=wd),
             lambda wd: optimizers.Adafactor(0.1, weight_decay=wd), lambda wd: optimizers.Lamb(0.01, weight_decay=wd)]


@pytest.mark.parametrize("make", _DECAYING)
def test_exclude_from_weight_decay_by_variable_and_by_name(make, rng):
    """Keras 3's exclude_from_weight_decay: an excluded variable steps as with no decay, the
    others as with the decay (each checked against the same optimizer run on it alone), over a
    few steps."""
    from corenn import keras
    w0 = [rng.normal(size=s).astype(np.float32) for s in ((3, 4), (4,), (2,))]
    grads = [[rng.normal(size=w.shape).astype(np.float32) for w in w0] for _ in range(3)]
    kernel, bias = keras.Variable(w0[0], name="kernel"), keras.Variable(w0[1], name="bias")
    other = keras.Variable(w0[2], name="scale")
    opt = make(0.3)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bia"])
    for gs in grads:
        opt.apply_gradients(zip(gs, [kernel, bias, other]))
    for i, (var, wd) in enumerate([(kernel, 0.3), (bias, 0.0), (other, 0.0)]):
        alone, single = keras.Variable(w0[i]), make(wd)
        for gs in grads:
            single.apply_gradients([(gs[i], alone)])
        np.testing.assert_allclose(np.asarray(var), np.asarray(alone), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(kernel), np.asarray(keras.Variable(w0[0])))
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["kernel"])


def test_exclude_from_weight_decay_matches_keras_sgd_numbers():
    """SGD(0.1, weight_decay=0.5) with a zero gradient: the decayed variable shrinks by
    lr * wd, the excluded one stays (Keras 3's numbers)."""
    from corenn import keras
    decayed = keras.Variable(np.ones(3, np.float32), name="kernel")
    kept = keras.Variable(np.ones(3, np.float32), name="bias")
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([(np.zeros(3, np.float32), decayed), (np.zeros(3, np.float32), kept)])
    np.testing.assert_allclose(np.asarray(decayed), 0.95, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(kept), 1.0, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="Muon"):
        optimizers.Muon().exclude_from_weight_decay(var_names=["bias"])
