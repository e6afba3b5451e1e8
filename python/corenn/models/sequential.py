"""Sequential: a linear stack of layers, run as a chain of the same graph as a functional Model.

``build`` checks each layer against its predecessor's output shape (with hints for the common
mistakes), then records the chain as graph nodes (models/graph.py); training, evaluation and
prediction are Model's (models/model.py), and the fusion rules (models/fusion.py) apply alike.
"""
from __future__ import annotations

import numpy as np

from ..layers.base import InputLayer, Layer, shape_str
from . import fusion
from .graph import Graph, KerasTensor, Node, attach_masks, is_symbolic
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A stack of layers, each feeding the next.

    Args:
        layers: list of layers (``keras.Input(shape=...)`` or an ``InputLayer`` first fixes the
            input); a Model in the list is one entry (``layers`` lists it, as Keras does), its
            calls inlined into the chain when the chain is built.
        name: model name.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._layers: list = []
        self._input_shape = None      # one sample, without the batch axis
        from .. import mixed_precision
        self._input_dtype = mixed_precision._FLOATX[0]   # Keras 3: an Input's dtype defaults to floatx
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    def _weight_layers(self):
        """The leaf layers: a model entry's layers in its place (the weights, the optimizer
        state and corenn's files number them so; a nested model before Keras' own entries)."""
        if not any(isinstance(e, Model) for e in self._layers):
            return self._layers
        key = [(id(e), len(e._weight_layers()) if isinstance(e, Model) else 0) for e in self._layers]
        cached = self.__dict__.get("_leaf_cache")
        if cached is None or cached[0] != key:
            # the same list object while nothing changed (trainable_weights' cache is keyed by it)
            cached = self.__dict__["_leaf_cache"] = (key, _flat_layers(self._layers))
        return cached[1]

    def _layers_by_first_call(self):
        return list(self._weight_layers())

    # -- structure -------------------------------------------------------------------------

    def add(self, layer):
        if isinstance(layer, KerasTensor) and layer.node is not None and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"{self.name}.add: an InputLayer must come first")
            self._input_shape = layer._declared_input_shape
            self._input_dtype = layer.input_dtype
            self.__dict__["_input_batch"] = layer._batch_size
            return
        if not isinstance(layer, (Layer, Model)):
            raise TypeError(f"{self.name}.add: expected a corenn layer, got {type(layer).__name__}")
        if isinstance(layer, Model):
            # a model is one entry, as in Keras 3 (``layers[0]`` is it: freezing, get_layer,
            # summary and the config see the model); its calls are inlined when the chain is
            # built (``_chain``), its layers shared with it
            if layer._graph is None and not isinstance(layer, Sequential):
                raise TypeError(f"{self.name}.add: a subclassed model cannot be a Sequential layer; "
                                "use its layers or a functional model")
            if layer is self:
                raise ValueError(f"{self.name}.add: a model cannot be a layer of itself")
            if layer._graph is not None and (len(layer.inputs) != 1 or len(layer.outputs) != 1):
                raise ValueError(f"{self.name}.add: model '{layer.name}' has {len(layer.inputs)} inputs and "
                                 f"{len(layer.outputs)} outputs; a Sequential entry needs one of each "
                                 "(use the functional API)")
            if not self._layers and self._input_shape is None and not layer.__dict__.get("_shape_from_call"):
                shape = layer.input_shape
                if isinstance(shape, tuple):
                    self._input_shape = shape[1:]
                    self._input_dtype = (layer._input_dtype if isinstance(layer, Sequential)
                                         else layer.inputs[0].dtype)   # token ids stay integers
        self._add_layer(layer)

    def _add_layer(self, layer):
        if not self._layers and self._input_shape is None and getattr(layer, "_declared_input_shape", None) is not None:
            self._input_shape = layer._declared_input_shape
            self.__dict__["_input_batch"] = layer.__dict__.get("_batch_size")   # batch_input_shape=
        self._layers.append(layer)
        if self._input_shape is not None:  # known input: build eagerly, as Keras does
            self.built = False
            self.build()

    def pop(self):
        layer = self._layers.pop()
        for leaf in (layer._weight_layers() if isinstance(layer, Model) else [layer]):
            fusion.reset(leaf)  # no longer fused with a neighbour (a model entry: its layers)
        self.built = False
        self._graph = None
        if self._layers and self._input_shape is not None:
            self.build()
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` (with or without the batch axis None)."""
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if input_shape and input_shape[0] is None:
                input_shape = input_shape[1:]
            self._input_shape = input_shape
        if self._input_shape is None:
            raise ValueError(f"{self.name}: the input shape is unknown; give the first layer "
                             "input_shape=(features,), start with layers.Input(shape=...), or call fit/build")
        if not self._layers:
            raise ValueError(f"{self.name}: the model has no layers")
        batch = self.__dict__.get("_input_batch")
        shape = (batch,) + tuple(self._input_shape)
        for i, layer in enumerate(self._layers):
            if isinstance(layer, Model):   # a model entry: its input must fit
                shape = _model_entry_shape(self.name, i, layer, shape)
                continue
            try:
                if layer.built:
                    layer.check_input_shape(shape)
                else:  # marks it built even when a custom build() does not call super().build
                    layer._maybe_build(shape)
                out = layer.compute_output_shape(shape)
            except ValueError as exc:
                raise ValueError(f"{self.name}: layer {i} '{layer.name}' ({type(layer).__name__}) cannot take "
                                 f"input {shape_str(shape)}: {exc}{self._shape_hint(layer, shape)}") from None
            if isinstance(out, list):
                if i != len(self._layers) - 1:
                    raise ValueError(f"{self.name}: layer {i} '{layer.name}' returns several tensors; only the "
                                     "last layer of a Sequential may (use the functional API)")
            shape = out if not isinstance(out, list) else out[0]
        dtype = self._input_dtype
        if dtype == "float32" and self._layers and getattr(self._layers[0], "compute_dtype", None) == "float64":
            dtype = "float64"   # no Input: a float64 first layer takes float64 data (Keras casts to it)
        self._graph = _chain(self._layers, self._input_shape, dtype, self.name, batch)
        self._register_nodes()
        self.inputs, self.outputs = self._graph.inputs, self._graph.outputs
        self._single_input = True
        self._single_output = len(self.outputs) == 1
        self.built = True
        self._mark_input_grads()

    def _register_nodes(self):
        """Make ``layer.output`` / ``layer.input`` of this chain's layers name their node here (a
        rebuild replaces the nodes of the previous build)."""
        old = {id(n) for n in self.__dict__.get("_chain_nodes", [])}
        for node in self._graph.nodes:
            nodes = node.layer.__dict__.setdefault("_inbound_nodes", [])
            nodes[:] = [n for n in nodes if id(n) not in old]
            nodes.append(node)
        self._chain_nodes = list(self._graph.nodes)

    def call(self, inputs, training=None, mask=None):
        """A Sequential without a declared input shape builds on its first call, as in Keras (a
        Sequential held by a subclassed model is first called on data, or under a tape)."""
        from ..strings import as_string_array, is_string_array
        text = is_string_array(inputs) and not isinstance(inputs, KerasTensor)
        if text:   # raw strings for a first TextVectorization / StringLookup
            inputs = as_string_array(inputs, "call")
        elif not hasattr(inputs, "shape"):  # nested Python lists: one input's data
            inputs = np.asarray(inputs, np.float32)
        if self._graph is None:
            if text and self._input_shape is None:
                self._input_dtype = "string"
            self.build((None,) + tuple(inputs.shape[1:]))
            # built by its first data, not declared: a model that later holds it as its first
            # layer does not inherit this shape (Keras re-calls it on the outer model's input)
            self.__dict__["_shape_from_call"] = True
        return super().call(inputs, training, mask)

    def _shape_hint(self, layer, shape):
        if self._input_shape and self._input_shape[0] is None:
            return (f". input_shape excludes the batch axis: use input_shape={shape_str(self._input_shape[1:])} "
                    f"not {shape_str(self._input_shape)}")
        if type(layer).__name__ == "Dense" and len(shape) > 2:
            return ". add layers.Flatten() before Dense"
        return ""

    @property
    def input_shape(self):
        return None if self._input_shape is None else (None,) + tuple(self._input_shape)

    @property
    def output_shape(self):
        if not self.built:
            return None
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_names(self):
        return [self._layers[-1].name] if self._layers else ["output_0"]

    def _output_shapes(self):
        return [t.shape for t in self.outputs] if self.built else [None]

    def _prepare_x(self, x, op, batched=False):   # batched: see Model._prepare_x (one input here)
        from .model import _densify_sparse
        x = _densify_sparse(x)
        if not self.built:
            from .model import _to_array
            a = _to_array(self, x[0] if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape")
                          else x, op)
            if self._input_shape is None:
                self._input_shape = tuple(a.shape[1:])
                # raw text into a first TextVectorization / StringLookup: a string input
                self._input_dtype = "string" if a.dtype == object else self._input_dtype
                # built by fit's first batch, not declared: later batches may differ in length
                # (a padded_batch / bucket_by_sequence_length pipeline), as in Keras
                self.__dict__["_shape_from_call"] = True
            self.build()
        return super()._prepare_x(x, op, batched)

    def _check_x(self, x, spec, op):
        from .model import adjust_input_rank
        x = adjust_input_rank(self, x, spec, op)
        expected = tuple(self._input_shape)
        if (self.__dict__.get("_shape_from_call") and len(expected) == x.ndim - 1
                and expected != tuple(x.shape[1:]) and not is_symbolic(x)
                and ((len(expected) > 1 and expected[-1] == x.shape[-1]) or self._takes_token_ids())):
            # built by its first call, not declared: as in Keras, it runs on other lengths too (a
            # Transformer's feed-forward Sequential on a longer sequence, token ids of another
            # padded length into a first Embedding); its layers check the features, the chain is
            # rebuilt for the new shape
            self.build((None,) + tuple(x.shape[1:]))
            return x
        if (self.__dict__.get("_rebuilt_by_outer") and not is_symbolic(x)
                and (len(expected) != x.ndim - 1 or expected != tuple(x.shape[1:]))):
            # built by its first data, then rebuilt for the input of a model that holds it
            # (_model_entry_shape): its own calls still take what its layers take, as in Keras,
            # where the layers are simply called again (an unbatched image into a preprocessing
            # Sequential that is also a model's first layer)
            try:
                self.build((None,) + tuple(x.shape[1:]))
                return x
            except ValueError:
                self.build((None,) + expected)   # as it was; the error below names the input
        if len(expected) != x.ndim - 1 or any(e is not None and e != g for e, g in zip(expected, x.shape[1:])):
            import math
            first = self._layers[0]
            hint = ""
            if expected and expected[0] is None:
                hint = (f"; input_shape excludes the batch axis: use input_shape={shape_str(expected[1:])} "
                        f"not {shape_str(expected)}")
            elif x.ndim > 2 and len(expected) == 1 and math.prod(x.shape[1:]) == expected[0]:
                hint = (f"; reshape x to (n, {expected[0]}) or start the model with "
                        f"layers.Flatten(input_shape={shape_str(x.shape[1:])})")
            raise ValueError(f"{self.name}.{op}: the first layer '{first.name}' ({type(first).__name__}) expects "
                             f"input of shape {shape_str((None,) + tuple(expected))}, but x has shape "
                             f"{tuple(x.shape)}{hint}")
        return x

    def _takes_token_ids(self):
        """Whether the first layer reads token ids, whose last axis is a sequence length."""
        from ..layers import Embedding
        leaves = self._weight_layers()   # a nested model's first layer when a model comes first
        return bool(leaves) and isinstance(leaves[0], Embedding)

    def summary(self, *args, **kwargs):
        if not self.built:
            # Keras 3 prints the layers with unknown shapes ("?", "0 (unbuilt)")
            from .summary import format_unbuilt_summary
            print_fn = kwargs.get("print_fn") or print
            for line in format_unbuilt_summary(self, self._layers, kwargs.get("line_length")):
                print_fn(line)
            return
        return super().summary(*args, **kwargs)

    # -- config ----------------------------------------------------------------------------

    def get_config(self):
        """Keras 3's Sequential config: a model entry is nested whole (its class, e.g.
        ``Sequential`` or ``Functional``, and its own config), as Keras writes it."""
        from ..layers import serialize
        from .functional_config import _MODEL_CLASS_NAMES

        def entry(e):
            if isinstance(e, Model):
                cls = type(e).__name__
                return {"class_name": _MODEL_CLASS_NAMES.get(cls, cls), "config": e.get_config()}
            return serialize(e)
        return {"name": self.name, "input_shape": self._input_shape,
                **({"trainable": False} if not self.trainable else {}),
                # (float32, the default, is not written: files stay as they were)
                **({"input_dtype": self._input_dtype} if self._input_dtype not in ("float32", "string") else {}),
                "layers": [entry(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None, prepare_layer=None):
        from .functional_config import _build_entry
        if custom_objects:
            from ..saving import CustomObjectScope
            with CustomObjectScope(custom_objects):
                return cls.from_config(config, None, prepare_layer)
        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model._input_shape = tuple(config["input_shape"])
        if config.get("input_dtype") is not None:
            model._input_dtype = _config_input_dtype(config["input_dtype"])
        for layer_cfg in config["layers"]:
            # a layer, or a nested model (Sequential / Functional config), built whole
            layer = _build_entry(layer_cfg, prepare_layer)   # (saving's storage-less check)
            model.add(layer)
        if config.get("trainable", True) is False:
            model.trainable = False
        return model


def _config_input_dtype(value):
    """A stored Sequential's input dtype: a numeric dtype name (a file is data, not trusted)."""
    try:
        d = np.dtype(str(value))
    except TypeError:
        d = None
    if d is None or d.kind not in "fiub":
        raise ValueError(f"Sequential config: input_dtype must name a numeric dtype, got {value!r}")
    return d.name


def _chain(layers, input_shape, dtype, name, batch_size=None):
    """The graph of a chain: one node per layer, each on its predecessor's output (the layers
    are already built and checked by Sequential.build)."""
    inp = InputLayer(shape=tuple(input_shape), dtype=dtype, name=f"{name}_input", batch_size=batch_size)
    x = inp.output
    for layer in layers:
        if isinstance(layer, Model):   # its calls inlined, shown as the model (a nested model)
            x = layer(x)
            continue
        shape = layer.compute_output_shape(x.shape)
        multi = isinstance(shape, list)
        node = Node(layer, [x], [], False, multi)
        node.outputs = [KerasTensor(s, getattr(layer, "output_dtype", "float32"), name=layer.name, node=node, index=i)
                        for i, s in enumerate(shape if multi else [shape])]
        attach_masks(node)
        x = node.outputs[0] if not multi else node.outputs
    outs = x if isinstance(x, list) else [x]
    return Graph([inp.output], outs, where=name)


def _flat_layers(entries):
    """The leaf layers of a Sequential's entries, a model entry's (recursively) in its place,
    each once (Keras' ``model.weights`` order)."""
    out = []
    for entry in entries:
        for layer in (entry._weight_layers() if isinstance(entry, Model) else [entry]):
            if not any(layer is seen for seen in out):
                out.append(layer)
    return out


def _model_entry_shape(name, i, model, shape):
    """The output shape of a model entry of a Sequential on inputs of ``shape``. A nested
    Sequential not built yet is built for them (Keras builds it on the outer model's input); one
    built by its first data, not declared, is rebuilt for them when they differ."""
    if isinstance(model, Sequential):
        given = tuple(shape[1:])
        if model._graph is None:
            rebuild = True
        else:   # built by data, not declared: for another fixed shape (a variable axis is checked below)
            rebuild = (model.__dict__.get("_shape_from_call") and None not in given
                       and tuple(model.inputs[0].shape[1:]) != given)
            if rebuild:
                model.__dict__["_rebuilt_by_outer"] = True   # its own calls may still differ (_check_x)
        if rebuild:
            try:
                model.build((None,) + given)
            except ValueError as exc:
                raise ValueError(f"{name}: layer {i} '{model.name}' (model) cannot take input "
                                 f"{shape_str(shape)}: {exc}") from None
            model.__dict__["_shape_from_call"] = True   # built by the outer model: its input is the outer one's
    expected = tuple(model.inputs[0].shape)
    if len(expected) != len(shape) or any(e is not None and g is not None and e != g
                                          for e, g in zip(expected[1:], tuple(shape)[1:])):
        raise ValueError(f"{name}: layer {i} '{model.name}' (model) expects input of shape {shape_str(expected)}, "
                         f"got {shape_str(shape)}")
    return tuple(model.outputs[0].shape)
