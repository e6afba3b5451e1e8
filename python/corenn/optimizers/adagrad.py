"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .optimizer import Optimizer, check_hyperparameter


class Adagrad(Optimizer):
    """Adagrad (Keras 3 ``keras.optimizers.Adagrad``).

    Update per variable w with gradient g (after clipping and weight decay, see ``Optimizer``):
        acc += g^2                         (acc starts at initial_accumulator_value)
        w -= lr * g / sqrt(acc + epsilon)

    Args:
        learning_rate: float, schedule or callable. Default 0.001.
        initial_accumulator_value: starting value of the accumulators, >= 0. Default 0.1.
        epsilon: numerical-stability constant. Default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see ``Optimizer``.

    Reference: Duchi et al., 2011, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization".
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = check_hyperparameter(
            type(self).__name__, "initial_accumulator_value", initial_accumulator_value)
        self.epsilon = check_hyperparameter(type(self).__name__, "epsilon", epsilon)

    _slots = ("accumulators",)

    @property
    def _slot_init(self):
        return self.initial_accumulator_value

    def _update(self, params, grads, state, lr):
        kernels.adagrad_update(params, grads, state["accumulators"], epsilon=self.epsilon,
                           **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        for w, g, acc in zip(params, grads, state["accumulators"]):
            acc += g * g
            w -= lr * g / np.sqrt(acc + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value,
                      epsilon=self.epsilon)
        return config
