"""AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3 ``keras.optimizers.AdamW``).

    Before each Adam update: w -= w * weight_decay * lr (the decay does not pass through the
    moment estimates, unlike an L2 penalty added to the loss). Otherwise identical to ``Adam``.

    Args:
        learning_rate: float, schedule or callable. Default 0.001.
        weight_decay: decoupled decay rate. Default 0.004.
        beta_1, beta_2, epsilon, amsgrad: see ``Adam``.
        clipnorm, clipvalue, global_clipnorm, name: see ``Optimizer``.

    Reference: Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization".
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adamw", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         name=name, **kwargs)
        if self.weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a float >= 0, got None")
