"""Learning-rate schedules against plain-Python transcriptions of Keras 3's definitions."""
import math

import numpy as np
import pytest

from corenn import optimizers
from corenn.optimizers import schedules

STEPS = [0, 1, 3, 7, 10, 11, 25, 50, 99, 100, 101, 250]


def keras_piecewise(step, boundaries, values):
    # step <= b[0] -> v[0]; b[i-1] < step <= b[i] -> v[i]; step > b[-1] -> v[-1]
    if step <= boundaries[0]:
        return values[0]
    for i in range(1, len(boundaries)):
        if boundaries[i - 1] < step <= boundaries[i]:
            return values[i]
    return values[-1]


def keras_cosine(step, lr0, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    def decay(s, start):
        return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)
    if warmup_target is None:
        return decay(min(step, decay_steps), lr0)
    s = min(step, decay_steps + warmup_steps)
    if s < warmup_steps:
        return (warmup_target - lr0) * (s / warmup_steps) + lr0
    return decay(s - warmup_steps, warmup_target)


def keras_inverse_time(step, lr0, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return lr0 / (1 + rate * (math.floor(p) if staircase else p))


def keras_polynomial(step, lr0, decay_steps, end=1e-4, power=1.0, cycle=False):
    if cycle:
        mult = 1.0 if step == 0 else math.ceil(step / decay_steps)
        ds = decay_steps * mult
    else:
        step, ds = min(step, decay_steps), decay_steps
    return (lr0 - end) * (1 - step / ds) ** power + end


def keras_exponential(step, lr0, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return lr0 * rate ** (math.floor(p) if staircase else p)


CASES = [
    (schedules.PiecewiseConstantDecay([10, 100], [1.0, 0.5, 0.1]),
     lambda s: keras_piecewise(s, [10, 100], [1.0, 0.5, 0.1])),
    (schedules.CosineDecay(0.1, 100), lambda s: keras_cosine(s, 0.1, 100)),
    (schedules.CosineDecay(0.1, 100, alpha=0.2), lambda s: keras_cosine(s, 0.1, 100, 0.2)),
    (schedules.CosineDecay(0.0, 90, alpha=0.1, warmup_target=0.5, warmup_steps=10),
     lambda s: keras_cosine(s, 0.0, 90, 0.1, 0.5, 10)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: keras_inverse_time(s, 0.1, 10, 0.5)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
     lambda s: keras_inverse_time(s, 0.1, 10, 0.5, True)),
    (schedules.PolynomialDecay(0.1, 100), lambda s: keras_polynomial(s, 0.1, 100)),
    (schedules.PolynomialDecay(0.1, 100, end_learning_rate=0.01, power=2.0),
     lambda s: keras_polynomial(s, 0.1, 100, 0.01, 2.0)),
    (schedules.PolynomialDecay(0.1, 30, end_learning_rate=0.01, power=0.5, cycle=True),
     lambda s: keras_polynomial(s, 0.1, 30, 0.01, 0.5, True)),
    (schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
     lambda s: keras_exponential(s, 0.1, 10, 0.9, True)),
]


@pytest.mark.parametrize("schedule,formula", CASES, ids=lambda c: getattr(c, "name", ""))
def test_schedule_matches_keras_formula(schedule, formula):
    for step in STEPS:
        assert schedule(step) == pytest.approx(formula(step), rel=1e-12, abs=1e-15), step


@pytest.mark.parametrize("schedule,formula", CASES, ids=lambda c: getattr(c, "name", ""))
def test_serialize_round_trip(schedule, formula):
    config = schedules.serialize(schedule)
    assert config["class_name"] == type(schedule).__name__
    again = schedules.deserialize(config)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(s) for s in STEPS] == [schedule(s) for s in STEPS]
    # through an optimizer's config too
    opt = optimizers.deserialize(optimizers.serialize(optimizers.Adam(learning_rate=schedule)))
    assert isinstance(opt._learning_rate, type(schedule))
    assert opt.learning_rate == schedule(0)


def test_warmup_endpoints_and_piecewise_boundaries():
    s = schedules.CosineDecay(0.0, 90, alpha=0.1, warmup_target=0.5, warmup_steps=10)
    assert s(0) == 0.0 and s(5) == pytest.approx(0.25) and s(10) == pytest.approx(0.5)
    assert s(100) == pytest.approx(0.05) and s(10 ** 6) == pytest.approx(0.05)
    p = schedules.PiecewiseConstantDecay([10, 100], [1.0, 0.5, 0.1])
    assert (p(10), p(11), p(100), p(101)) == (1.0, 0.5, 0.5, 0.1)


def test_sgd_uses_schedule_of_step():
    """The rate the k-th update uses is schedule(k) (k = iterations before the update)."""
    sched = schedules.PiecewiseConstantDecay([2, 4], [0.5, 0.25, 0.125])
    opt = optimizers.SGD(learning_rate=sched)
    w = np.zeros(3, np.float32)
    for k in range(7):
        w[...] = 0.0
        opt.apply([np.ones(3, np.float32)], [w])
        np.testing.assert_allclose(w, -sched(k), rtol=1e-6)
        assert opt.iterations == k + 1


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.RMSprop, optimizers.Adam,
                                 optimizers.AdamW, optimizers.Adagrad])
def test_every_optimizer_evaluates_the_schedule_each_step(cls, monkeypatch):
    sched = schedules.CosineDecay(0.01, 5, warmup_target=0.1, warmup_steps=2)
    opt = cls(learning_rate=sched)
    seen = []
    real = opt._update
    monkeypatch.setattr(opt, "_update", lambda p, g, s, lr: (seen.append(lr), real(p, g, s, lr)))
    w = np.ones(4, np.float32)
    for _ in range(8):
        opt.apply([np.full(4, 0.5, np.float32)], [w])
    assert seen == pytest.approx([sched(k) for k in range(8)])
    assert np.all(np.isfinite(w)) and np.all(w < 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="PiecewiseConstantDecay"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="PiecewiseConstantDecay: boundaries must not decrease"):
        schedules.PiecewiseConstantDecay([5, 2], [1.0, 2.0, 3.0])
    for cls in (schedules.CosineDecay, schedules.PolynomialDecay):
        with pytest.raises(ValueError, match=f"{cls.__name__}: decay_steps"):
            cls(0.1, 0)
    with pytest.raises(ValueError, match="InverseTimeDecay: decay_steps"):
        schedules.InverseTimeDecay(0.1, -1, 0.5)
    with pytest.raises(ValueError, match="Unknown learning rate schedule"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_piecewise_constant_takes_a_repeated_boundary_as_keras():
    # keras.io's PointNet segmentation writes boundaries=[steps * 15, steps * 15]: the middle
    # value is never used; Keras 3's formula gives values[0] up to the boundary, values[-1] after
    s = schedules.PiecewiseConstantDecay([35, 35], [1e-3, 5e-4, 2.5e-4])
    assert [s(k) for k in (0, 35, 36, 500)] == pytest.approx([1e-3, 1e-3, 2.5e-4, 2.5e-4])
    s = schedules.PiecewiseConstantDecay([10, 10, 20], [4.0, 3.0, 2.0, 1.0])
    assert [s(k) for k in (10, 11, 20, 21)] == pytest.approx([4.0, 2.0, 2.0, 1.0])
