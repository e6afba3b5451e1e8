"""corenn.models: Model (functional API and subclassing), Sequential, and loading saved models."""
from ..saving import load_model
from .graph import Input
from .model import Model
from .sequential import Sequential
from .. import saving as _saving

_saving.register_model_class("Sequential", Sequential)
_saving.register_model_class("Functional", Model)
_saving.register_model_class("Model", Model)



def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from ``model.to_json()``'s string (Keras' name)."""
    import json
    return _saving.deserialize_keras_object(json.loads(json_string), custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """Keras' ``clone_model``: the same architecture with new layers and freshly initialized
    weights (copy them with ``set_weights(model.get_weights())``)."""
    if input_tensors is not None or clone_function is not None:
        raise NotImplementedError("clone_model: input_tensors and clone_function are not supported")
    clone = type(model).from_config(model.get_config())
    if not clone.built and model.built and getattr(model, "_input_shape", None) is not None:
        clone.build((None,) + tuple(model._input_shape))
    return clone


__all__ = ["Model", "Sequential", "Input", "load_model", "model_from_json", "clone_model"]
