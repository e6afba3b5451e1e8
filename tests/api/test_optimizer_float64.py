"""Optimizers update float64 variables in float64 (Keras 3 / TensorFlow make a float64
variable's slots float64 and step it in float64).

Each optimizer's float64 step is checked against the float64 NumPy references of
tests/reference.py at rtol 1e-12, a tolerance the float32 kernel cannot meet (asserted too:
the same optimizer on float32 variables misses it, and agrees only to float32 rounding, which
checks that both dtypes run the same rule). Slots, moving averages and gradient sums of a
float64 variable are float64; mixed float32 + float64 lists step each group in its own dtype,
with one global_clipnorm over all gradients.
"""
import math

import numpy as np
import pytest

import corenn
from corenn.keras import optimizers

import reference as R

RTOL = 1e-12
LR = 0.05


def _f64(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _vars(dtype, shapes=((3, 4), (4,)), seed=0):
    return [corenn.Variable(_f64(s, seed + i).astype(dtype), dtype=np.dtype(dtype).name) for i, s in enumerate(shapes)]


# name -> (constructor, {keyword: value} of the rule, the slots in opt._state, initial slot value)
SPECS = {
    "sgd": (optimizers.SGD, {}, (), 0.0),
    "sgd_momentum": (optimizers.SGD, {"momentum": 0.9}, ("momentums",), 0.0),
    "sgd_nesterov": (optimizers.SGD, {"momentum": 0.9, "nesterov": True}, ("momentums",), 0.0),
    "adam": (optimizers.Adam, {"beta_1": 0.8, "beta_2": 0.95}, ("momentums", "velocities"), 0.0),
    "adam_amsgrad": (optimizers.Adam, {"amsgrad": True}, ("momentums", "velocities", "velocity_hats"), 0.0),
    "adamw": (optimizers.AdamW, {}, ("momentums", "velocities"), 0.0),
    "rmsprop": (optimizers.RMSprop, {}, ("velocities",), 0.0),
    "rmsprop_centered": (optimizers.RMSprop, {"centered": True}, ("velocities", "average_gradients"), 0.0),
    "rmsprop_momentum": (optimizers.RMSprop, {"momentum": 0.7, "centered": True},
                         ("velocities", "momentums", "average_gradients"), 0.0),
    "adagrad": (optimizers.Adagrad, {}, ("accumulators",), 0.1),
    "adamax": (optimizers.Adamax, {}, ("momentums", "norms"), 0.0),
    "nadam": (optimizers.Nadam, {}, ("momentums", "velocities"), 0.0),
    "lion": (optimizers.Lion, {}, ("momentums",), 0.0),
    "adadelta": (optimizers.Adadelta, {"rho": 0.9}, ("accumulated_grads", "accumulated_delta_vars"), 0.0),
    "ftrl": (optimizers.Ftrl, {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
                               "l2_shrinkage_regularization_strength": 0.03, "beta": 0.1},
             ("accumulators", "linears"), 0.1),
    "lamb": (optimizers.Lamb, {}, ("momentums", "velocities"), 0.0),
    "adafactor": (optimizers.Adafactor, {}, ("rows", "cols", "velocities"), 0.0),
}

OPTIONS = {"plain": {}, "clipnorm": {"clipnorm": 0.5}, "clipvalue": {"clipvalue": 0.3},
           "global_clipnorm": {"global_clipnorm": 0.7}, "weight_decay": {"weight_decay": 0.05}}


def _initial_state(name, params):
    """The reference's state lists (Adafactor: rows / cols of a rank >= 2 variable, a velocity
    otherwise; None where the variable has none)."""
    _, kw, slots, init = SPECS[name]
    if name == "adafactor":
        return {"rows": [np.zeros(p.shape[:-1]) if p.ndim >= 2 else None for p in params],
                "cols": [np.zeros(p.shape[:-2] + p.shape[-1:]) if p.ndim >= 2 else None for p in params],
                "velocities": [None if p.ndim >= 2 else np.zeros(p.shape) for p in params]}
    # the initial value is the accumulators' (Adagrad, Ftrl); every other slot starts at 0
    return {s: [np.full(p.shape, init if s == "accumulators" else 0.0) for p in params] for s in slots}


def _reference_step(name, params, grads, state, lr, step, options):
    """One step of tests/reference.py's float64 rule; returns (params, state)."""
    cls, kw, slots, _ = SPECS[name]
    kw = dict(kw)
    opts = dict(options)
    if cls is optimizers.AdamW:
        opts.setdefault("weight_decay", 0.004)
    s = state
    if name.startswith("sgd"):
        p, m = R.sgd_step(params, grads, s.get("momentums", []), lr, **kw, **opts)
        return p, ({"momentums": m} if m else {})
    if name.startswith("adam") and cls in (optimizers.Adam, optimizers.AdamW):
        p, m, v, vh = R.adam_step(params, grads, s["momentums"], s["velocities"], s.get("velocity_hats", []), lr,
                                  step=step, **kw, **opts)
        out = {"momentums": m, "velocities": v}
        if kw.get("amsgrad"):
            out["velocity_hats"] = vh
        return p, out
    if name.startswith("rmsprop"):
        p, vel, mom, avg = R.rmsprop_step(params, grads, s["velocities"], s.get("momentums", []),
                                          s.get("average_gradients", []), lr, **kw, **opts)
        out = {"velocities": vel}
        if mom:
            out["momentums"] = mom
        if avg:
            out["average_gradients"] = avg
        return p, out
    if name == "adagrad":
        p, a = R.adagrad_step(params, grads, s["accumulators"], lr, **kw, **opts)
        return p, {"accumulators": a}
    if name == "adamax":
        p, m, u = R.adamax_step(params, grads, s["momentums"], s["norms"], lr, step=step, **kw, **opts)
        return p, {"momentums": m, "norms": u}
    if name == "nadam":
        p, m, v = R.nadam_step(params, grads, s["momentums"], s["velocities"], lr, step=step, **kw, **opts)
        return p, {"momentums": m, "velocities": v}
    if name == "lion":
        p, m = R.lion_step(params, grads, s["momentums"], lr, **kw, **opts)
        return p, {"momentums": m}
    if name == "adadelta":
        p, ag, ad = R.adadelta_step(params, grads, s["accumulated_grads"], s["accumulated_delta_vars"], lr,
                                    **kw, **opts)
        return p, {"accumulated_grads": ag, "accumulated_delta_vars": ad}
    if name == "ftrl":
        p, acc, lin = R.ftrl_step(params, grads, s["accumulators"], s["linears"], lr,
                                  l1=kw["l1_regularization_strength"], l2=kw["l2_regularization_strength"],
                                  l2_shrinkage=kw["l2_shrinkage_regularization_strength"], beta=kw["beta"],
                                  **opts)
        return p, {"accumulators": acc, "linears": lin}
    if name == "lamb":
        p, m, v = R.lamb_step(params, grads, s["momentums"], s["velocities"], lr, step=step, **kw, **opts)
        return p, {"momentums": m, "velocities": v}
    if name == "adafactor":
        p, r, c, v = R.adafactor_step(params, grads, s["rows"], s["cols"], s["velocities"], lr, step=step,
                                      **kw, **opts)
        return p, {"rows": r, "cols": c, "velocities": v}
    raise AssertionError(name)


def _make(name, options, lr=LR):
    cls, kw, _, _ = SPECS[name]
    return cls(learning_rate=lr, **kw, **options)


def _grads(shapes, step, scale=1.0):
    return [scale * _f64(s, 100 + 10 * step + i) for i, s in enumerate(shapes)]


def _run(name, options, dtype, steps=3):
    variables = _vars(dtype)
    opt = _make(name, options)
    for k in range(steps):
        opt.apply_gradients(zip(_grads([tuple(v.shape) for v in variables], k), variables))
    return opt, variables


def _reference(name, options, steps=3):
    params = [_f64(s, i) for i, s in enumerate(((3, 4), (4,)))]
    state = _initial_state(name, params)
    for k in range(steps):
        params, state = _reference_step(name, params, _grads([p.shape for p in params], k), state, LR, k, options)
    return params, state


def _state_of(opt, slot, i):
    return np.asarray(opt._state[slot][i])


def _max_rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300))) if want.size else 0.0


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("name", sorted(SPECS))
def test_float64_step_matches_float64_reference(name, option):
    options = OPTIONS[option]
    opt, variables = _run(name, options, np.float64)
    want_p, want_s = _reference(name, options)
    for v, w in zip(variables, want_p):
        assert str(v.dtype) == "float64"
        np.testing.assert_allclose(np.asarray(v), w, rtol=RTOL, atol=1e-300)
    for slot, arrays in want_s.items():
        for i, want in enumerate(arrays):
            if want is None:
                continue
            got = _state_of(opt, slot, i)
            assert got.dtype == np.float64, (slot, got.dtype)
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-300, err_msg=f"{slot}[{i}]")
    for t in opt._state_variables:
        assert str(np.asarray(t).dtype) == "float64"

    # the float32 kernel runs the same rule (it agrees to float32 rounding) but cannot meet the
    # float64 tolerance: what the float64 path adds
    opt32, vars32 = _run(name, options, np.float32)
    errors = []
    for v, w in zip(vars32, want_p):
        assert str(v.dtype) == "float32"
        np.testing.assert_allclose(np.asarray(v), w, rtol=2e-4, atol=2e-5)
        errors.append(_max_rel_err(np.asarray(v), w))
    assert max(errors) > 1e3 * RTOL, errors


@pytest.mark.parametrize("name", sorted(set(SPECS) - {"ftrl"}))
def test_tiny_step_survives_in_float64(name):
    """lr = 1e-10 on w = 1: float32 rounds the step away (w stays 1), float64 keeps it."""
    results = {}
    for dtype in (np.float32, np.float64):
        v = corenn.Variable(np.ones(4, dtype), dtype=np.dtype(dtype).name)
        opt = _make(name, {}, lr=1e-10)
        opt.apply_gradients([(np.full(4, 0.5), v)])
        results[dtype] = np.asarray(v).copy()
    assert np.all(results[np.float32] == 1.0)
    assert np.all(results[np.float64] < 1.0) and np.all(results[np.float64] > 1.0 - 1e-8)
    state = _initial_state(name, [np.ones(4)])
    want, _ = _reference_step(name, [np.ones(4)], [np.full(4, 0.5)], state, 1e-10, 0, {})
    np.testing.assert_allclose(results[np.float64], want[0], rtol=1e-15)
    np.testing.assert_allclose(1.0 - results[np.float64], 1.0 - want[0], rtol=1e-5)


def test_ftrl_tiny_differences_survive():
    """Ftrl sets w from its state (no increment): a float64 result off 1 by 1e-10 survives."""
    v = corenn.Variable(np.ones(3), dtype=corenn.float64)
    opt = _make("ftrl", {})
    g = np.full(3, 1e-10)
    opt.apply_gradients([(g, v)])
    state = _initial_state("ftrl", [np.ones(3)])
    want, _ = _reference_step("ftrl", [np.ones(3)], [g], state, LR, 0, {})
    np.testing.assert_allclose(np.asarray(v), want[0], rtol=RTOL)
    assert np.float32(want[0][0]) != want[0][0]   # a value float32 cannot hold


def test_the_brief_example_and_gradient_tape_training():
    v = corenn.Variable(np.ones(3), dtype=corenn.float64)
    opt = optimizers.SGD(0.1)
    with corenn.GradientTape() as t:
        loss = corenn.reduce_sum(v * v)
    opt.apply_gradients(zip(t.gradient(loss, [v]), [v]))
    np.testing.assert_allclose(np.asarray(v), 0.8, rtol=1e-15)
    assert str(v.dtype) == "float64"

    # a training loop: sum((v - target)^2) with lr 0.5 lands on the target in one SGD step; a
    # target float32 cannot represent is reached exactly in float64
    target = np.array([1.0 + 3e-10, -2.0 + 1e-12, 0.25 + 7e-11])
    w = corenn.Variable(np.zeros(3), dtype=corenn.float64)
    tgt = corenn.constant(target, dtype=corenn.float64)
    opt = optimizers.SGD(0.5)
    for _ in range(2):
        with corenn.GradientTape() as t:
            loss = corenn.reduce_sum(corenn.square(w - tgt))
        grads = t.gradient(loss, [w])
        assert str(grads[0].dtype) == "float64"
        opt.apply_gradients(zip(grads, [w]))
    np.testing.assert_allclose(np.asarray(w), target, rtol=1e-15, atol=0)

    # Adam converges to the same float64 target
    w = corenn.Variable(np.zeros(3), dtype=corenn.float64)
    opt = optimizers.Adam(0.05)
    for _ in range(600):
        with corenn.GradientTape() as t:
            loss = corenn.reduce_sum(corenn.square(w - tgt))
        opt.apply_gradients(zip(t.gradient(loss, [w]), [w]))
    np.testing.assert_allclose(np.asarray(w), target, atol=1e-6)
    assert all(np.asarray(s).dtype == np.float64 for s in opt._state_variables)


def test_gradient_dtypes_are_cast_to_the_variables():
    """A float32 gradient of a float64 variable is cast to float64, a float64 gradient of a
    float32 variable to float32 (Keras casts a gradient to its variable's dtype)."""
    v64 = corenn.Variable(np.ones(3), dtype=corenn.float64)
    v32 = corenn.Variable(np.ones(3, np.float32))
    opt = optimizers.SGD(0.25)
    g32 = np.array([1.0, 2.0, 3.0], np.float32)
    g64 = np.array([1.0, 2.0, 3.0]) + 1e-9
    opt.apply_gradients([(corenn.constant(g32), v64), (corenn.constant(g64, dtype=corenn.float64), v32)])
    np.testing.assert_allclose(np.asarray(v64), 1.0 - 0.25 * g32.astype(np.float64), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(v32), (1.0 - 0.25 * g64).astype(np.float32), rtol=1e-7)
    assert str(v64.dtype) == "float64" and str(v32.dtype) == "float32"


@pytest.mark.parametrize("exclude", [False, True])
@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "lamb"])
def test_float64_tensor_gradient_of_float32_variables(name, exclude):
    """Only float32 variables (the fused path) given float64 Tensor gradients: cast to float32,
    the same step as float32 gradients (also with exclude_from_weight_decay's own decay)."""
    grads64 = [corenn.constant(g, dtype=corenn.float64) for g in _grads([(3, 4), (4,)], 0)]
    results = []
    for grads in (grads64, [np.asarray(g).astype(np.float32) for g in grads64]):
        variables = _vars(np.float32)
        opt = _make(name, {"weight_decay": 0.1})
        if exclude:
            opt.exclude_from_weight_decay(var_list=[variables[1]])
        opt.apply_gradients(zip(grads, variables))
        results.append([np.asarray(v).copy() for v in variables])
        assert opt.iterations == 1
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="must be float32, got int32"):   # other dtypes: the kernel's error
        optimizers.SGD(0.1).apply_gradients([(corenn.constant(np.ones(3, np.int32)), _vars(np.float32, ((3,),))[0])])


@pytest.mark.parametrize("option", ["plain", "global_clipnorm", "clipnorm", "weight_decay"])
@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_momentum", "lamb", "adafactor"])
def test_mixed_float32_and_float64_variables(name, option):
    """A list with both dtypes: the float64 variables match the float64 reference at rtol 1e-12,
    the float32 ones the same reference to float32 rounding; a global_clipnorm's norm is the
    one of all the gradients (the reference clips them all together)."""
    options = OPTIONS[option]
    shapes = ((3, 4), (4,), (2, 3), (5,))
    dtypes = (np.float32, np.float64, np.float64, np.float32)
    init = [_f64(s, i).astype(d).astype(np.float64) for i, (s, d) in enumerate(zip(shapes, dtypes))]
    variables = [corenn.Variable(p.astype(d), dtype=np.dtype(d).name) for p, d in zip(init, dtypes)]
    opt = _make(name, options)
    params, state = list(init), _initial_state(name, init)
    for k in range(3):
        # float32 variables get float32 gradients, so both sides see the same numbers
        grads = [g.astype(d).astype(np.float64) for g, d in zip(_grads(shapes, k, scale=2.0), dtypes)]
        opt.apply_gradients(zip([g.astype(d) for g, d in zip(grads, dtypes)], variables))
        params, state = _reference_step(name, params, grads, state, LR, k, options)
        for i, (v, d) in enumerate(zip(variables, dtypes)):   # the float32 ones, to float32 rounding
            if d == np.float32:
                np.testing.assert_allclose(np.asarray(v), params[i], rtol=1e-5, atol=1e-6, err_msg=f"step {k}")
        # the float32 variables' next steps start from their float32 values, as the optimizer's do
        params = [np.asarray(v, np.float64) if d == np.float32 else p for p, v, d in zip(params, variables, dtypes)]
        for slot, arrays in state.items():
            state[slot] = [np.asarray(opt._state[slot][i], np.float64) if d == np.float32 and a is not None else a
                           for i, (a, d) in enumerate(zip(arrays, dtypes))]
    for i, (v, want, d) in enumerate(zip(variables, params, dtypes)):
        assert str(v.dtype) == np.dtype(d).name
        if d == np.float64:
            np.testing.assert_allclose(np.asarray(v), want, rtol=RTOL, atol=1e-300, err_msg=f"variable {i}")
    for slot, arrays in state.items():
        for i, (want, d) in enumerate(zip(arrays, dtypes)):
            got = np.asarray(opt._state[slot][i])
            assert got.dtype == np.dtype(d), (slot, i, got.dtype)
            if want is not None and d == np.float64:
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-300, err_msg=f"{slot}[{i}]")


def test_mixed_global_clipnorm_uses_the_norm_of_all_gradients():
    """One float32 and one float64 variable, SGD with global_clipnorm = 1: both gradients are
    scaled by 1 / ||(g32, g64)||, the norm over both dtypes."""
    v32 = corenn.Variable(np.zeros(2, np.float32))
    v64 = corenn.Variable(np.zeros(2), dtype=corenn.float64)
    g32, g64 = np.array([3.0, 0.0], np.float32), np.array([0.0, 4.0])
    optimizers.SGD(1.0, global_clipnorm=1.0).apply_gradients([(g32, v32), (g64, v64)])
    np.testing.assert_allclose(np.asarray(v32), [-0.6, 0.0], rtol=1e-7)
    np.testing.assert_allclose(np.asarray(v64), [0.0, -0.8], rtol=1e-15)


def test_float16_variables_are_refused_by_name():
    v = corenn.Variable(np.ones(3, np.float16), dtype=corenn.float16)
    for opt in (optimizers.Adam(), optimizers.SGD(), optimizers.Muon()):
        with pytest.raises(TypeError, match=rf"{type(opt).__name__}: variable 0 .*float16"):
            opt.apply_gradients([(np.ones(3, np.float16), v)])
        assert np.all(np.asarray(v) == 1)


def test_ema_in_float64():
    """use_ema: the average of a float64 variable is float64 and uses the float64 momentum
    (0.9 as float32 is 0.899999976..., which rtol 1e-12 would see)."""
    v = corenn.Variable(np.ones(3), dtype=corenn.float64)
    v32 = corenn.Variable(np.ones(3, np.float32))
    opt = optimizers.SGD(LR, use_ema=True, ema_momentum=0.9)
    p = np.ones(3)
    avg = None
    for k in range(4):
        g = _f64(3, 50 + k)
        opt.apply_gradients([(g, v), (g.astype(np.float32), v32)])
        p = p - LR * g
        avg = p.copy() if avg is None else 0.9 * avg + 0.1 * p
    ema = opt.ema_variables
    assert ema[0].dtype == np.float64 and ema[1].dtype == np.float32
    np.testing.assert_allclose(ema[0], avg, rtol=RTOL)
    np.testing.assert_allclose(ema[1], avg, rtol=1e-5)
    opt.finalize_variable_values([v, v32])
    np.testing.assert_allclose(np.asarray(v), avg, rtol=RTOL)


def test_gradient_accumulation_in_float64():
    """gradient_accumulation_steps = 3: the float64 sums keep what float32 sums would round
    away (1 + 1e-9 three times), and the update uses their float64 mean."""
    v = corenn.Variable(np.zeros(2), dtype=corenn.float64)
    opt = optimizers.Adam(LR, gradient_accumulation_steps=3)
    gs = [np.array([1.0 + 1e-9, -2.0]), np.array([1.0 + 2e-9, -2.0 + 3e-9]), np.array([1.0, -2.0 + 6e-9])]
    for g in gs:
        opt.apply_gradients([(g, v)])
    assert opt.iterations == 1
    mean = sum(gs) / 3
    p, m, s, _ = R.adam_step([np.zeros(2)], [mean], [np.zeros(2)], [np.zeros(2)], [], LR)
    np.testing.assert_allclose(np.asarray(v), p[0], rtol=RTOL)
    np.testing.assert_allclose(np.asarray(opt._state["momentums"][0]), m[0], rtol=RTOL)
    assert opt._accumulated[0].dtype == np.float64
    np.testing.assert_array_equal(opt._accumulated[0], 0.0)


def test_loss_scale_factor_and_loss_scale_optimizer_unscale_in_float64():
    g = np.array([1.0 + 1e-10, -3.0 + 1e-11, 0.5])
    want, _ = R.sgd_step([np.ones(3)], [g], [], 0.5)
    # loss_scale_factor: apply divides the gradients of the scaled loss by the factor
    v = corenn.Variable(np.ones(3), dtype=corenn.float64)
    optimizers.SGD(0.5, loss_scale_factor=1024.0).apply_gradients([(g * 1024.0, v)])
    np.testing.assert_allclose(np.asarray(v), want[0], rtol=1e-15)
    # LossScaleOptimizer: dynamic scale 2^10
    v = corenn.Variable(np.ones(3), dtype=corenn.float64)
    lso = optimizers.LossScaleOptimizer(optimizers.SGD(0.5), initial_scale=2.0 ** 10)
    lso.apply_gradients([(corenn.constant(g * 2.0 ** 10, dtype=corenn.float64), v)])
    np.testing.assert_allclose(np.asarray(v), want[0], rtol=1e-15)
    # through get_unscaled_gradients
    v = corenn.Variable(np.ones(3), dtype=corenn.float64)
    unscaled = lso.get_unscaled_gradients([corenn.constant(g * lso.dynamic_scale, dtype=corenn.float64)])
    assert str(unscaled[0].dtype) == "float64"
    lso.apply_gradients(zip(unscaled, [v]))
    np.testing.assert_allclose(np.asarray(v), want[0], rtol=1e-15)


def test_exclude_from_weight_decay_with_float64_variables():
    a = corenn.Variable(np.full(3, 2.0), dtype=corenn.float64, name="kernel")
    b = corenn.Variable(np.full(3, 2.0), dtype=corenn.float64, name="bias")
    c = corenn.Variable(np.full(3, 2.0, np.float32), name="other_bias")
    opt = optimizers.AdamW(LR, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias"])
    g = np.array([0.5, -1.0, 2.0])
    opt.apply_gradients([(g, a), (g, b), (g.astype(np.float32), c)])
    decayed, _, _, _ = R.adam_step([np.full(3, 2.0)], [g], [np.zeros(3)], [np.zeros(3)], [], LR, weight_decay=0.1)
    plain, _, _, _ = R.adam_step([np.full(3, 2.0)], [g], [np.zeros(3)], [np.zeros(3)], [], LR)
    np.testing.assert_allclose(np.asarray(a), decayed[0], rtol=RTOL)
    np.testing.assert_allclose(np.asarray(b), plain[0], rtol=RTOL)
    np.testing.assert_allclose(np.asarray(c), plain[0], rtol=1e-6)


def test_constraint_projects_a_float64_variable_in_float64():
    v = corenn.Variable(np.array([1.0, 0.5, 2.0]), dtype=corenn.float64,
                        constraint=lambda w: corenn.maximum(w, 1.0 + 1e-10))
    optimizers.SGD(0.1).apply_gradients([(np.array([1.0, 1.0, -1.0]), v)])
    np.testing.assert_allclose(np.asarray(v), [1.0 + 1e-10, 1.0 + 1e-10, 2.1], rtol=1e-15)
    assert str(v.dtype) == "float64"


@pytest.mark.parametrize("name", ["adam_amsgrad", "rmsprop_momentum", "ftrl", "adafactor"])
def test_save_and_load_keep_float64_state(name):
    opt, variables = _run(name, {"weight_decay": 0.01}, np.float64)
    mixed = variables + [corenn.Variable(np.ones(4, np.float32))]
    opt = _make(name, {"use_ema": True})
    for k in range(2):
        opt.apply_gradients(zip(_grads([tuple(v.shape) for v in mixed], k), mixed))
    store = {}
    opt.save_own_variables(store)
    dtypes = [np.asarray(t).dtype for t in opt._state_variables]
    assert np.float64 in dtypes and np.float32 in dtypes
    assert [store[str(i)].dtype for i in range(len(dtypes))] == dtypes
    # a value float32 cannot hold, written into a float64 slot, survives the round trip
    first64 = next(i for i, d in enumerate(dtypes) if d == np.float64 and store[str(i)].size)
    perturbed = dict(store)
    perturbed[str(first64)] = store[str(first64)] + 1e-11
    fresh = _make(name, {"use_ema": True})
    fresh.build(mixed)
    fresh.load_own_variables(perturbed)
    assert fresh.iterations == 2
    for i, t in enumerate(fresh._state_variables):
        got = np.asarray(t)
        assert got.dtype == dtypes[i]
        np.testing.assert_array_equal(got, perturbed[str(i)])
    # loaded from the unperturbed store, it continues exactly as the saved optimizer does
    fresh = _make(name, {"use_ema": True})
    fresh.build(mixed)
    fresh.load_own_variables(store)
    g = _grads([tuple(v.shape) for v in mixed], 5)
    before = [np.asarray(v).copy() for v in mixed]
    opt.apply_gradients(zip(g, mixed))
    after = [np.asarray(v).copy() for v in mixed]
    for v, b in zip(mixed, before):
        np.asarray(v)[...] = b
    fresh.apply_gradients(zip(g, mixed))
    for a, v in zip(after, mixed):
        np.testing.assert_array_equal(np.asarray(v), a)
    for a, b in zip(opt._state_variables, fresh._state_variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_multi_optimizer_routes_float64_variables():
    a = corenn.Variable(_f64((2, 3), 1), dtype=corenn.float64, name="a")
    b = corenn.Variable(_f64((3,), 2).astype(np.float32), name="b")
    a.__dict__["path"] = "dense/kernel"
    b.__dict__["path"] = "dense/bias"
    adam, sgd = optimizers.Adam(LR), optimizers.SGD(LR, momentum=0.9)
    multi = optimizers.MultiOptimizer(optimizers.OptimizerMap(sgd, {"dense/kernel": adam}))
    pa, ms, vs = [_f64((2, 3), 1)], [np.zeros((2, 3))], [np.zeros((2, 3))]
    pb, mb = [_f64((3,), 2).astype(np.float32).astype(np.float64)], [np.zeros(3)]
    for k in range(3):
        ga, gb = _f64((2, 3), 70 + k), _f64((3,), 80 + k).astype(np.float32)
        multi.apply_gradients([(ga, a), (gb, b)])
        pa, ms, vs, _ = R.adam_step(pa, [ga], ms, vs, [], LR, step=k)
        pb, mb = R.sgd_step(pb, [gb], mb, LR, momentum=0.9)
    np.testing.assert_allclose(np.asarray(a), pa[0], rtol=RTOL)
    np.testing.assert_allclose(np.asarray(b), pb[0], rtol=1e-5)
    assert np.asarray(adam._state["momentums"][0]).dtype == np.float64
    assert np.asarray(sgd._state["momentums"][0]).dtype == np.float32


def _schedule_free_reference(y, z, v, g, lr, t, b1=0.9, b2=0.999, eps=1e-8):
    v = v + (g * g - v) * (1 - b2)
    z_new = z - lr * g / (np.sqrt(v / (1 - b2 ** t)) + eps)
    x = (y - (1 - b1) * z) / b1
    x = (1 - 1 / t) * x + z_new / t
    return (1 - b1) * z_new + b1 * x, z_new, v


def test_schedule_free_adamw_keeps_float64():
    y0 = _f64((4,), 3)
    v = corenn.Variable(y0, dtype=corenn.float64)
    opt = optimizers.ScheduleFreeAdamW(LR)
    y, z, vel = y0.copy(), y0.copy(), np.zeros(4)
    for k in range(3):
        g = _f64((4,), 90 + k)
        opt.apply_gradients([(g, v)])
        y, z, vel = _schedule_free_reference(y, z, vel, g, LR, k + 1)
    np.testing.assert_allclose(np.asarray(v), y, rtol=RTOL)
    assert all(np.asarray(s).dtype == np.float64 for s in opt._state_variables)
    np.testing.assert_allclose(opt._momentums[0], z, rtol=RTOL)


def test_muon_keeps_float64():
    """Muon's Newton-Schulz branch (a 2-D variable) and its Adam branch (1-D) in float64."""
    w0, b0 = _f64((3, 5), 4), _f64((5,), 5)
    w = corenn.Variable(w0, dtype=corenn.float64)
    b = corenn.Variable(b0, dtype=corenn.float64)
    opt = optimizers.Muon(LR, weight_decay=0.01, adam_weight_decay=0.02)
    gw, gb = _f64((3, 5), 6), _f64((5,), 7)
    opt.apply_gradients([(gw, w), (gb, b)])
    # reference, float64
    a, bb, c = 3.4445, -4.7750, 2.0315
    wd = w0 - w0 * 0.01 * LR
    m = gw.copy()                       # momentum 0.95 * 0 + g
    x = gw + 0.95 * m                   # nesterov
    x = x / (np.linalg.norm(x) + 1e-7)  # 3 x 5: not tall
    for _ in range(5):
        gram = x @ x.T
        x = a * x + (bb * gram + c * gram @ gram) @ x
    want_w = wd - LR * x * np.sqrt(5) * 0.2
    bd = b0 - b0 * 0.02 * LR
    mb, vb = gb * 0.1, gb * gb * 0.001
    want_b = bd - LR * np.sqrt(1 - 0.999) / (1 - 0.9) * mb / (np.sqrt(vb) + 1e-7)
    np.testing.assert_allclose(np.asarray(w), want_w, rtol=1e-11)
    np.testing.assert_allclose(np.asarray(b), want_b, rtol=RTOL)
    assert all(np.asarray(s).dtype == np.float64 for s in opt._state_variables)


def test_fit_of_a_float32_model_is_unaffected():
    """A float32 model's fit takes the fused path only (no float64 split) and still learns."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    model = corenn.keras.Sequential([corenn.keras.layers.Input((3,)), corenn.keras.layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(0.05), loss="mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.optimizer._wide is None
    assert all(str(w.dtype) == "float32" for w in model.trainable_weights)
    assert all(np.asarray(s).dtype == np.float32 for s in model.optimizer._state_variables)
    assert model.evaluate(x, y, verbose=0) < 0.1 * first


def test_float64_numpy_array_variable_is_updated_in_place():
    """A NumPy float64 array given as a variable is stepped in place, in float64; one the
    optimizer could only copy (non-contiguous) is refused rather than silently stepping a copy."""
    arr = np.ones(4)
    opt = optimizers.SGD(0.5)
    opt.apply([np.full(4, 0.5 + 1e-12)], [arr])
    np.testing.assert_allclose(arr, 0.75 - 0.5e-12, rtol=1e-15)
    with pytest.raises(ValueError, match="not C-contiguous"):
        optimizers.SGD(0.5).apply([np.ones(4)], [np.ones(8)[::2]])
