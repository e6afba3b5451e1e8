"""corenn.models: Model (functional API and subclassing), Sequential, and loading saved models."""
from ..saving import load_model, save_model
from .graph import Input
from .model import Model
from .sequential import Sequential
from .. import saving as _saving

_saving.register_model_class("Sequential", Sequential)
_saving.register_model_class("Functional", Model)
_saving.register_model_class("Model", Model)
# FeatureSpace.save's model class, so load_model reads such a file whatever was imported before
from ..utils import feature_space as _feature_space  # noqa: E402,F401



def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from ``model.to_json()``'s string (Keras' name)."""
    import json
    return _saving.deserialize_keras_object(json.loads(json_string), custom_objects)


def _clone_layer(layer):
    """Keras' default clone: a new layer of the same class and config (fresh weights). A Lambda
    is remade from its function in memory (its config holds no code to read back), an inner
    model is cloned as a whole."""
    from ..layers import Lambda
    if isinstance(layer, Lambda):
        return Lambda(layer.function, output_shape=layer._output_shape, arguments=dict(layer.arguments),
                      name=layer.name)
    if getattr(layer, "_is_corenn_model", False):
        return clone_model(layer)
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False,
                **kwargs):
    """Keras' ``clone_model``: the same architecture with new layers and freshly initialized
    weights (copy them with ``set_weights(model.get_weights())``).

    A Sequential or functional model is rebuilt by calling ``clone_function(layer)`` (default: a new
    layer from the layer's config) on each layer and replaying the original graph of calls on the
    clones (``input_tensors``: KerasTensors to start from instead of new Inputs, functional models
    only; ``call_function(layer, *args, **kwargs)`` replaces each call). ``recursive=True`` clones
    inner Sequential / functional models the same way, with the same functions. A subclassed model
    is cloned through its ``get_config`` / ``from_config``, as Keras does."""
    from .sequential import Sequential
    if kwargs:
        raise TypeError(f"clone_model: unexpected argument(s) {', '.join(sorted(kwargs))}")
    user_fn = clone_function

    def clone_one(layer):
        if recursive and getattr(layer, "_is_corenn_model", False) and hasattr(layer, "_graph"):
            return clone_model(layer, clone_function=user_fn, call_function=call_function, recursive=True)
        return (user_fn or _clone_layer)(layer)

    if isinstance(model, Sequential):
        if input_tensors is not None:
            raise NotImplementedError("clone_model: input_tensors is supported for functional models only")
        shape = getattr(model, "_input_shape", None)
        clone = Sequential(name=model.name)
        if shape is not None:
            clone._input_shape = tuple(shape)
        for layer in model.layers:
            clone.add(clone_one(layer))
        if not clone.built and model.built and shape is not None:
            clone.build((None,) + tuple(shape))
        return clone
    if not hasattr(model, "_graph") or getattr(model, "_graph", None) is None:
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ValueError("clone_model: clone_function, input_tensors and call_function need a Sequential "
                             f"or functional model; {type(model).__name__} is subclassed (cloned through its config)")
        return type(model).from_config(model.get_config())
    from .functional_config import graph_config, model_from_graph_config
    originals = []

    def token(layer):
        originals.append(layer)
        return {"class_name": "__clone__", "config": {"index": len(originals) - 1}}
    config = graph_config(model, layer_spec=token)
    n_inputs = len(model._graph.inputs)
    input_layers = [t.node.layer for t in model._graph.inputs]

    def build(entry):
        layer = originals[entry["config"]["index"]]
        if layer in input_layers:   # an Input: a fresh InputLayer of the same spec (the config
            # lists the layers in graph order, so a model's inputs need not come first: keras.io's
            # feature-engineering model has Lambdas on its 'thal' input before its 'trestbps' input)
            return type(layer).from_config(layer.get_config())
        made = clone_one(layer)
        if call_function is not None:
            return _CalledThrough(made, call_function)
        return made
    clone = model_from_graph_config(config, build_layer=build)
    if input_tensors is not None:
        given = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        from .model import Model
        if len(given) != n_inputs:
            raise ValueError(f"clone_model: {len(given)} input_tensors for a model of {n_inputs} inputs")
        outputs = clone(list(given) if n_inputs > 1 else given[0])
        return Model(list(given) if n_inputs > 1 else given[0], outputs, name=model.name)
    return clone


class _CalledThrough:
    """A cloned layer whose calls go through the user's call_function(layer, *args, **kwargs)."""

    def __init__(self, layer, call_function):
        self._layer, self._fn = layer, call_function

    def __getattr__(self, name):
        return getattr(self._layer, name)

    def __call__(self, *args, **kwargs):
        return self._fn(self._layer, *args, **kwargs)


__all__ = ["Model", "Sequential", "Input", "load_model", "save_model", "model_from_json", "clone_model"]
