"""Learning-rate schedules: callables of the step count that optimizers evaluate every step.

Pass one as ``learning_rate=`` to any optimizer; it is called with ``optimizer.iterations``
(the number of updates done so far) before each update, as in Keras 3
(keras/src/optimizers/schedules/learning_rate_schedule.py).
"""
from __future__ import annotations

import math

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
           "InverseTimeDecay", "PolynomialDecay", "CosineDecayRestarts", "serialize", "deserialize"]


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps).

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``: the rate drops in
    discrete intervals.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps over which the rate is multiplied by decay_rate.
        decay_rate: the multiplier per ``decay_steps``.
        staircase: decay in discrete intervals.
        name: kept in the config.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


def _positive(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a number > 0, got {value!r}")
    return value


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval of steps.

    lr(step) = values[0] for step <= boundaries[0], values[i] for
    boundaries[i-1] < step <= boundaries[i], values[-1] for step > boundaries[-1].

    Args:
        boundaries: non-decreasing step counts (a repeated boundary, as keras.io's PointNet
            segmentation writes, leaves the value between the two copies unused, as in Keras).
        values: one more rate than boundaries.
        name: kept in the config.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), [float(v) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: values needs one more entry than "
                             f"boundaries, got {len(boundaries)} boundaries and "
                             f"{len(values)} values")
        if any(not a <= b for a, b in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must not decrease, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict:
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup first (Loshchilov & Hutter, SGDR, 2017).

    Without ``warmup_target``, with s = min(step, decay_steps):
        lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
    With ``warmup_target``, s = min(step, warmup_steps + decay_steps):
        s < warmup_steps:  lr = initial + (warmup_target - initial) * s / warmup_steps
        otherwise:         the cosine above from warmup_target, at s - warmup_steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps to decay over (after the warmup).
        alpha: the final rate as a fraction of the rate decayed from.
        warmup_target: the rate reached at the end of the warmup; None: no warmup.
        warmup_steps: steps of linear warmup.
        name: kept in the config.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _positive("CosineDecay", "decay_steps", decay_steps)
        if warmup_steps < 0:
            raise ValueError(f"CosineDecay: warmup_steps must be >= 0, got {warmup_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = warmup_steps

    def _cosine(self, step, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._cosine(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + delta * step / self.warmup_steps
        return self._cosine(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class InverseTimeDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps).

    With ``staircase=True`` step / decay_steps is floored.

    Args:
        initial_learning_rate, decay_steps (> 0), decay_rate, staircase, name.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _positive("InverseTimeDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from initial_learning_rate to end_learning_rate over decay_steps.

        p  = min(step, decay_steps) / decay_steps
        lr = (initial - end) * (1 - p) ** power + end
    With ``cycle=True`` the decay restarts: decay_steps is replaced by
    decay_steps * ceil(step / decay_steps) (times 1 at step 0) and step is not capped.

    Args:
        initial_learning_rate, decay_steps (> 0), end_learning_rate, power, cycle, name.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _positive("PolynomialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step: int) -> float:
        steps = self.decay_steps
        if self.cycle:
            steps = steps * (1 if step == 0 else math.ceil(step / steps))
        else:
            step = min(step, steps)
        p = step / steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1.0 - p) ** self.power + self.end_learning_rate

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017; Keras 3).

    Period i (from 0) lasts first_decay_steps * t_mul^i steps and starts at the rate
    initial * m_mul^i; within a period, at fraction f of it:
        lr = initial * ((1 - alpha) * m_mul^i * 0.5 * (1 + cos(pi f)) + alpha)
    The period of a step: i = floor(s) with s = step / first_decay_steps when t_mul = 1, else
    i = floor(log(1 - s (1 - t_mul)) / log(t_mul)) (the geometric sum of the periods).

    Args:
        initial_learning_rate, first_decay_steps (> 0), t_mul, m_mul, alpha, name.
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _positive("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        if not t_mul > 0 or not m_mul >= 0:
            raise ValueError(f"CosineDecayRestarts: t_mul must be > 0 and m_mul >= 0, got {t_mul!r}, {m_mul!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps = first_decay_steps
        self.t_mul, self.m_mul, self.alpha = float(t_mul), float(m_mul), float(alpha)
        self.name = name

    def __call__(self, step: int) -> float:
        fraction = step / self.first_decay_steps
        if self.t_mul == 1.0:
            i = math.floor(fraction)
            fraction -= i
        else:
            i = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul ** i) / (1.0 - self.t_mul)
            fraction = (fraction - done) / self.t_mul ** i
        cosine = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul, "m_mul": self.m_mul,
                "alpha": self.alpha, "name": self.name}


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                             CosineDecay, InverseTimeDecay, PolynomialDecay,
                                             CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict:
    from ..saving import get_registered_name
    spec = {"class_name": type(schedule).__name__, "config": schedule.get_config()}
    if type(schedule).__name__ not in _SCHEDULES:   # a user's subclass: Keras 3 also writes its registered name
        spec["registered_name"] = get_registered_name(type(schedule))
    return spec


def deserialize(config: dict) -> LearningRateSchedule:
    if not isinstance(config, dict):
        raise ValueError(f"schedules.deserialize: expected a dict with 'class_name' and 'config', "
                         f"got {config!r}")
    name = config.get("class_name")
    if name not in _SCHEDULES:
        # a LearningRateSchedule subclass registered with register_keras_serializable or passed
        # in custom_objects (by Keras' "package>Name" or its class name)
        from ..saving import custom_class
        cls = custom_class(config.get("registered_name")) or custom_class(name)
        if isinstance(cls, type) and issubclass(cls, LearningRateSchedule):
            return cls.from_config(config.get("config") or {})
        raise ValueError(f"Unknown learning rate schedule: {name!r}; known: {sorted(_SCHEDULES)} "
                         "(register a custom one with keras.saving.register_keras_serializable or "
                         "pass it in custom_objects)")
    return _SCHEDULES[name].from_config(config.get("config", {}))
