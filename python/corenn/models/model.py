"""Model: the functional API and model subclassing, with Keras' compile / fit / evaluate / predict.

Three ways to make one, one class:
    Model(inputs, outputs)        functional: a Graph of layer calls (models/graph.py) runs the
                                  training step with explicit fused backward passes
    class M(Model): def call(...) subclassing: layers set as attributes are tracked (also in lists
                                  and dicts); the step runs ``call`` under a GradientTape
    Sequential([...])             a chain of the same Graph (models/sequential.py)

One training step of a graph model (``_loss_grad``):
    outputs = graph.forward(inputs, training=True)
    per output k with a loss: loss_k = loss.forward_backward(y_k, output_k, g_k, row weights)
        (softmax/sigmoid + cross-entropy: from the logits, one kernel; the fusion pass decides)
    graph.backward([g_k ...])      gradients summed over consumers and over shared-layer calls
    loss += regularization penalties (their gradients added into the weight gradients)
    optimizer.apply(grads, weights)  one fused update over all parameters
``train_step(data)`` / ``test_step`` / ``predict_step`` may be overridden as in Keras 3.
"""
from __future__ import annotations

import inspect
import math
import sys
import time
import weakref

import numpy as np

from .. import autodiff, kernels
from .. import losses as _losses
from .. import metrics as _metrics
from ..layers.base import (_NAME_SCOPES, ASSIGNED_WEIGHT_LAYERS, BoolMask, TRACING, TRAINABLE_VERSION, InputLayer, Layer,
                           check_traceable, current_path, held_layers, name_scope, NOT_SUBLAYERS, scoped_build,
                           shape_str, trained, tracked_items, tracks_private,
                           user_mask)
from ..strings import as_string_array, is_string_array
from ..strings import wrap as wrap_strings
from . import _data, fusion
from . import graph as _graph_mod
from .graph import Graph, KerasTensor, is_symbolic, keras_layer_order, replay_from
from .training import TrainingLoops, by_output_name

__all__ = ["Model"]

_ARRAYS = (np.ndarray, kernels.Tensor)
_COMPUTE_LOSS_TAKES_TRAINING = {}   # model class -> whether its compute_loss takes training=
_KERAS_COMPILE_IGNORED = ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")
_MODEL_COUNTS: dict = {}


def _model_name(base):
    n = _MODEL_COUNTS.get(base, 0)
    _MODEL_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, dict):
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]



def _holds_assigned_weights(model):
    """Whether a layer of the model (nested models too) computes with tensors a script assigned
    as its weights (Layer._assigned_weights): the model then runs layer by layer under a tape."""
    stack, seen = list(model.layers), set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer in ASSIGNED_WEIGHT_LAYERS:
            return True
        if getattr(layer, "_is_corenn_model", False):
            stack.extend(layer.layers)
    return False

def _loss_value(loss):
    """The logged value of what an overridden compute_loss returned: a scalar as it is; a
    per-sample vector (BASNet's hybrid loss) its mean, as Keras' loss tracker (a Mean) logs it
    on TensorFlow, where the tape differentiates its sum."""
    value = np.asarray(loss, dtype=np.float64)
    return float(value) if value.ndim == 0 else float(value.mean())


def _flat_tensors(structure):
    """The leaves of nested lists / tuples, in order."""
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _flat_tensors(item)]
    return [structure]


def _trains_by_default(layer):
    """Whether ``layer`` called without ``training=`` (and outside any call that sets it) runs in
    training mode: an augmentation layer, a layer written with ``def call(self, x,
    training=True)`` (Keras 3 then passes call's own default: keras.io's MelGAN computes its
    spectrogram so), or a graph model holding one."""
    if getattr(layer, "default_training", False):
        return True
    if isinstance(layer, Model) and layer._graph is not None:
        return layer._has_default_training_layers()
    from ..layers.base import _call_training_default
    return type(layer).call is not Layer.call and bool(_call_training_default(type(layer).call))


class Model(TrainingLoops):
    """A model: ``Model(inputs, outputs)`` (functional) or a subclass defining ``call``.

    Args (functional): inputs, outputs: a KerasTensor, or a list or dict of them; name.
    """

    _is_corenn_model = True   # a layer holding a model tracks its layers (layers/base.py)

    # Keras 3's Model is a Layer: its dtype (the variables' dtype) and compute dtype, which
    # corenn's kernels fix at float32 whatever ``dtype=`` named (layers/base.py)
    dtype = compute_dtype = variable_dtype = property(lambda self: "float32")

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:   # Keras builds a model inside its name scope (layers/base.py)
            cls.build = scoped_build(cls.__dict__["build"])

    @property
    def path(self):
        """Keras 3: the names of the scopes the model was built in, its own last; None before."""
        return self.__dict__.get("_path")

    @path.setter
    def path(self, value):
        self.__dict__["_path"] = value

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        unknown = [k for k in kwargs if k not in ("dtype",)]
        if unknown:
            raise TypeError(f"Model: unexpected keyword argument(s) {', '.join(unknown)}")
        if inputs is self and outputs is None:
            # `super().__init__(self)`: the TF text-generation tutorial's subclass idiom, which
            # tf.keras 2 accepted (the extra argument was ignored); it names no graph
            inputs = None
        # Keras 3: a functional model is 'functional'; a subclass calling super().__init__(inputs,
        # outputs) keeps its class's name (BASNet's model is 'bas_net')
        base = "functional" if inputs is not None and type(self).__module__.startswith("corenn.") \
            else _snake(type(self).__name__)
        object.__setattr__(self, "_tracking", False)
        self.name = name or _model_name(base)
        self.trainable = bool(trainable)
        self.built = False
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self._losses = []
        self._loss_weights = []
        self._metric_specs = []
        self._metric_arg = self._loss_weight_arg = self._weighted_metric_arg = None
        self._weighted_metric_specs = []
        self._train_metrics = self._eval_metrics = None
        self.stop_training = False
        self.history = None
        self._grad_buffers = {}
        self._step_lists = None
        self._graph = None
        self._preactivation = ()
        self._input_dict_keys = self._output_dict_keys = None
        self._output_nesting = None
        self._returns_list = False
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError(f"{self.name}: a functional Model needs both inputs= and outputs=")
            self._init_graph(inputs, outputs)
        object.__setattr__(self, "_tracking", True)

    # -- structure -----------------------------------------------------------------------------

    def _init_graph(self, inputs, outputs):
        self.__dict__["_inputs_given_as_list"] = isinstance(inputs, (list, tuple))
        self.__dict__["_outputs_given_as_list"] = isinstance(outputs, (list, tuple))
        if isinstance(inputs, dict):
            self._input_dict_keys = list(inputs)
        if isinstance(outputs, dict):
            self._output_dict_keys = list(outputs)
        if isinstance(outputs, tuple) and hasattr(type(outputs), "_fields"):
            # outputs=a namedtuple of KerasTensors (a layer's namedtuple result): calls and
            # predict return that namedtuple, as Keras does
            self._output_nesting = (type(outputs), [None] * len(outputs))
            outputs = list(outputs)
        elif isinstance(outputs, (list, tuple)) and any(isinstance(o, (list, tuple)) for o in outputs):
            # outputs=[layer.output, ...] with a multi-output layer's list among them (Keras): the
            # graph has the flat outputs; calls and predict return them grouped the same way
            self._output_nesting = (type(outputs), [(type(o), len(o)) if isinstance(o, (list, tuple)) else None
                                                    for o in outputs])
            outputs = [t for o in outputs for t in (o if isinstance(o, (list, tuple)) else [o])]
        if isinstance(inputs, (list, tuple)) and any(isinstance(i, (list, tuple)) for i in inputs):
            # inputs=[backbone.inputs] (a list holding a model's input list; tf.keras and Keras 3
            # flatten it): the model's inputs are the flat tensors
            inputs = _flat_tensors(inputs)
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        ins, outs = _as_list(inputs), _as_list(outputs)
        if not ins:
            raise ValueError(f"{self.name}: inputs is empty")
        if not outs:
            raise ValueError(f"{self.name}: outputs is empty")
        for t in ins:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"{self.name}: inputs must be keras.Input(...) tensors, got {type(t).__name__}")
        # inputs that are layer outputs (Keras 3 allows them): fresh Inputs and the calls replayed
        ins, outs = replay_from(ins, outs, self.name)
        self._graph = Graph(ins, outs, where=self.name)
        self.inputs, self.outputs = ins, outs
        self.built = True
        with name_scope(self):   # Keras 3: a functional model is built where it is made
            self.__dict__.setdefault("_path", current_path())

    @property
    def layers(self):
        if self._graph is not None:
            return [entry for entry, _ in self._layer_rows()]
        # the holder of the model's own variables (keras.Variable attributes, add_weight) is no
        # layer of Keras' list: a train_step looping over self.layers calls each one
        return [entry for entry in self._tracked_layers() if not isinstance(entry, _VariableHolder)]

    def _layer_rows(self):
        """(layer, its calls) for the InputLayers and every entry, in Keras' order
        (graph.keras_layer_order): ``layers``, the config and the summary list them so. The
        weights keep the order of the calls (``_weight_layers``), which files written before
        this order existed relied on."""
        cached = self.__dict__.get("_rows_cache")
        if cached is None:
            cached = keras_layer_order(self.inputs, self.outputs, self._layer_entries())
            self.__dict__["_rows_cache"] = cached
        return cached

    def _layers_by_first_call(self):
        """The layers in the order corenn's files number them (weights, stores, assets): the
        InputLayers, then every entry in the order of its first call — the order ``layers``
        had before it followed Keras', kept so that files written then still load."""
        if self._graph is None:
            return self._tracked_layers()
        return [t.node.layer for t in self.inputs] + [entry for entry, _ in self._layer_entries()]

    def _layer_entries(self):
        """(layer or inner model, its calls) in first-call order: the nodes an inner model's call
        inlined show as that model, once (Keras lists a nested model as one layer)."""
        cached = self.__dict__.get("_entries_cache")
        if cached is not None:
            return cached
        entries, index = [], {}
        for node in self._graph.nodes:
            group = node.group
            key = id(group.model) if group is not None else id(node.layer)
            if key not in index:
                index[key] = len(entries)
                entries.append((group.model if group is not None else node.layer, []))
            calls = entries[index[key]][1]
            item = group if group is not None else node
            if not any(c is item for c in calls):
                calls.append(item)
        self.__dict__["_entries_cache"] = entries
        return entries

    def _tracked_layers(self):
        """Layers and models set as attributes (also inside lists, tuples and dicts), in the
        order they were set. Cached; the cache is keyed by the attribute containers' sizes, so a
        layer appended to a list attribute later is found too."""
        cached = self.__dict__.get("_tracked_cache")
        if cached is not None and cached[0] == self.__dict__.get("_attr_version"):
            for c, n in cached[1]:
                if len(c) != n:
                    break
            else:
                return cached[2]
        found = self._scan_layers()
        containers = [(v, len(v)) for _, v in tracked_items(self) + [("_layers", self.__dict__.get("_layers"))]
                      if isinstance(v, (list, dict))]
        self.__dict__["_tracked_cache"] = (self.__dict__.get("_attr_version"), containers, found)
        return found

    def _scan_layers(self):
        d = self.__dict__
        # the model's own weights (add_weight, a Variable attribute) first: Keras 3 lists a
        # layer's own variables before its sublayers', in weights, trainable_weights and files
        own = [d["_own_variables"]] if "_own_variables" in d else []
        # the attributes in the order they were set, "_layers" (a model's list) among them
        keep = {k for k, _ in tracked_items(self)} | {"_layers"}
        return held_layers(own + [v for k, v in d.items() if k in keep])

    def _weight_layers(self):
        """The layers whose weights are this model's (InputLayers have none)."""
        if self._graph is not None:
            return self._graph.layers
        return self._tracked_layers()

    @property
    def submodules(self):
        """Every layer and model inside this one, depth first (tf.Module's name, which TF-Keras
        models had)."""
        out, seen = [], {id(self)}

        def visit(entry):
            if id(entry) in seen:
                return
            seen.add(id(entry))
            out.append(entry)
            inner = entry._weight_layers() if isinstance(entry, Model) else entry._sublayers()
            for sub in inner:
                visit(sub)
        for entry in self._weight_layers():
            visit(entry)
        return [e for e in out if not isinstance(e, _VariableHolder)]

    @property
    def input_names(self):
        return [t.name for t in self.inputs] if self._graph is not None else []

    @property
    def output_names(self):
        if self._graph is None:
            return ["output_0"]
        if self._output_dict_keys is not None:
            return list(self._output_dict_keys)
        return [_producer_name(t) for t in self.outputs]

    @property
    def input_shape(self):
        if self._graph is None:
            return None
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        if self._graph is None:
            return None
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input(self):
        # Keras 3: the structure given as inputs= (Model(inputs=[x], ...).input is [x]; a dict
        # of Inputs gives that dict back, so Model(m.input, f(m(m.input))) keeps the names that
        # a dict of data is matched by)
        keys = self.__dict__.get("_input_dict_keys")
        if keys and len(keys) == len(self.inputs):
            return dict(zip(keys, self.inputs))
        if len(self.inputs) == 1 and not self.__dict__.get("_inputs_given_as_list"):
            return self.inputs[0]
        return list(self.inputs)

    @property
    def output(self):
        if len(self.outputs) == 1 and not self.__dict__.get("_outputs_given_as_list"):
            return self.outputs[0]
        # nested as ``outputs=`` gave them (keras.io's MelGAN: three lists of seven feature
        # maps), as Keras 3's ``output``; ``outputs`` stays the flat list
        return self._nested_outputs(list(self.outputs))

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index`` of ``layers``)."""
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"{self.name}.get_layer: index {index} is out of range for {len(layers)} layers")
            return layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        for layer in self._weight_layers():   # a layer inside an inner model
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}.get_layer: no layer named {name!r}; the layers are "
                         f"{', '.join(l.name for l in self.layers)}")

    def __setattr__(self, name, value):
        # Subclassed models: a layer or model set as an attribute becomes part of the model
        # (found again by _tracked_layers, also inside lists and dicts); the version tells its
        # cache that the attributes changed.
        if name.startswith("_") and name not in NOT_SUBLAYERS and tracks_private(self) and \
                not sys._getframe(1).f_globals.get("__name__", "").startswith("corenn."):
            # a private attribute the user's code set (``self._block = Block()``): Keras 3
            # tracks it like any other (layers.base.tracked_items); corenn's own private state,
            # set from corenn's modules, is not
            self.__dict__.setdefault("_user_private", set()).add(name)
        if not name.startswith("_") or name == "_layers" or name in self.__dict__.get("_user_private", ()):
            d = self.__dict__
            d["_attr_version"] = d.get("_attr_version", 0) + 1
            if isinstance(value, kernels.Tensor) and value.__dict__.get("_is_variable"):
                # a tf.Variable set on a subclassed model is one of its weights (Keras tracks
                # it): kept by a holder layer that the weight lists and fit see
                holder = d.get("_own_variables")
                if holder is None:
                    holder = d["_own_variables"] = _VariableHolder(name=f"{self.name}_variables")
                holder.hold(name, value)
        object.__setattr__(self, name, value)

    def add_weight(self, name=None, shape=None, initializer=None, regularizer=None, trainable=True,
                   dtype=None, constraint=None):
        """Keras 3: a model is a layer and may own weights (a Perceiver's latent array made in its
        ``build``): ``add_weight(shape=..., initializer=..., trainable=...)`` as on a Layer; the
        weight is one of the model's weights (trained by fit, saved) whether or not it is also
        set as an attribute."""
        d = self.__dict__
        holder = d.get("_own_variables")
        if holder is None:
            holder = d["_own_variables"] = _VariableHolder(name=f"{self.name}_variables")
        d["_attr_version"] = d.get("_attr_version", 0) + 1   # the weight lists change
        with name_scope(self):   # the weight's path is the model's ('my_model/latent'), as in Keras
            return holder.add_weight(name=name, shape=shape, initializer=initializer, regularizer=regularizer,
                                     trainable=trainable, dtype=dtype, constraint=constraint)

    def __delattr__(self, name):
        d = self.__dict__
        d["_attr_version"] = d.get("_attr_version", 0) + 1
        object.__delattr__(self, name)

    # -- weights -------------------------------------------------------------------------------

    @property
    def trainable(self):
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        """Setting it sets every layer's flag, as Keras does (a frozen discriminator stays frozen
        inside the GAN model that calls it)."""
        self.__dict__["_trainable"] = bool(value)
        if self.__dict__.get("_graph") is not None or "_layers" in self.__dict__ or self.__dict__.get("_tracking"):
            for layer in self._weight_layers():
                layer.trainable = bool(value)
            if self.__dict__.get("_graph") is not None:   # its InputLayers too, as Keras sets them
                for t in self.__dict__.get("inputs") or ():
                    if isinstance(t.node.layer, InputLayer):
                        t.node.layer.trainable = bool(value)
            # the models it holds too (a Sequential's model entries, a functional model's nested
            # calls): their own flag reads as Keras' does
            inner = list(self.__dict__.get("_layers", ()))
            if self.__dict__.get("_graph") is not None and "_layers" not in self.__dict__:
                inner += [entry for entry, _ in self._layer_entries()]
            for entry in inner:
                if isinstance(entry, Model) and entry is not self:
                    entry.trainable = bool(value)

    @property
    def weights(self):
        return _unique(w for layer in self._weight_layers() for w in layer.weights)

    def _weights_by_flag(self, trainable):
        """The weights whose own flags say ``trainable`` (or not), whatever this model's flag: a
        model that holds this one lists these (Keras 3: a frozen model hides its weights from its
        own ``trainable_weights`` only; an inner layer set back to trainable trains in the model
        around it)."""
        out = []
        for layer in self._weight_layers():
            if isinstance(layer, Model):
                out += layer._weights_by_flag(trainable)
            else:
                out += _layer_weights_by_flag(layer, trainable)
        return _unique(out)

    @property
    def trainable_weights(self):
        if not self.trainable:   # Keras 3: none, even of an inner layer set back to trainable
            return []
        layers = self._weight_layers()
        if any(isinstance(layer, Model) for layer in layers):   # inner flags the cache cannot key
            return self._weights_by_flag(True)
        # what the list depends on: which layers (the same list, as long: Sequential.add appends
        # to it), their trainable flags and their weights (a layer builds them on its first
        # call): a Layer's Param list, the same list object and as long as before; an inner
        # model's weight count
        cached = self.__dict__.get("_trainable_cache")
        if cached is not None and cached[0] is layers and len(layers) == len(cached[1]) \
                and cached[3] == TRAINABLE_VERSION[0]:
            for layer, flag, params, count in cached[1]:
                if layer.trainable != flag or (
                        len(layer.weights) != count if params is None else
                        layer._params is not params or len(params) != count):
                    break
            else:
                return list(cached[2])
        state = [(layer, layer.trainable, layer._params if isinstance(layer, Layer) else None,
                  len(layer._params) if isinstance(layer, Layer) else len(layer.weights))
                 for layer in layers]
        weights = _unique(w for layer in layers for w in _layer_weights_by_flag(layer, True))
        self.__dict__["_trainable_cache"] = (layers, state, weights, TRAINABLE_VERSION[0])
        return list(weights)

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        if not self.trainable:   # Keras 3: all of them
            return self.weights
        return self._weights_by_flag(False)

    non_trainable_variables = non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def _gradients(self):
        # aligned with trainable_weights: none for a frozen model
        return self._gradients_by_flag() if self.trainable else []

    def _gradients_by_flag(self):
        """Gradients aligned with ``_weights_by_flag(True)`` (a held model's, whatever its flag)."""
        seen, out = set(), []
        for layer in self._weight_layers():
            if isinstance(layer, Model):
                pairs = zip(layer._weights_by_flag(True), layer._gradients_by_flag())
            else:
                pairs = zip(*trained(layer))
            for w, g in pairs:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(g)
        return out

    @property
    def gradients(self):
        return self._gradients()

    def get_weights(self):
        return [w._copy_array() for w in self.weights]   # no export: versions stay (Layer.get_weights)

    def set_weights(self, weights):
        weights = list(weights)
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(f"{self.name}.set_weights: the model has {len(mine)} weight arrays, got {len(weights)}")
        owner = {id(w): layer.name for layer in self._weight_layers() for w in layer.weights}
        for w, a in zip(mine, weights):  # check every shape before writing anything
            if tuple(np.shape(a)) != tuple(w.shape):
                raise ValueError(f"{self.name}.set_weights: layer '{owner.get(id(w), '?')}' expects a weight of "
                                 f"shape {tuple(w.shape)}, got {tuple(np.shape(a))}")
        for w, a in zip(mine, weights):
            np.asarray(w)[...] = a

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def flops(self, input_shape=None):
        """Forward FLOPs per sample of a graph model (the sum over its layer calls)."""
        if self._graph is None:
            return 0
        total = 0
        for node in self._graph.nodes:
            shape = [t.shape for t in node.inputs] if node.packed else node.inputs[0].shape
            try:
                total += node.layer.flops(shape)
            except (TypeError, ValueError, IndexError, AttributeError):
                pass
        return total

    def regularization(self, add_grads=False):
        return sum(layer.regularization(add_grads) for layer in self._weight_layers())

    # -- added losses (Keras' add_loss / losses) -------------------------------------------------

    def add_loss(self, value):
        """Add a scalar loss Tensor (computed in a subclassed model's ``call``) to the training
        loss, as ``Layer.add_loss``."""
        if is_symbolic(value):
            raise TypeError(f"{self.name}.add_loss: the loss must be a Tensor computed from the call's "
                            "tensors, got a symbolic KerasTensor")
        if not isinstance(value, kernels.Tensor):
            value = kernels.Tensor.from_numpy(np.asarray(value, np.float32))
        if value.size != 1 or value.ndim != 0:
            from .. import ops
            value = ops.sum(value)
        self.__dict__.setdefault("_added_losses", []).append(value)
        return value

    def _clear_losses(self):
        self.__dict__.pop("_added_losses", None)

    def _added_loss_tensors(self):
        """The losses the last call added (add_loss, activity regularizers), without the weight
        penalties (fit adds those itself)."""
        if self._graph is not None:
            return [v for _, v in self._graph.added_losses]
        out = list(self.__dict__.get("_added_losses", ()))
        for layer in self._tracked_layers():
            if isinstance(layer, Model):
                out += layer._added_loss_tensors()
            else:
                out += layer.__dict__.get("_added_losses", [])
                if type(layer).call is not Layer.call:
                    for sub in layer._sublayers():
                        out += sub.__dict__.get("_added_losses", [])
        return out

    @property
    def losses(self):
        """Keras 3's ``model.losses``: the losses added by the last call of the model (its layers'
        ``add_loss`` and activity regularizers), then its weight regularizers' penalties, as
        scalar Tensors. In a GradientTape loop ``loss + sum(model.losses)`` is differentiable."""
        out = self._added_loss_tensors()
        for layer in self._weight_layers():
            for p in layer._all_params() if isinstance(layer, Layer) else ():
                if p.regularizer is not None and p.trainable:
                    out.append(p.regularizer.tensor(p.value))
        return out

    def _added_loss_value(self):
        """The sum of the losses the last forward added, as a float (0.0 when none)."""
        if self._graph is not None and not self._graph.added_losses:
            return 0.0
        return float(sum(float(np.asarray(v)) for v in self._added_loss_tensors()))

    def save_weights(self, filepath, overwrite=True, save_format=None, options=None):
        """Keras 3's ``save_weights``; tf.keras 2's ``save_format`` / ``options`` are taken (the
        Zero-DCE example forwards them) when they name the HDF5 file the name already asks for."""
        import os
        from .. import saving, train
        if save_format == "tf" and train.is_weights_prefix(filepath):
            save_format = None   # tf.keras 2 asked for what the name already gives
        if save_format not in (None, "h5"):
            raise ValueError(f"{self.name}.save_weights: save_format={save_format!r} (TensorFlow's checkpoint "
                             "format) is not supported for a file name; weights files are Keras 3's "
                             ".weights.h5, and a name without an extension is a checkpoint prefix")
        if save_format is None and train.is_weights_prefix(filepath):
            # tf.keras 2: a name that is no weights file is TensorFlow's checkpoint format
            if not overwrite and os.path.exists(os.fspath(filepath) + train.SUFFIX):
                raise FileExistsError(f"{self.name}.save_weights: {filepath} exists and overwrite=False")
            train.save_weights_prefix(self, filepath)
            return
        filepath = saving.check_weights_path(filepath, f"{self.name}.save_weights")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{self.name}.save_weights: {filepath} exists and overwrite=False")
        saving.save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, options=None):
        """Weights by position, as Keras 3 reads a .weights.h5; ``skip_mismatch=True`` leaves
        each layer's own variables that do not fit as they are, with a warning (Keras 3; Keras'
        weight files only). tf.keras 2's ``by_name`` / ``options`` are taken at their defaults
        (``options`` is TensorFlow's checkpoint option)."""
        from .. import saving
        if by_name:
            raise NotImplementedError(f"{self.name}.load_weights: by_name=True is not supported; weights "
                                      "are matched by position")
        if not self.built and any(not getattr(layer, "built", True) for layer in self.layers):
            # Keras 3: a model that was never called has no weights to load into (a subclassed
            # model sharing built layers has only theirs: weights by position would land in the
            # wrong layers). One whose weights all exist (variables made in __init__) loads.
            raise ValueError(f"{self.name}.load_weights: you are loading weights into a model that has not "
                             "yet been built. Try building the model first by calling it on some data or "
                             "by using `build()`.")
        from .. import train
        if train.is_weights_prefix(filepath):   # what save_weights wrote to a checkpoint prefix
            train.load_weights_prefix(self, filepath)
            return
        saving.load_weights(self, filepath, skip_mismatch=bool(skip_mismatch))

    def save(self, filepath, overwrite=True, include_optimizer=True, save_format=None, zipped=None,
             signatures=None, options=None, save_traces=True):
        """``m.keras``: corenn's zip; ``m.h5`` (or ``save_format="h5"``): TF-Keras 2's HDF5
        model file, which TF-Keras 2 and Keras 3's ``load_model`` read (needs h5py).
        ``zipped=False``: the zip's members as files of a directory (Keras 3's option); a name
        without an extension (TF-Keras 2's SavedModel directory) writes that directory too.
        TF-Keras 2's SavedModel arguments: ``options`` a tf.saved_model.SaveOptions (which device
        writes: corenn writes from the host, so it changes nothing), ``save_traces`` accepted;
        ``signatures`` (graph functions) raise, corenn has no graphs to serve."""
        import os
        from .. import saving
        from ..saved_model import SaveOptions, check_options
        check_options(options, SaveOptions, f"{self.name}.save")
        if signatures is not None:
            raise NotImplementedError(f"{self.name}.save: signatures= names TensorFlow graph functions, which a "
                                      "corenn model file does not hold; export to ONNX to serve the model")
        if zipped is False or zipped is None and saving.is_model_directory_name(filepath, save_format):
            # TF-Keras 2 wrote a SavedModel directory for a name without an extension (or
            # save_format="tf"); corenn writes its own model directory there, read by load_model
            return saving.save_model(self, filepath, include_optimizer=include_optimizer, overwrite=overwrite,
                                     zipped=False)
        filepath = saving.check_model_path(filepath, f"{self.name}.save", save_format)
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{self.name}.save: {os.fspath(filepath)} exists and overwrite=False")
        saving.save_model(self, filepath, include_optimizer=include_optimizer, save_format=save_format)

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Keras 3's post-training quantization of the built model's Dense, EinsumDense and
        Embedding layers: ``mode="int8"`` or ``"int4"`` (weight-only; ``config`` Keras'
        Int4QuantizationConfig, serialized or an object with ``block_size``: 128 by default, -1
        per channel); ``config`` an ``Int8QuantizationConfig`` / ``Int4QuantizationConfig``
        object (the mode read from it), whose own quantizers Dense uses; float8 / gptq / awq
        raise ValueError naming the mode. ``filters``: a regex
        on layer names, a list of them, or a callable. See layers/quantization.py."""
        from ..layers.quantization import quantize_model
        quantize_model(self, mode, config, filters, **kwargs)

    def export(self, filepath, format=None, verbose=True, **kwargs):
        """Keras 3's ``model.export``: ``format="onnx"`` writes an ONNX file through
        ``corenn.onnx.export(self, filepath, opset=None, dynamic_batch=True)`` (``verbose`` is
        accepted for Keras' signature; the exporter prints nothing). Keras' default format is a
        TensorFlow SavedModel, which corenn cannot write: without ``format`` a path ending in
        ``.onnx`` is exported to ONNX, any other path raises NotImplementedError (rather than an
        ONNX file under a name the script will open as a SavedModel). Keras' other formats
        ('tf_saved_model', 'openvino', 'litert', 'torch') raise NotImplementedError too."""
        if format is None:
            format = "onnx" if str(filepath).lower().endswith(".onnx") else "tf_saved_model"
        if format in ("tf_saved_model", "openvino", "litert", "torch"):
            raise NotImplementedError(
                f"{self.name}.export: corenn cannot write format={format!r} (Keras' default is "
                f"'tf_saved_model'); export to ONNX with model.export('model.onnx', format='onnx') "
                f"and serve it with ONNX Runtime, or keep the model with model.save('model.keras')")
        if format != "onnx":
            raise ValueError(f"{self.name}.export: unrecognized format={format!r}; Keras' formats are "
                             "'tf_saved_model', 'onnx', 'openvino', 'litert', 'torch', of which corenn "
                             "writes 'onnx'")
        from .. import onnx as _onnx
        return _onnx.export(self, filepath, **kwargs)

    # -- calling -------------------------------------------------------------------------------

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        # the layers this call builds make their weights under its name (name_scope, inlined:
        # model(x) is a latency path)
        saved = _NAME_SCOPES.stack
        if not saved or saved[-1][1] is not self:
            parent = self.__dict__.get("_parent_path")
            if parent is None:   # its first call: the path it is called under is its parent's
                parent = self.__dict__["_parent_path"] = current_path()
            _NAME_SCOPES.stack = saved + ((self.name, self, parent),)
        try:
            if type(inputs) is np.ndarray and mask is None and not kwargs and inputs.dtype.kind in "fiub":
                # a GradientTape loop's step on a batch array (numeric: no strings; a plain ndarray
                # carries no Keras mask and is not sparse): the checks below, answered by the type
                tape = autodiff.recording_tape()
                if tape is not None:
                    if training is None:
                        training = _resolved_training(self) if self._graph is None else _enclosing_training()
                    return self._call_on_tape(inputs, training, tape)
            inputs = _densify_sparse(inputs)
            if training is None and not is_symbolic(inputs):
                # a subclassed model: the enclosing call's flag, else its call's default; a graph
                # model: the enclosing call's flag (else None: its layers resolve their own)
                training = _resolved_training(self) if self._graph is None else _enclosing_training()
            if mask is not None or _carries_mask(inputs):
                if not is_symbolic(inputs):
                    return self._call_masked(inputs, training, mask, kwargs)
            if kwargs:
                return self._call_with_options(inputs, training, kwargs)
            tape = autodiff.recording_tape()
            if tape is not None and type(inputs) in _ARRAYS and not is_string_array(inputs):
                return self._call_on_tape(inputs, training, tape)
            if is_symbolic(inputs):
                return self._call_symbolic(inputs, training)
            if TRACING.depth:
                check_traceable(f"model '{self.name}' called on values")
            self._clear_losses()   # a new call: the losses of the last one are forgotten
            if tape is not None or self._graph is None or training or (
                    training is None and self._has_default_training_layers()):
                # layer by layer: each layer resolves training=None itself (an augmentation layer
                # augments, as in Keras 3)
                return self._call_eager(inputs, training)
            xs = self._prepare_x(inputs, "__call__")
            with self._step_lock:   # one forward pass on the whole input; the outputs copied out of the buffers
                self._mark_input_grads()
                outs = self._forward(_tensors(xs), False)
                outs = [np.array(o, copy=True) for o in (outs if isinstance(outs, list) else [outs])]
                graph = self._graph
                masks = [None if k is None else np.array(graph.values[k], copy=True) for k in graph.output_mask_slots]
            # Tensors, as Keras returns; a string output (a model whose outputs are its inputs,
            # a string column among them: keras.io's feature engineering) a string tensor
            outs = [wrap_strings(o) if o.dtype == object else o.view(BoolMask) if o.dtype == np.bool_
                    else kernels.Tensor.from_numpy(o) for o in outs]
            for t, m in zip(outs, masks):   # an output's Keras mask (Embedding(mask_zero) upstream)
                if m is not None:
                    t._keras_mask = user_mask(m)
            return self._structure_outputs(outs)
        finally:
            _NAME_SCOPES.stack = saved

    def _call_on_tape(self, inputs, training, tape):
        """``model(x)`` under a recording tape, one array or Tensor in (not string data): the
        captured graph run as one record of the tape, or the layers one by one."""
        self.__dict__.pop("_added_losses", None)   # a new call: forget the last one's losses
        graph = self._captured_graph([inputs], training, tape, strings_checked=True)
        if graph is not None:
            outs = tape.call_graph(graph, [inputs], training)
            if len(outs) == 1 and not self._returns_list:
                return outs[0]
            # a model built with a dict of outputs returns a dict (a feature extractor by name)
            keys = self.__dict__.get("_output_dict_keys") if self._graph is not None else None
            return dict(zip(keys, outs)) if keys is not None else self._nested_outputs(outs)
        return self._replay(inputs, training) if self._graph is not None else self._call_user(inputs, training)

    def _call_masked(self, inputs, training, mask, options):
        """``model(x)`` on values with a Keras mask (``x._keras_mask``, an Embedding(mask_zero)
        output) or ``model(x, mask=m)``: as Keras 3, the mask is the model's input mask. A graph
        model replays its layer calls on the masked inputs, so each layer gets the mask its
        inputs carry, as when the layers are called one by one (the compiled forward pass starts
        from unmasked inputs); a subclassed model whose ``call`` takes ``mask`` is handed it."""
        if self._graph is None:
            import inspect
            if "mask" in inspect.signature(self.call).parameters:
                if mask is None:   # the inputs' own masks (one of them at least is set)
                    masks = [getattr(x, "_keras_mask", None) for x in
                             (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
                    mask = masks if isinstance(inputs, (list, tuple)) else masks[0]
                options = dict(options, mask=mask)
            if options:
                return self._call_with_options(inputs, training, options)
            self._clear_losses()
            return self._call_user(inputs, training)
        if options:
            return self._call_with_options(inputs, training, options)
        flat = self._flatten_inputs(inputs, "__call__")
        if mask is not None:
            masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
            if len(masks) != len(flat):
                raise ValueError(f"{self.name}: {len(flat)} input(s), {len(masks)} mask(s)")
            for i, m in enumerate(masks):
                if m is not None:   # a copy carries this mask: the caller's tensor keeps its own
                    flat[i] = kernels.Tensor.from_numpy(np.array(flat[i], copy=True))
                    flat[i]._keras_mask = user_mask(m)
        self._clear_losses()
        keys = self.__dict__.get("_input_dict_keys") or [t.name for t in self.inputs]
        return self._replay(dict(zip(keys, flat)) if isinstance(inputs, dict)
                            else (flat if len(flat) > 1 or isinstance(inputs, (list, tuple)) else flat[0]),
                            training)

    def _call_with_options(self, inputs, training, options):
        """``model(x, states=s, return_state=True)``: Keras hands keyword arguments that are not
        inputs to ``call``. Such a call runs ``call`` layer by layer (no captured graph: its
        options may change what it computes); under a tape every layer call is recorded."""
        if self._graph is not None:
            raise TypeError(f"{self.name}: a functional model takes only inputs and training=, got keyword "
                            f"argument(s) {', '.join(sorted(options))}")
        import inspect
        params = inspect.signature(self.call).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            unknown = sorted(k for k in options if k not in params)
            if unknown:
                raise TypeError(f"{self.name}: {type(self).__name__}.call takes no argument(s) "
                                f"{', '.join(unknown)}")
        if is_symbolic(inputs):
            raise NotImplementedError(f"{self.name}: keyword arguments to a subclassed model called on "
                                      f"symbolic inputs ({', '.join(sorted(options))}); call it on data")
        self._clear_losses()
        return self._call_user(inputs, training, options)

    def _has_default_training_layers(self):
        graph = self._graph
        found = graph.__dict__.get("_default_training")   # a graph's layers are fixed: asked once
        if found is None:
            found = graph._default_training = any(_trains_by_default(l) for l in graph.layers)
        return found

    def call(self, inputs, training=None, mask=None):
        """The forward computation: a graph model replays its layer calls; subclasses override."""
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs, training=None)")
        return self._replay(inputs, training)

    def _replay(self, inputs, training):
        """Run the graph's layer calls one by one with Python values (KerasTensors when building
        a bigger graph, Tensors under a tape)."""
        flat = self._flatten_inputs(inputs, "call")
        values = {id(t): v for t, v in zip(self.inputs, flat)}
        for node in self._graph.nodes:
            args = [values[id(t)] for t in node.inputs]
            arg = args if node.packed else args[0]
            if node.layer.__dict__.get("_positional_inputs") and node.packed:   # layer(a, b)
                arg, extra = args[0], args[1:]
            else:
                extra = ()
            fixed = training if node.training is None else node.training
            y = node.layer(arg, *extra, training=node.training if isinstance(args[0], KerasTensor) else fixed,
                           **(node.call_kwargs or {}))
            for t, v in zip(node.outputs, y if node.multi_out else [y]):
                values[id(t)] = v
        outs = [values[id(t)] for t in self.outputs]
        if self._output_dict_keys is not None:
            return dict(zip(self._output_dict_keys, outs))
        return outs[0] if self._single_output else self._nested_outputs(outs)

    def _flatten_inputs(self, inputs, op):
        n = len(self.inputs)
        if isinstance(inputs, dict):
            # a model built from a dict of inputs is fed by its keys (Keras), else by input names
            keys = self._input_dict_keys or [t.name for t in self.inputs]
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(f"{self.name}.{op}: missing input(s) {', '.join(missing)}; the model's "
                                 f"inputs are {', '.join(keys)}")
            return [inputs[k] for k in keys]
        flat = list(inputs) if isinstance(inputs, (list, tuple)) and n > 1 else [inputs]
        if len(flat) != n:
            raise ValueError(f"{self.name}.{op}: the model has {n} inputs, got {len(flat)}")
        return flat

    def _call_symbolic(self, inputs, training=None):
        from . import graph as _g
        flat = list(inputs.values()) if isinstance(inputs, dict) else (
            list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])
        call = _g.ModelCall(self, flat, isinstance(inputs, (list, tuple, dict)),
                            None if training is None else bool(training))
        _g.GROUPS.append(call)
        # model(x, training=False) fixes the flag of every layer call it records (Keras)
        fixed = training is not None
        if fixed:
            _g.FIXED_TRAINING.append(bool(training))
        try:
            out = self._replay(inputs, None) if self._graph is not None else self._call_user(inputs, training)
        except (TypeError, ValueError, IndexError) as exc:
            if self._graph is not None or not _untraceable_call(exc):
                raise
            out = None
        finally:
            _g.GROUPS.pop()
            if fixed:
                _g.FIXED_TRAINING.pop()
        if out is None:
            # a call that cannot run on KerasTensors (ops.ones([ops.shape(x)[0], ...]): Keras traces
            # it with a concrete batch) is one node, a layer running the model eagerly
            node_layer = self.__dict__.get("_as_node")
            if node_layer is None:
                node_layer = self.__dict__["_as_node"] = _ModelNode(self)
            return node_layer(inputs, training=training) if training is not None else node_layer(inputs)
        call.outputs = list(out.values()) if isinstance(out, dict) else (
            list(out) if isinstance(out, (list, tuple)) else [out])
        return out

    def _call_eager(self, inputs, training):
        tape = autodiff.recording_tape()
        if tape is not None and not isinstance(inputs, dict):
            flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            graph = self._captured_graph(flat, training, tape)
            if graph is not None:
                outs = tape.call_graph(graph, flat, training)
                if len(outs) == 1 and not self._returns_list:
                    return outs[0]
                keys = self.__dict__.get("_output_dict_keys") if self._graph is not None else None
                return dict(zip(keys, outs)) if keys is not None else self._nested_outputs(outs)
        if self._graph is not None:
            return self._replay(inputs, training)
        return self._call_user(inputs, training)

    # -- graph capture under a GradientTape ------------------------------------------------------

    def _captured_graph(self, xs, training, tape=None, strings_checked=False):
        """A free graph of this model's call for inputs like ``xs``, or None (run eagerly).

        A graph model has one already. A subclassed model's ``call`` is traced once per input
        signature and training flag on symbolic inputs (like tf.function); a call that cannot be
        traced (ops on values, data-dependent Python) runs eagerly, layer by layer, from then on.
        A graph still in use by a tape (the model called twice before ``gradient``) gets a copy
        with contexts of its own. String inputs (a StringLookup first) run layer by layer."""
        if not strings_checked and any(is_string_array(x) for x in xs):
            return None
        if ASSIGNED_WEIGHT_LAYERS.data and _holds_assigned_weights(self):   # (.data: no Python __len__)
            return None   # a layer computing with assigned tensors runs as ops, layer by layer
        if tape is not None and autodiff.graph_tape() is not None:
            # a tf.function that calls tf.gradients (autodiff._GraphTape): layer by layer, so each
            # call is recorded and tf.gradients reaches inputs and inner outputs alike
            return None
        d = self.__dict__
        if self._graph is not None:
            base = self._graph
            d["_returns_list"] = not self._single_output
        else:
            if d.get("_untraceable"):
                return None
            if len(xs) == 1:
                x = xs[0]
                sig = ((x.shape[1:], x.dtype),) if type(x) is np.ndarray else (_signature(x),)
            else:
                sig = tuple(_signature(x) for x in xs)
            key = (sig, bool(training))
            cache = d.get("_captures")
            if cache is None:
                cache = d.setdefault("_captures", {})
            base = cache.get(key)
            if base is None:
                base = self._trace(xs, training)
                if base is None:
                    return None
                cache[key] = base
        if tape is None:   # inference (predict / evaluate, under the model's lock): the base graph
            return base
        with d.get("_capture_lock_obj") or self._capture_lock:   # two threads' tapes never pick the same copy
            copies = d.setdefault("_capture_copies", {}).setdefault(id(base), [base])
            for g in copies:
                user = g.__dict__.get("user")
                if user is not None:
                    holder = user()
                    if holder is not None and holder._records:
                        continue   # a tape that has not differentiated it yet
                g.user = weakref.ref(tape)
                return g
            copy = Graph(base.inputs, base.outputs, where=self.name, own_contexts=True)
            copy.user = weakref.ref(tape)
            copies.append(copy)
            return copy

    @property
    def _capture_lock(self):
        lock = self.__dict__.get("_capture_lock_obj")
        if lock is None:
            import threading
            lock = self.__dict__.setdefault("_capture_lock_obj", threading.Lock())
        return lock

    def _trace(self, xs, training):
        from ..autodiff import stop_recording
        from .graph import Input
        if self.__dict__.get("_build_input_shapes") is None:   # what tf.train.Checkpoint rebuilds from
            self.__dict__["_build_input_shapes"] = [(None,) + tuple(np.shape(x)[1:]) for x in xs]
        try:
            kts = [Input(shape=tuple(np.shape(x)[1:]),
                         dtype="float32" if str(getattr(x, "dtype", "float32")).startswith("float") else "int64")
                   for x in xs]
            TRACING.depth += 1
            try:
                with stop_recording():
                    out = self._call_user(kts if len(kts) > 1 else kts[0], training)
            finally:
                TRACING.depth -= 1
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            if not outs or not all(isinstance(o, KerasTensor) for o in outs):
                raise TypeError("call returned something other than layer outputs")
            graph = Graph(kts, outs, where=self.name)
        except (TypeError, ValueError, NotImplementedError, AttributeError, KeyError, IndexError):
            self.__dict__["_untraceable"] = True
            return None
        self._returns_list = isinstance(out, (list, tuple))
        return graph

    def _call_user(self, inputs, training, options=None):
        # fit, build and the trace run call without __call__: its layers are built in this scope
        with name_scope(self, record=True):
            return self._call_user_in_scope(inputs, training, options)

    def _call_user_in_scope(self, inputs, training, options=None):
        options = options or {}
        if not is_symbolic(inputs):
            self._clear_losses()   # a new call: the losses its call adds replace the last ones
        if self.__dict__.get("_build_input_shapes") is None and not is_symbolic(inputs):
            flat = list(inputs.values()) if isinstance(inputs, dict) else (
                list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])
            self.__dict__["_build_input_shapes"] = [(None,) + tuple(np.shape(x)[1:]) for x in flat]
        if not self.built and _user_build(type(self)) and not self.__dict__.get("_in_user_build"):
            self._run_user_build(inputs)
        # the flag the layers and models its call calls without ``training=`` inherit (Keras 3's
        # call context: a functional block inside keras.io's DeiT runs its StochasticDepth, whose
        # call defaults to training=True, in inference when the model is called so)
        from ..layers.base import _CALL_TRAINING
        outer = _CALL_TRAINING.stack
        _CALL_TRAINING.stack = outer + (training,)
        try:
            if _accepts_training(self.call):
                out = self.call(inputs, training=training, **options)
            else:
                out = self.call(inputs, **options)
        finally:
            _CALL_TRAINING.stack = outer
        if not self.built:
            self.built = True
        return out

    def _run_user_build(self, inputs):
        """Keras 3: a subclassed model whose own ``build(input_shape)`` creates its layers and
        weights (``self.latent = self.add_weight(...)``, ``self.encoder = ...``) gets it called
        on its first call, with the inputs' shapes (batch None; a list / dict of shapes for
        several inputs), before ``call`` runs."""
        def shape(x):
            return tuple(x.shape) if is_symbolic(x) else (None,) + tuple(np.shape(x)[1:])
        if isinstance(inputs, dict):
            shapes = {k: shape(v) for k, v in inputs.items()}
        elif isinstance(inputs, (list, tuple)):
            shapes = [shape(x) for x in inputs]
        else:
            shapes = shape(inputs)
        self.__dict__["_in_user_build"] = True
        try:
            self.build(shapes)
        finally:
            self.__dict__.pop("_in_user_build", None)
        self.built = True

    @scoped_build
    def build(self, input_shape=None):
        """Subclassed models: run ``call`` once on zeros of ``input_shape`` so the layers create
        their weights (Keras' ``model.build((None, 784))``). Called as ``super().build(shape)``
        from a model's own ``build`` on its first call, it only marks the model built (Keras 3:
        the call that follows creates the layers' weights)."""
        if self.__dict__.get("_in_user_build"):
            self.built = True
            return
        if self._graph is not None:
            return
        if input_shape is None:
            raise ValueError(f"{self.name}.build: pass input_shape, e.g. (None, 784)")
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        xs = [np.zeros((1,) + tuple(int(d) for d in s[1:]), np.float32) for s in shapes]
        self._call_user(xs if isinstance(input_shape, list) else xs[0], False)
        self.built = True

    # -- compile -------------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        from .. import optimizers
        unknown = [k for k in kwargs if k not in _KERAS_COMPILE_IGNORED + ("weighted_metrics",)]
        if unknown:
            raise TypeError(f"{self.name}.compile: unexpected keyword argument(s) {', '.join(unknown)}")
        # loss=None is allowed, as in Keras: the model's added losses (add_loss) or a custom
        # train_step may be all there is; a step with no loss at all raises then (_no_loss)
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        # function forms (metrics.mae) are kept by name, so a saved model records them as Keras does
        self._metric_arg, self._loss_weight_arg = _metrics.by_name(metrics), loss_weights
        names = self.output_names
        self._losses = [None if spec is None else _losses._to_loss(spec)
                        for spec in self._per_output("loss", loss, names, allow_none=True)]
        if loss is not None and all(l is None for l in self._losses):
            raise ValueError(f"{self.name}.compile: every output's loss is None; give at least one output a loss")
        if loss_weights is None:
            self._loss_weights = [1.0] * len(names)
        else:
            self._loss_weights = [1.0 if w is None else float(w)
                                  for w in self._per_output("loss_weights", loss_weights, names, allow_none=True,
                                                            scalar_ok=False)]
        self._metric_specs = self._metric_specs_of("metrics", metrics, names)
        # Keras' weighted_metrics: updated with the batch's sample weights (sample_weight and
        # class_weight), where the plain metrics are not
        weighted = kwargs.get("weighted_metrics")
        self._weighted_metric_arg = _metrics.by_name(weighted) if weighted else None
        self._weighted_metric_specs = self._metric_specs_of("weighted_metrics", weighted, names)
        for specs, loss_obj in zip(self._metric_specs + self._weighted_metric_specs,
                                   self._losses * 2):  # fail early on unknown names
            for spec in specs:
                _metrics.resolve(spec, loss_obj, 1, (1, 2), count_name=True)
        self._train_metrics = self._eval_metrics = None
        self.compiled = True
        self._loss_obj = self._losses[0]

    def _metric_specs_of(self, what, metrics, names):
        """compile()'s metrics (or weighted_metrics) as one list of specs per output."""
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, _metrics.Metric)) or callable(metrics) and not isinstance(metrics, (list, dict)):
            metrics = [metrics]
        if isinstance(metrics, dict):
            per = self._per_output("metrics", metrics, names, allow_none=True)
            return [_as_list(m) for m in per]
        if len(names) > 1 and metrics and all(isinstance(m, (list, tuple)) for m in metrics):
            if len(metrics) != len(names):
                raise ValueError(f"{self.name}.compile: {what} has {len(metrics)} lists for {len(names)} outputs")
            return [list(m) for m in metrics]
        return [list(metrics) for _ in names]

    def _per_output(self, what, spec, names, allow_none=False, scalar_ok=True):
        n = len(names)
        if isinstance(spec, dict):
            unknown = [k for k in spec if k not in names]
            if unknown:
                raise ValueError(f"{self.name}.compile: {what} has key(s) {', '.join(map(repr, unknown))} that "
                                 f"name no output; the outputs are {', '.join(names)}")
            return [spec.get(k) for k in names]
        if isinstance(spec, (list, tuple)) and what != "metrics":
            if len(spec) != n:
                raise ValueError(f"{self.name}.compile: {what} has {len(spec)} entries for {n} outputs "
                                 f"({', '.join(names)})")
            return list(spec)
        if not scalar_ok and n > 1:
            raise ValueError(f"{self.name}.compile: {what} must be a list or dict for a model with {n} outputs")
        return [spec] * n

    @property
    def metrics_names(self):
        if self._train_metrics is None and (any(self.__dict__.get("_metric_specs") or [])
                                            or any(self.__dict__.get("_weighted_metric_specs") or [])):
            # compiled metrics not resolved yet (no labels seen): Keras 3's names of
            # ``model.metrics`` then, so ``dict(zip(model.metrics_names, model.evaluate(...)))``
            # (evaluated after the names are read) keeps the first metric, as in Keras 3
            return ["loss", "compile_metrics"]
        return ["loss"] + [name for name, _ in self._metric_entries(self._train_metrics or [])]

    # -- data ----------------------------------------------------------------------------------

    def _prepare_x(self, x, op, batched=False):
        """The model inputs of fit/evaluate/predict as float32 arrays: one array for a one-input
        model, a list in input order otherwise (from a list or a dict keyed by input name).
        ``batched``: x is one batch a dataset or generator gave; its inputs need not share a first
        axis (a batch of graphs: atoms, bonds, pair indices), as Keras passes such batches on."""
        x = _densify_sparse(x)
        if self._graph is None:
            x = _prepare_free_x(self, x, op)
            # an already-built model whose own train_step / test_step decides how x reaches
            # call is not called on fit's x, as Keras 3 skips its build then (the molecule VAE's
            # x carries the property beside the two graph inputs its call takes)
            own_step = self.built and op in ("fit", "evaluate") and self._custom_step(
                "train_step" if op == "fit" else "test_step")
            if self.__dict__.get("_free_output_shapes") is None:
                if type(self).call is Model.call or own_step:
                    # no call of its own (a GAN whose train_step runs its parts): nothing to probe
                    self._free_output_shapes = [None]
                else:
                    self._probe_outputs(x)
            elif self.__dict__.get("_free_probed_for") not in (None, _sample_shapes(x)) and not own_step:
                self._reprobe_outputs(x)
            return x
        if type(x) is np.ndarray:
            # A batch shaped like one these checks passed as it was (float32, C-contiguous, same
            # sample shape, for this graph) passes them again unchanged: the latency path
            # (predict_on_batch, model(x) at batch 1) skips redoing them.
            shape, passed = x.shape, self.__dict__.get("_passed_input")
            if (passed is not None and shape and shape[0] and shape[1:] == passed[1]
                    and passed[0] is self._graph and x.dtype is _FLOAT32 and x.flags.c_contiguous):
                return x
        n = len(self.inputs)
        if n == 1:
            if isinstance(x, dict):
                x = self._flatten_inputs(x, op)[0]
            elif isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
                x = x[0]
            checked = self._check_x(_to_array(self, x, op, self.inputs[0]), self.inputs[0], op)
            if checked is x and type(x) is np.ndarray:
                self.__dict__["_passed_input"] = (self._graph, x.shape[1:])
            return checked
        flat = self._flatten_inputs(x, op)
        arrays = [self._check_x(_to_array(self, a, op, t), t, op) for a, t in zip(flat, self.inputs)]
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1 and not batched and not (op == "__call__" and len(lengths - {1}) == 1):
            # (called directly, as Keras runs its ops, an input of batch 1 may broadcast against
            # the others: a Perceiver's latent array; fit / predict split the samples in batches)
            raise ValueError(f"{self.name}.{op}: all inputs must have the same number of samples, got "
                             f"{', '.join(f'{t.name}: {len(a)}' for t, a in zip(self.inputs, arrays))}")
        return arrays

    def _check_x(self, x, spec, op):
        x = adjust_input_rank(self, x, spec, op)
        expected = spec.shape[1:]
        if expected and expected[-1] == 1 and len(expected) == x.ndim - 1:
            # Keras 3's input check drops a last axis of 1 from the Input's shape
            # (allow_last_axis_squeeze): keras.io's MelGAN builds its generator on audio of shape
            # (None, 1) and predicts on spectrograms of shape (50, 80)
            expected = expected[:-1] + (None,)
        if len(expected) != x.ndim - 1 or any(e is not None and e != g for e, g in zip(expected, x.shape[1:])):
            hint = ""
            if x.ndim > 2 and len(expected) == 1 and math.prod(x.shape[1:]) == expected[0]:
                hint = (f"; reshape x to (n, {expected[0]}) or start the model with "
                        f"layers.Flatten(input_shape={shape_str(x.shape[1:])})")
            raise ValueError(f"{self.name}.{op}: input '{spec.name}' expects shape "
                             f"{shape_str(spec.shape)}, but x has shape {tuple(x.shape)}{hint}")
        return x

    def _prepare_y(self, y, n, op):
        names = self.output_names
        if len(names) == 1:
            if isinstance(y, dict):
                y = self._y_list(y, names, op)[0]
            elif isinstance(y, (list, tuple)) and len(y) == 1 and hasattr(y[0], "shape"):
                y = y[0]
            return self._prepare_one_y(y, n, op, 0)
        if hasattr(y, "shape") and not isinstance(y, (list, tuple, dict)) and self._user_compute_loss() \
                and all(loss is None for loss in self._losses):
            # Keras 3 hands y to an overridden compute_loss as it came (BASNet's one mask for its
            # eight side outputs); the compiled metrics read it against the first output
            return np.ascontiguousarray(np.asarray(y), dtype=np.float32) if np.asarray(y).dtype.kind in "fiub" \
                else np.asarray(y)
        ys = self._y_list(y, names, op)
        return [None if self._losses[k] is None and ys[k] is None else self._prepare_one_y(ys[k], n, op, k)
                for k in range(len(names))]

    def _y_list(self, y, names, op):
        if isinstance(y, dict):
            ys = by_output_name(y, names, f"{self.name}.{op}", "y")
        elif isinstance(y, (list, tuple)) and not (len(names) > 1 and hasattr(y, "shape")):
            ys = list(y)
            if len(ys) != len(names):
                raise ValueError(f"{self.name}.{op}: the model has {len(names)} outputs ({', '.join(names)}), "
                                 f"y has {len(ys)} arrays")
        elif hasattr(y, "shape") and sum(loss is not None for loss in (self._losses or ())) == 1:
            # one array for the one output that has a loss (Keras 3: loss=[fn, None], as the
            # miniature-GPT example trains its logits while also returning the block's output)
            ys = [y if loss is not None else None for loss in self._losses]
        else:
            raise ValueError(f"{self.name}.{op}: the model has {len(names)} outputs ({', '.join(names)}); pass y "
                             "as a list or a dict keyed by output name")
        for k, name in enumerate(names):
            if ys[k] is None and self._losses[k] is not None:
                raise ValueError(f"{self.name}.{op}: y for output '{name}' is missing (it has a loss)")
        return ys

    def _prepare_one_y(self, y, n, op, k):
        if y is None:
            raise ValueError(f"{self.name}.{op}: y (the targets) is missing")
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != n:
            raise ValueError(f"{self.name}.{op}: x and y must have the same number of samples, "
                             f"got {n} inputs and {y.shape[0] if y.ndim else 0} targets")
        if y.dtype.kind == "f":
            bad = ~np.isfinite(y)
            if bad.any():
                raise ValueError(f"{self.name}.{op}: y contains {int(np.isnan(y).sum())} NaN and "
                                 f"{int(np.isinf(y).sum())} infinite values; clean the labels first")
        loss = self._losses[k]
        out = self._output_shapes()[k]
        if loss is None:
            return np.ascontiguousarray(y, dtype=np.float32)
        y = loss.prepare_labels(y)
        if loss.sparse:
            # one index per row of the output's last axis: (n,) for (n, C), (n, T) for (n, T, C),
            # optionally with a trailing 1 (as Keras' sparse cross-entropy takes them)
            if out is None:  # shape unknown here: the loss kernel checks it
                return y
            lead = tuple(out[1:-1])
            if not _label_shape_fits(y.shape[1:], lead):
                expected = "class indices of shape " + shape_str(("n",) + lead) + " or " + \
                    shape_str(("n",) + lead + (1,))
                raise ValueError(self._label_error(y, out, expected, k))
            return y
        if out is not None and y.ndim == len(out) - 1 and out[-1] == 1:
            y = y.reshape(y.shape + (1,))
        elif out is not None and y.ndim == len(out) + 1 and y.shape[-1] == 1:
            y = y.reshape(y.shape[:-1])   # (n, 1) targets for an (n,) output (Keras 3 squeezes)
        # a loss written in Python reads y itself, as Keras hands any target to a custom loss
        # (the NER example's masked loss takes (n, T) labels for (n, T, C) outputs); an
        # elementwise loss broadcasts targets against the output (axes equal or 1), as Keras
        if out is not None and not loss._written_in_python and not (
                loss.kind in _losses._ELEMENTWISE and y.ndim == len(out) and all(
                    o is None or o == d or o == 1 or d == 1 for o, d in zip(out[1:], y.shape[1:]))) and (
                y.ndim != len(out) or any(
                o is not None and o != d for o, d in zip(out[1:], y.shape[1:]))):   # None: any length (Input((None, F)))
            hint = ""
            if loss.kind == "categorical_crossentropy" and y.ndim == 1:
                hint = ("; use loss='sparse_categorical_crossentropy' for integer labels or one-hot them "
                        "with utils.to_categorical")
            raise ValueError(self._label_error(y, out, f"targets of shape {shape_str((None,) + tuple(out[1:]))}", k)
                             + hint)
        return y

    def _output_shapes(self):
        if self._graph is None:
            return self.__dict__.get("_free_output_shapes") or [None]
        return [t.shape for t in self.outputs]

    def _probe_outputs(self, x):
        """A subclassed model's output shapes (and weights: it builds), from ``call`` on the first
        sample, as Keras builds such a model on its first batch."""
        from ..autodiff import stop_recording
        first = [a[:1] for a in x] if isinstance(x, list) else (
            {k: a[:1] for k, a in x.items()} if isinstance(x, dict) else x[:1])
        with stop_recording():
            out = self._call_user(_tensors(first) if not isinstance(first, dict) else
                                  {k: _data.as_input(a) for k, a in first.items()}, False)
        outs = out if isinstance(out, (list, tuple)) else [out]
        self._free_output_shapes = [(None,) + tuple(o.shape[1:]) for o in outs]
        self.__dict__["_free_probed_for"] = _sample_shapes(x)
        self.__dict__["_free_probes"] = 1

    def _reprobe_outputs(self, x):
        """Inputs of another sample shape than the probe's (a fully convolutional model trained on
        crops and evaluated on whole images): probe again and keep as known only the output axes
        that came out the same, so targets are checked against what the call gives for these
        inputs (the first probe's 32x32 outputs refused 64x64 targets). After a few sample shapes
        the outputs are taken as unknown, not probed on every batch of variable-length data."""
        before = self._free_output_shapes
        if self.__dict__.get("_free_probes", 1) >= 4:
            self._free_output_shapes, self.__dict__["_free_probed_for"] = [None], None
            return
        self._probe_outputs(x)
        self.__dict__["_free_probes"] = self.__dict__.get("_free_probes", 1) + 1
        now = self._free_output_shapes
        if before is None or len(before) != len(now) or any(b is None for b in before):
            return
        self._free_output_shapes = [
            o if len(o) != len(b) else tuple(d if d == e else None for d, e in zip(o, b)) for o, b in zip(now, before)]

    def _label_error(self, y, out, what, k=0):
        where = self.name if len(self.output_names) == 1 else f"{self.name} output '{self.output_names[k]}'"
        msg = (f"{where}: loss '{self._losses[k].name}' expects {what} for the model output "
               f"{shape_str(out)}, but y has shape {tuple(y.shape)}")
        if len(out) > 2:
            msg += "; the output still has spatial axes: add layers.Flatten() before Dense"
        return msg

    def _require_compiled(self, op):
        if not self.compiled:
            raise RuntimeError(f"{self.name}.{op}: call compile(optimizer, loss, metrics) first")

    def _resolve_metrics(self, y, y_pred=None):
        if self._train_metrics is not None:
            return
        ys = y if isinstance(y, list) else [y]
        shapes = self._output_shapes()
        if y_pred is not None and all(sh is None for sh in shapes):
            # a custom train_step's update_state(y, y_pred) before any output shape is known
            # (a subclassed model that was never probed): the predictions' shapes
            preds = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
            shapes = [None if p is None else (None,) + tuple(np.shape(p))[1:] for p in preds]

        weighted_specs = self.__dict__.get("_weighted_metric_specs") or [[] for _ in ys]

        def resolve(s, k):
            return _metrics.resolve(s, self._losses[k], None if ys[k] is None else ys[k].ndim,
                                    shapes[k] if shapes[k] is not None else (None, 2),
                                    None if ys[k] is None or not ys[k].ndim else ys[k].shape[-1])

        def make():
            per_output = []
            for k in range(len(ys)):
                plain = [resolve(s, k) for s in self._metric_specs[k]]
                weighted = [resolve(s, k) for s in weighted_specs[k]]
                taken = {m.name for m in plain}
                for m in weighted:
                    m._sample_weighted = True
                    if m.name in taken:   # the same metric twice: Keras names the weighted one so
                        m.name = "weighted_" + m.name
                per_output.append(plain + weighted)
            return per_output
        self._train_metrics, self._eval_metrics = make(), make()

    def _metric_entries(self, per_output):
        """(log name, metric) pairs: 'accuracy', or '<output>_accuracy' with several outputs."""
        names = self.output_names
        multi = len(names) > 1
        return [(f"{names[k]}_{m.name}" if multi else m.name, m)
                for k, ms in enumerate(per_output or []) for m in ms]

    # -- steps (graph models; subclassed ones go through the tape) ----------------------------------

    profile = True

    def _forward(self, x, training):
        """Model outputs for input Tensor(s) ``x``: one Tensor, or a list with several outputs."""
        xs = x if isinstance(x, list) else [x]
        if self._graph is None:
            if isinstance(x, dict):
                return self._call_user(x, training)
            if training:   # fit's step of a subclassed model runs under a tape: captured there
                return self._call_eager(xs if len(xs) > 1 else xs[0], training)
            graph = self._captured_graph(xs, False)
            if graph is None:
                out = self._call_user(xs if len(xs) > 1 else xs[0], training)
                # several outputs as a tuple (Real NVP's (y, log_det)): a list, as the captured
                # graph returns them
                return list(out) if isinstance(out, tuple) else out
            outs = graph.forward([t if isinstance(t, kernels.Tensor) else _data.as_input(t) for t in xs], False)
            return outs if self._returns_list else outs[0]
        timings = self._timings() if training and self.profile else None
        outs = self._graph.forward(xs, training, timings)
        return outs if len(outs) > 1 else outs[0]

    def _timings(self):
        steps = self._graph.run
        t = self.__dict__.get("_layer_timings")
        if t is None or t.layers != [s.owner for s in steps]:
            from .summary import LayerTimings
            t = self._layer_timings = LayerTimings([s.owner for s in steps])
        return t

    def _mark_input_grads(self):
        """The graph's input-gradient marks and fusion plan for this model's losses (redone only
        when they may have changed: fusion.prepare)."""
        if self._graph is not None:
            # a private attribute: straight into __dict__ (Model.__setattr__ is Python code)
            self.__dict__["_preactivation"] = fusion.prepare(self._graph, (), self._losses)

    def _loss_grad(self, xb, yb, sample_weight=None):
        if self._graph is None or self._user_compute_loss():
            return self._tape_loss_grad(xb, yb, sample_weight)
        h = self._forward(xb, True)
        outs = h if isinstance(h, list) else [h]
        ys = yb if isinstance(yb, list) else [yb]
        timed = self.profile
        if timed:
            clock, timings = time.perf_counter_ns, self._timings()
            t0 = clock()
        total, grads = 0.0, []
        self._output_losses = []
        for k, (out, y, loss) in enumerate(zip(outs, ys, self._losses)):
            if loss is None or y is None:
                grads.append(None)
                self._output_losses.append(0.0)
                continue
            key = (k, tuple(out.shape), out.dtype)
            g = self._grad_buffers.get(key)
            if g is None:
                if len(self._grad_buffers) > 8:
                    self._grad_buffers.clear()
                # (float64: a float64 layer's output; the loss's float64 form fills it)
                g = self._grad_buffers[key] = kernels.empty(key[1], "float64" if out.dtype == "float64" else "float32")
            rw = self._row_weights(_output_weight(sample_weight, k), out, self._loss_weights[k])
            if self._graph.output_mask_slots[k] is not None:   # Keras masks weigh the steps
                rw = _graph_mod.masked_row_weights(self._graph, k, out, rw)
            if k in self._preactivation:
                # softmax/sigmoid + cross-entropy: one kernel from the logits (as Keras' backends do)
                ctx = self._graph.steps[self._graph.producer[self._graph.output_slots[k]]].ctx
                value = loss.forward_backward(y, ctx.logits, g, rw, logits=True)
            else:
                value = loss.forward_backward(y, out, g, rw)
            w = self._loss_weights[k]
            self._output_losses.append(value / w if w else 0.0)
            total += value
            grads.append(g)
        seeds = None
        if all(g is None for g in grads) and not self._graph.added_losses:
            self._no_loss()
        if self._graph.added_losses:   # add_loss / activity regularizers: weight 1 in the total
            seeds = [1.0] * len(self._graph.added_losses)
            total += self._added_loss_value()
        if timed:
            timings.loss += clock() - t0
        self._graph.backward(grads, self._preactivation, timings if timed else None, loss_seeds=seeds)
        total += self.regularization(add_grads=True)
        if timed:
            timings.steps += 1
        return total, h

    def _no_loss(self):
        raise ValueError(f"{self.name}: no loss to compute: the model was compiled without a loss and its layers "
                         "added none (add_loss); pass loss= to compile, e.g. 'mse'")

    @staticmethod
    def _row_weights(sample_weight, out, loss_weight):
        if loss_weight == 1.0:
            return _data.row_weights(sample_weight, out)
        n = out.shape[0]
        base = np.ones(n, np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        return _data.row_weights(kernels.as_tensor(np.ascontiguousarray(base * np.float32(loss_weight))), out)

    def _tape_loss_grad(self, xb, yb, sample_weight):
        """Subclassed models: forward under a tape, the compiled losses, tape.gradient."""
        from ..autodiff import GradientTape
        with GradientTape() as tape:
            # a graph model whose compute_loss is overridden runs as one recorded graph call
            h = self._forward(xb, True) if self._graph is None else self._call_eager(xb, True)
            loss = self._compute_loss_call(xb, yb, h, sample_weight, training=True)
        weights = self.trainable_weights
        grads = tape.gradient(loss, weights)
        self._tape_grads = [kernels.zeros(tuple(w.shape)) if g is None else g for w, g in zip(weights, grads)]
        reg = self.regularization(add_grads=False)
        if reg:
            self._add_regularization_grads(weights, self._tape_grads)
        return _loss_value(loss) + reg, h

    def _add_regularization_grads(self, weights, grads):
        by_id = {id(w): g for w, g in zip(weights, grads)}
        for layer in self._weight_layers():
            for p in getattr(layer, "_params", []):
                if p.regularizer is not None and id(p.value) in by_id:
                    p.regularizer.penalty(p.value, by_id[id(p.value)])

    def _user_compute_loss(self):
        return type(self).compute_loss is not Model.compute_loss

    def _compute_loss_call(self, x, y, y_pred, sample_weight, training):
        """Keras 3's trainer calls compute_loss (overridden or not) with x, y, y_pred and
        sample_weight, and adds training= only when the method's signature takes it (an override
        written for Keras 3.0-3.2, as the knowledge-distillation example's, has no such argument)."""
        cls = type(self)
        takes = _COMPUTE_LOSS_TAKES_TRAINING.get(cls)
        if takes is None:
            import inspect
            params = inspect.signature(self.compute_loss).parameters
            takes = _COMPUTE_LOSS_TAKES_TRAINING[cls] = "training" in params or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        # positionally, as Keras 3's trainer passes them: an override may name them its own way
        # (BASNet's compute_loss(self, x, y_true, y_pred, sample_weight=None, training=False))
        if takes:
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``y_pred`` against ``y`` (weighted sum over outputs), as a scalar
        Tensor that a GradientTape differentiates (Keras 3's ``Model.compute_loss``)."""
        self._require_compiled("compute_loss")
        outs = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
        ys = y if isinstance(y, (list, tuple)) and len(outs) > 1 else [y]
        total = None
        for k, (out, yk, loss, w) in enumerate(zip(outs, ys, self._losses, self._loss_weights)):
            if loss is None:
                continue
            value = loss(yk, out, sample_weight=_output_weight(sample_weight, k))
            if w != 1.0:
                value = value * w
            total = value if total is None else total + value
        # the losses the last call added (add_loss, activity regularizers), as Keras 3 adds
        # model.losses; the weight penalties stay with fit (regularization(add_grads=True))
        for extra in self._added_loss_tensors():
            total = extra if total is None else total + extra
        return total

    def _train_step(self, xb, yb, metrics, sample_weight=None):
        loss, h = self._loss_grad(xb, yb, sample_weight)
        if metrics is None:   # an overridden compute_metrics updates the metrics (fit's loop)
            self.__dict__["_last_y_pred"] = h
        else:
            self._update_metrics(metrics, yb, h, sample_weight)
        opt = self.optimizer
        # the gradients here are of the unscaled loss: a LossScaleOptimizer applies them as they are
        apply = opt.apply_unscaled if opt.__dict__.get("_scales_loss") else opt.apply
        if self._graph is None or self._user_compute_loss():
            apply(self._tape_grads, self.trainable_weights)
            return loss
        from ..autodiff import GRADS_REPLACED
        # built once per fit: a step makes no new lists, unless a graph inside a custom layer
        # (keras.io FNet's feed-forward Sequential) gave its weights new gradient Tensors in this
        # step's backward -- the cached ones are then last step's (fit applied stale gradients)
        if self._step_lists is None or self.__dict__.get("_step_lists_version") != GRADS_REPLACED[0]:
            self._step_lists = (self._gradients(), self.trainable_weights)
            self.__dict__["_step_lists_version"] = GRADS_REPLACED[0]
        apply(*self._step_lists)
        return loss

    # -- Keras 3's overridable steps --------------------------------------------------------

    def _custom_step(self, name):
        return getattr(type(self), name) is not getattr(Model, name)

    def train_step(self, data):
        """One training step on ``data`` = (x, y) or (x, y, sample_weight); returns the logs.
        Override it (with a GradientTape, ``compute_loss``, ``optimizer.apply``) as in Keras 3."""
        x, y, sw = _step_arrays(_unpack(data))
        if self._custom_step("compute_metrics"):   # Keras 3: the override updates and reports
            loss = self._train_step(x, y, None, sw)
            self._track_loss(loss, x)
            return self.compute_metrics(x, y, self.__dict__.pop("_last_y_pred"), sw)
        loss = self._train_step(x, y, self._train_metrics_for(y), sw)
        self._track_loss(loss, x)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y, sw = _step_arrays(_unpack(data))
        h = self._forward(x, False)
        # with the weights' regularization penalties, as evaluate's own loop and Keras 3's
        # compute_loss (self.losses) add them
        loss = self._batch_loss(y, h, sw, x) + self.regularization()
        self._track_loss(loss, x)
        if self._custom_step("compute_metrics"):   # Keras 3: the override updates and reports
            return self.compute_metrics(x, y, h, sw)
        self._update_metrics(self._eval_metrics or [], y, h, sw)
        return {m.name: m.result() for m in self.metrics}

    def _track_loss(self, loss, x):
        """The step's loss into the "loss" tracker weighted by the batch's size, as Keras 3's
        train_step / test_step do: an epoch whose last batch is short reports the mean over
        samples, not over batches."""
        self._loss_tracker.update_state(float(np.asarray(loss)), sample_weight=_batch_rows(x))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras 3: update the compiled metrics with one batch and return the results of
        ``model.metrics`` by name. A model that overrides it (a masked language model reporting
        its own loss tracker) has fit / evaluate log what it returns for each batch."""
        self._update_metrics(self._train_metrics_for(y) if y is not None else [], y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """Keras 3: ``{name: result}`` of ``model.metrics`` (a metric giving a dict adds its keys)."""
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    def predict_step(self, data):
        x, _, _ = _unpack(data)
        return self(x, training=False)

    def _train_metrics_for(self, y, y_pred=None):
        if self._train_metrics is None:
            self._resolve_metrics([np.asarray(t) for t in y] if isinstance(y, list) else np.asarray(y), y_pred)
        return self._train_metrics

    @property
    def _loss_tracker(self):
        t = self.__dict__.get("_loss_tracker_obj")
        if t is None:
            t = self._loss_tracker_obj = _metrics.Mean(name="loss")
        return t

    @property
    def metrics(self):
        """The loss tracker and the compiled metrics (Keras 3's ``model.metrics``); a subclass
        may override it to list its own trackers, which fit resets every epoch."""
        if self._train_metrics is None and any(self.__dict__.get("_metric_specs") or []) \
                or self._train_metrics is None and any(self.__dict__.get("_weighted_metric_specs") or []):
            # compiled metrics not made yet (they are picked from the first labels): Keras 3's
            # CompileMetrics stand-in, which a custom train_step's ``for metric in self.metrics:
            # metric.update_state(y, y_pred)`` builds (the MAE example)
            return [self._loss_tracker, _CompileMetrics(self)]
        return [self._loss_tracker] + [m for _, m in self._metric_entries(self._train_metrics or [])] \
            + self._attribute_metrics()

    def _attribute_metrics(self):
        """Metrics a subclass holds as attributes (the WGAN-GP graph example's compile sets
        ``self.metric_generator = keras.metrics.Mean(name="loss_gen")``): Keras 3 tracks them
        and lists them in ``model.metrics`` after the compiled ones, so a train_step's
        ``{m.name: m.result() for m in self.metrics}`` logs them and fit resets them each epoch."""
        found = []
        for name, value in tracked_items(self):
            items = value if isinstance(value, (list, tuple)) else [value]
            for m in items:
                if isinstance(m, _metrics.Metric) and all(m is not f for f in found):
                    found.append(m)
        return found

    @property
    def compiled_loss(self):
        """tf.keras 2's ``self.compiled_loss(y, y_pred)``: the compiled loss as a callable. As in
        tf.keras 2 (whose LossesContainer owns the "loss" Mean), each call also records the value
        in the loss tracker, weighted by the batch size, so the Keras FAQ's custom train_step /
        test_step returning ``{m.name: m.result() for m in self.metrics}`` logs the real loss
        (it logged 0). ``regularization_losses`` is accepted and not added again: compute_loss
        already adds the losses of the last call (add_loss, activity regularizers)."""
        def call(y, y_pred, sample_weight=None, regularization_losses=None):
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            if loss is not None:
                first = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
                batch = first.shape[0] if len(getattr(first, "shape", ())) else 1
                self._loss_tracker.update_state(float(np.asarray(loss)), sample_weight=batch)
            return loss
        return call

    @property
    def compiled_metrics(self):
        model = self

        class _Compiled:
            def update_state(self, y, y_pred, sample_weight=None):
                model._update_metrics(model._train_metrics_for(y, y_pred), y, y_pred, sample_weight)
        return _Compiled()

    def _update_metrics(self, metrics, yb, h, sample_weight=None):
        """Each output's metrics on its batch; those of weighted_metrics with the batch's sample
        weights (one array for every output, or one per output)."""
        if not metrics:
            return
        outs = h if isinstance(h, list) else [h]
        ys = yb if isinstance(yb, list) else [yb]
        for k, (ms, y, out) in enumerate(zip(metrics, ys, outs)):
            sw = sample_weight[k] if isinstance(sample_weight, (list, tuple)) else sample_weight
            if isinstance(sw, kernels.Tensor):
                sw = np.asarray(sw)
            for m in ms:
                if sw is not None and m.__dict__.get("_sample_weighted"):
                    m.update_state(y, out, sample_weight=sw)
                else:
                    m.update_state(y, out)

    def _batch_loss(self, yb, h, swb, xb=None):
        """Evaluation loss of one batch (no gradient)."""
        if self._user_compute_loss():   # Keras 3's test_step evaluates the overridden compute_loss
            self._output_losses = [0.0] * len(self._losses)
            return _loss_value(self._compute_loss_call(xb, yb, h, swb, training=False))
        outs = h if isinstance(h, list) else [h]
        ys = yb if isinstance(yb, list) else [yb]
        total = 0.0
        self._output_losses = []
        for k, (out, y, loss, w) in enumerate(zip(outs, ys, self._losses, self._loss_weights)):
            value = 0.0
            if loss is not None and y is not None:
                rw = _data.row_weights(_output_weight(swb, k), out)
                if self._graph is not None and self._graph.output_mask_slots[k] is not None:
                    rw = _graph_mod.masked_row_weights(self._graph, k, out, rw)
                value = loss.forward_backward(y, out, None, rw)
                total += w * value
            self._output_losses.append(value)
        return total + self._added_loss_value()

    def compute_gradients(self, x, y, sample_weight=None):
        """(loss, grads) for one batch with the compiled loss; grads align with trainable_weights.
        The gradient Tensors are the layers' own buffers: the next call overwrites them."""
        self._require_compiled("compute_gradients")
        with self._training_call("compute_gradients"), self._step_lock:
            x = self._prepare_x(x, "compute_gradients")
            n = _data_len(x)
            y = self._prepare_y(y, n, "compute_gradients")
            sw = self._sample_weights(f"{self.name}.compute_gradients", n, y, sample_weight)
            self._mark_input_grads()
            loss, _ = self._loss_grad(_tensors(x), _tensors(y), _data.tensor_or_none(sw))
            grads = self._tape_grads if self._graph is None or self._user_compute_loss() else self._gradients()
            return float(loss), grads

    # -- summary / config --------------------------------------------------------------------

    def reset_states(self):
        """TF-Keras' ``model.reset_states()``: zero the carried states of every stateful layer
        (``stateful=True`` RNNs, Bidirectional of them), in inner models too."""
        for layer in self.layers:
            if isinstance(layer, Model) or getattr(layer, "stateful", False):
                layer.reset_states()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the Keras table (with a "Connected to" column for graph models), FLOPs per sample
        and, once trained, the measured forward / backward ms per step of each layer.
        ``expand_nested`` lists an inner model's layers under its row (names prefixed "| " per
        level); ``layer_range=(first, last)`` (fnmatch patterns of names) prints only that span;
        ``show_trainable`` adds the Trainable column; ``positions`` is accepted and ignored."""
        from .summary import format_summary
        if not self.built:
            from .summary import format_unbuilt_summary
            for line in format_unbuilt_summary(self, self.layers, line_length):
                (print_fn or print)(line)
            return
        for line in format_summary(self, line_length=line_length, show_trainable=show_trainable,
                                   expand_nested=expand_nested, layer_range=layer_range):
            (print_fn or print)(line)

    def get_config(self):
        if self._graph is None:
            return {"name": self.name, "trainable": self.trainable}
        from .functional_config import graph_config
        return graph_config(self)

    def to_json(self, **kwargs):
        """Keras' ``model.to_json()``: the architecture (no weights) as a JSON string;
        ``models.model_from_json`` reads it back. ``kwargs`` go to ``json.dumps``."""
        import json
        from ..saving import serialize_keras_object
        spec = serialize_keras_object(self)
        if self._graph is not None and type(self) is Model:
            spec["class_name"] = "Functional"
        return json.dumps(spec, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None, prepare_layer=None):
        if custom_objects:
            from ..saving import CustomObjectScope
            with CustomObjectScope(custom_objects):
                return cls.from_config(config, None, prepare_layer)
        if "layers" in config and "input_layers" in config:
            from .functional_config import model_from_graph_config
            return model_from_graph_config(config, cls if cls is not Model else None, prepare_layer)
        try:
            return cls(**config)
        except TypeError as exc:
            raise TypeError(f"{cls.__name__}.from_config: the subclassed model needs its own "
                            f"get_config/from_config: {exc}") from None

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# -- helpers ------------------------------------------------------------------------------------

def _layer_weights_by_flag(layer, trainable):
    """A layer's weights by Keras 3's variable-level flags (Layer._flagged_params): a frozen
    custom layer's own weights are not trainable, an inner layer of it set back to trainable
    has trainable weights, which the model around trains (Keras 3's model.trainable_weights is
    ``[v for v in weights if v.trainable]``, whatever the flags of the layers between)."""
    if layer.trainable:   # the usual case, as before (wrappers list their inner layer's)
        return layer.trainable_weights if trainable else layer.non_trainable_weights
    weights = trained(layer)[0]
    if trainable:
        return weights
    ids = {id(w) for w in weights}
    return [w for w in layer.weights if id(w) not in ids]


def _batch_rows(x):
    """The batch size Keras 3 weights the loss tracker by: the first axis of the first array
    in ``x`` (x may be a dict or list of inputs); 1 when x holds no array."""
    from .. import tree
    for item in tree.flatten(x):
        shape = getattr(item, "shape", None)
        if shape is not None and len(shape):
            return int(shape[0])
    return 1


def _step_arrays(a):
    """NumPy arrays in a batch (x, y, sample_weight) handed to train_step / test_step directly
    as Tensors, as fit hands them (Keras 3's steps take NumPy batches too); other values kept."""
    if isinstance(a, np.ndarray) and a.dtype != object:
        return _data.as_input(a)
    if type(a) in (list, tuple):   # (a namedtuple or other container is kept as it is)
        return type(a)(_step_arrays(b) for b in a)
    if type(a) is dict:
        return {k: _step_arrays(b) for k, b in a.items()}
    return a


def _unpack(data):
    """(x, y, sample_weight) from a batch tuple (x), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, (tuple, list)) and 1 <= len(data) <= 3 and not (
            hasattr(data, "shape")):
        items = list(data) + [None] * (3 - len(data))
        return items[0], items[1], items[2]
    return data, None, None


_TRAINING_DEFAULTS: dict = {}


def _enclosing_training():
    """The training flag of the layer or model call this call happens inside, or None."""
    from ..layers.base import _CALL_TRAINING
    stack = _CALL_TRAINING.stack
    return stack[-1] if stack else None


def _resolved_training(model):
    """Keras 3's flag for a subclassed model called without ``training=``: the enclosing call's
    flag, else the default of its ``call`` signature (Real NVP's ``call(x, training=True)``
    runs its training direction when called as ``model(x)``), else None."""
    from ..layers.base import _CALL_TRAINING, _call_training_default
    stack = _CALL_TRAINING.stack
    if stack and stack[-1] is not None:
        return stack[-1]
    cls = type(model)
    if cls not in _TRAINING_DEFAULTS:
        _TRAINING_DEFAULTS[cls] = _call_training_default(cls.call)
    return _TRAINING_DEFAULTS[cls]


def _output_weight(sample_weight, k):
    """Output k's sample weights: a per-output list's entry, or the one array all outputs share."""
    return sample_weight[k] if isinstance(sample_weight, list) else sample_weight


def _snake(name):
    from ..layers.base import snake_case
    return snake_case(name)


def _signature(x):
    """(shape without the batch, dtype) of a model input: the key of a traced graph."""
    if type(x) is np.ndarray:
        return x.shape[1:], x.dtype   # a dtype hashes quickly; str(dtype) costs microseconds
    if hasattr(x, "shape"):
        return tuple(x.shape[1:]), str(x.dtype)
    return np.shape(x)[1:], ""


def _untraceable_call(exc):
    """Whether ``exc`` is a symbolic call's failure on an unknown size (a None batch axis used as
    a number), which the same call on values would not have."""
    text = str(exc)
    return "NoneType" in text or "None" in text and ("shape" in text or "integer" in text)


class _ModelNode(Layer):
    """A subclassed model whose ``call`` cannot run on KerasTensors (it makes tensors of the
    batch size ``ops.shape(x)[0]``), called inside a functional model: one node whose ``call``
    runs the model on values. The model's weights are this layer's (a layer holding a model), so
    the outer model trains them; the probe call on a batch of one gives the output shape, as a
    written layer's."""

    def __init__(self, model):
        super().__init__(name=model.name)
        self.model = model

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def __getattr__(self, name):
        # ``outer.layers[-1].ensemble``: Keras lists the model itself there
        try:
            return super().__getattr__(name)
        except AttributeError:
            model = self.__dict__.get("model")
            if model is None or name.startswith("__"):
                raise
            return getattr(model, name)

    def get_config(self):
        raise NotImplementedError(f"model '{self.model.name}': its call runs on values only (it reads the "
                                  "batch size), so a functional model calling it has no config")


class _VariableHolder(Layer):
    """The variables set as attributes of a subclassed Model, as one weight-owning layer (it
    computes nothing; the model's ``call`` reads the variables directly)."""

    _transparent_scope = True   # no layer of Keras': its weights' paths are the model's

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def hold(self, attr, value):
        from .. import kernels as _k
        from ..layers.base import Param
        if any(p.value is value for p in self._params):   # made by the model's add_weight
            return
        for i, p in enumerate(self._params):
            if p.name == attr:   # the attribute rebound to another variable
                self._params[i] = Param(attr, value, _k.zeros(tuple(value.shape)), None,
                                        value.__dict__.get("trainable", True))
                return
        self._params.append(Param(attr, value, _k.zeros(tuple(value.shape)), None,
                                  value.__dict__.get("trainable", True)))


def _producer_name(t) -> str:
    """The name of what made output ``t``, as Keras names outputs: a nested model whose call
    gave ``t`` (a decoder model named "outputs", whose inner layers were inlined), else the layer."""
    group = t.node.group
    if group is not None and any(o is t for o in group.outputs):
        return group.model.name
    return t.node.layer.name


def _user_build(cls) -> bool:
    """Whether a model class has a ``build`` of its user's own (not Model's or Sequential's)."""
    return not getattr(cls.build, "__module__", "corenn").startswith("corenn.")


def _unique(ws):
    seen, out = set(), []
    for w in ws:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out


_ACCEPTS_TRAINING: dict = {}


def _carries_mask(inputs):
    """Whether a model's call inputs hold a Tensor with a Keras mask."""
    if isinstance(inputs, (list, tuple)):
        return any(getattr(x, "_keras_mask", None) is not None for x in inputs)
    if isinstance(inputs, dict):
        return any(getattr(x, "_keras_mask", None) is not None for x in inputs.values())
    return getattr(inputs, "_keras_mask", None) is not None


def _accepts_training(fn):
    key = getattr(fn, "__func__", fn)
    hit = _ACCEPTS_TRAINING.get(key)
    if hit is None:
        hit = _ACCEPTS_TRAINING[key] = _signature_takes_training(fn)
    return hit


def _signature_takes_training(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _to_array(model, x, op, spec=None):
    """One input's data as a float32 array (float64 for an Input of dtype float64: a float64
    model's, Keras casting the data to the Input's dtype), or (text for an Input(dtype='string'))
    as an object array of str: corenn's string tensors, which only the text and lookup layers read."""
    if isinstance(x, kernels.Tensor):
        x = np.asarray(x)
    if isinstance(x, (list, tuple)) or not hasattr(x, "dtype"):
        x = np.asarray(x, dtype=object if is_string_array(x) else None)
    if x.dtype.kind in "USO":
        if not is_string_array(x) and x.size:
            raise TypeError(f"{model.name}.{op}: x must be numbers or strings, got dtype {x.dtype} "
                            f"holding {type(x.reshape(-1)[0]).__name__}")
        x = as_string_array(x, op)
    elif x.dtype.kind not in "fiub":
        raise TypeError(f"{model.name}.{op}: x must be numeric, got dtype {x.dtype}")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{model.name}.{op}: x is empty (shape {x.shape}); it needs at least one sample")
    if x.dtype == object:
        return x
    wide = spec is not None and getattr(spec, "dtype", None) == "float64"
    return np.ascontiguousarray(x, dtype=np.float64 if wide else np.float32)


def adjust_input_rank(model, x, spec, op):
    """Keras 3's input rank adjustment: data of one axis less than the input, whose last axis
    is 1, gets that axis ((n,) for shape (None, 1)); data with an extra trailing axis of 1 loses
    it. Then the dtype kind must match: strings for a string input, numbers otherwise."""
    rank = len(spec.shape)
    if x.ndim == rank - 1 and rank >= 2 and spec.shape[-1] == 1:
        x = x.reshape(x.shape + (1,))
    elif x.ndim == rank + 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    wants_text = spec.dtype == "string"
    if wants_text != (x.dtype == object):
        what = "strings" if wants_text else f"numeric data ({spec.dtype})"
        got = "strings" if x.dtype == object else f"numeric data ({x.dtype})"
        raise TypeError(f"{model.name}.{op}: input '{spec.name}' takes {what}, but x holds {got}")
    return x


def _sample_shapes(x):
    """The per-sample shapes of a free model's prepared inputs (what its output probe ran on)."""
    if isinstance(x, dict):
        return tuple((k, tuple(np.shape(v)[1:])) for k, v in sorted(x.items()))
    if isinstance(x, list):
        return tuple(tuple(np.shape(a)[1:]) for a in x)
    return (tuple(np.shape(x)[1:]),)


def _densify_sparse(x):
    """A tf.sparse.SparseTensor model input (``keras.Input(sparse=True)``) as its dense Tensor:
    corenn's kernels are dense, so a sparse batch enters the model densified (the outputs are
    Keras's); lists, tuples and dicts of inputs are looked into."""
    if type(x) in _ARRAYS:   # the usual call: no import on every step
        return x
    from ..sparse import SparseTensor, to_dense
    if isinstance(x, SparseTensor):
        return to_dense(x)
    if type(x) in (list, tuple) and any(isinstance(v, SparseTensor) for v in x):
        return type(x)(_densify_sparse(v) for v in x)
    if type(x) is dict and any(isinstance(v, SparseTensor) for v in x.values()):
        return {k: _densify_sparse(v) for k, v in x.items()}
    return x


def _prepare_free_x(model, x, op):
    """Inputs of a subclassed model: arrays (structure kept: one array, or a list of them)."""
    if isinstance(x, dict):
        return {k: _to_array(model, v, op) for k, v in x.items()}
    # A list of arrays is a list of inputs (as in Keras), also when they have the same shape:
    # two (n, 3) inputs must not be stacked into one (2, n, 3) array.
    if isinstance(x, (list, tuple)) and len(x) > 1 and all(hasattr(a, "shape") and np.ndim(a) > 0 for a in x) \
            and len({np.shape(a)[0] for a in x}) == 1:
        return [_to_array(model, a, op) for a in x]
    return _to_array(model, x, op)


def _data_len(x):
    if isinstance(x, list):
        return len(x[0])
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


def _tensors(x):
    if type(x) is np.ndarray:   # one input's batch: the usual case, tested first
        return _data.as_input(x)
    if isinstance(x, list):
        return [None if a is None else _data.as_input(a) for a in x]
    return _data.as_input(x)


_FLOAT32 = np.dtype(np.float32)


def _label_shape_fits(given, lead):
    """Sparse labels' shape after the batch axis against the output's (without batch and classes);
    None in ``lead`` (a variable length) matches any size."""
    given = tuple(given)
    if len(given) == len(lead) + 1 and given[-1] == 1:
        given = given[:-1]
    return len(given) == len(lead) and all(l is None or l == g for g, l in zip(given, lead))


class _CompileMetrics:
    """The compiled metrics as one entry of ``model.metrics`` before the first labels have
    resolved them (Keras 3's ``compile_metrics``): ``update_state(y, y_pred)`` resolves and
    updates them, ``result()`` is a dict of their results (flattened into the step's logs)."""

    name = "compile_metrics"

    def __init__(self, model):
        self._model = model

    def update_state(self, y_true, y_pred, sample_weight=None):
        m = self._model
        m._update_metrics(m._train_metrics_for(y_true, y_pred), y_true, y_pred, sample_weight)

    def result(self):
        return {name: metric.result() for name, metric in self._model._metric_entries(self._model._train_metrics or [])}

    def reset_state(self):
        for _, metric in self._model._metric_entries(self._model._train_metrics or []):
            metric.reset_state()

    @property
    def variables(self):
        return []

