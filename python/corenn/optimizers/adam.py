"""Adam: adaptive moment estimation."""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .optimizer import Optimizer, check_hyperparameter


class Adam(Optimizer):
    """Adam (Keras 3 ``keras.optimizers.Adam``).

    Update per variable w with gradient g (after clipping and weight decay, see ``Optimizer``),
    with t = iterations + 1:
        m += (g - m) * (1 - beta_1)
        v += (g^2 - v) * (1 - beta_2)
        vhat = max(vhat, v), used in place of v                (amsgrad=True)
        w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    ``epsilon`` is added to sqrt(v) after the bias correction is folded into the step size (the
    "epsilon hat" of the paper), so it corresponds to a smaller epsilon in torch.optim.Adam.

    Args:
        learning_rate: float, schedule or callable. Default 0.001.
        beta_1: decay of the first-moment estimate. Default 0.9.
        beta_2: decay of the second-moment estimate. Default 0.999.
        epsilon: numerical-stability constant. Default 1e-7.
        amsgrad: use the AMSGrad variant. Default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see ``Optimizer``.

    References: Kingma & Ba, 2014, "Adam: A Method for Stochastic Optimization";
    Reddi et al., 2018, "On the Convergence of Adam and Beyond" (AMSGrad).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = check_hyperparameter(type(self).__name__, "beta_1", beta_1)
        self.beta_2 = check_hyperparameter(type(self).__name__, "beta_2", beta_2)
        self.epsilon = check_hyperparameter(type(self).__name__, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)

    def _active_slots(self):
        slots = ("momentums", "velocities")
        return slots + ("velocity_hats",) if self.amsgrad else slots

    @property
    def _state_variables(self):
        # Keras' order: momentum and velocity interleaved per variable, then the AMSGrad maxima.
        s = self._state
        if not s:
            return []
        out = [t for pair in zip(s["momentums"], s["velocities"]) for t in pair]
        return self._extra_variables() + out + list(s.get("velocity_hats", []))

    def _update(self, params, grads, state, lr):
        # params and state are Tensors (build made them); gradients given as arrays become
        # Tensors here (kernels._tensors passes a list of Tensors as it is)
        kernels._adam_update(params, kernels._tensors(grads, "adam_update", "grads"),
                             state["momentums"], state["velocities"],
                             state.get("velocity_hats", []), float(lr), float(self.beta_1),
                             float(self.beta_2), float(self.epsilon), self._update_count(),
                             self.amsgrad, **self._clip_kwargs())

    def _update_wide(self, params, grads, state, lr):
        t = self._update_count() + 1
        b1, b2 = self.beta_1, self.beta_2
        alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        vhats = state.get("velocity_hats") if self.amsgrad else None
        for i, (w, g, m, v) in enumerate(zip(params, grads, state["momentums"], state["velocities"])):
            m += (g - m) * (1.0 - b1)
            v += (g * g - v) * (1.0 - b2)
            if vhats is not None:
                np.maximum(vhats[i], v, out=vhats[i])
                v = vhats[i]
            w -= alpha * m / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        return config
