"""corenn.keras: corenn's API under Keras' names, so ``tf.keras.layers.Dense`` resolves after
``import corenn as tf`` and ``from corenn import keras`` reads like ``import keras``."""
from .. import (activations, callbacks, datasets, initializers, layers, losses, metrics, models, ops,
                optimizers, regularizers, utils)
from ..models import Input, Model, Sequential

__all__ = ["Input", "Model", "Sequential", "activations", "callbacks", "datasets", "initializers",
           "layers", "losses", "metrics", "models", "ops", "optimizers", "regularizers", "utils"]
