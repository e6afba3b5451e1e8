"""Adamax, Nadam, Lion and Adadelta (Keras 3 ``keras.optimizers``), each one fused C++ update
(kernels.<name>_update; the math is in csrc/ops/optimizer.h)."""
from __future__ import annotations

import math

from .. import kernels
from .optimizer import Optimizer, check_hyperparameter


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
    def variables(self):
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
                              beta_2=self.beta_2, epsilon=self.epsilon, step=int(self._iterations),
                              **self._common_kwargs(lr))


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

    def _update(self, params, grads, state, lr):
        t = int(self._iterations) + 1
        p_t = self._schedule_product(t)
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        kernels.nadam_update(params, grads, state["momentums"], state["velocities"], beta_1=self.beta_1,
                             beta_2=self.beta_2, epsilon=self.epsilon,
                             coef_m=mu_next / (1.0 - p_t * mu_next), coef_g=(1.0 - mu_t) / (1.0 - p_t),
                             coef_v=1.0 / -math.expm1(t * math.log(self.beta_2)) if self.beta_2 > 0 else 1.0,
                             **self._common_kwargs(lr))


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

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, epsilon=self.epsilon)
        return config
