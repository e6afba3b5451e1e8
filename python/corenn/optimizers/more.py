"""Adamax, Nadam, Lion, Adadelta, Ftrl, Lamb and Adafactor (Keras 3 ``keras.optimizers``), each
one fused C++ update (kernels.<name>_update; the math is in csrc/ops/optimizer.h) for float32
variables and the same rule in float64 NumPy (``_update_wide``) for float64 ones."""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .optimizer import Optimizer, _state_dtype, check_hyperparameter


class _TwoMoments(Optimizer):
    """Shared body of the optimizers with beta_1, beta_2 and epsilon; their two state tensors
    per variable are listed in Keras' order (interleaved per variable)."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, name, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        owner = type(self).__name__
        self.beta_1 = check_hyperparameter(owner, "beta_1", beta_1)
        self.beta_2 = check_hyperparameter(owner, "beta_2", beta_2)
        self.epsilon = check_hyperparameter(owner, "epsilon", epsilon)

    @property
    def _state_variables(self):
        s = self._state
        if not s:
            return []
        a, b = self._slots
        return self._extra_variables() + [t for pair in zip(s[a], s[b]) for t in pair]

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


class Adamax(_TwoMoments):
    """Adamax (Keras 3 ``keras.optimizers.Adamax``), Adam with the infinity norm; t = iterations + 1:
        m += (g - m) (1 - beta_1);  u = max(beta_2 u, |g|);  w -= lr / (1 - beta_1^t) * m / (u + epsilon)

    Reference: Kingma & Ba, 2014, "Adam: A Method for Stochastic Optimization", section 7.
    """

    _slots = ("momentums", "norms")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="adamax", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)

    def _update(self, params, grads, state, lr):
        kernels.adamax_update(params, grads, state["momentums"], state["norms"], beta_1=self.beta_1,
                              beta_2=self.beta_2, epsilon=self.epsilon, step=self._update_count(),
                              **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        t = self._update_count() + 1
        rate = lr / (1.0 - self.beta_1 ** t)
        for w, g, m, u in zip(params, grads, state["momentums"], state["norms"]):
            m += (g - m) * (1.0 - self.beta_1)
            np.maximum(self.beta_2 * u, np.abs(g), out=u)
            w -= rate * m / (u + self.epsilon)


class Nadam(_TwoMoments):
    """Nadam (Keras 3 ``keras.optimizers.Nadam``): Adam with Nesterov momentum and Keras' momentum
    schedule mu_t = beta_1 (1 - 0.5 * 0.96^t), t = iterations + 1, and its running product P_t:
        m += (g - m) (1 - beta_1);  v += (g^2 - v) (1 - beta_2)
        m_hat = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t);  v_hat = v / (1 - beta_2^t)
        w -= lr * m_hat / (sqrt(v_hat) + epsilon)
    P_t depends on the step count only, so it is recomputed from ``iterations`` (a checkpoint
    needs nothing more than Adam's state).

    Reference: Dozat, 2015, "Incorporating Nesterov Momentum into Adam".
    """

    _slots = ("momentums", "velocities")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="nadam", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)
        self._product = (0, 1.0)   # (t, P_t): the schedule's product, advanced one step at a time

    def _mu(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _schedule_product(self, t):
        done, product = self.__dict__.get("_product", (0, 1.0))
        if done > t:   # iterations were set back (a checkpoint loaded): start again
            done, product = 0, 1.0
        for k in range(done + 1, t + 1):
            product *= self._mu(k)
        self._product = (t, product)
        return product

    def _coefficients(self):
        """(coef_m, coef_g, coef_v) of this step (the kernel's names; csrc/ops/optimizer.h)."""
        t = self._update_count() + 1
        p_t = self._schedule_product(t)
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        return (mu_next / (1.0 - p_t * mu_next), (1.0 - mu_t) / (1.0 - p_t),
                1.0 / -math.expm1(t * math.log(self.beta_2)) if self.beta_2 > 0 else 1.0)

    def _update(self, params, grads, state, lr):
        coef_m, coef_g, coef_v = self._coefficients()
        kernels.nadam_update(params, grads, state["momentums"], state["velocities"], beta_1=self.beta_1,
                             beta_2=self.beta_2, epsilon=self.epsilon, coef_m=coef_m, coef_g=coef_g,
                             coef_v=coef_v, **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        coef_m, coef_g, coef_v = self._coefficients()
        for w, g, m, v in zip(params, grads, state["momentums"], state["velocities"]):
            m += (g - m) * (1.0 - self.beta_1)
            v += (g * g - v) * (1.0 - self.beta_2)
            w -= lr * (coef_m * m + coef_g * g) / (np.sqrt(coef_v * v) + self.epsilon)


class Lion(Optimizer):
    """Lion (Keras 3 ``keras.optimizers.Lion``): the sign of an interpolated momentum.
        w -= lr * sign(beta_1 m + (1 - beta_1) g);  m = beta_2 m + (1 - beta_2) g
    Its steps are +-lr per coordinate, so it wants a learning rate 3-10x below Adam's.

    Reference: Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms".
    """

    _slots = ("momentums",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, name="lion", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        owner = type(self).__name__
        self.beta_1 = check_hyperparameter(owner, "beta_1", beta_1)
        self.beta_2 = check_hyperparameter(owner, "beta_2", beta_2)

    def _update(self, params, grads, state, lr):
        kernels.lion_update(params, grads, state["momentums"], beta_1=self.beta_1, beta_2=self.beta_2,
                            **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        b1, b2 = self.beta_1, self.beta_2
        for w, g, m in zip(params, grads, state["momentums"]):
            w -= lr * np.sign(b1 * m + (1.0 - b1) * g)
            m *= b2
            m += (1.0 - b2) * g

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2)
        return config


class Adadelta(Optimizer):
    """Adadelta (Keras 3 ``keras.optimizers.Adadelta``):
        a_g = rho a_g + (1 - rho) g^2;  d = g sqrt(a_d + epsilon) / sqrt(a_g + epsilon)
        a_d = rho a_d + (1 - rho) d^2;  w -= lr * d

    Reference: Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method".
    """

    _slots = ("accumulated_grads", "accumulated_delta_vars")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name="adadelta", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = check_hyperparameter(type(self).__name__, "rho", rho)
        self.epsilon = check_hyperparameter(type(self).__name__, "epsilon", epsilon)

    def _update(self, params, grads, state, lr):
        kernels.adadelta_update(params, grads, state["accumulated_grads"], state["accumulated_delta_vars"],
                                rho=self.rho, epsilon=self.epsilon, **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        rho, eps = self.rho, self.epsilon
        for w, g, acc_g, acc_d in zip(params, grads, state["accumulated_grads"], state["accumulated_delta_vars"]):
            acc_g *= rho
            acc_g += (1.0 - rho) * g * g
            delta = g * np.sqrt(acc_d + eps) / np.sqrt(acc_g + eps)
            acc_d *= rho
            acc_d += (1.0 - rho) * delta * delta
            w -= lr * delta

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, epsilon=self.epsilon)
        return config


class Ftrl(Optimizer):
    """Ftrl, "Follow The Regularized Leader" (Keras 3 ``keras.optimizers.Ftrl``), for shallow
    models with large sparse feature spaces. With n = acc + g^2 and P(x) = x^(-learning_rate_power):
        linear += g + 2 l2_shrinkage w - (P(n) - P(acc)) / lr * w
        w = (clip(linear, -l1, l1) - linear) / (P(n) / lr + 2 (l2 + beta / (2 lr)));  acc = n
    (l1, l2, l2_shrinkage: the ``*_regularization_strength`` arguments). A coordinate whose
    |linear| stays within l1 is exactly 0.

    Reference: McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches".
    """

    _slots = ("accumulators", "linears")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, name="ftrl", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        owner = type(self).__name__
        self.learning_rate_power = check_hyperparameter(owner, "learning_rate_power", learning_rate_power)
        self.initial_accumulator_value = check_hyperparameter(owner, "initial_accumulator_value",
                                                              initial_accumulator_value)
        for key, value in (("l1_regularization_strength", l1_regularization_strength),
                           ("l2_regularization_strength", l2_regularization_strength),
                           ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
                           ("beta", beta)):
            setattr(self, key, check_hyperparameter(owner, key, value))

    def _slot_tensor(self, slot, var):
        state = kernels.zeros(var.shape, _state_dtype(var), var.device)
        if slot == "accumulators" and self.initial_accumulator_value:
            state.fill_(self.initial_accumulator_value)
        return state

    @property
    def _state_variables(self):
        s = self._state   # Keras' order: accumulator and linear interleaved per variable
        if not s:
            return []
        return self._extra_variables() + [t for pair in zip(s["accumulators"], s["linears"]) for t in pair]

    def _update(self, params, grads, state, lr):
        kernels.ftrl_update(params, grads, state["accumulators"], state["linears"],
                            learning_rate_power=self.learning_rate_power, l1=self.l1_regularization_strength,
                            l2=self.l2_regularization_strength,
                            l2_shrinkage=self.l2_shrinkage_regularization_strength, beta=self.beta,
                            **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        power = -self.learning_rate_power
        l1, l2 = self.l1_regularization_strength, self.l2_regularization_strength
        shrinkage = self.l2_shrinkage_regularization_strength
        for w, g, acc, linear in zip(params, grads, state["accumulators"], state["linears"]):
            new_acc = acc + g * g
            new_power = new_acc ** power
            linear += g + 2.0 * shrinkage * w - (new_power - acc ** power) / lr * w
            quadratic = new_power / lr + 2.0 * (l2 + self.beta / (2.0 * lr))
            w[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
            acc[...] = new_acc

    def get_config(self):
        config = super().get_config()
        config.update(learning_rate_power=self.learning_rate_power,
                      initial_accumulator_value=self.initial_accumulator_value,
                      l1_regularization_strength=self.l1_regularization_strength,
                      l2_regularization_strength=self.l2_regularization_strength,
                      l2_shrinkage_regularization_strength=self.l2_shrinkage_regularization_strength,
                      beta=self.beta)
        return config


class Lamb(_TwoMoments):
    """Lamb (Keras 3 ``keras.optimizers.Lamb``): Adam's direction scaled per variable by the
    trust ratio, for large-batch training; t = iterations + 1:
        m += (g - m) (1 - beta_1);  v += (g^2 - v) (1 - beta_2)
        u = m / (1 - beta_1^t) / (sqrt(v / (1 - beta_2^t)) + epsilon)
        w -= ||w|| / ||u|| * lr * u       (the ratio is 1 when either norm is 0)

    Reference: You et al., 2019, "Large Batch Optimization for Deep Learning: Training BERT in
    76 minutes".
    """

    _slots = ("momentums", "velocities")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)

    def _update(self, params, grads, state, lr):
        kernels.lamb_update(params, grads, state["momentums"], state["velocities"], beta_1=self.beta_1,
                            beta_2=self.beta_2, epsilon=self.epsilon, step=self._update_count(),
                            **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        t = self._update_count() + 1
        b1, b2 = self.beta_1, self.beta_2
        for w, g, m, v in zip(params, grads, state["momentums"], state["velocities"]):
            m += (g - m) * (1.0 - b1)
            v += (g * g - v) * (1.0 - b2)
            u = m / (1.0 - b1 ** t) / (np.sqrt(v / (1.0 - b2 ** t)) + self.epsilon)
            w_norm, u_norm = float(np.linalg.norm(w)), float(np.linalg.norm(u))
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            w -= ratio * lr * u


class Adafactor(Optimizer):
    """Adafactor (Keras 3 ``keras.optimizers.Adafactor``): second moments that take sublinear
    memory. With t = iterations + 1, b = 1 - t^beta_2_decay and q = g^2 + epsilon_1:
        rank >= 2, factored over the last two axes (..., R, C):
            rows = b rows + (1 - b) mean_C(q);  cols = b cols + (1 - b) mean_R(q)
            v = rows / mean_R(rows) * cols
        rank < 2:  v = b v + (1 - b) q
        u = g / sqrt(v);  w -= max(epsilon_2, rms(w)) min(lr, 1 / sqrt(t)) u / max(1, rms(u) / clip_threshold)

    The state is ``rows`` (shape[:-1]) and ``cols`` (shape[:-2] + shape[-1:]) for a variable of
    rank >= 2 and a full ``velocity`` otherwise, listed in ``variables`` per variable in that
    order. Keras 3 also keeps a full-size velocity for a factored variable, but overwrites it
    from rows and cols every step before reading it, so it is no state: corenn does not keep it
    (a Keras checkpoint's optimizer variables therefore do not map one to one).

    ``relative_step`` is kept for Keras' signature and config: Keras 3's step size is
    min(lr, 1 / sqrt(t)) whether it is set or not, and so is corenn's.

    Reference: Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
    Cost".
    """

    _slots = ("rows", "cols", "velocities")

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, name="adafactor", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        owner = type(self).__name__
        self.beta_2_decay = check_hyperparameter(owner, "beta_2_decay", beta_2_decay)
        self.epsilon_1 = check_hyperparameter(owner, "epsilon_1", epsilon_1)
        self.epsilon_2 = check_hyperparameter(owner, "epsilon_2", epsilon_2)
        self.clip_threshold = check_hyperparameter(owner, "clip_threshold", clip_threshold)
        self.relative_step = bool(relative_step)

    def _slot_tensor(self, slot, var):
        shape = tuple(var.shape)
        factored = len(shape) >= 2
        if slot == "rows":
            shape = shape[:-1] if factored else (0,)
        elif slot == "cols":
            shape = shape[:-2] + shape[-1:] if factored else (0,)
        elif factored:   # velocities: only the unfactored variables have one
            shape = (0,)
        return kernels.zeros(shape, _state_dtype(var), var.device)

    @property
    def _state_variables(self):
        s = self._state
        if not s:
            return []
        out = []
        for var, r, c, v in zip(self._var_tensors, s["rows"], s["cols"], s["velocities"]):
            out += [r, c] if len(var.shape) >= 2 else [v]
        return self._extra_variables() + out

    def _update(self, params, grads, state, lr):
        kernels.adafactor_update(params, grads, state["rows"], state["cols"], state["velocities"],
                                 beta_2_decay=self.beta_2_decay, epsilon_1=self.epsilon_1,
                                 epsilon_2=self.epsilon_2, clip_threshold=self.clip_threshold,
                                 step=self._update_count(), **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        t = self._update_count() + 1
        rho = min(lr, 1.0 / math.sqrt(t))
        b = 1.0 - t ** self.beta_2_decay
        for w, g, r, c, v in zip(params, grads, state["rows"], state["cols"], state["velocities"]):
            q = g * g + self.epsilon_1
            if w.ndim >= 2:
                r *= b
                r += (1.0 - b) * q.mean(axis=-1)
                c *= b
                c += (1.0 - b) * q.mean(axis=-2)
                v_now = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
            else:
                v *= b
                v += (1.0 - b) * q
                v_now = v
            u = g / np.sqrt(v_now)
            alpha = max(self.epsilon_2, _rms(w)) * rho
            w -= alpha * u / max(1.0, _rms(u) / self.clip_threshold)

    def get_config(self):
        config = super().get_config()
        config.update(beta_2_decay=self.beta_2_decay, epsilon_1=self.epsilon_1, epsilon_2=self.epsilon_2,
                      clip_threshold=self.clip_threshold, relative_step=self.relative_step)
        return config


def _rms(x):
    return math.sqrt(float(np.mean(x * x))) if x.size else 0.0
