"""RMSprop: divide the gradient by a running root mean square of recent gradients."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .optimizer import Optimizer, check_hyperparameter


class RMSprop(Optimizer):
    """RMSprop (Keras 3 ``keras.optimizers.RMSprop``).

    Update per variable w with gradient g (after clipping and weight decay, see ``Optimizer``):
        v = rho * v + (1 - rho) * g^2
        centered:  a = rho * a + (1 - rho) * g,  d = v - a^2     else d = v
        inc = lr * g / sqrt(d + epsilon)
        momentum > 0:  m = momentum * m + inc,  w -= m           else w -= inc

    Args:
        learning_rate: float, schedule or callable. Default 0.001.
        rho: discount factor of the squared-gradient average. Default 0.9.
        momentum: momentum of the update. Default 0.
        epsilon: numerical-stability constant. Default 1e-7.
        centered: normalize by the estimated variance instead of the second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see ``Optimizer``.

    Reference: Hinton, 2012, Neural Networks for Machine Learning, lecture 6e.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = check_hyperparameter(type(self).__name__, "rho", rho)
        self.momentum = check_hyperparameter(type(self).__name__, "momentum", momentum)
        self.epsilon = check_hyperparameter(type(self).__name__, "epsilon", epsilon)
        self.centered = bool(centered)
        if self.momentum < 0:
            raise ValueError(f"RMSprop: momentum must be >= 0, got {momentum}")

    def _active_slots(self):
        slots = ("velocities",)
        if self.momentum > 0:
            slots += ("momentums",)
        if self.centered:
            slots += ("average_gradients",)
        return slots

    def _update(self, params, grads, state, lr):
        kernels.rmsprop_update(params, grads, state["velocities"], state.get("momentums", ()),
                           state.get("average_gradients", ()), rho=self.rho,
                           momentum=self.momentum, epsilon=self.epsilon, centered=self.centered,
                           **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        rho, n = self.rho, len(params)
        momentums = state.get("momentums") if self.momentum > 0 else None
        averages = state.get("average_gradients") if self.centered else None
        for i in range(n):
            w, g, v = params[i], grads[i], state["velocities"][i]
            v *= rho
            v += (1.0 - rho) * g * g
            denominator = v
            if averages is not None:
                a = averages[i]
                a *= rho
                a += (1.0 - rho) * g
                denominator = v - a * a
            increment = lr * g / np.sqrt(denominator + self.epsilon)
            if momentums is not None:
                m = momentums[i]
                m *= self.momentum
                m += increment
                w -= m
            else:
                w -= increment

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        return config
