"""Keras 3.15's Muon, ScheduleFreeAdamW and MultiOptimizer / OptimizerMap: several steps against
float64 NumPy implementations of the update rules, training a model, configs and saving."""
import numpy as np
import pytest

from corenn import keras


def _ns5(g, steps, a=3.4445, b=-4.7750, c=2.0315):
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def _muon_reference(w0, grads, lr=0.001, b1=0.9, b2=0.999, adam_wd=0.004, eps=1e-7, wd=0.004,
                    momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2, adam_lr_ratio=1.0,
                    adam_paths=(), clipnorm=None):
    w = {k: np.asarray(v, np.float64).copy() for k, v in w0.items()}
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v2 = {k: np.zeros_like(v) for k, v in w.items()}
    for t, step in enumerate(grads, 1):
        for k, g in step.items():
            g = np.asarray(g, np.float64)
            if clipnorm:
                g = g * clipnorm / max(np.linalg.norm(g), clipnorm)
            if w[k].ndim != 2 or k in adam_paths:
                w[k] -= w[k] * adam_wd * lr
                m[k] += (g - m[k]) * (1 - b1)
                v2[k] += (g * g - v2[k]) * (1 - b2)
                alpha = lr * adam_lr_ratio * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                w[k] -= alpha * m[k] / (np.sqrt(v2[k]) + eps)
            else:
                w[k] -= w[k] * wd * lr
                m[k] = momentum * m[k] + g
                o = _ns5(g + momentum * m[k] if nesterov else m[k], ns_steps) * lr
                if rms_rate is not None:
                    o = o * np.sqrt(max(o.shape)) * rms_rate
                w[k] -= o
    return w


SHAPES = {"dense/kernel": (5, 3), "dense/bias": (3,), "embedding/embeddings": (6, 4), "wide/kernel": (3, 7)}


def _variables(rng):
    w0 = {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}
    tensors = {}
    for k, v in w0.items():
        t = keras.ops.convert_to_tensor(v.copy())
        t.path = k
        tensors[k] = t
    return w0, tensors


@pytest.mark.parametrize("options, reference", [
    ({}, {"adam_paths": ("embedding/embeddings",)}),
    (dict(nesterov=False, rms_rate=None, weight_decay=0.1, adam_weight_decay=0.05, adam_lr_ratio=0.5,
          exclude_layers=["wide"], learning_rate=0.01),
     dict(nesterov=False, rms_rate=None, wd=0.1, adam_wd=0.05, adam_lr_ratio=0.5, lr=0.01,
          adam_paths=("embedding/embeddings", "wide/kernel"))),
    (dict(clipnorm=0.5, exclude_embeddings=False, ns_steps=3), dict(clipnorm=0.5, ns_steps=3)),
])
def test_muon_steps_match_the_float64_rule(options, reference):
    rng = np.random.default_rng(0)
    w0, tensors = _variables(rng)
    grads = [{k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()} for _ in range(3)]
    opt = keras.optimizers.Muon(**options)
    for step in grads:
        opt.apply_gradients([(step[k], tensors[k]) for k in SHAPES])
    want = _muon_reference(w0, grads, **reference)
    for k in SHAPES:
        np.testing.assert_allclose(np.asarray(tensors[k]), want[k], rtol=1e-5, atol=2e-6, err_msg=k)
    assert len(opt._state_variables) == 5 + (1 if options.get("exclude_embeddings", True) else 0) + \
        (1 if "wide" in options.get("exclude_layers", []) else 0)


def _schedule_free_reference(w0, grads, lr=0.0025, b1=0.9, b2=0.999, eps=1e-8, warmup=0, wd=None):
    y = np.asarray(w0, np.float64).copy()
    z, v = y.copy(), np.zeros_like(y)
    for t, g in enumerate(grads, 1):
        g = np.asarray(g, np.float64)
        if wd:
            y -= y * wd * lr
        rate = lr * min(t / warmup, 1.0) if warmup else lr
        z_old = z.copy()
        v = v + (g * g - v) * (1 - b2)
        z = z - rate * g / (np.sqrt(v / (1 - b2 ** t)) + eps)
        x = (y - (1 - b1) * z_old) / b1
        x = (1 - 1 / t) * x + z / t
        y = (1 - b1) * z + b1 * x
    return y


@pytest.mark.parametrize("options", [dict(learning_rate=0.1), dict(learning_rate=0.05, warmup_steps=3,
                                                                     weight_decay=0.1, beta_1=0.8)])
def test_schedule_free_adamw_steps_match_the_float64_rule(options):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(5)]
    w = keras.ops.convert_to_tensor(w0.copy())
    opt = keras.optimizers.ScheduleFreeAdamW(**options)
    for g in grads:
        opt.apply_gradients([(g, w)])
    want = _schedule_free_reference(w0, grads, lr=options["learning_rate"], b1=options.get("beta_1", 0.9),
                                    warmup=options.get("warmup_steps", 0), wd=options.get("weight_decay"))
    np.testing.assert_allclose(np.asarray(w), want, rtol=1e-5, atol=1e-6)
    assert opt.iterations == 5
    cfg = opt.get_config()
    again = keras.optimizers.ScheduleFreeAdamW.from_config(cfg)
    assert again.get_config() == cfg


def _regression(rng):
    x = rng.standard_normal((128, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 1)) + 0.1).astype(np.float32)
    return x, y


@pytest.mark.parametrize("make", [lambda: keras.optimizers.Muon(learning_rate=0.02),
                                  lambda: keras.optimizers.ScheduleFreeAdamW(learning_rate=0.02)])
def test_models_train_with_the_new_optimizers_and_save_their_state(tmp_path, make):
    rng = np.random.default_rng(2)
    x, y = _regression(rng)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(make(), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert type(again.optimizer) is type(model.optimizer) and again.optimizer.iterations == 80
    for a, b in zip(again.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert keras.optimizers.get(type(model.optimizer).__name__.lower()).__class__ is type(model.optimizer)


def test_multi_optimizer_routes_variables_by_path_and_saves(tmp_path):
    rng = np.random.default_rng(3)
    x, y = _regression(rng)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="encoder"),
                              keras.layers.Dense(1, name="head")], name="net")
    sgd, adam = keras.optimizers.SGD(0.01), keras.optimizers.Adam(0.01)
    # the patterns fullmatch the variables' paths, which a Sequential's layers have under its
    # name (net/encoder/kernel), as in Keras 3
    omap = keras.optimizers.OptimizerMap(sgd, {"net/encoder/.*": adam})
    opt = keras.optimizers.MultiOptimizer(omap)
    model.compile(opt, "mse")
    w0 = [np.array(w) for w in model.trainable_weights]
    grads = [rng.standard_normal(w.shape).astype(np.float32) for w in w0]
    opt.apply(grads, model.trainable_weights)
    # encoder: Adam's first step moves every entry by lr (m / sqrt(v) = sign(g)); head: plain SGD
    np.testing.assert_allclose(np.asarray(model.trainable_weights[0]), w0[0] - 0.01 * np.sign(grads[0]), atol=2e-5)
    np.testing.assert_allclose(np.asarray(model.trainable_weights[2]), w0[2] - 0.01 * grads[2], atol=1e-6)
    assert opt.optimizers == [adam, sgd] and (adam.iterations, sgd.iterations, opt.iterations) == (1, 1, 1)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    model.save(tmp_path / "multi.keras")
    again = keras.models.load_model(tmp_path / "multi.keras")
    assert [type(o).__name__ for o in again.optimizer.optimizers] == ["Adam", "SGD"]
    assert again.optimizer.iterations == opt.iterations
    with pytest.raises(AttributeError, match="sub-optimizers"):
        opt.learning_rate


def test_optimizer_map_rules_and_errors():
    default, a, b = keras.optimizers.RMSprop(), keras.optimizers.Adam(), keras.optimizers.SGD()
    omap = keras.optimizers.OptimizerMap(default)
    omap["encoder/layer_0/dense"] = a
    omap["encoder/.*"] = b
    omap["decoder"] = a
    assert omap["encoder/layer_0/dense"] is a and omap["encoder/layer_0/attention"] is b
    assert omap["decoder"] is a and omap["decoder/dense"] is default and len(omap) == 3
    with pytest.raises(ValueError, match="already exists"):
        omap["decoder"] = b
    omap["encoder/layer_0/.*"] = a
    with pytest.raises(ValueError, match="multiple optimizers"):
        omap["encoder/layer_0/x"]
    with pytest.raises(TypeError, match="default_optimizer"):
        keras.optimizers.OptimizerMap("adam")
    with pytest.raises(ValueError, match="inside a MultiOptimizer"):
        omap["inner"] = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(b))
    with pytest.raises(ValueError, match="ns_steps"):
        keras.optimizers.Muon(ns_steps=-1)


@pytest.mark.parametrize("make", [lambda: keras.optimizers.Muon(0.01), lambda: keras.optimizers.ScheduleFreeAdamW(0.01)])
def test_keras_optimizer_state_reads_in_keras_order(tmp_path, make):
    """A Keras file lists these optimizers' state per variable (momentum, then velocity where there
    is one), after iterations and learning_rate; the reader hands it over one to one."""
    h5py = pytest.importorskip("h5py")
    from corenn import saving_keras
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile(make(), "mse")
    opt = model.optimizer
    opt.build(model.trainable_weights)
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(np.shape(a)).astype(np.float32) for a in opt._state_variables]
    with h5py.File(tmp_path / "state.h5", "w") as f:
        values = [f.create_dataset("vars/0", data=np.int64(7)), f.create_dataset("vars/1", data=np.float32(0.02))]
        values += [f.create_dataset(f"vars/{i + 2}", data=a) for i, a in enumerate(arrays)]
        saving_keras._set_optimizer_state(model, values, "state.h5")
        assert opt.iterations == 7 and abs(opt.learning_rate - 0.02) < 1e-9
        for got, want in zip(opt._state_variables, arrays):
            np.testing.assert_array_equal(np.asarray(got), want)
        with pytest.raises(saving_keras._Bad, match="optimizer variable of shape"):
            saving_keras._set_optimizer_state(model, values[:2] + values[3:] + values[2:3], "state.h5")
