"""SGD: stochastic gradient descent, with optional (Nesterov) momentum."""
from __future__ import annotations

from .. import kernels
from .optimizer import Optimizer, check_hyperparameter


class SGD(Optimizer):
    """Gradient descent with optional momentum (Keras 3 ``keras.optimizers.SGD``).

    Update per variable w with gradient g (after clipping and weight decay, see ``Optimizer``):
        momentum == 0:  w -= lr * g
        otherwise:      m = momentum * m - lr * g
                        w += m                            (nesterov=False)
                        w += momentum * m - lr * g        (nesterov=True)

    Args:
        learning_rate: float, schedule or callable. Default 0.01.
        momentum: float >= 0 accelerating descent in the relevant direction. Default 0.
        nesterov: use Nesterov momentum. Default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see ``Optimizer``.

    Reference: Sutskever et al., 2013, "On the importance of initialization and momentum in
    deep learning".
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.momentum = check_hyperparameter(type(self).__name__, "momentum", momentum)
        self.nesterov = bool(nesterov)

    def _active_slots(self):
        return ("momentums",) if self.momentum != 0 else ()

    def _update(self, params, grads, state, lr):
        kernels.sgd_update(params, grads, state.get("momentums", ()), momentum=self.momentum,
                       nesterov=self.nesterov, **self._common_kwargs(lr))

    def _update_wide(self, params, grads, state, lr):
        momentum = self.momentum
        if momentum == 0:
            for w, g in zip(params, grads):
                w -= lr * g
            return
        for w, g, m in zip(params, grads, state["momentums"]):
            m *= momentum
            m -= lr * g
            w += momentum * m - lr * g if self.nesterov else m

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config
