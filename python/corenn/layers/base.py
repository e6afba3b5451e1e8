"""Layer base class, InputLayer and Input.

A layer owns its weights (corenn.Tensor), the matching gradient Tensors, and the buffers its
forward and backward passes write into. It computes nothing itself: ``forward`` and
``backward`` call ``corenn.kernels``.

Contract of a layer (explicit backpropagation, no autograd tape):
    build(input_shape)           create weights; input_shape includes the batch axis (None)
    forward(x, training) -> y    y = f(x; W); keeps what backward needs (x, y, masks)
    backward(dy) -> dx           writes dL/dW into the grad Tensors, returns dL/dx (None when
                                 the model says nobody needs it: the first layer)
    compute_output_shape(input_shape)
Buffers for outputs and gradients are allocated once per input shape (``_buffer``) and reused:
a steady-state training step allocates nothing. A returned Tensor is therefore only valid until
the layer's next call with the same shape.
"""
from __future__ import annotations

import collections
import functools
import inspect
import itertools
import operator
import re
import sys
import threading
import weakref

import numpy as np

from .. import kernels
from .. import mixed_precision as _mixed_precision
from .input_spec import assert_input_compatibility
from ..strings import is_string_array

__all__ = ["Layer", "InputLayer", "Input"]

_NAME_COUNTS: collections.Counter = collections.Counter()
_BUFFERS_PER_LAYER = 12  # shapes seen by a layer: train batch, last batch, eval/predict sizes
# layers whose weights a script replaced by tensors they do not own (Layer._assigned_weights)
ASSIGNED_WEIGHT_LAYERS = weakref.WeakSet()

# Where Layer.add_loss also puts a loss, so that someone backpropagates it: ``in_call`` (a list)
# while a layer written with ``call`` runs (its private tape differentiates them: Layer.forward),
# else ``entries`` (a list of (context, loss)) while a graph runs forward (models/graph.py).
# None outside them: class defaults of the thread-local, so every forward reads them without getattr.
class _LossSink(threading.local):
    entries = None
    in_call = None


# The input dtypes a layer call differentiates for (float64: a float64 layer's, or float64 data
# into a layer written with call that computes with float64 ops).
_DIFFERENTIABLE = ("float32", "float64")

# The dtypes kernels compute in; Tensors of the other (storage-only) dtypes are converted at entry.
_COMPUTE_DTYPES = ("float32", "int32", "int64")


_LOSS_SINK = _LossSink()


# Keras 3's rule for a call without ``training=``: the training flag of the layer call it happens
# inside (a layer written with ``call`` calling its sublayers), else the default of the layer's own
# ``call`` signature (``def call(self, x, training=True)`` augments by default), else None.
class _CallTraining(threading.local):
    stack = ()
    pushed = False   # an eager call pushed its flag as given (None stays None) for its own call


_CALL_TRAINING = _CallTraining()


# A layer written with ``call`` may return Python values next to its tensors (keras.io's focal
# modulation PatchEmbed returns ``x, height, width, channels``). Only the tensors go through the
# call's record (gradients, graph); ``forward`` leaves the values in ``box`` (one per eager call,
# set by ``_call_with``), which puts them back in their places in the result.
class _StaticOutputs(threading.local):
    box = None


_STATIC_OUTPUTS = _StaticOutputs()


# Keras 3's name scopes: a variable's ``path`` is the names of the layers (and models) whose
# call, build or add_weight is running when it is made, then its own name: a Dense that a
# Sequential builds makes 'sequential/dense/kernel', one built by its own call on a functional
# model's KerasTensors 'dense/kernel', a Dense a subclassed model's call builds
# 'my_model/dense/kernel'. A layer enters its own scope once (a build that calls add_weight, a
# build called by the layer's own call, does not repeat its name). The first call or build of a
# layer records the path around it (``_parent_path``); its scope is under that path from then on,
# wherever it is entered (a LoRA weight added later to a Sequential's Dense is
# 'sequential/dense/lora_kernel_a'), as Keras' scopes are.
class _NameScopes(threading.local):
    stack = ()   # ((name, layer, parent path or None), ...) from the outermost


_NAME_SCOPES = _NameScopes()


class name_scope:
    """``with name_scope(layer):`` the scope of ``layer`` (see _NameScopes); ``record``: this
    is the layer's call or build, whose first one fixes its parent path. ``transparent`` layers
    (the holder of a subclassed model's own variables) add no name of their own."""

    __slots__ = ("layer", "record", "saved")

    def __init__(self, layer, record=False):
        self.layer, self.record = layer, record

    def __enter__(self):
        stack = self.saved = _NAME_SCOPES.stack
        layer = self.layer
        layer = layer.__dict__.get("_owner", layer)   # a call context is its layer's scope
        if (not stack or stack[-1][1] is not layer) and not getattr(layer, "_transparent_scope", False):
            d = layer.__dict__
            parent = d.get("_parent_path")
            if parent is None and self.record:
                parent = d["_parent_path"] = current_path()
            _NAME_SCOPES.stack = stack + ((layer.name, layer, parent),)
        return self

    def __exit__(self, *exc):
        _NAME_SCOPES.stack = self.saved
        return False


# Bumped by every trainable setter: caches of weight lists (Model.trainable_weights, the graph's
# weight entries) key on it, since a flag set on a layer inside a custom layer is not among the
# top-level flags they also compare.
TRAINABLE_VERSION = [0]


def current_path() -> str:
    """The open name scopes joined by '/' ('' outside every layer)."""
    parts = []
    for name, _, parent in _NAME_SCOPES.stack:
        if parent is not None:   # the path the layer's first call or build was made under
            parts = [p for p in parent.split("/") if p]
        parts.append(name)
    return "/".join(parts)


# the order variables were made in, over add_weight and keras.Variable / tf.Variable: Keras 3
# lists a layer's own variables in that order (its _trainable_variables /
# _non_trainable_variables), however corenn holds them (saving_keras._own_in_keras_order)
VARIABLES_MADE = itertools.count()


def variable_path(name: str) -> str:
    """The path of a variable called ``name`` made now (Keras 3's ``Variable.path``)."""
    prefix = current_path()
    return f"{prefix}/{name}" if prefix else name


def scoped_build(fn):
    """``build`` run inside its layer's (or model's) name scope, as Keras wraps every build; the
    path of the layer is recorded then (Keras' ``layer.path``)."""
    if getattr(fn, "_name_scoped", False):
        return fn

    @functools.wraps(fn)
    def build(self, *args, **kwargs):
        with name_scope(self, record=True):
            self.__dict__.setdefault("_path", current_path())
            return fn(self, *args, **kwargs)
    build._name_scoped = True
    return build


# Private attributes corenn's own machinery keeps on layers and models that refer to layers or
# models without those being sublayers: a call context's layer, the caches of the tracked lists,
# a model's node in an enclosing graph, the holder of a model's own variables (listed first, by
# the model itself) and a model's layer list (read by name where it counts).
NOT_SUBLAYERS = frozenset({"_owner", "_tracked_cache", "_trainable_cache", "_as_node", "_own_variables",
                           "_layers"})


def tracks_private(obj):
    """Whether ``obj``'s private attributes are tracked. Keras 3 tracks every attribute a layer is
    given, ``self._proj = layers.Dense(4)`` as much as ``self.proj``: it trains, lists and saves
    it. corenn's own classes keep private state that is never a sublayer (their weights are
    listed explicitly), so private attributes are read on the classes users write."""
    return not type(obj).__module__.startswith("corenn.")


def tracked_items(obj, items=None):
    """The (name, value) attributes of ``obj`` that may hold its sublayers, variables and
    metrics, as Keras 3 tracks them (``items``: the attributes to filter, default obj's own).
    A model, on which corenn's training code sets private state of every kind (compiled
    metrics, step caches), tracks only the private attributes its user's code set
    (Model.__setattr__ records them)."""
    private = tracks_private(obj)
    if private and getattr(obj, "_is_corenn_model", False):
        chosen = obj.__dict__.get("_user_private", ())
        keep = lambda k: k in chosen   # noqa: E731
    else:
        keep = lambda k: private and k not in NOT_SUBLAYERS   # noqa: E731
    items = list(obj.__dict__.items()) if items is None else items
    return [(k, v) for k, v in items if not k.startswith("_") or keep(k)]


def held_layers(values, exclude=None):
    """The layers and models among ``values`` and inside the lists, tuples and dicts there, each
    once, in the order met, without looking inside them (``exclude``: one object to leave out,
    the holder itself)."""
    found, seen = [], {id(exclude)}

    def visit(v):
        if isinstance(v, Layer) or getattr(v, "_is_corenn_model", False):
            if id(v) not in seen:
                seen.add(id(v))
                found.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                visit(item)
        elif isinstance(v, dict):
            for item in v.values():
                visit(item)
    for v in values:
        visit(v)
    return found


def trained(layer):
    """(weights, gradient Tensors) that training updates for ``layer``, by Keras 3's variable
    flags: its trainable_weights / gradients, or for a frozen layer holding layers, the weights
    of an inner layer set back to trainable (Layer._flagged_params; Keras 3 trains them)."""
    flagged = getattr(layer, "_flagged_params", None)
    if flagged is None or getattr(layer, "trainable", True):
        return layer.trainable_weights, layer.gradients
    params = [p for p in flagged() if p.trainable]
    return [p.value for p in params], [p.grad for p in params]


def _static_leaf(v):
    return v is None or isinstance(v, (bool, int, float)) and not isinstance(v, np.generic)


# A subclassed model's ``call`` traced on KerasTensors (Model._trace) must compute everything
# from its inputs: a layer run on values there (``self.ffn(self.node_features)``), or an op on a
# weight (``ops.transpose(self.embedding.embeddings)``), would become a constant of the captured
# graph, frozen at its value of that moment and never trained. Such a call raises NotTraceable,
# and the model runs eagerly, layer by layer, as Keras runs it.
class _Tracing(threading.local):
    depth = 0   # the traces running on this thread


TRACING = _Tracing()


class NotTraceable(TypeError):
    pass


def check_traceable(what):
    """Raise NotTraceable when a trace is running and ``what`` (a value computed from other
    values, outside any layer's shape probe) happens in it."""
    if TRACING.depth:
        from .. import ops
        if not ops.SHAPE_PROBE.depth:
            raise NotTraceable(f"{what} during the trace of a model's call")


def _variable_values(layer):
    """(variable, copy of its value) for the variables a layer holds, its sublayers' too."""
    try:
        weights = layer.weights
    except Exception:   # a layer whose weights cannot be listed before its first call
        return []
    return [(w, np.array(w, copy=True)) for w in weights if isinstance(w, kernels.Tensor)]


def _restore_variable_values(saved):
    """Put back what _variable_values copied where a shape probe's call changed it."""
    for w, value in saved:
        current = np.asarray(w)
        if current.shape == value.shape and not np.array_equal(current, value):
            w.assign(value)


@functools.lru_cache(maxsize=None)
def _call_training_default(fn):
    """The default value of ``training`` in a ``call`` signature (None when absent)."""
    import inspect
    try:
        p = inspect.signature(fn).parameters.get("training")
    except (TypeError, ValueError):
        return None
    return None if p is None or p.default is inspect.Parameter.empty else p.default


def unique_name(base: str) -> str:
    """'dense', 'dense_1', 'dense_2', ... as Keras names layers."""
    n = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    """Keras' rule for default layer names: Dense -> dense, MaxPooling2D -> max_pooling2d,
    BatchNormalization -> batch_normalization (a digit does not start a new word)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def shape_str(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Param:
    """One weight: the value Tensor, its gradient Tensor, regularizer and trainability."""

    __slots__ = ("name", "value", "grad", "regularizer", "trainable", "spares")

    def __init__(self, name, value, grad, regularizer, trainable):
        self.name, self.value, self.grad = name, value, grad
        self.regularizer, self.trainable = regularizer, trainable
        self.spares = None   # gradient Tensors lent to one-step call contexts (a tape's calls)

    def spare_grad(self):
        """A gradient Tensor for a one-step call context: one of a few kept for this weight that
        nobody holds any more (not the caller, no view, no NumPy export), else a new one. A
        training loop that keeps last step's gradients while it runs the next step gets a second
        buffer; one that keeps them all gets new ones, never a buffer it still holds."""
        spares = self.spares
        if spares is None:
            spares = self.spares = []
        for t in spares:
            if sys.getrefcount(t) == 3 and t._storage_refs == 1:  # the list, t, the argument
                return t
        t = kernels.empty(tuple(self.value.shape), _grad_dtype(self.value))
        if len(spares) < 3:
            spares.append(t)
        return t


# The dtypes a trainable weight may have: float32 (the kernels') and float64 (a float64 layer's,
# which computes with its ops' float64 forms; the optimizers step it in float64).
TRAINABLE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _grad_dtype(value):
    """The dtype of a weight's gradient buffer: float64 for a float64 weight, else float32."""
    return "float64" if str(value.dtype) == "float64" else "float32"


def _context_params(owner, snapshot):
    """A call context's Params: the layer's weights with gradient Tensors of the context's own
    (none for a weight that has none: an int8-quantized kernel)."""
    return [Param(p.name, p.value, None if p.grad is None else p.spare_grad() if snapshot
                  else kernels.empty(tuple(p.value.shape), _grad_dtype(p.value)), p.regularizer, p.trainable)
            for p in owner._params]


def _first_sample(mask):
    """A call's mask (a Tensor / array, or a list of them, None entries kept) cut to its first
    sample; the same object when nothing has a batch larger than one."""
    if isinstance(mask, (list, tuple)):
        cut = [_first_sample(m) for m in mask]
        return mask if all(c is m for c, m in zip(cut, mask)) else type(mask)(cut)
    shape = getattr(mask, "shape", None)
    if mask is None or shape is None or len(shape) == 0 or shape[0] == 1 or type(mask).__name__ == "KerasTensor":
        return mask
    return mask[:1]



def _string_list(x):
    """A Python list (of lists) of str / bytes: one string input, not a list of inputs."""
    return isinstance(x, (list, tuple)) and is_string_array(x) and not any(isinstance(v, np.ndarray) for v in x)


def _string_data(inputs):
    """Whether a call's inputs (one, or a list of them) hold string data."""
    if isinstance(inputs, (list, tuple)) and not _string_list(inputs):
        return any(is_string_array(v) for v in inputs)
    return is_string_array(inputs)

class Layer:
    """Base class of all layers.

    Args:
        name: unique name; generated from the class name when omitted ('dense', 'dense_1').
        trainable: whether the optimizer updates this layer's weights.
        input_shape: (first layer of a Sequential) shape of one sample, without the batch axis.
        input_dim: shorthand for ``input_shape=(input_dim,)``.
        batch_size: the fixed batch size (only a stateful RNN needs one; other layers take any).
        batch_input_shape: TF-Keras 2's ``(batch_size,) + input_shape``.
    """

    activity_regularizer = None   # a Regularizer of the outputs, added as a loss (Keras)
    # an elementwise layer without weights (Dropout, Activation, ReLU ...) has no input spec in
    # Keras: one instance takes tensors of any shape (a window attention's dropout on its
    # scores and on its output)
    accepts_any_shape = False
    # A 0-d (scalar) input, as Keras 3 treats it: "batch" (elementwise layers, Embedding: Keras
    # returns a 0-d result, or the scalar's embedding) runs the layer on a batch of one and drops
    # that axis from its outputs; "refuse" (layers that need an axis: Dense, Flatten, Softmax,
    # the normalizations ...; Keras raises) is a ValueError naming the layer; None leaves the
    # input as it comes (a layer written with call gets it as it is, as Keras' call does).
    scalar_input = None
    # A rank-1 input, as Keras 3 treats it for layers that normalise a feature axis
    # (LayerNormalization, RMSNormalization: ``layer(np.ones(5))`` normalises the 5 values):
    # "row" runs the layer on a batch of one row and drops that axis from its outputs (the
    # layer is built for (None, features), so its weights have Keras' shapes); None leaves the
    # input to the layer's own shape checks (the batch axis is the first one).
    vector_input = None

    @property
    def dtype_policy(self):
        """The layer's DTypePolicy (keras.mixed_precision): the one given as ``dtype=`` or the
        global one when the layer was made; corenn runs every policy in float32."""
        return self.__dict__.get("_dtype_policy") or _mixed_precision.DTypePolicy("float32")

    @dtype_policy.setter
    def dtype_policy(self, value):
        policy = _mixed_precision.layer_policy(value, type(self).__name__)
        mode = policy.quantization_mode
        if mode is not None and hasattr(type(self), "_quantizes"):
            # a built-in quantizable layer: its quantize sets the policy with its weights
            if self.built and self.quantization_mode is None:
                from .quantization import policy_config
                self.quantize(mode, config=policy_config(policy))
            elif not self.built and self.quantization_mode is None:
                self._set_quantized_dtype(policy)   # as dtype= would: its build makes the quantized form
            elif self.quantization_mode != mode or self.dtype_policy.name != policy.name:
                raise ValueError(f"layer '{self.name}': dtype_policy {policy.name!r} needs the layer quantized by "
                                 f"quantize() (it is {self.dtype_policy.name!r}, built={self.built})")
            return
        self._dtype_policy = policy
        if mode is not None and self.built and not self.__dict__.get("_is_quantized"):
            # Keras: a quantized policy set on a built layer quantizes it (a user's quantize
            # sets _is_quantized before it sets the policy, so this does not recurse)
            self.quantize(mode)

    @property
    def compute_dtype(self):
        # what the layer runs: float64 under a 'float64' policy, else float32 (the kernels),
        # whatever a mixed policy's name says
        policy = self.__dict__.get("_dtype_policy")
        return "float32" if policy is None else policy.compute_dtype

    @property
    def variable_dtype(self):
        policy = self.__dict__.get("_dtype_policy")
        return "float32" if policy is None else policy.variable_dtype

    @property
    def dtype(self):
        """The dtype of the layer's weights, as Keras 3's ``Layer.dtype`` (its variable dtype):
        custom layers pass ``dtype=self.dtype`` to add_weight."""
        return self.variable_dtype

    def __new__(cls, *args, **kwargs):
        # Keras 3's auto-config: the constructor's arguments, kept when every value is a plain
        # JSON value, are the config of a user's layer that writes no get_config (so a model
        # of such layers saves and loads, as in Keras; see get_config)
        instance = super().__new__(cls)
        given = _init_arguments(cls, args, kwargs)
        instance.__dict__["_auto_config"] = given if given is not None and _plain_json(given) else None
        return instance

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_size=None, activity_regularizer=None, batch_input_shape=None, weights=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        if dtype not in (None, "float32", np.float32) or _mixed_precision.global_policy().name != "float32":
            # a dtype policy ('mixed_float16' ...) runs in float32 and says so (mixed_precision.py)
            self._dtype_policy = _mixed_precision.layer_policy(
                dtype, f"{type(self).__name__}{'' if name is None else f' {name!r}'}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        if self.__dict__.get("_dtype_policy") is not None and self._dtype_policy.compute_dtype == "float64":
            _float64_layer(self)
        if type(self).trainable is Layer.trainable:
            self.__dict__["_trainable"] = bool(trainable)   # its own flag only: no sublayers yet
        else:   # a class's own setter (a wrapper passes the flag on to the layer it wraps)
            self.trainable = bool(trainable)
        self.built = False
        self.needs_input_grad = True   # the model turns it off for the first layer
        # relu' folded into the next layer's backward (relu -> max pooling); set by the model
        self.relu_grad_by_next = False
        self.masks_relu_input = False
        self._params: list[Param] = []
        self._buffers: dict = {}
        self.input_shape = None
        self.output_shape = None
        # Keras' ``weights=[array, ...]`` (TF-Keras 2 on every layer, Keras 3 on Embedding): the
        # initial values, set when the layer builds its weights (get_weights order)
        self._initial_weights = None if weights is None else [np.asarray(w, dtype=np.float32) for w in weights]
        if batch_input_shape is not None:   # TF-Keras 2: (batch, ...) of the first layer
            if input_shape is not None or input_dim is not None:
                raise ValueError(f"{self.name}: pass batch_input_shape or input_shape / input_dim, not both")
            batch_size, input_shape = tuple(batch_input_shape)[0], tuple(batch_input_shape)[1:]
        # a declared batch size (batch_size=, batch_input_shape=, Input(batch_shape=)): read by
        # stateful RNNs, which need every batch to have it
        self._batch_size = None if batch_size is None else int(batch_size)
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError(f"{self.name}: pass input_shape or input_dim, not both")
            input_shape = (int(input_dim),)
        self._declared_input_shape = _check_declared_shape(self.name, input_shape)
        if activity_regularizer is not None:
            from .. import regularizers
            self.activity_regularizer = regularizers.get(activity_regularizer)

    # -- weights ---------------------------------------------------------------------------

    def add_weight(self, name=None, shape=None, initializer=None, regularizer=None, trainable=True,
                   dtype=None, constraint=None):
        """Allocate a weight Tensor (filled by ``initializer``) and its gradient Tensor.

        Keras 3's form works too: ``add_weight(shape=..., initializer=..., trainable=..., name=...)``
        or ``add_weight(shape, initializer)``; the name is optional and the initializer defaults to
        glorot_uniform, as in Keras 3.
        """
        from .. import initializers, regularizers
        if name is not None and not isinstance(name, str):  # Keras 3 order: add_weight(shape, initializer)
            name, shape, initializer = None, name, shape if initializer is None else initializer
        if shape is None:
            shape = ()   # Keras 3: a scalar (the quantization guides' add_weight(name="scale", ...))
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (int(shape),)   # shape=(n) is an int: TF-Keras 2 takes it as (n,) (Keras 3 raises)
        store = np.dtype(np.float32)
        if dtype is None and self.variable_dtype == "float64":
            dtype = "float64"   # Keras 3: a weight's dtype defaults to the layer's variable dtype
        if dtype is not None and str(dtype) != "float32" and dtype is not np.float32:
            # a counter or statistic of its own dtype (int64 steps, uint8 flags, float64 sums) is
            # held as it is; a trainable weight is float32, as corenn's kernels and optimizers are
            from ..dtypes import storage_dtype
            store = storage_dtype(dtype, f"layer '{self.name}'.add_weight")
            if store not in TRAINABLE_DTYPES and trainable:
                raise TypeError(f"layer '{self.name}'.add_weight: trainable weights are float32 or float64 (the "
                                f"dtypes corenn's layers and optimizers compute in), got dtype={dtype!r}; a "
                                f"{store.name} weight needs trainable=False")
        if name is None:
            name = f"variable_{len(self._params)}"
        initializer = "glorot_uniform" if initializer is None else initializer
        value = kernels.empty(shape, store.name)
        initializers.get(initializer).fill(value)
        grad = kernels.zeros(shape, _grad_dtype(value))
        self._params.append(Param(name, value, grad, regularizers.get(regularizer), trainable))
        # Keras 3's variable attributes (``for v in layer.trainable_variables: v.name``): the
        # path names the scopes open now (this layer's, inside those of the layers building it);
        # a name with '/' (MultiHeadAttention's 'query/kernel') is a path, its last part the name
        with name_scope(self):
            path = variable_path(name)
        value.__dict__.update(name=name.rsplit("/", 1)[-1], path=path, trainable=bool(trainable), _is_variable=True,
                              _made=next(VARIABLES_MADE))
        if constraint is not None:   # Keras' variable.constraint: the optimizer projects after each update
            from .. import constraints
            value.__dict__["constraint"] = constraints.get(constraint)
        from ..autodiff import watch_variable
        watch_variable(value)  # a GradientTape differentiates for it without tape.watch
        return value

    def _set_trainable(self, value):
        """Keras 3: the flag of the layer, of the variables it made trainable and of every layer
        and model it holds (a frozen custom block freezes the Dense layers, lists of layers and
        Sequentials inside it; setting it back to True unfreezes them all)."""
        value = bool(value)
        d = self.__dict__
        d["_trainable"] = value
        TRAINABLE_VERSION[0] += 1
        for p in d.get("_params", ()):
            attrs = getattr(p.value, "__dict__", None)   # (a loader may hold plain arrays)
            if p.trainable and attrs is not None:
                attrs["trainable"] = value
        for sub in self._held_layers():
            sub.trainable = value

    # read on every step: a C getter (no Python frame); a call context, which holds no
    # _trainable, finds its layer's through __getattr__
    trainable = property(operator.attrgetter("_trainable"), _set_trainable,
                         doc="Whether fit and the optimizer update this layer's weights (Keras 3).")

    def _held_layers(self):
        """The layers and models held as attributes (also in lists, tuples and dicts), not
        looking inside them (their own trainable setters do)."""
        return held_layers([v for _, v in tracked_items(self)], exclude=self)

    def _live_params(self, trainable):
        return [p for p in self._all_params() if (p.trainable and self.trainable) == trainable]

    def _variable_params(self):
        """Params of the ``tf.Variable`` / ``keras.Variable`` Tensors held as attributes (TF
        guides' layers set ``self.w = tf.Variable(...)``), one cached Param (its own gradient
        Tensor) per variable."""
        cache = self.__dict__.get("_var_params")
        out = []
        own = {id(p.value) for p in self._params}   # add_weight's weights held as attributes too
        for k, v in tracked_items(self):
            if not isinstance(v, kernels.Tensor) or not v.__dict__.get("_is_variable") or id(v) in own:
                continue
            if cache is None:
                cache = self.__dict__["_var_params"] = {}
            p = cache.get(id(v))
            if p is None or p.value is not v:
                p = cache[id(v)] = Param(v.__dict__.get("name", k), v, kernels.zeros(tuple(v.shape), _grad_dtype(v)), None,
                                         v.__dict__.get("trainable", True))
            out.append(p)
        return out

    def _all_params(self):
        """This layer's weights, then (a layer written with ``call``) those of the layers it holds
        as attributes, also in lists and dicts (Keras tracks them the same way), and variables
        held as attributes."""
        if type(self).call is Layer.call:
            return self._params
        subs = self._sublayers()
        own = self._params + self._variable_params() if self.__dict__.get("_var_params") is not None or any(
            isinstance(v, kernels.Tensor) and v.__dict__.get("_is_variable") and not any(v is p.value for p in self._params)
            for _, v in tracked_items(self)) else self._params
        if not subs:
            return own
        out = list(own)
        # a layer whose own list holds its sublayers' weights already (an RNN's are its cell's,
        # a Bidirectional's its two layers': their float64 forms are call-written) lists each once
        seen = {id(p.value) for p in out}
        for sub in subs:
            # Keras 3's variable flags: a weight trains when it was made trainable and the layer
            # that owns it is trainable now (setting `trainable` on a layer sets it on every
            # layer inside; the last setting wins). So the sublayer's own weights take its flag;
            # deeper ones already carry their owner's, and an inner layer set back to trainable
            # inside a frozen one trains.
            mine = sub._own_param_ids()
            out += [Param(p.name, p.value, p.grad, p.regularizer, p.trainable and sub.trainable)
                    if id(p) in mine else p for p in sub._all_params() if id(p.value) not in seen]
        return out

    def _own_param_ids(self):
        d = self.__dict__
        return {id(q) for q in d.get("_params", ())} | {id(q) for q in (d.get("_var_params") or {}).values()}

    def _flagged_params(self):
        """_all_params with this layer's own weights flagged by its ``trainable`` too: Keras 3's
        variable-level flags, which a model reads (``[v for v in weights if v.trainable]``), so
        an inner layer set back to trainable trains in a frozen custom layer."""
        if self.trainable:
            return self._all_params()
        mine = self._own_param_ids()
        return [Param(p.name, p.value, p.grad, p.regularizer, False) if id(p) in mine else p
                for p in self._all_params()]

    def _sublayers(self):
        found, seen = [], {id(self)}

        def visit(v):
            if isinstance(v, Layer):
                if id(v) not in seen:
                    seen.add(id(v))
                    found.append(v)
            elif getattr(v, "_is_corenn_model", False):
                # a model held by a layer (a Sequential feed-forward block, a list of expert
                # Sequentials) is one of its layers in Keras: its layers' weights are the layer's
                if id(v) not in seen:
                    seen.add(id(v))
                    for sub in v.layers:
                        visit(sub)
                    # the model's own weights (its add_weight, variables set as attributes)
                    visit(v.__dict__.get("_own_variables"))
            elif isinstance(v, (list, tuple)):
                for item in v:
                    visit(item)
            elif isinstance(v, dict):
                for item in v.values():
                    visit(item)
        d = self.__dict__
        owner = d.get("_owner")
        # a call context reads the layer's attributes through __getattr__ unless it copied them
        # (a snapshot): its sublayers are the layer's, with any the context holds itself first.
        # Without this, the context of a custom layer holding a Sequential (the TF (2+1)D video
        # tutorial's Conv2Plus1D inside ResidualMain's Sequential) had no weights, and fit gave
        # its Conv3D kernels zero gradients from the second step on
        for _, v in tracked_items(self, list(d.items() if owner is None else {**owner.__dict__, **d}.items())):
            visit(v)
        return found

    @property
    def path(self):
        """Keras 3: the names of the scopes the layer was built in, its own last
        ('sequential/dense'); None before it is built."""
        path = self.__dict__.get("_path")
        if path is None and "_owner" in self.__dict__:
            path = self._owner.__dict__.get("_path")
        return path

    @path.setter
    def path(self, value):   # a layer of a script may keep a path of its own (a file's)
        self.__dict__["_path"] = value

    @property
    def weights(self):
        """All weights (Tensors), Keras order (e.g. kernel, bias)."""
        return [p.value for p in self._all_params()]

    @property
    def trainable_weights(self):
        # _live_params(True), inlined: read by every tape step and optimizer update
        if not self.trainable:
            return []
        return [p.value for p in self._all_params() if p.trainable]

    @property
    def non_trainable_weights(self):
        return [p.value for p in self._live_params(False)]

    # Keras 3's names for the same lists
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def gradients(self):
        """Gradient Tensors aligned with ``trainable_weights`` (valid after ``backward``)."""
        if not self.trainable:   # as trainable_weights: read by every backward
            return []
        return [p.grad for p in self._all_params() if p.trainable]

    def _grad_of(self, name):
        """The gradient Tensor of weight ``name`` in this call context (a layer called several
        times has one per call: never cache a Param of the layer itself)."""
        for p in self._all_params():
            if p.name == name:
                return p.grad
        raise KeyError(f"layer '{self.name}' has no weight named {name!r}")

    def get_weights(self):
        """Copies of the weights as NumPy arrays, Keras order."""
        # _copy_array: no writable view is exported, so reading leaves the weights' write
        # versions (and their packed copies) as they are
        return [p.value._copy_array() for p in self._all_params()]

    def set_weights(self, weights):
        """Load NumPy arrays (Keras order) into the weights; shapes must match exactly."""
        weights = list(weights)
        if len(weights) != len(self._all_params()):
            raise ValueError(f"{self.name}.set_weights: expected {len(self._all_params())} arrays "
                             f"({', '.join(p.name for p in self._all_params()) or 'none'}), got {len(weights)}")
        arrays = []
        for p, w in zip(self._all_params(), weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(p.value.shape):
                raise ValueError(f"{self.name}.set_weights: weight '{p.name}' has shape "
                                 f"{tuple(p.value.shape)}, got an array of shape {tuple(w.shape)}")
            if p.value.dtype == "int8":   # a quantized kernel / table: whole numbers that fit, checked
                w = kernels.int8_values(w, f"{self.name}.set_weights: weight '{p.name}'")
            arrays.append(w)
        for p, w in zip(self._all_params(), arrays):
            np.asarray(p.value)[...] = w

    def count_params(self) -> int:
        return int(sum(p.value.size for p in self._all_params()))

    def regularization(self, add_grads: bool = False) -> float:
        """Sum of the weights' regularization penalties; with ``add_grads`` their gradients are
        added into the weights' gradient Tensors (call after ``backward``)."""
        total = 0.0
        for p in self._flagged_params():   # Keras' variable flags: an inner layer set back to trainable
            if p.regularizer is not None:
                grad = p.grad if add_grads and p.trainable else None
                total += p.regularizer.penalty(p.value, grad)
        return total

    # -- added losses (Keras' add_loss / losses) ----------------------------------------------

    def add_loss(self, value):
        """Add a scalar loss Tensor computed in ``call`` (e.g. a VAE's KL term) to the training
        loss. ``layer.losses`` lists the losses of the last call; ``fit``, ``train_on_batch``
        and ``evaluate`` add them to the compiled loss (a non-scalar is summed, as Keras 3 does)
        and backpropagate them into the layers that made them."""
        from ..models.graph import is_symbolic
        if is_symbolic(value):
            raise TypeError(f"layer '{self.name}'.add_loss: the loss must be a Tensor computed from the "
                            "call's tensors, got a symbolic KerasTensor")
        if not isinstance(value, kernels.Tensor):
            value = kernels.Tensor.from_numpy(np.asarray(value, np.float32))
        if value.dtype == "float64":   # a float64 layer's loss (its activity regularizer): the
            from .. import ops             # training loss is summed in float32; a recorded cast
            value = ops.cast(value, "float32")   # keeps it differentiable
        if value.dtype != "float32":
            raise TypeError(f"layer '{self.name}'.add_loss: expected a float32 Tensor, got dtype {value.dtype}")
        if value.size != 1 or value.ndim != 0:
            from .. import ops
            value = ops.sum(value)
        owner = self.__dict__.get("_owner", self)
        owner.__dict__.setdefault("_added_losses", []).append(value)
        in_call = getattr(_LOSS_SINK, "in_call", None)
        if in_call is not None:        # inside a layer written with call: its backward differentiates it
            in_call.append(value)
            return value
        sink = getattr(_LOSS_SINK, "entries", None)
        if sink is not None:
            sink.append((self, value))
        return value

    def _clear_losses(self):
        """Forget the losses of the previous call (a new call starts)."""
        self.__dict__.get("_owner", self).__dict__.pop("_added_losses", None)

    @property
    def losses(self):
        """Keras 3's ``layer.losses``: the losses added by the last call (``add_loss``, the
        activity regularizer) of this layer and the layers it holds, then the penalties of its
        weight regularizers, as scalar Tensors (differentiable under a GradientTape)."""
        owner = self.__dict__.get("_owner", self)
        out = list(owner.__dict__.get("_added_losses", ()))
        if type(owner).call is not Layer.call:
            for sub in owner._sublayers():
                out += sub.__dict__.get("_added_losses", [])
        for p in owner._all_params():
            if p.regularizer is not None and p.trainable:
                out.append(p.regularizer.tensor(p.value))
        return out

    # -- buffers ---------------------------------------------------------------------------

    def _buffer(self, key, shape, dtype="float32"):
        """A Tensor of ``shape`` reused across calls (one per (key, shape))."""
        k = (key, tuple(shape), dtype)
        buf = self._buffers.get(k)
        if buf is None:
            if len(self._buffers) >= _BUFFERS_PER_LAYER:
                self._buffers.pop(next(iter(self._buffers)))
            buf = self._buffers[k] = kernels.empty(shape, dtype)
        return buf

    # -- the layer contract ------------------------------------------------------------------

    # -- Keras 3's state and asset saving hooks ---------------------------------------------

    def _own_weights(self):
        """This layer's weights without those of the layers it holds (Keras' own variables)."""
        theirs = {id(w) for sub in self._sublayers() for w in sub.weights} if type(self).call is not Layer.call else ()
        return [w for w in self.weights if id(w) not in theirs]

    def save_own_variables(self, store):
        """Keras 3: put this layer's own weights in ``store`` under "0", "1", ... A subclass that
        overrides it (or load_own_variables) has its store saved with the model file."""
        for i, w in enumerate(self._own_weights()):
            store[str(i)] = np.array(w, copy=True)

    def load_own_variables(self, store):
        """Keras 3: set this layer's own weights from ``store`` ("0", "1", ...)."""
        own = self._own_weights()
        if len(store) != len(own):
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) expected {len(own)} variables, but "
                             f"received {len(store)} variables during loading; expected {[tuple(w.shape) for w in own]}")
        for i, w in enumerate(own):
            value = np.asarray(store[str(i)])
            if tuple(value.shape) != tuple(w.shape):
                raise ValueError(f"layer '{self.name}': variable {i} has shape {tuple(w.shape)}, the store holds "
                                 f"{tuple(value.shape)}")
            w.assign(value.astype(np.float32) if value.dtype != np.float32 else value)

    # -- Keras 3's quantization hooks, for a user's layer (ARCHITECTURE.md 4b) ----------------
    # Dense, EinsumDense and Embedding quantize themselves (layers/quantization.py). A user's
    # layer implements ``quantize(mode, **kwargs)`` (make its quantized weights, set
    # ``_is_quantized``, then a quantized ``dtype_policy``), ``_int8_call`` etc., and its build
    # reads ``quantization_mode`` (set from the saved policy before a loaded layer builds).

    @property
    def quantization_mode(self):
        """The layer's quantization mode ("int8", "int4" ...), None when it is not quantized."""
        return self.dtype_policy.quantization_mode

    def quantize(self, mode=None, type_check=True, config=None):
        raise _not_implemented(self, "quantize")

    def quantized_build(self, input_shape, mode):
        raise _not_implemented(self, "quantized_build")

    def quantized_call(self, *args, **kwargs):
        """What a quantized layer runs instead of ``call``: ``_<mode>_call`` (Keras 3)."""
        mode = self.quantization_mode
        if mode not in _mixed_precision.QUANTIZATION_MODES:
            raise NotImplementedError(f"Invalid quantization mode. Expected one of "
                                      f"{_mixed_precision.QUANTIZATION_MODES}. Received: quantization_mode={mode}")
        return getattr(self, f"_{mode}_call")(*args, **kwargs)

    def _int8_call(self, *args, **kwargs):
        raise _not_implemented(self, "_int8_call")

    def _int4_call(self, *args, **kwargs):
        raise _not_implemented(self, "_int4_call")

    def _float8_call(self, *args, **kwargs):
        raise _not_implemented(self, "_float8_call")

    def _gptq_call(self, *args, **kwargs):
        raise _not_implemented(self, "_gptq_call")

    def _awq_call(self, *args, **kwargs):
        raise _not_implemented(self, "_awq_call")

    def __delattr__(self, name):
        value = self.__dict__.get(name)
        super().__delattr__(name)
        if isinstance(value, kernels.Tensor) and value.__dict__.get("_is_variable"):
            # Keras untracks a deleted variable: a user's quantize deletes its float kernel before
            # making the int8 one, which must leave `weights` and the saved variables
            d = self.__dict__
            d["_params"] = [p for p in d.get("_params", ()) if p.value is not value]
            (d.get("_var_params") or {}).pop(id(value), None)
            d.get("_buffers", {}).clear()

    def save_assets(self, dir_path):
        """Keras 3: write files this layer needs into ``dir_path`` (nothing by default); an
        override's files are saved in the model file and handed to ``load_assets``."""

    def load_assets(self, dir_path):
        """Keras 3: read back what ``save_assets`` wrote (nothing by default)."""

    def get_build_config(self):
        """Keras 3: what ``build_from_config`` needs to create this layer's weights again,
        ``{"input_shape": [...]}`` (None before it is built). A layer whose ``build`` takes more
        overrides both; its model files then carry this next to the layer's config."""
        shape = self.input_shape
        if not self.built or shape is None:
            return None
        if isinstance(shape, list):
            return {"input_shape": [list(s) for s in shape]}
        return {"input_shape": list(shape)}

    def build_from_config(self, config):
        """Keras 3: build from ``get_build_config()``'s record (called when a model is loaded)."""
        shape = (config or {}).get("input_shape")
        if shape is not None:
            shape = [tuple(s) for s in shape] if shape and isinstance(shape[0], (list, tuple)) else tuple(shape)
            self._maybe_build(shape)

    def build(self, input_shape):
        if isinstance(input_shape, list) and all(d is None or isinstance(d, (int, np.integer)) for d in input_shape):
            input_shape = tuple(input_shape)   # one shape as a JSON list (a build config read back)
        self.input_shape = tuple(input_shape) if not isinstance(input_shape, list) else list(input_shape)
        try:
            out = self.compute_output_shape(input_shape)
        except AttributeError:
            # a Keras layer written with call whose build calls super().build(input_shape) first
            # and creates its weights after (Keras 3's build only marks the layer built): its
            # call cannot be probed yet; the output shape is found when it is first called
            if type(self).call is Layer.call:
                raise
            out = None
        self.output_shape = None if out is None else list(out) if isinstance(out, list) else tuple(out)
        self.built = True

    def forward(self, x, training=False):
        """A layer written with ``call`` (a subclassed Keras layer): run it under a private
        tape so that ``backward`` can differentiate the tensor ops it made."""
        if type(self).call is Layer.call:
            raise NotImplementedError(f"{type(self).__name__} defines neither forward/backward nor call")
        from ..autodiff import GradientTape
        tape = GradientTape(persistent=True)
        xs = list(x) if isinstance(x, list) else [x]
        # what add_loss adds in this call (also in the layers it calls): differentiated here
        outer = getattr(_LOSS_SINK, "in_call", None)
        losses = _LOSS_SINK.in_call = []
        self._last_call_mask = self.__dict__.get("_call_mask")   # for output_mask_value
        owner = self.__dict__.get("_owner")
        before = dict(self.__dict__) if owner is not None else None
        carried = _carry_call_masks(xs, self.__dict__.get("_call_mask"))
        try:
            with tape:
                for t in xs:
                    if t.dtype in _DIFFERENTIABLE:
                        tape.watch(t)
                y = self._invoke_call(x, training)
        finally:
            _LOSS_SINK.in_call = outer
            for t, previous in carried:
                t._keras_mask = previous
        if owner is not None:
            _publish_call_attributes(self, owner, before)
        if losses:   # the layer calling this one (or the graph) backpropagates them through us
            if outer is not None:
                outer.extend(losses)
            else:
                sink = getattr(_LOSS_SINK, "entries", None)
                if sink is not None:
                    sink.extend((self, v) for v in losses)
        multi = isinstance(y, (list, tuple))   # a call returning several tensors (Keras allows it)
        ys = list(y) if multi else [y]
        if multi and any(_static_leaf(t) for t in ys) and not all(_static_leaf(t) for t in ys):
            box = _STATIC_OUTPUTS.box
            if box is None:
                raise TypeError(f"layer '{self.name}' ({type(self).__name__}).call returned Python values next to "
                                f"its tensors ({', '.join(type(t).__name__ for t in ys)}); corenn passes them "
                                "through an eager call only, not a symbolic (functional) one")
            box.append((type(y), [(i, t) for i, t in enumerate(ys) if _static_leaf(t)], len(ys)))
            ys = [t for t in ys if not _static_leaf(t)]
            y = ys
        elif multi and hasattr(type(y), "_fields") and _STATIC_OUTPUTS.box is not None:
            # a namedtuple of tensors (tf.image.combined_non_max_suppression's): the eager call
            # gives it back as that namedtuple, as Keras does
            _STATIC_OUTPUTS.box.append((type(y), [], len(ys)))
        # string arrays pass through (an op moving a string column: ops.expand_dims before StringLookup)
        if not ys or not all(isinstance(t, (kernels.Tensor, BoolMask)) or is_string_array(t) for t in ys):
            raise TypeError(f"layer '{self.name}' ({type(self).__name__}).call must return a corenn Tensor or a "
                            f"tuple/list of them (computed with corenn.ops), got "
                            f"{type(y).__name__}" + (f" of {', '.join(type(t).__name__ for t in ys)}" if multi else ""))
        self._call_record = (tape, xs, ys if multi else y, isinstance(x, list), losses)
        return ys if multi else y

    def _mask_arguments(self, x, params, kwargs):
        """The masks ``call`` is given. With one input, ``mask`` is its mask. A call on several
        positional tensors (``decoder(x, encoder_outputs)``) gets each input's mask as
        ``<argument>_mask`` when it takes one (Keras 3) and the first input's as ``mask``
        (TF-Keras 2, whose ``mask`` was the ``inputs`` argument's); a mask the caller gave
        explicitly (``layer(a, b, mask=m)``) is passed as it is."""
        m = self.__dict__.get("_call_mask")
        if (isinstance(m, list) and self.__dict__.get("_positional_inputs") and isinstance(x, list)
                and not self.__dict__.get("_explicit_mask")):
            names = _call_positional_names(type(self).call)
            for name, mk in zip(names, m):
                if f"{name}_mask" in params:
                    kwargs[f"{name}_mask"] = user_mask(mk)
            if "mask" in params:
                kwargs["mask"] = user_mask(m[0]) if m else None
        elif "mask" in params:
            kwargs["mask"] = user_mask(m)

    def _invoke_call(self, x, training):
        """``call`` with Keras' arguments: the inputs (several positional ones when the layer was
        called so), ``training`` and ``mask`` when its signature takes them, the extra options
        the call was given."""
        kwargs = dict(self.__dict__.get("_call_kwargs") or ())
        params = _call_params(type(self).call)
        if params is None or "training" in params:
            kwargs["training"] = training
        if params is not None and ("mask" in params or self.consumes_mask):
            self._mask_arguments(x, params, kwargs)
        outer = _CALL_TRAINING.stack
        if _CALL_TRAINING.pushed:   # an eager call already pushed its flag, unconverted
            _CALL_TRAINING.pushed = False
        else:   # a graph node or a wrapper's inner run: the run's flag
            _CALL_TRAINING.stack = outer + (training,)   # what sublayer calls without training= inherit
        keys = self.__dict__.get("_dict_input_keys") or self.__dict__.get("_owner", self).__dict__.get(
            "_dict_input_keys")
        if keys is not None and isinstance(x, list) and len(x) == len(keys):
            x = dict(zip(keys, x))
        # a quantized user layer runs quantized_call (its _int8_call ...), as Keras' __call__
        # (read without the dtype_policy property, which makes a policy for a layer given none)
        d = self.__dict__
        policy = d.get("_dtype_policy") or d.get("_owner", self).__dict__.get("_dtype_policy")
        call = self.call if policy is None or policy.quantization_mode is None else self.quantized_call
        try:
            if self.__dict__.get("_positional_inputs") and isinstance(x, list):
                return call(*x, **kwargs)
            return call(x, **kwargs)
        finally:
            _CALL_TRAINING.stack = outer

    def backward(self, dy):
        record = self.__dict__.get("_call_record")
        if record is None:
            raise NotImplementedError(f"{type(self).__name__}.backward")
        tape, xs, y, packed, losses = record
        if isinstance(y, list):   # several outputs: the gradient of each (zeros where none came)
            dy = [kernels.zeros(tuple(t.shape)) if g is None else g
                  for t, g in zip(y, dy if isinstance(dy, (list, tuple)) else [dy])]
        # the weights Keras 3 trains (variable flags): a frozen layer's own are not, an inner
        # layer of it set back to trainable is (Layer._flagged_params)
        trained = [p for p in self._flagged_params() if p.trainable]
        weights = [p.value for p in trained]
        float_xs = [x for x in xs if x.dtype in _DIFFERENTIABLE]
        # the losses this call added, each seeded with its weight in the total loss (the graph
        # sets _loss_seeds when it backpropagates them: models/graph.py)
        seeds = self.__dict__.pop("_loss_seeds", None)
        if losses and seeds:
            targets = (list(y) if isinstance(y, list) else [y]) + losses
            dys = list(dy) if isinstance(y, list) else [kernels.zeros(tuple(y.shape)) if dy is None else dy]
            dys += [kernels.Tensor.from_numpy(np.full(tuple(v.shape), s, np.float32)) for v, s in zip(losses, seeds)]
            grads = tape.gradient(targets, float_xs + weights, output_gradients=dys)
        else:
            grads = tape.gradient(y, float_xs + weights, output_gradients=dy)
        for g, dst in zip(grads[len(float_xs):], [p.grad for p in trained]):
            if g is None:
                np.asarray(dst)[...] = 0.0
            else:
                np.copyto(np.asarray(dst), np.asarray(g))
        _keep_weight_grad_parts(self, weights, grads[len(float_xs):])
        it = iter(grads[:len(float_xs)])
        dxs = [next(it) if x.dtype in _DIFFERENTIABLE else None for x in xs]
        if packed and len({id(x) for x in xs}) < len(xs):
            # one tensor passed as two inputs (key=x, value=x): the private tape's gradient of
            # it is already the sum over its uses, so only its first position carries it (the
            # caller adds the positions' gradients up)
            seen = set()
            for i, x in enumerate(xs):
                if id(x) in seen and dxs[i] is not None:
                    dxs[i] = kernels.zeros(tuple(x.shape))
                seen.add(id(x))
        return dxs if packed else dxs[0]

    def call(self, inputs, training=None):
        """Keras' forward computation; write it with corenn.ops (differentiated by the tape).
        For a subclass of a built-in layer (Dense, Conv2D, ...) that writes its own call,
        ``super().call(inputs)`` is the built-in computation: it runs the built-in forward in a
        call context of its own and records its fused backward (input and weight gradients) as
        one op on the recording tape."""
        if getattr(type(self), "_builtin_parts", None) is None:
            raise NotImplementedError(f"{type(self).__name__}.call")
        from .. import autodiff
        packed = isinstance(inputs, (list, tuple))
        flat = [x if isinstance(x, kernels.Tensor) else kernels.as_tensor(_float_input(x, self), self.name)
                for x in (inputs if packed else [inputs])]
        owner = self.__dict__.get("_owner", self)
        ctx = owner._call_context()
        ctx.__class__ = _builtin_runner(type(owner))
        y = ctx.forward(flat if packed else flat[0], training=bool(training))
        # a new Tensor: the context's buffers are its own, but the caller may keep y
        y = kernels.Tensor.from_numpy(np.array(y, copy=True))
        tape = autodiff.recording_tape()
        if tape is not None:
            # the built-in layer's own weights (not variables the subclass added): its backward
            # writes their gradients into this context's Params
            params = [p for p in ctx._params if p.trainable] if owner.trainable else []

            def rule(dys):
                dx = ctx.backward(dys[0])
                dxs = list(dx) if packed else [dx]
                return dxs + [kernels.Tensor.from_numpy(np.array(p.grad, copy=True)) for p in params]
            tape.record(rule, flat + [p.value for p in params], [y])
        return y

    def compute_output_shape(self, input_shape):
        if type(self).call is not Layer.call:
            if self.__dict__.get("_no_probe"):
                return None
            # a layer written with call: run it on a batch of one to learn its output shape; an
            # axis of unknown size is probed with 1 and again with 2, and output axes that
            # follow it are unknown too (a sequence layer keeps its time axis None)
            packed = isinstance(input_shape, list)
            shapes = input_shape if packed else [input_shape]
            try:
                first = self._probe_call(shapes, packed, 1)
            except (ValueError, IndexError) as exc:   # IndexError: a gather whose indices need the axis
                exact = self.__dict__.get("_eager_shapes")
                if exact is None:
                    # a call that drops rows by their values (the MPNN readout removes all-zero
                    # molecules) has nothing left of a zero batch: probe once more with ones
                    try:
                        first = self._probe_call(shapes, packed, 1, fill=1.0)
                    except (ValueError, IndexError):
                        raise exc from None
                    batch = shapes[0][0]
                    outs = [(batch,) + tuple(sh) for sh in first]
                    return outs if self.__dict__.get("_probe_multi") else outs[0]
                # an eager first call whose first axis is not a batch (an augmentation layer
                # mapped over single images): probe with the call's own shapes
                first = self._probe_call(shapes, packed, 1, exact=exact)
                return (shapes[0][0],) + tuple(first[0]) if not self.__dict__.get("_probe_multi") else \
                    [(shapes[0][0],) + tuple(sh) for sh in first]
            unknown = [(i, a) for i, sh in enumerate(shapes) for a, d in enumerate(tuple(sh)) if a and d is None]
            if unknown:
                try:
                    seconds = [self._probe_call(shapes, packed, 2)]
                except (ValueError, IndexError):
                    # some unknown axis must fit a known size (Keras: (None, None, None) plus a
                    # (T, 16) embedding is (None, None, 16)): vary the unknown axes one at a
                    # time; one the call cannot take at 2 keeps what the probe at 1 gave
                    seconds = []
                    for axis in unknown:
                        try:
                            seconds.append(self._probe_call(shapes, packed, 1, vary=axis))
                        except (ValueError, IndexError):
                            continue
                for second in seconds:
                    first = [tuple(a if a == b else None for a, b in zip(s1, s2)) if len(s1) == len(s2) else s1
                             for s1, s2 in zip(first, second)]
            batch = shapes[0][0]
            outs = [(batch,) + tuple(sh) for sh in first]
            return outs if self.__dict__.get("_probe_multi") else outs[0]
        return tuple(input_shape) if not isinstance(input_shape, list) else tuple(input_shape[0])

    def _probe_call(self, shapes, packed, unknown, vary=None, exact=None, fill=0.0):
        """The output shapes (without batch) of ``call`` on zeros (or ``fill``), ``unknown`` for None axes (2
        for the axis ``vary`` = (input index, axis), when given); of these full shapes when
        ``exact`` is given."""
        dtypes = self.__dict__.get("_probe_dtypes") or ()

        def probe(i, shape):
            full = tuple(exact[i]) if exact is not None else (1,) + tuple(
                (2 if (i, a) == vary else unknown) if d is None else d for a, d in enumerate(shape) if a)
            if i < len(dtypes) and str(dtypes[i]) == "string":   # a string input: empty strings
                from .. import strings
                return strings.wrap(np.full(full, "", dtype=object))
            return kernels.zeros(full) if not fill else kernels.as_tensor(np.full(full, fill, np.float32))
        xs = [probe(i, sh) for i, sh in enumerate(shapes)]
        x = xs if packed else xs[0]
        probe_mask = None
        if self.consumes_mask and "_call_mask" not in self.__dict__ and self.__dict__.get("_probe_has_mask", True):
            # a call that reads ``mask`` gets an all-ones one (a symbolic call has masks)
            ones = [kernels.Tensor.from_numpy(np.ones(tuple(t.shape[:2]), np.float32)) if t.ndim >= 2 else None
                    for t in xs]
            probe_mask = ones if packed else ones[0]
        given = self.__dict__.get("_call_mask")
        if probe_mask is None and given is not None:
            # the mask an eager first call was given (``decoder(x, enc, mask=m)``) is the batch's:
            # the probe's batch of one reads its first sample
            probe_mask = _first_sample(given)
            if probe_mask is given:
                probe_mask = None
        from ..autodiff import stop_recording
        owner = self.__dict__.get("_owner", self)
        kept = owner.__dict__.get("_added_losses")
        sink, in_call = getattr(_LOSS_SINK, "entries", None), getattr(_LOSS_SINK, "in_call", None)
        _LOSS_SINK.entries, _LOSS_SINK.in_call = None, []
        try:
            if probe_mask is not None:
                self.__dict__["_call_mask"] = probe_mask
            from .. import ops
            # a call that updates a variable (keras.io's MoE counts expert use with
            # ``self.count.assign(...)``) must not count the probe: Keras runs call once
            saved = _variable_values(self)
            ops.SHAPE_PROBE.depth += 1
            try:
                with stop_recording():
                    y = self._invoke_call(x, self._probe_training())
            finally:
                ops.SHAPE_PROBE.depth -= 1
                _restore_variable_values(saved)
        finally:   # a shape probe adds no loss
            if probe_mask is not None:
                self.__dict__.pop("_call_mask", None)
                if given is not None:
                    self.__dict__["_call_mask"] = given
            _LOSS_SINK.entries, _LOSS_SINK.in_call = sink, in_call
            owner.__dict__.pop("_added_losses", None)
            if kept is not None:
                owner.__dict__["_added_losses"] = kept
        multi = isinstance(y, (list, tuple))
        self.__dict__["_probe_multi"] = multi
        # a call returning a namedtuple (tf.image.combined_non_max_suppression's result): its
        # symbolic outputs come back as the same namedtuple, as in Keras
        self.__dict__["_probe_namedtuple"] = type(y) if multi and hasattr(type(y), "_fields") else None
        return [tuple(t.shape[1:]) for t in (y if multi else [y])]

    def _probe_training(self):
        """The training flag the shape probe calls ``call`` with: the one the symbolic call gave
        (``layer(x, training=False)`` in a functional model), else the default of call's own
        signature, as Keras 3's symbolic call passes it (keras.io's MelGAN: ``def call(self,
        audio, training=True)`` computes a spectrogram, whose 80 bands the next Conv1D is built
        for), else False."""
        given = self.__dict__.get("_probe_training_given")
        if given is not None:
            return bool(given)
        if type(self).call is Layer.call:
            return False
        return bool(_call_training_default(type(self).call))

    def _build_for_values(self, flat, packed):
        """Build on the first eager call on the Tensors ``flat``; their own shapes serve the
        output-shape probe when a batch of one does not fit the call."""
        shapes = [(None,) + tuple(x.shape[1:]) for x in flat]
        self.__dict__["_eager_shapes"] = [tuple(x.shape) for x in flat]
        # no all-ones probe mask for a call given none (``self.attn(x, mask=None)``)
        self.__dict__.setdefault("_probe_has_mask", "_call_mask" in self.__dict__)
        try:
            self._maybe_build(shapes if packed else shapes[0])
        finally:
            self.__dict__.pop("_eager_shapes", None)
            self.__dict__.pop("_probe_has_mask", None)

    def _maybe_build(self, input_shape):
        """Build on first use; a custom build need not call super().build (Keras 3 marks the layer
        built itself)."""
        if not self.built:
            with name_scope(self, record=True):
                self.__dict__.setdefault("_path", current_path())
                self.build(input_shape)
            if not self.built or self.input_shape is None:
                self.input_shape = input_shape
                self.built = True
            initial = self.__dict__.pop("_initial_weights", None)
            if initial is not None:
                try:
                    self.set_weights(initial)
                except ValueError as exc:
                    raise ValueError(f"layer '{self.name}' ({type(self).__name__}): the weights= it was given do "
                                     f"not fit the weights it built: {exc}") from None

    def flops(self, input_shape) -> int:
        """Floating-point operations of one forward pass per sample for inputs of
        ``input_shape`` (with the batch axis); a multiply-add counts 2. Layers that only move
        data (Flatten, Dropout, padding, ...) keep this default of 0. Shown by model.summary."""
        return 0

    def __call__(self, *args, training=None, mask=None, **kwargs):
        """Call the layer.

        On KerasTensors (``keras.Input`` or another layer's output) this records a node of the
        graph of layer calls and returns KerasTensor(s); nothing is computed (functional API).
        On data (NumPy arrays or Tensors) it runs now (building on first call) and returns new
        Tensors, as Keras returns tensors (a list for layers that return several, e.g. an RNN
        with return_state); ``.numpy()`` or ``np.asarray`` reads them. Inside a
        ``GradientTape`` the call gets a context of its own and is recorded for ``gradient``.
        Tensors may be passed by keyword as in Keras (``layer(x=x, context=c)``, ``inputs=``).
        """
        if kwargs and (not args or type(self).call is not Layer.call):
            args, kwargs = self._keyword_inputs(args, kwargs)
        if not args:
            raise TypeError(f"layer '{self.name}' ({type(self).__name__}) was called without inputs")
        inputs, args = args[0], args[1:]
        if isinstance(inputs, dict) and type(self).call is not Layer.call:
            # a layer written with call on a dict of tensors (keras.io's VariableSelection): its
            # values are the call's inputs, in the dict's order; call gets the dict back
            self.__dict__.get("_owner", self).__dict__["_dict_input_keys"] = list(inputs)
            inputs = list(inputs.values())
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], list) and _python_numbers(inputs):
            # nested Python lists of numbers are one input's data (layer([[2.0, 2.0, 2.0]])),
            # as TensorFlow converts them, not a list of inputs
            inputs = np.asarray(inputs, dtype=np.float32)
        if args or kwargs:
            inputs = self._extra_call_arguments(inputs, args, kwargs)
        # the layers this call builds make their weights under its name (name_scope, inlined:
        # a layer call is on the eager step's path)
        saved = _NAME_SCOPES.stack
        owner = self.__dict__.get("_owner", self)
        if not saved or saved[-1][1] is not owner:
            parent = owner.__dict__.get("_parent_path")
            if parent is None:   # its first call: the path it is called under is its parent's
                parent = owner.__dict__["_parent_path"] = current_path()
            _NAME_SCOPES.stack = saved + ((owner.name, owner, parent),)
        try:
            if not kwargs:
                return self._call_with(inputs, training, mask)
            # options of this call only (a graph node keeps its own: Node.call_kwargs)
            owner.__dict__["_call_kwargs"] = dict(kwargs)
            try:
                return self._call_with(inputs, training, mask)
            finally:
                owner.__dict__.pop("_call_kwargs", None)
        finally:
            _NAME_SCOPES.stack = saved

    def _call_with(self, inputs, training, mask):
        graph, autodiff = _graph_modules()
        spec = self.__dict__.get("input_spec")   # Keras' check of what a (custom) layer accepts
        if spec is not None:
            assert_input_compatibility(spec, inputs, self.name)
        if graph.is_symbolic(inputs):
            return graph.symbolic_call(self, inputs, mask, training)
        if self.scalar_input is not None and _is_scalar(inputs):
            return self._scalar_call(inputs, training)
        if self.vector_input == "row" and _is_vector(inputs) and mask is None:
            return self._vector_call(inputs, training)
        if TRACING.depth:
            check_traceable(f"layer '{self.name}' called on values")
        written = type(self).call is not Layer.call
        stack = _CALL_TRAINING.stack
        if training is None:   # Keras 3: the enclosing call's flag, else call's own default
            training = stack[-1] if stack else None
            if training is None and written:
                training = _call_training_default(type(self).call)
        if written:   # the flag its sublayer calls inherit, as resolved here (None stays None)
            _CALL_TRAINING.stack, _CALL_TRAINING.pushed = stack + (training,), True
        try:
            if mask is None:   # Keras: the mask an earlier eager call attached to its output
                mask = _carried_mask(inputs)
            if written and _string_data(inputs):
                y = self._string_call(inputs, training)
            elif mask is not None:
                y = self._masked_call(inputs, training, mask)
            elif ASSIGNED_WEIGHT_LAYERS and self._assigned_weights():
                y = self._call_with_assigned_weights(inputs)
            else:
                tape = autodiff.recording_tape()
                outer_box = _STATIC_OUTPUTS.box
                _STATIC_OUTPUTS.box = box = []
                try:
                    if tape is not None and written and autodiff.graph_tape() is not None:
                        # in a graph (a tf.function calling tf.gradients): call's ops are recorded
                        # one by one, as TensorFlow's graph holds them, so a gradient taken inside
                        # (a Lambda's tf.gradients) is differentiated again through the layers it
                        # reaches, not through this layer's own backward (its weights only)
                        y = self._graph_call(inputs, training)
                    else:
                        y = tape.call_layer(self, inputs, training) if tape is not None else self._eager_call(inputs, training)
                finally:
                    _STATIC_OUTPUTS.box = outer_box
                if box:   # Python values the call returned next to its tensors, back in place
                    kind, values, n = box[-1]
                    tensors = iter(y if isinstance(y, list) else [y])
                    fixed = dict(values)
                    items = [fixed[i] if i in fixed else next(tensors) for i in range(n)]
                    return kind(*items) if hasattr(kind, "_fields") else kind(items)
        finally:
            if written:
                _CALL_TRAINING.stack, _CALL_TRAINING.pushed = stack, False
        if mask is not None or self._may_make_mask():
            self._attach_output_mask(inputs, mask, y)
        return y

    def _graph_call(self, inputs, training):
        """A layer written with ``call`` run inline on a graph tape (autodiff._GraphTape)."""
        from ..autodiff import convert
        packed = isinstance(inputs, (list, tuple))
        flat = [x if isinstance(x, kernels.Tensor) else convert(x, self.name) for x in (inputs if packed else [inputs])]
        if not self.built:
            self._build_for_values(flat, packed)
        return self._invoke_call(flat if packed else flat[0], training)

    def _scalar_call(self, inputs, training):
        """This layer called on a 0-d input (see ``scalar_input``)."""
        if self.scalar_input == "refuse":
            raise ValueError(f"{type(self).__name__} '{self.name}' needs an input with at least one axis, "
                             f"got a 0-d (scalar) input")
        from .. import ops   # reshapes a tape records: the gradient reaches the 0-d input
        y = self._call_with(ops.reshape(inputs, (1,)), training, None)
        drop = lambda t: ops.reshape(t, tuple(t.shape[1:]))  # noqa: E731
        return [drop(t) for t in y] if isinstance(y, list) else drop(y)

    def _vector_call(self, inputs, training):
        """This layer called on a rank-1 input (see ``vector_input``): a batch of one row; the
        reshapes are recorded by a tape, so gradients reach the rank-1 input."""
        from .. import ops
        self.__dict__["_vector_view"] = True   # axis 0 / -1 of the rank-1 input: the row's axis
        try:
            y = self._call_with(ops.reshape(inputs, (1, int(inputs.shape[0]))), training, None)
        finally:
            self.__dict__.pop("_vector_view", None)
        drop = lambda t: ops.reshape(t, tuple(t.shape[1:]))  # noqa: E731
        return [drop(t) for t in y] if isinstance(y, list) else drop(y)

    def _assigned_weights(self):
        """Whether a script set this layer's weights to tensors it does not own (tf.keras 2's
        hypernetwork guide: ``dense.kernel = predicted``); only layers that define
        ``_call_with_assigned_weights`` (Dense) compute with such tensors, and they are listed in
        ASSIGNED_WEIGHT_LAYERS (a model holding one runs layer by layer under a tape)."""
        return False

    def _string_call(self, inputs, training):
        """A layer written with ``call`` called on strings (its StringLookup / TextVectorization
        turn them into numbers, keras.io's QREmbedding): ``call`` runs as written on string
        tensors; the layers it calls are recorded as they run, as in any eager call."""
        from .. import strings
        convert = lambda x: strings.wrap(strings.as_string_array(x)) if is_string_array(x) else x  # noqa: E731
        packed = isinstance(inputs, (list, tuple)) and not isinstance(inputs, str) and not _string_list(inputs)
        x = [convert(v) for v in inputs] if packed else convert(inputs)
        if not self.built:
            shape = lambda v: (None,) + tuple(np.shape(v))[1:]  # noqa: E731
            shapes = [shape(v) for v in x] if packed else shape(x)
            if type(self).build is Layer.build:   # no probe with numbers: built by running call
                self.input_shape, self.built = shapes, True
            else:
                self._maybe_build(shapes)
        return self._invoke_call(x, training)

    def _keyword_inputs(self, args, kwargs):
        """Keras binds a call's tensors by name too: the keyword arguments that fill ``call``'s
        next positional parameters with tensors (or the first one, whatever it holds) become
        positional inputs, so they are inputs of the call (recorded, differentiated) and not
        options. A built-in layer's one input is named ``inputs``."""
        if type(self).call is Layer.call:
            names = ["inputs"]
        else:
            names = _call_positional_names(type(self).call)
        args, kwargs = list(args), dict(kwargs)
        for name in names[len(args):]:
            if name not in kwargs or (args and not _tensor_like(kwargs[name])):
                break
            args.append(kwargs.pop(name))
        return args, kwargs

    def _extra_call_arguments(self, inputs, args, kwargs):
        """Keras' ``layer(a, b)`` (a call taking several tensors: they become one list of inputs,
        unpacked again for ``call``) and ``layer(x, option=value)`` (non-tensor options of that
        ``call``). Only a layer written with ``call`` takes them."""
        written = type(self).call is not Layer.call
        params = _call_params(type(self).call) if written else frozenset()
        unknown = [k for k in kwargs if params is not None and k not in params]
        too_many = 1 + len(args) > (_call_takes_positional(type(self).call) if written else 1)
        if too_many or unknown:
            what = (f"unexpected keyword argument(s) {', '.join(sorted(unknown))}" if unknown
                    else f"takes one input, got {1 + len(args)} positional arguments")
            raise TypeError(f"layer '{self.name}' ({type(self).__name__}): {what}")
        if not args:
            return inputs
        self.__dict__.get("_owner", self).__dict__["_positional_inputs"] = True
        return [inputs, *args]

    # -- Keras masks (models/graph.py: attach_masks) -------------------------------------------
    supports_masking = False   # passes its input's mask on unchanged (compute_mask)
    consumes_mask = False      # its forward reads self._call_mask (RNNs, pooling, attention)
    produces_mask = False      # makes a mask (output_mask_value after forward)

    def compute_mask(self, inputs, mask=None):
        """The mask of this call's output given its inputs' (Keras): the input's when the layer
        supports masking (the first given one for several inputs), else None."""
        if not self.supports_masking:
            return None
        if isinstance(mask, (list, tuple)):
            return next((m for m in mask if m is not None), None)
        return mask

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:   # a build called directly (layer.build(shape)) is scoped too
            cls.build = scoped_build(cls.__dict__["build"])
        # a Keras layer whose call takes ``mask`` reads its input's mask (Keras passes it)
        if "call" in cls.__dict__ and "consumes_mask" not in cls.__dict__:
            params = _call_params(cls.call)
            if params is not None and ("mask" in params or any(p.endswith("_mask") for p in params)):
                cls.consumes_mask = True
        if "call" in cls.__dict__ and "forward" not in cls.__dict__ and cls.forward is not Layer.forward:
            _call_replaces_builtin(cls)
        if "quantize" in cls.__dict__ and not getattr(cls.__dict__["quantize"], "_checks_args", False):
            cls.quantize = _checked_quantize(cls.__dict__["quantize"])

    def _data_call(self, inputs, training):
        tape = _graph_modules()[1].recording_tape()
        if tape is not None:
            return tape.call_layer(self, inputs, training)
        return self._eager_call(inputs, training)

    def _masked_call(self, inputs, training, mask):
        """``layer(x, mask=m)`` on data: the layer reads the mask in this call only (a tape's call
        context copies it in)."""
        mask = [_as_mask(m, self.name) for m in mask] if isinstance(mask, (list, tuple)) else _as_mask(mask, self.name)
        if not self.consumes_mask:
            return self._data_call(inputs, training)  # Keras: a layer that does not read masks ignores it
        self.__dict__["_call_mask"] = mask
        self.__dict__["_explicit_mask"] = True
        try:
            return self._data_call(inputs, training)
        finally:
            self.__dict__.pop("_call_mask", None)
            self.__dict__.pop("_explicit_mask", None)

    def _may_make_mask(self):
        # without an input mask the base compute_mask returns None: only an override can make one
        return type(self).compute_mask is not Layer.compute_mask

    def _attach_output_mask(self, inputs, mask, y):
        """Keras' ``output._keras_mask`` on an eager call's output(s): compute_mask of the call."""
        from ..autodiff import stop_recording
        with stop_recording():
            m = self.compute_mask(inputs, mask)
        if m is None:
            return y
        outs = y if isinstance(y, list) else [y]
        masks = list(m) if isinstance(m, (list, tuple)) else [m] * len(outs)
        for t, mt in zip(outs, masks):
            if isinstance(t, kernels.Tensor):
                t._keras_mask = user_mask(mt)
        return y

    def output_mask_value(self):
        """The mask a user layer's compute_mask makes for its last call (a graph node's mask
        output): float32 (N, T), 1 = a real step."""
        record = self.__dict__.get("_call_record")
        xs, packed = record[1], record[3]
        if not user_mask_maker(self):   # the mask the call's inner layers left on its output
            y = record[2]
            m = getattr(y, "_keras_mask", None)
            return _as_mask(m, self.name) if m is not None else kernels.Tensor.from_numpy(
                np.ones(tuple(y.shape[:2]), np.float32))
        from ..autodiff import stop_recording
        with stop_recording():
            m = self.compute_mask(xs if packed else xs[0], user_mask(self.__dict__.get("_last_call_mask")))
        if isinstance(m, (list, tuple)):   # one mask per output
            return [_as_mask(v, self.name) for v in m]
        return _as_mask(m, self.name)

    def _eager_call(self, inputs, training):
        packed = isinstance(inputs, (list, tuple))
        flat = list(inputs) if packed else [inputs]
        written = type(self).call is not Layer.call
        if not written:
            # a tf.SparseTensor (CategoryEncoding(sparse=True)'s output into a Dense, as the TF
            # feature-column migration guide feeds it) reaches the built-in layers' dense
            # kernels densified, as Keras' Dense takes sparse inputs
            from ..sparse import SparseTensor, to_dense
            flat = [to_dense(x) if isinstance(x, SparseTensor) else x for x in flat]
        # a Tensor of a storage-only dtype (a uint8 image, float64 data) enters a built-in layer as
        # its array does; a layer written with call gets it as it is (its ops convert it), as in Keras
        if not written:
            flat = [x.numpy() if isinstance(x, kernels.Tensor) and x.dtype not in _COMPUTE_DTYPES else x
                    for x in flat]
        # a layer written with call keeps integer arrays integer (a GNN's edge list, token ids)
        flat = [x if isinstance(x, kernels.Tensor)
                else np.ascontiguousarray(x, dtype=np.int64) if written and np.asarray(x).dtype.kind in "iu"
                else _float_input(x, self) for x in flat]
        if written:   # a 0-d input reaches call as it came (ascontiguousarray makes it 1-d), as Keras'
            flat = [x.reshape(()) if isinstance(x, np.ndarray) and x.shape == (1,) and np.ndim(y) == 0 else x
                    for x, y in zip(flat, inputs if packed else [inputs])]
        shapes = [(None,) + tuple(x.shape[1:]) for x in flat]
        if not self.built:
            if written and packed:
                # built by this real call: its inputs need not share a batch axis (a GNN layer gets
                # (node features, edge list, edge weights)), so no batch-of-one probe; the output
                # shape is learnt in a symbolic call, if one comes
                self.__dict__["_no_probe"] = True
                try:
                    self._maybe_build([tuple(x.shape) for x in flat])
                finally:
                    self.__dict__.pop("_no_probe", None)
            elif written:
                self._build_for_values(flat, packed)
            else:
                self._maybe_build(shapes if packed else shapes[0])
        if packed:
            if not written:   # a layer written with call checks in its call
                self.compute_output_shape(shapes)  # raises naming the layer when they do not fit
        else:
            self.check_input_shape(tuple(flat[0].shape))
        tensors = [kernels.as_tensor(x, self.name, f"inputs[{i}]" if packed else "x") for i, x in enumerate(flat)]
        self._clear_losses()
        y = self.forward(tensors if packed else tensors[0], training=bool(training))
        # A fresh Tensor per call, as Keras returns a new tensor: the layer's buffers are reused
        # by its next call, so handing one out would let that call overwrite this result.
        out = lambda t: kernels.Tensor.from_numpy(np.array(t, copy=True))  # noqa: E731
        if written:   # the mask its inner layers attached stays on the output (Keras 3)
            out = lambda t, copy=out: _with_mask_of(t, copy(t))  # noqa: E731
        y = [out(t) for t in y] if isinstance(y, list) else out(y)
        if self.activity_regularizer is not None:
            self.add_activity_losses(y)
        return y

    def add_activity_losses(self, outputs):
        """Keras 3 adds ``activity_regularizer(output) / batch_size`` for every output of a call
        (keras/src/layers/layer.py, ``Layer.__call__``, "Record activity regularizer loss": the
        penalty is normalised by the output's first axis; a scalar output is not divided)."""
        from .. import ops
        for t in outputs if isinstance(outputs, list) else [outputs]:
            penalty = self.activity_regularizer.tensor(t)
            shape = tuple(t.shape)
            self.add_loss(ops.divide(penalty, float(shape[0])) if shape and shape[0] else penalty)

    # -- call contexts ---------------------------------------------------------------------------

    # Attributes naming inner layers whose per-call state must be separate too (wrappers).
    _sublayer_attrs: tuple = ()

    def _call_context(self, snapshot=False):
        """A context for one more call of this layer: an object of the layer's class whose own
        attributes are that call's state (saved tensors, buffers, fusion flags, weight-gradient
        Tensors); every other attribute (weights, config) is read from the layer itself.
        ``snapshot`` (a tape's one-off call): copy the layer's attributes in instead of reading
        them through, which is faster for a context that lives for one step."""
        owner = self.__dict__.get("_owner", self)
        ctx = object.__new__(type(owner))
        d = ctx.__dict__
        if snapshot:
            d.update(owner.__dict__)
        d.update(_owner=owner, _buffers={}, needs_input_grad=True, relu_grad_by_next=False,
                 masks_relu_input=False)
        d.pop("_loss_seeds", None)
        d.pop("_added_losses", None)   # add_loss keeps them on the owner
        if not snapshot:
            # an attribute the layer set that its class also defines (LeakyReLU's _alpha over the
            # class default 0.0) is found on the class before __getattr__ runs: copy the layer's
            # value in, or a second call of the layer (a GAN's D(fake), D(real)) used the default
            for name in _shadowed_class_attrs(type(owner), owner.__dict__):
                if name not in d:
                    d[name] = owner.__dict__[name]
        for attr in owner._sublayer_attrs:
            d[attr] = getattr(owner, attr)._call_context(snapshot)
        if not owner._sublayer_attrs:
            d["_params"] = _context_params(owner, snapshot)
        return ctx

    def _refresh_context(self):
        """A call context made before its layer changed the form of its weights in place
        (``quantize``: new Params, the int8 kernel for the float one, a new ``_quantized``): its
        Params and the class attributes the layer set again, as _call_context makes them, and
        no buffers of the old form. (Without it a graph's second call of a shared layer kept
        computing with the float kernel.)"""
        d = self.__dict__
        owner = d.get("_owner")
        if owner is None or owner is self:
            return
        d["_buffers"] = {}
        for name in _shadowed_class_attrs(type(owner), owner.__dict__):
            d[name] = owner.__dict__[name]
        if not owner._sublayer_attrs:
            d["_params"] = _context_params(owner, False)

    def __getattr__(self, name):
        # Only reached for attributes a call context does not hold itself: read the layer's.
        owner = self.__dict__.get("_owner")
        if owner is None:
            if name in ("output", "input"):
                self._first_node(name)  # raises, saying why the layer has none
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(owner, name)

    @property
    def output(self):
        """The output KerasTensor of this layer's first call on symbolic inputs (Keras'
        ``layer.output``, e.g. to build a feature extractor)."""
        node = self._first_node("output")
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    @property
    def input(self):
        node = self._first_node("input")
        return node.inputs[0] if not node.packed else list(node.inputs)

    def _first_node(self, what):
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(f"layer '{self.name}' has no {what}: it has not been called on a "
                                 "symbolic input (keras.Input) yet")
        return nodes[0]

    def check_input_shape(self, shape):
        """Raise a ValueError naming this layer when ``shape`` (with batch) does not fit. A Keras
        layer written with ``call`` has no input spec (as in Keras): what it calls checks."""
        expected = self.input_shape
        if expected is None or type(self).call is not Layer.call or self.accepts_any_shape:
            return
        # Keras' input specs check the rank and the feature (last) axis: a layer built on one
        # sequence length or image size takes others (an Embedding / LSTM on shorter sequences)
        ok = len(shape) == len(expected) and (len(shape) < 2 or expected[-1] is None or expected[-1] == shape[-1])
        if not ok:
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) expects input of shape "
                             f"{shape_str(expected)}, got {shape_str((None,) + tuple(shape[1:]))}")

    # -- config ----------------------------------------------------------------------------

    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable}
        policy = self.__dict__.get("_dtype_policy")
        if policy is not None and policy.name == "float64":
            cfg["dtype"] = "float64"   # (the other policies compute in float32: their files stay as they were)
        if policy is not None and policy.quantization_mode is not None:
            # Keras' serialized QuantizedDTypePolicy: a loaded user layer builds its quantized form
            from ..keras.dtype_policies import serialize
            cfg["dtype"] = serialize(policy)
        if self._declared_input_shape is not None:
            cfg["input_shape"] = self._declared_input_shape
        if self.activity_regularizer is not None:
            from .. import regularizers
            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        auto = self.__dict__.get("_auto_config")
        if auto is not None and type(self).__init__ is not Layer.__init__ \
                and _writes_no_get_config(type(self)):
            # a user's layer without get_config: its constructor arguments (Keras 3's
            # auto-config) beside the live name / trainable; keys its __init__ cannot take
            # are dropped, so from_config can pass the config back
            base_keys = set(cfg)
            cfg = {**auto, **cfg}
            if inspect.getfullargspec(type(self).__init__).varkw is None:
                for key in base_keys - set(_init_arg_names(type(self))) - set(auto):
                    cfg.pop(key, None)
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_INIT_ARGS: dict = {}


def _init_arg_names(cls):
    """The positional parameter names of ``cls.__init__`` after self (cached per class)."""
    names = _INIT_ARGS.get(cls)
    if names is None:
        try:
            names = inspect.getfullargspec(cls.__init__).args[1:]
        except TypeError:
            names = []
        _INIT_ARGS[cls] = names
    return names


def _init_arguments(cls, args, kwargs):
    """{name: value} of a constructor call with the defaults filled in and **kwargs spread, as
    Keras 3's auto-config records it; None when the call does not bind (__init__ will raise)."""
    try:
        sig = _SIGNATURES.get(cls) or _SIGNATURES.setdefault(cls, inspect.signature(cls.__init__))
        bound = sig.bind_partial(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    out = {}
    for i, (name, value) in enumerate(bound.arguments.items()):
        kind = sig.parameters[name].kind
        if i == 0 or kind is inspect.Parameter.VAR_POSITIONAL:
            continue   # self; *args have no names to be passed back by
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[name] = value
    return out


_SIGNATURES: dict = {}


def _plain_json(value):
    """Whether value is made of str / int / float / bool / None in lists, tuples and str-keyed
    dicts (the values Keras 3 trusts its auto-config with)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False


def _writes_no_get_config(cls):
    """True when ``cls`` is a user's layer (not one of corenn's, whose configs are their own)
    and no class between it and Layer defines get_config."""
    if cls.__module__ == "corenn" or cls.__module__.startswith("corenn."):
        return False
    for klass in cls.__mro__:
        if klass is Layer:
            return True
        if "get_config" in klass.__dict__:
            return False
    return False


_PLAIN_CLASS_ATTRS: dict = {}


def _shadowed_class_attrs(cls, instance_dict):
    """Names in ``instance_dict`` that ``cls`` also defines as a plain class attribute (not a
    method, property or other descriptor)."""
    plain = _PLAIN_CLASS_ATTRS.get(cls)
    if plain is None:
        plain = set()
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if not (callable(value) or hasattr(value, "__get__") or name.startswith("__")):
                    plain.add(name)
        _PLAIN_CLASS_ATTRS[cls] = plain
    return [name for name in instance_dict if name in plain]


class ActivatedLayer(Layer):
    """A layer computing z = f(x; weights), then y = activation(z) (Dense, Conv*).

    Subclasses set ``self._z``, ``self._y`` and ``self._fused`` (the activation ran inside the
    kernel's epilogue: linear or relu, so only y is kept and relu' comes from y) in forward, and
    implement ``backward_from_preactivation(dz)``. The model calls that directly when it fuses a
    softmax/sigmoid output into the loss.
    """

    @property
    def logits(self):
        """z (before the activation) of the last forward."""
        return self._z

    def _activate(self, x, z, out_shape):
        """y = activation(z) into this call's buffer, unless the kernel's epilogue already applied
        it (``self._fused``: then y is z); keeps x, z and y for backward and returns y."""
        y = z if self._fused else self.activation.forward(z, self._buffer("y", out_shape))
        self._x, self._z, self._y = x, z, y
        return y

    def backward(self, dy):
        return self.backward_from_preactivation(self._preactivation_grad(dy))

    def _preactivation_grad(self, dy):
        """dL/dz from dL/dy through this call's activation."""
        if self._fused and self.relu_grad_by_next:
            return dy  # the next layer already applied relu'
        if self._fused:
            if self.activation.name == "linear":
                return dy
            dz = self._buffer("dz", dy.shape)   # relu' from y (y > 0 <=> z > 0), the bound kernel entry
            kernels._activation_backward("relu", self._y, self._y, dy, dz, 0.0)
            return dz
        return self.activation.backward(self._z, self._y, dy, self._buffer("dz", dy.shape))

    def backward_parts(self, parts):
        """backward of the sum of ``parts`` (the gradients this call's output received from its
        consumers, left unsummed by the graph: fusion rule 5). With relu in the epilogue the sum
        and relu' are one pass (sum_n_relu_grad); otherwise they are summed, then backward."""
        if self._fused and self.activation.name == "relu" and not self.relu_grad_by_next:
            dz = self._buffer("dz", parts[0].shape)
            kernels.sum_n_relu_grad(parts, self._y, out=dz)
            return self.backward_from_preactivation(dz)
        return self.backward(kernels.sum_n(parts, out=self._buffer("dy_sum", parts[0].shape)))

    def backward_from_preactivation(self, dz):  # pragma: no cover - abstract
        raise NotImplementedError


# Rough cost per element of an activation: relu-like 1, softmax 3 (exp, sum, divide),
# transcendental ones (sigmoid, tanh, elu, gelu, ...) 4.
_ACTIVATION_FLOPS = {"linear": 0, "relu": 1, "leaky_relu": 1, "softmax": 3, "log_softmax": 3}


def activation_flops(activation, elements: int) -> int:
    """Approximate FLOPs of ``activation`` over ``elements`` values (for Layer.flops)."""
    return _ACTIVATION_FLOPS.get(activation.name, 4) * int(elements)


def sample_size(shape) -> int:
    """Elements of one sample of ``shape`` (batch axis first, ignored)."""
    return int(np.prod([d for d in shape[1:]], dtype=np.int64))


def _check_declared_shape(name, shape):
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(None if d is None else int(d) for d in shape)
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{name}: input_shape must have positive sizes, got {shape}")
    return shape


class InputLayer(Layer):
    """Declares the shape of one input sample (without the batch axis); computes nothing.

    Its ``output`` is the symbolic tensor that ``keras.Input(shape=...)`` returns, the start of a
    functional model; ``Sequential([layers.Input(shape=(784,)), ...])`` fixes the model's input.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, input_shape=None, name=None,
                 batch_shape=None, sparse=None, ragged=None, **kwargs):
        if sparse or ragged:
            raise NotImplementedError("InputLayer: sparse and ragged inputs are not supported")
        if batch_shape is not None:
            shape, batch_size = tuple(batch_shape)[1:], tuple(batch_shape)[0]
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("InputLayer: pass shape=, the shape of one sample without the batch axis")
        from ..dtypes import is_string_dtype
        if is_string_dtype(dtype):
            # strings (a NumPy array of str) for the text and lookup layers that read them
            input_dtype = "string"
        else:
            # Keras 3: floatx() when no dtype is given (float64 after set_floatx("float64"))
            input_dtype = np.dtype(_mixed_precision._FLOATX[0] if dtype is None else str(dtype))
            if input_dtype.kind not in "fiub":
                raise TypeError(f"Input: dtype must be a float, integer, bool or string type, got {dtype!r}")
        super().__init__(name=name or unique_name("input_layer"), input_shape=shape,
                         batch_size=batch_size, **kwargs)
        # Keras: a declared batch size (batch_shape=, batch_size=) is the symbolic tensor's first
        # dimension, so a stateful RNN downstream knows how many sequences it carries
        self.shape = (self._batch_size,) + self._declared_input_shape
        self.input_dtype = str(input_dtype)
        self._output = None

    @property
    def output(self):
        if self._output is None:
            from ..models.graph import KerasTensor, Node
            t = KerasTensor(self.shape, self.input_dtype, name=self.name)
            t.node = Node(self, [], [t], False)
            self._output = t
            self.__dict__.setdefault("_inbound_nodes", []).append(t.node)
        return self._output

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        cfg = {"name": self.name, "shape": self._declared_input_shape}
        if self._batch_size is not None:
            cfg["batch_size"] = self._batch_size
        if self.input_dtype != "float32":
            cfg["dtype"] = self.input_dtype
        return cfg


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs):
    """``keras.Input(shape=...)``: a symbolic input (KerasTensor) for the functional API; also
    accepted first in a Sequential to fix its input shape."""
    from ..models.graph import Input as _input
    return _input(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs)


_MODULES = []


def _graph_modules():
    """(models.graph, autodiff), imported on first use (they import this module)."""
    if not _MODULES:
        from .. import autodiff
        from ..models import graph
        _MODULES[:] = [graph, autodiff]
    return _MODULES


def _python_numbers(v, depth=0):
    """Whether ``v`` is a (nested) list of plain Python numbers, at least two levels deep or a
    list of numbers (data, not a list of input tensors)."""
    if isinstance(v, list):
        return bool(v) and depth < 32 and all(_python_numbers(item, depth + 1) for item in v)
    return depth > 0 and isinstance(v, (int, float)) and not isinstance(v, bool)


class BoolMask(np.ndarray):
    """A Keras mask as scripts see it (``compute_mask``, ``output._keras_mask``, the ``mask`` a
    ``call`` is given): bool (N, T), True = a real step, as Keras' masks are; and every other
    bool tensor (comparisons, logical ops, casts to bool). It is a NumPy bool array (the C++
    Tensor's bool dtype is storage only, ARCHITECTURE section 3), with Keras tensors' ``numpy()``;
    every corenn op takes it. Inside a graph the masks stay the float32 values the kernels read (``_as_mask``): only
    what a script sees is converted."""

    def numpy(self):
        return np.asarray(self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """Arithmetic mixing a bool tensor with numbers gives float32 Tensors, as Keras' bool
        tensors promote (``mask * x``, ``1.0 - mask``: through corenn.ops, so the tape sees the
        other operand); bool with bool, comparisons, logical ops and reductions run in NumPy, a
        bool result staying a bool tensor."""
        from .._tensor_numpy import _UFUNC_OPS
        fn = _UFUNC_OPS.get(ufunc)
        if fn is not None and method == "__call__" and not kwargs and \
                not all(isinstance(x, (bool, np.bool_)) or getattr(x, "dtype", None) == np.bool_ for x in inputs):
            # with Python numbers, the bools as float32 0 / 1 first (``mask * 2``, ``1 - mask``:
            # float32, where the ops' Keras rule would make a bool and an int int32); with a
            # tensor the ops' rule, the same either way round (``mask * ints`` as ``ints * mask``)
            if not any(isinstance(x, kernels.Tensor) for x in inputs):
                inputs = tuple(np.asarray(x, np.float32) if isinstance(x, np.ndarray) and x.dtype == np.bool_
                               else x for x in inputs)
            return fn(*inputs)
        plain = tuple(np.asarray(x) if isinstance(x, (np.ndarray, kernels.Tensor)) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(x) if isinstance(x, np.ndarray) else x for x in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        if isinstance(result, np.ndarray) and result.dtype == np.bool_ and "out" not in kwargs:
            return result.view(BoolMask)
        return result

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        """A NumPy array of ``dtype`` (a bool tensor's ``astype`` as a Tensor's: NumPy's)."""
        return np.asarray(self).astype(dtype, order=order, casting=casting, copy=copy)

    def __repr__(self):
        values = np.array2string(np.asarray(self), separator=" ", threshold=60, prefix="Tensor(")
        return f"Tensor({values}, shape={self.shape}, dtype=bool)"

    __str__ = __repr__
    __hash__ = object.__hash__   # as Tensors (and Keras tensors): by identity


def user_mask(m):
    """A mask (float32 / bool Tensor or array, or a list of them) as a script sees it: BoolMask."""
    if m is None or type(m) is BoolMask:
        return m
    if isinstance(m, (list, tuple)):
        return [user_mask(v) for v in m]
    a = np.asarray(m)
    return (a if a.dtype == np.bool_ else np.not_equal(a, 0)).view(BoolMask)


def _is_scalar(x):
    """Whether ``x`` is one 0-d input (a NumPy / Python scalar, a 0-d array or Tensor)."""
    if isinstance(x, (list, tuple, dict, str, bytes)) or x is None:
        return False
    shape = getattr(x, "shape", None)
    return (len(shape) == 0) if shape is not None else isinstance(x, (int, float, np.number, np.bool_))


def _is_vector(x):
    """Whether ``x`` is one rank-1 array or Tensor (not a list of inputs)."""
    if isinstance(x, (list, tuple, dict, str, bytes)) or x is None:
        return False
    shape = getattr(x, "shape", None)
    return shape is not None and len(shape) == 1


class _Absent:
    """A class attribute that reads as missing (``hasattr`` is False) on a float64 layer: the
    fusion rules (models/fusion.py) probe the float32 kernels' entry points this way."""

    def __get__(self, obj, owner=None):
        raise AttributeError("not on a float64 layer (its float64 form computes with ops)")


_FLOAT64_VARIANTS: dict = {}


def _float64_layer(layer):
    """Make ``layer`` (its policy says float64) compute in float64, as Keras' float64 layers do.

    A built-in layer with a float64 form (FLOAT64_FORMS, layers/_float64.py: the layer's
    computation written with corenn.ops, whose float64 forms compute in float64 NumPy) becomes an
    object of a subclass of its class (same name and module; ``_float64_of`` names the class) in
    which that form is its ``call``, run and differentiated as a layer written with call is
    (Layer.forward / backward: a private tape), so neither the fused kernels nor the fusion rules
    see it. A layer written with call (a user's) computes with the ops it calls on its float64
    weights and inputs. A built-in layer without a float64 form raises, naming it."""
    cls = type(layer)
    if getattr(cls, "_float64_of", None) is not None or isinstance(layer, InputLayer) or \
            getattr(cls, "_float64_exempt", False):
        # an InputLayer computes nothing (its dtype is Input's); an exempt layer's outputs are
        # not float arithmetic (indices, counts, hashes: lookups, encodings), the same under float64
        return
    form = None
    for klass in cls.__mro__:   # the form of the nearest built-in class, unless a class below it computes
        form = FLOAT64_FORMS.get(klass)
        if form is not None or "forward" in klass.__dict__ or "call" in klass.__dict__:
            break
    if form is None:
        if cls.call is not Layer.call and cls.forward is Layer.forward:
            return   # written with call: its ops compute in float64 on float64 weights and inputs
        raise TypeError(f"{cls.__name__} '{layer.name}': dtype 'float64' is not supported by this layer (it "
                        f"computes with float32 kernels only); the layers with a float64 form: "
                        f"{', '.join(sorted(k.__name__ for k in FLOAT64_FORMS))}, and layers written with call")
    variant = _FLOAT64_VARIANTS.get(cls)
    if variant is None:
        variant = _FLOAT64_VARIANTS[cls] = type(cls.__name__, (cls,), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
            "_float64_of": cls, "call": form, "forward": _float64_forward, "backward": _float64_backward,
            "output_dtype": "float64",   # (a functional graph's KerasTensor dtype)
            # the fusion rules' probes of the float32 kernels: absent, and never fused
            "backward_from_preactivation": _Absent(), "can_fuse_max_pool": _Absent(),
            "_fused": property(lambda self: False, lambda self, value: None)})
    layer.__class__ = variant


def _float64_forward(self, x, training=False):
    return Layer.forward(self, x, training=training)


def _float64_backward(self, dy):
    return Layer.backward(self, dy)


# A float64 form takes the caller's layout and honours data_format itself (with ops that take
# it): marked as wrapped, ChannelsFirst does not move a channels-first layer's data around it
# (its transposes are float32 kernels into float32 buffers)
_float64_forward._channels_first_wrapped = _float64_backward._channels_first_wrapped = True


# class -> its float64 form, ``form(layer, inputs, training=None)`` (filled by layers/_float64.py)
FLOAT64_FORMS: dict = {}


def _float_input(x, layer):
    """An input array as the float the layer computes in (float32; float64 for a float64 layer). Complex data is refused: the cast
    would drop the imaginary part without a word (NumPy only warns); data that is not numbers
    (strings) is refused naming the layer rather than with NumPy's bare message."""
    a = np.asarray(x)
    who = f"{type(layer).__name__} '{layer.name}'"
    if a.dtype == object and any(v is None for v in a.flat):   # the float cast makes None a NaN
        raise TypeError(f"{who}: expected a tensor or array as input, got None"
                        f"{'' if a.ndim == 0 else f' inside an array of shape {a.shape}'}")
    if a.dtype.kind == "c":
        raise TypeError(f"{who}: complex input (dtype {a.dtype}) is not supported; layers compute in float32 and "
                        f"would drop the imaginary part (pass the real part, or real and imaginary as channels)")
    try:
        return np.ascontiguousarray(a, dtype=np.float64 if layer.compute_dtype == "float64" else np.float32)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{who}: expected numeric input, got dtype {a.dtype}: {exc}") from None


def _as_mask(m, name):
    """A mask as the kernels read it: float32, 1 = a real step."""
    if m is None or isinstance(m, kernels.Tensor) and m.dtype == "float32":
        return m
    return kernels.as_tensor(np.ascontiguousarray(np.asarray(m), dtype=np.float32), name, "mask")


def _carried_mask(inputs):
    if isinstance(inputs, (list, tuple)):
        masks = [_carried_mask(x) for x in inputs]
        return masks if any(m is not None for m in masks) else None
    d = getattr(inputs, "__dict__", None) if isinstance(inputs, kernels.Tensor) else None
    return d.get("_keras_mask") if d else None


def user_mask_maker(layer):
    """A Keras layer written with call whose own compute_mask makes masks (not corenn's)."""
    cls = type(layer)
    return cls.call is not Layer.call and cls.compute_mask is not Layer.compute_mask \
        and not cls.compute_mask.__module__.startswith("corenn.")


@functools.lru_cache(maxsize=None)
def _hidden_attribute(name):
    def get(self):
        raise AttributeError(f"{type(self).__name__}.{name}: its call replaces the built-in computation")
    return property(get)


_BUILTIN_PARTS = ("forward", "backward", "can_fuse_max_pool", "backward_from_preactivation", "logits")
_BUILTIN_RUNNERS: dict = {}


def _call_replaces_builtin(cls):
    """A subclass of a built-in layer (Dense, Conv2D, ...) that writes its own ``call`` computes
    what that call says, as in Keras: it runs through Layer.forward / backward (the private tape),
    and the built-in's fused paths (relu' folded into pooling, conv + relu + pool, softmax + loss
    from the logits) no longer see it. ``super().call(x)`` in it runs the built-in computation
    (Layer.call, through _builtin_runner)."""
    cls._builtin_parts = {name: getattr(cls, name) for name in _BUILTIN_PARTS if hasattr(cls, name)}
    cls.forward = Layer.forward
    cls.backward = Layer.backward
    for name in _BUILTIN_PARTS[2:]:
        if hasattr(cls, name):
            setattr(cls, name, _hidden_attribute(name))


def _builtin_runner(cls):
    """A subclass of ``cls`` with the built-in forward / backward (and fusion parts) back: the
    class of the call context that runs ``super().call`` of a built-in layer's subclass."""
    runner = _BUILTIN_RUNNERS.get(cls)
    if runner is None:
        runner = _BUILTIN_RUNNERS[cls] = type(f"{cls.__name__}BuiltinCall", (cls,), dict(cls._builtin_parts))
    return runner


_CALL_PARAMS: dict = {}


def _call_params(fn):
    """The parameter names of a ``call`` (None: it takes ``**kwargs``, or has no signature);
    cached per function (read on every call of a layer written with ``call``)."""
    try:
        return _CALL_PARAMS[fn]
    except (KeyError, TypeError):
        pass
    found = _signature_params(fn)
    try:
        _CALL_PARAMS[fn] = found
    except TypeError:
        pass
    return found


def _signature_params(fn):
    import inspect
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return frozenset(params)


def _carry_call_masks(xs, masks):
    """The masks a graph hands a call-written layer (``_call_mask``), attached to its input
    Tensors for the call, as Keras' tensors carry them, so that its inner layers read them.
    Returns (tensor, previous mask) pairs to restore afterwards."""
    if masks is None:
        return ()
    masks = masks if isinstance(masks, list) else [masks]
    carried = []
    for t, m in zip(xs, masks):
        if m is not None:
            carried.append((t, getattr(t, "_keras_mask", None)))
            t._keras_mask = user_mask(m)
    return carried


def _with_mask_of(source, t):
    mask = getattr(source, "_keras_mask", None)
    if mask is not None:
        t._keras_mask = mask
    return t


# a call context's own bookkeeping, never the user's state
_CONTEXT_STATE = frozenset({"needs_input_grad", "relu_grad_by_next", "masks_relu_input"})


def _keep_weight_grad_parts(ctx, weights, grads):
    """The weight gradients of this call, as the fresh Tensors the call's tape made, for the
    outer tape (autodiff). The gradient buffers a layer written with ``call`` writes are its
    sublayers' own, shared by every call of it: a layer called twice on one tape (an attention
    block run on the fast stream, then on the slow one) overwrote the first call's gradients
    with the second's before the outer tape summed them."""
    ctx.__dict__["_weight_grad_parts"] = [
        (w, kernels.zeros(tuple(w.shape)) if g is None else g) for w, g in zip(weights, grads)]


def _publish_call_attributes(ctx, owner, before):
    """What a ``call`` assigned to ``self`` (the Transformer tutorial's ``self.last_attn_scores =
    scores``) landed on its call context; Keras has no contexts, so the layer itself must show
    it after the call. Public attributes the call set or replaced are copied to the layer (the
    context's private per-call state stays with the call)."""
    d = owner.__dict__
    for name, value in ctx.__dict__.items():
        if name[0] != "_" and name not in _CONTEXT_STATE and before.get(name, _CONTEXT_STATE) is not value:
            d[name] = value


@functools.lru_cache(maxsize=None)
def _call_positional_names(fn):
    """The names of ``call``'s positional-or-keyword parameters after self, without training
    and mask (the ones a keyword tensor may fill)."""
    import inspect
    try:
        params = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name not in ("training", "mask")]


def _tensor_like(value):
    """A Tensor, KerasTensor or array, or a list / tuple of them (several tensors)."""
    from ..kernels import Tensor
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_tensor_like(v) for v in value)
    return isinstance(value, (Tensor, np.ndarray)) or type(value).__name__ == "KerasTensor"


@functools.lru_cache(maxsize=None)
def _call_takes_positional(fn):
    """How many tensors ``call`` may take positionally (after self); a large number for *args."""
    import inspect
    try:
        params = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):
        return 1 << 20
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 1 << 20
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("training", "mask")
               for p in params)



def _not_implemented(layer, method):
    """Keras 3's error for a quantization hook a layer does not implement."""
    return NotImplementedError(f"Layer {type(layer).__name__} does not have a `{method}` method implemented.")


def _checked_quantize(quantize):
    """A layer class's own ``quantize`` behind Keras 3's checks (its ``quantize_wrapper``): the
    mode is valid, the layer built and not yet quantized (``_is_quantized``); a string config
    names the mode, and a missing config is the mode's default config object."""
    @functools.wraps(quantize)
    def checked(self, mode=None, config=None, **kwargs):
        from .quantization import check_user_quantize_args
        mode, config = check_user_quantize_args(self, mode, config)
        return quantize(self, mode=mode, config=config, **kwargs)
    checked._checks_args = True
    return checked


Layer.quantize = _checked_quantize(Layer.quantize)   # (Keras checks the arguments of every layer's)
