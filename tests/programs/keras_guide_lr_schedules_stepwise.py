"""keras.optimizers.schedules as their API documentation writes them: each schedule called on a
step, checked against the documented formula, then driving an optimizer one `apply_gradients`
at a time (the learning rate the optimizer reads follows `optimizer.iterations`), and
round-tripped through `keras.optimizers.schedules.serialize` / `deserialize`. Only the imports
changed."""
import math

import numpy as np

from corenn import keras

S = keras.optimizers.schedules


def close(value, expected, tol=1e-5):
    np.testing.assert_allclose(np.asarray(value, dtype="float64"), expected, rtol=tol, atol=1e-7)


# PiecewiseConstantDecay: 1.0 for the first 100001 steps, 0.5 for the next 10000, then 0.1
boundaries, values = [100000, 110000], [1.0, 0.5, 0.1]
piecewise = S.PiecewiseConstantDecay(boundaries, values)
for step, lr in [(0, 1.0), (100000, 1.0), (100001, 0.5), (110000, 0.5), (110001, 0.1)]:
    close(piecewise(step), lr)

# ExponentialDecay, continuous and staircase
exp_decay = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
stair = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
for step in [0, 5, 10, 25]:
    close(exp_decay(step), 0.1 * 0.5 ** (step / 10))
    close(stair(step), 0.1 * 0.5 ** (step // 10))

# InverseTimeDecay and PolynomialDecay (with cycle)
inv = S.InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
for step in [0, 3, 7]:
    close(inv(step), 0.1 / (1 + 0.5 * step))
poly = S.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=0.5)
poly_cycle = S.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=0.5, cycle=True)
for step in [0, 4, 10, 15]:
    s = min(step, 10)
    close(poly(step), (0.1 - 0.01) * (1 - s / 10) ** 0.5 + 0.01)
    ds = 10 * max(1, math.ceil(step / 10))
    close(poly_cycle(step), (0.1 - 0.01) * (1 - step / ds) ** 0.5 + 0.01)

# CosineDecay with a linear warmup to warmup_target, then cosine decay towards alpha * target
warm = S.CosineDecay(0.0, decay_steps=20, alpha=0.1, warmup_target=0.2, warmup_steps=5)
for step in range(0, 30, 3):
    if step < 5:
        expected = 0.2 * step / 5
    else:
        frac = min(step - 5, 20) / 20
        expected = 0.2 * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * frac)) + 0.1)
    close(warm(step), expected)

# CosineDecayRestarts: periods that grow by t_mul, peaks that shrink by m_mul
restarts = S.CosineDecayRestarts(0.1, first_decay_steps=4, t_mul=2.0, m_mul=0.5, alpha=0.0)


def restarts_ref(step):
    period, start, peak = 4.0, 0.0, 0.1
    while step >= start + period:
        start += period
        period *= 2.0
        peak *= 0.5
    frac = (step - start) / period
    return peak * 0.5 * (1 + math.cos(math.pi * frac))


for step in range(0, 30):
    close(restarts(step), restarts_ref(step))

# an optimizer driven step by step reads the schedule at optimizer.iterations
w = keras.Variable(np.ones(3, "float32"))
opt = keras.optimizers.SGD(learning_rate=restarts)
expected_w = np.ones(3)
for step in range(10):
    grad = np.full(3, 2.0, "float32")
    close(opt.learning_rate, restarts_ref(step))
    opt.apply_gradients([(keras.ops.convert_to_tensor(grad), w)])
    expected_w -= restarts_ref(step) * 2.0
    assert int(opt.iterations) == step + 1
close(w.numpy(), expected_w)

# Adam with a warmup schedule, compiled into fit: the rate after training is the schedule's
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(keras.optimizers.Adam(warm), loss="mse")
model.fit(x, y, batch_size=8, epochs=3, verbose=0)
assert int(model.optimizer.iterations) == 12
close(model.optimizer.learning_rate, float(warm(12)))

# serialize / deserialize keep the configuration
for schedule in [piecewise, stair, poly_cycle, warm, restarts]:
    again = S.deserialize(S.serialize(schedule))
    assert type(again) is type(schedule)
    for step in [0, 7, 21]:
        close(again(step), float(schedule(step)))
cfg = keras.optimizers.serialize(keras.optimizers.SGD(learning_rate=restarts, momentum=0.9))
opt2 = keras.optimizers.deserialize(cfg)
close(opt2.learning_rate, 0.1)
assert opt2.get_config()["momentum"] == 0.9
print("learning-rate schedules OK")
