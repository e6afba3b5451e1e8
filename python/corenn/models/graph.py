"""The graph of layer calls: symbolic tensors, nodes, and the executor that runs them.

Building (the functional API):
    x = Input(shape=(28, 28, 1))        a KerasTensor: shape (None, 28, 28, 1), made by an InputLayer
    y = Dense(10)(x)                    calling a layer on KerasTensors records a Node
                                        (layer, input KerasTensors, output KerasTensors) and
                                        returns new KerasTensors; nothing is computed
    Model(x, y)                         walks back from the outputs to the inputs (Graph)

Running (Graph.forward / Graph.backward):
    Every node is one *call* of a layer and owns a call context (``Layer._call_context``): the
    object whose attributes hold that call's saved inputs, outputs, masks and reused buffers.
    The first call of a layer in a graph uses the layer itself as its context (so a chain pays
    nothing); every further call of the same layer (a shared layer, a siamese tower) gets a
    context of its own, with its own weight-gradient Tensors.
    forward   nodes in topological order; values live in a list of slots (one per KerasTensor)
    backward  nodes in reverse order; a slot that feeds several consumers receives the *sum* of
              their input gradients (in a buffer the graph owns); a weight used by several calls
              receives the sum of their weight gradients (``finish_weight_grads``)
A node whose outputs received no gradient is skipped; a trainable layer none of whose calls ran
backward gets zero gradients, never stale ones.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..layers.base import (_LOSS_SINK, TRAINABLE_VERSION, InputLayer, Layer, shape_str, trained, unique_name,
                           user_mask, user_mask_maker)
from .fusion import _SERIAL as _fusion_serial
from .fusion import weights_context

__all__ = ["KerasTensor", "Node", "Graph", "Input", "is_symbolic"]


class KerasTensor:
    """A symbolic tensor: the shape (batch axis None) and dtype of a value in a graph being
    built, and the node (layer call) that produces it."""

    __slots__ = ("shape", "dtype", "name", "node", "index", "_keras_mask", "__weakref__")

    def __init__(self, shape, dtype="float32", name=None, node=None, index=0):
        self.shape = kernels.TensorShape(shape)   # a tuple with TensorFlow's as_list(), as Tensor.shape
        # a str with TensorFlow's .name (``outputs.dtype.name``), as Tensor.dtype
        self.dtype = kernels.DTypeName("string" if str(dtype) == "string" else str(np.dtype(str(dtype))))
        self.name = name
        self.node, self.index = node, index
        self._keras_mask = None   # the KerasTensor of its Keras mask (N, T), see attach_masks

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={shape_str(self.shape)}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError("a KerasTensor is symbolic: it has no length until the model runs on data")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is symbolic (made by keras.Input / a layer call on one); it has no "
                        "values. Build a Model(inputs, outputs) and call model.predict(x) or model(x)")

    # Python operators record nodes, as Keras does for KerasTensors: + - * of two KerasTensors
    # of one shape are the merge layers (fused kernels); anything else (a constant operand,
    # broadcasting, / ** @, comparisons, indexing) is the op's node (layers/op_layer.py).
    def __add__(self, other):
        return _operator("add", self, other)

    def __radd__(self, other):
        return _operator("add", other, self)

    def __sub__(self, other):
        return _operator("subtract", self, other)

    def __rsub__(self, other):
        return _operator("subtract", other, self)

    def __mul__(self, other):
        return _operator("multiply", self, other)

    def __rmul__(self, other):
        return _operator("multiply", other, self)

    def __truediv__(self, other):
        return _operator("divide", self, other)

    def __rtruediv__(self, other):
        return _operator("divide", other, self)

    def __pow__(self, other):
        return _operator("power", self, other)

    def __rpow__(self, other):
        return _operator("power", other, self)

    def __matmul__(self, other):
        return _operator("matmul", self, other)

    def __rmatmul__(self, other):
        return _operator("matmul", other, self)

    def __lt__(self, other):
        return _operator("less", self, other)

    def __le__(self, other):
        return _operator("less_equal", self, other)

    def __gt__(self, other):
        return _operator("greater", self, other)

    def __ge__(self, other):
        return _operator("greater_equal", self, other)

    def __neg__(self):
        return _operator("negative", self)

    def __abs__(self):
        return _operator("abs", self)

    def __getitem__(self, key):
        from ..layers.op_layer import symbolic_op
        return symbolic_op("tensor.getitem", self, key)

    __hash__ = object.__hash__   # (comparisons are ops; identity stays the hash)


_MERGE_LAYERS = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply"}


def _operator(op, *operands):
    from ..layers.op_layer import symbolic_op
    if (op in _MERGE_LAYERS and all(isinstance(t, KerasTensor) for t in operands)
            and operands[0].shape == operands[1].shape):
        from .. import layers
        return getattr(layers, _MERGE_LAYERS[op])()(list(operands))
    return symbolic_op(f"ops.{op}", *operands)


def is_symbolic(inputs) -> bool:
    """Whether a layer call's inputs are KerasTensors (then the call records a node)."""
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple)):
        return any(isinstance(t, KerasTensor) for t in inputs)
    if isinstance(inputs, dict):   # a model of named inputs called on a dict of KerasTensors
        return any(isinstance(t, KerasTensor) for t in inputs.values())
    return False


class Node:
    """One call of ``layer`` on ``inputs`` (KerasTensors) giving ``outputs``.

    ``packed``: the layer was called with a list (a merge layer takes a list even of one).
    """

    __slots__ = ("layer", "inputs", "outputs", "packed", "multi_out", "group", "mask_inputs",
                 "mask_output", "mask_outputs", "training", "call_kwargs")

    def __init__(self, layer, inputs, outputs, packed, multi_out=False, training=None):
        self.layer, self.inputs, self.outputs, self.packed = layer, inputs, outputs, packed
        # fixed by the call (``layer(x, training=False)``, or a model called so: transfer
        # learning's frozen base keeps BatchNormalization in inference mode); None: the run's
        self.training = training if training is not None else (FIXED_TRAINING[-1] if FIXED_TRAINING else None)
        # options a Keras layer's call was given (``layer(x, weight=0.5)``), passed on every run
        self.call_kwargs = dict(layer.__dict__.get("_call_kwargs") or {}) or None
        self.multi_out = multi_out  # the layer returns a list (an RNN with return_state)
        # Keras masks (attach_masks): per input its mask KerasTensor or None (a layer that reads
        # masks), and the mask this call makes (Embedding(mask_zero), Masking)
        self.mask_inputs, self.mask_output = None, None
        # a layer whose compute_mask returns one mask per output: per output its mask
        # KerasTensor or None (mask_output is then the first of them)
        self.mask_outputs = None
        self.group = GROUPS[0] if GROUPS else None   # the outermost model call that made it


# A model called on KerasTensors inside another model runs as its layers' calls, inlined into the
# outer graph (one executor, shared weights); each node it makes remembers that call (a ModelCall),
# so the outer model shows, configures and finds the inner model as one layer, as Keras does.
GROUPS: list = []
# the training flag of the model calls being recorded (Model._call_symbolic), innermost last
FIXED_TRAINING: list = []


class ModelCall:
    """One call of a model inside another model's graph: the model and its outer inputs/outputs."""

    __slots__ = ("model", "inputs", "outputs", "packed", "training")

    def __init__(self, model, inputs, packed, training=None):
        self.model, self.inputs, self.outputs, self.packed = model, list(inputs), [], packed
        self.training = training   # model(x, training=False): saved in the node's kwargs

    def __repr__(self):
        return f"<Node {self.layer.name}: {len(self.inputs)} in, {len(self.outputs)} out>"


def symbolic_call(layer: Layer, inputs, mask=None, training=None):
    """``layer(inputs)`` on KerasTensors: build the layer for their shapes, record the node,
    return the output KerasTensor(s)."""
    packed = isinstance(inputs, (list, tuple))
    flat = list(inputs) if packed else [inputs]
    for t in flat:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"layer '{layer.name}' ({type(layer).__name__}): inputs must all be symbolic "
                            f"(keras.Input or a layer's output) when one is, got a {type(t).__name__}")
    shapes = [t.shape for t in flat]
    shape_arg = shapes if packed else shapes[0]
    # a call that reads masks is probed with all-ones masks only when this call has masks (a
    # layer whose call takes mask=None and branches on it sees None, as Keras gives it)
    layer.__dict__["_probe_has_mask"] = mask is not None or any(t._keras_mask is not None for t in flat)
    if training is not None:   # the flag the shape probe runs call with (else call's default)
        layer.__dict__["_probe_training_given"] = bool(training)
    if any(str(t.dtype) == "string" for t in flat):   # probed with strings (a layer written on them)
        layer.__dict__["_probe_dtypes"] = [t.dtype for t in flat]
    refused = False   # a built layer's input check failed: a real mismatch, reported as it is
    try:
        if not layer.built:
            layer._maybe_build(shape_arg)
        elif not packed:
            try:
                layer.check_input_shape(shape_arg)
            except ValueError:
                refused = True
                raise
        out = layer.compute_output_shape(shape_arg)
    except ValueError as exc:
        # a call whose inputs' unknown axes are tied to each other (RetinaNet's DecodePredictions
        # makes anchors from the image's size that must match the predictions' count): probe it
        # with inputs computed from the model's inputs, as Keras' symbolic trace keeps them tied
        written = type(layer).call is not Layer.call
        out = _probe_from_upstream(layer, flat, packed) if written and not refused else None
        if out is not None and not layer.built:   # its build ran; only the shape probe failed
            layer.input_shape, layer.built = shape_arg, True
        if out is None:
            got = ", ".join(shape_str(s) for s in shapes)
            msg = str(exc)
            if layer.name not in msg:
                msg = f"layer '{layer.name}' ({type(layer).__name__}) cannot take input {got}: {msg}"
            raise ValueError(msg) from None
    finally:
        layer.__dict__.pop("_probe_has_mask", None)
        layer.__dict__.pop("_probe_dtypes", None)
        layer.__dict__.pop("_probe_training_given", None)
    multi = isinstance(out, list)
    out_shapes = out if multi else [out]
    dtype = getattr(layer, "output_dtype", "float32")
    # an op layer knows each output's dtype (ops.top_k: float32 values, int32 indices)
    dtypes = layer.__dict__.get("_output_dtypes")
    if not dtypes or len(dtypes) != len(out_shapes):
        dtypes = [dtype] * len(out_shapes)
    node = Node(layer, flat, [], packed, multi, None if training is None else bool(training))
    layer.__dict__.setdefault("_inbound_nodes", []).append(node)
    node.outputs = [KerasTensor(s, dtypes[i], name=layer.name if len(out_shapes) == 1 else f"{layer.name}_{i}",
                                node=node, index=i) for i, s in enumerate(out_shapes)]
    attach_masks(node, mask)
    if not multi:
        return node.outputs[0]
    named = layer.__dict__.get("_probe_namedtuple")
    return named(*node.outputs) if named is not None and len(named._fields) == len(node.outputs) else node.outputs


# sizes given to the unknown axes of the keras.Inputs when a call is probed through the graph
# before it: multiples of 128 (RetinaNet's largest stride), so strided feature maps line up
_UPSTREAM_PROBE_SIZES = (128, 256)


def _probe_from_upstream(layer, flat, packed):
    """The output shape(s) of ``layer`` on the KerasTensors ``flat``, found by running the graph
    from their keras.Inputs (unknown axes at two sizes) and the layer on what that gives: output
    axes that differ between the two runs are unknown. None when that cannot be done (inputs
    that are not float / int tensors of known rank, a graph that does not run)."""
    sources, seen, stack = [], set(), list(flat)
    while stack:
        t = stack.pop()
        node = t.node
        if node is None or id(t) in seen:
            continue
        seen.add(id(t))
        if isinstance(node.layer, InputLayer):
            sources.append(t)
            continue
        stack.extend(node.inputs)
    if not sources or any(str(t.dtype) not in ("float32", "int32", "int64") for t in sources):
        return None
    sources.sort(key=lambda t: t.node.layer.name)
    runs = []
    try:
        for size in _UPSTREAM_PROBE_SIZES:
            xs = [kernels.as_tensor(np.zeros((1,) + tuple(size if d is None else d for d in t.shape[1:]),
                                             np.float32 if str(t.dtype) == "float32" else np.int32))
                  for t in sources]
            values = Graph(sources, list(flat), where=layer.name).forward(xs, training=False)
            runs.append(layer._probe_call([tuple(v.shape) for v in values], packed, 1,
                                          exact=[tuple(v.shape) for v in values]))
    except (ValueError, IndexError, TypeError, NotImplementedError):
        return None
    first = runs[0]
    for second in runs[1:]:
        first = [tuple(a if a == b else None for a, b in zip(s1, s2)) if len(s1) == len(s2) else s1
                 for s1, s2 in zip(first, second)]
    batch = flat[0].shape[0]
    outs = [(batch,) + tuple(sh) for sh in first]
    return outs if layer.__dict__.get("_probe_multi") else outs[0]


# -- Keras masks ------------------------------------------------------------------------------
# A mask is a value of the graph like any other: a float32 (N, T) Tensor (1 = real step) in a slot
# of its own, made by the node of a layer that produces one (Embedding(mask_zero=True), Masking:
# ``produces_mask``) as an extra output, read by the nodes of layers that consume one (RNNs,
# GlobalAveragePooling1D, MultiHeadAttention: ``consumes_mask``) as extra inputs. Which mask a
# KerasTensor carries is decided when the graph is built (``_keras_mask``): a layer with
# ``supports_masking`` passes its input's on (``compute_mask``), any other layer drops it. The
# executor runs such a node through a _MaskedCall, which hands the layer its masks in
# ``_call_mask`` and returns the mask it made; the layer's forward/backward are unchanged.

def attach_masks(node, explicit=None):
    """Decide the masks of ``node``'s outputs and which masks it reads (see above)."""
    layer, flat = node.layer, node.inputs
    if explicit is not None:
        masks = list(explicit) if isinstance(explicit, (list, tuple)) else [explicit]
        masks += [None] * (len(flat) - len(masks))
    else:
        masks = [t._keras_mask for t in flat]
    if any(m is not None for m in masks) and getattr(layer, "consumes_mask", False):
        node.mask_inputs = masks
    if user_mask_maker(layer):   # a Keras layer with its own compute_mask: run it in the graph
        probe = _user_mask_probe(node, masks)
        if probe is None:
            return
        if any(m is not None for m in masks):
            node.mask_inputs = masks   # its compute_mask reads them
        if isinstance(probe, (list, tuple)):
            _attach_output_masks(node, probe)
            return
    passes_inner_mask = False
    if _call_written_without_masking(layer) and any(m is not None for m in masks):
        # Keras runs such a layer's call on the masked tensors: its inner layers read the masks,
        # and the mask they leave on the call's output is the output's (the Transformer
        # tutorial's attention blocks). The graph hands it the masks (_call_mask, attached to
        # the inputs for its call) and keeps the output's mask when a probe shows one.
        node.mask_inputs = masks
        passes_inner_mask = _inner_mask_probe(node, masks)
    if user_mask_maker(layer) or getattr(layer, "produces_mask", False) or passes_inner_mask:
        t = node.outputs[0]
        # (N, T) for a sequence; (N,) for a per-sample output (Masking of (N, F), as Keras 3)
        m = KerasTensor(t.shape[:2] if len(t.shape) >= 3 else t.shape[:1], "bool", name=f"{layer.name}_mask",
                        node=node, index=len(node.outputs))
        node.mask_output = t._keras_mask = m
        return
    if not any(m is not None for m in masks):
        return
    graph_mask = getattr(layer, "_graph_mask", None)
    if graph_mask is not None and node.packed:   # a merge (layers/merging.py: its mask rule)
        from ..layers.merging import MERGED
        out = graph_mask(flat, masks)
        if out is MERGED:   # a new mask, made from the inputs' at run time
            node.mask_inputs = masks
            t = node.outputs[0]
            node.mask_output = t._keras_mask = KerasTensor(t.shape[:2], "bool", name=f"{layer.name}_mask",
                                                           node=node, index=len(node.outputs))
        elif out is not None:
            for t in node.outputs:
                t._keras_mask = out
        return
    out = layer.compute_mask(flat if node.packed else flat[0], masks if node.packed else masks[0])
    if out is not None:
        for t in node.outputs:
            if len(t.shape) >= 3 and t.shape[:2] == out.shape[:2]:  # sequences, not states
                t._keras_mask = out
            elif len(out.shape) == 1 and len(t.shape) == 2:   # a per-sample mask (N,): (N, C) outputs
                t._keras_mask = out


def _attach_output_masks(node, probe):
    """A compute_mask that returned a list: one mask per output (Keras), each a value of the
    graph of its own, given to the output it belongs to (None entries: that output has none)."""
    if len(probe) != len(node.outputs):
        layer = node.layer
        raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}): compute_mask returned {len(probe)} "
                         f"masks for {len(node.outputs)} output(s); return one per output (or None)")
    made = []
    for t, m in zip(node.outputs, probe):
        if m is None or len(t.shape) < 2:
            made.append(None)
            continue
        kt = KerasTensor(t.shape[:2], "bool", name=f"{t.name}_mask", node=node,
                         index=len(node.outputs) + sum(x is not None for x in made))
        t._keras_mask = kt
        made.append(kt)
    if any(m is not None for m in made):
        node.mask_outputs = made
        node.mask_output = next(m for m in made if m is not None)


def mask_outputs(node):
    """The mask KerasTensors ``node`` makes, in the order of its extra step outputs."""
    if node.mask_outputs is not None:
        return [m for m in node.mask_outputs if m is not None]
    return [] if node.mask_output is None else [node.mask_output]


def _call_written_without_masking(layer):
    """A layer written with call that neither makes masks itself nor passes its input's on."""
    return type(layer).call is not Layer.call and not user_mask_maker(layer) \
        and not getattr(layer, "supports_masking", False)


def _inner_mask_probe(node, masks):
    """Whether the layer's call, run on a batch of one with its input masks attached, returns an
    output that carries a Keras mask (of a sequence output, (N, T))."""
    from ..autodiff import stop_recording
    layer = node.layer
    if node.multi_out or len(node.outputs[0].shape) < 2:
        return False
    xs = [_probe_zeros(t) for t in node.inputs]
    for x, m in zip(xs, masks):
        if m is not None:
            x._keras_mask = user_mask(np.ones((1,) + tuple(1 if d is None else d for d in m.shape[1:]), bool))
    try:
        with stop_recording():
            y = layer._invoke_call(xs if node.packed else xs[0], False)
    except Exception:   # (a call that cannot run on a batch of zeros: no inner mask then)
        return False
    m = getattr(y, "_keras_mask", None) if isinstance(y, kernels.Tensor) else None
    return m is not None and tuple(np.shape(m)) == tuple(y.shape[:2])


def _probe_zeros(t):
    dtype = t.dtype if str(t.dtype) in ("int32", "int64", "uint8", "int8", "uint16", "int16", "uint32",
                                        "uint64") else "float32"
    return kernels.Tensor.from_numpy(np.zeros((1,) + tuple(1 if d is None else d for d in t.shape[1:]), dtype))


def _user_mask_probe(node, masks):
    """What a user layer's compute_mask returns for a batch of one like the node's inputs (None:
    it makes no mask here; a list: one mask per output)."""
    from ..autodiff import stop_recording
    layer = node.layer

    xs = [_probe_zeros(t) for t in node.inputs]
    ms = [None if m is None else user_mask(np.ones((1,) + tuple(
        1 if d is None else d for d in m.shape[1:]), bool)) for m in masks]
    with stop_recording():
        out = layer.compute_mask(xs if node.packed else xs[0], ms if node.packed else ms[0])
    if isinstance(out, (list, tuple)) and all(m is None for m in out):
        return None
    return out


class _MaskedCall:
    """The call context of a node with masks, as the executor sees it: inputs are the node's
    data inputs then its masks, outputs (with a mask made) the layer's then that mask. Everything
    else (weights, gradients, flags the graph sets) is the wrapped context's."""

    __slots__ = ("inner", "n_data", "mask_pos", "packed_data", "makes_mask", "multi_data", "n_masks",
                 "mask_out_pos")

    def __init__(self, inner, node):
        set_ = object.__setattr__
        set_(self, "inner", inner)
        set_(self, "n_data", len(node.inputs))
        set_(self, "mask_pos", [i for i, m in enumerate(node.mask_inputs or []) if m is not None])
        set_(self, "packed_data", node.packed)
        set_(self, "makes_mask", node.mask_output is not None)
        set_(self, "multi_data", node.multi_out)
        set_(self, "n_masks", len(mask_outputs(node)))
        # one mask per output (a list from compute_mask): which of them the graph keeps
        set_(self, "mask_out_pos", None if node.mask_outputs is None else
             [j for j, m in enumerate(node.mask_outputs) if m is not None])

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "inner"), name)

    def __setattr__(self, name, value):
        setattr(self.inner, name, value)

    def forward(self, args, training=False):
        inner, n = self.inner, self.n_data
        data = args[:n]
        if self.mask_pos:
            masks = [None] * n
            for p, m in zip(self.mask_pos, args[n:]):
                masks[p] = m
            inner.__dict__["_call_mask"] = masks if self.packed_data else masks[0]
        y = inner.forward(data if self.packed_data else data[0], training=training)
        if not self.makes_mask:
            inner.__dict__.pop("_call_mask", None)  # never seen by a later call without masks
            return y
        if self.mask_out_pos is not None:
            made = inner.output_mask_value()
            masks = [made[j] for j in self.mask_out_pos]
        else:
            masks = [inner.output_mask_value()]   # a merge reads the _call_mask it was given
        inner.__dict__.pop("_call_mask", None)
        return (list(y) if self.multi_data else [y]) + masks

    def backward(self, dy):
        if self.makes_mask:
            dy = dy[:-self.n_masks] if self.multi_data else dy[0]
        dx = self.inner.backward(dy)
        if dx is None or not self.mask_pos:
            return dx
        return (list(dx) if self.packed_data else [dx]) + [None] * len(self.mask_pos)


# -- added losses ------------------------------------------------------------------------------
# A layer's add_loss during Graph.forward is collected with the context that made it
# (``graph.added_losses``: (maker, loss Tensor) in call order). Graph.backward(loss_seeds=...)
# hands each maker the weight of its losses in the total loss (``_loss_seeds``) and makes sure
# its node runs backward (zeros for an output nobody else differentiates): a layer written with
# ``call`` differentiates its losses on its private tape (Layer.backward); an activity
# regularizer's gradient joins dy in the _ActivityRegularized wrapper below.

class _ActivityRegularized:
    """The call context of a node whose layer has an ``activity_regularizer``: forward adds
    regularizer(y) as a loss, backward adds seed * d regularizer / dy to dy. Everything else is
    the wrapped context's; fusion rules do not see through it (its output must exist)."""

    __slots__ = ("inner", "_loss_seeds", "_y", "_dy")
    _HIDDEN = ("can_fuse_max_pool", "backward_from_preactivation")

    def __init__(self, inner):
        set_ = object.__setattr__
        set_(self, "inner", inner)
        set_(self, "_loss_seeds", None)
        set_(self, "_y", None)
        set_(self, "_dy", None)

    def __getattr__(self, name):
        if name in _ActivityRegularized._HIDDEN:
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "inner"), name)

    def __setattr__(self, name, value):
        if name in _ActivityRegularized.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)

    def forward(self, x, training=False):
        y = self.inner.forward(x, training=training)
        self._y = y
        reg = self.inner.activity_regularizer
        # Keras 3 regularizes every output of the call (an RNN's return_state: y, h, c too),
        # each penalty divided by that output's batch size
        total = sum(float(reg.penalty(t)) / _batch_of(t) for t in (y if isinstance(y, list) else [y]))
        penalty = kernels.Tensor.from_numpy(np.asarray(total, np.float32))
        self.inner.add_loss(penalty)
        sink = getattr(_LOSS_SINK, "entries", None)
        if sink:   # the wrapper, not the layer, backpropagates it
            sink[-1] = (self, sink[-1][1])
        return y

    def backward(self, dy):
        seeds, self._loss_seeds = self._loss_seeds, None
        if seeds:
            multi = isinstance(self._y, list)
            ys, dys = (self._y, dy) if multi else ([self._y], [dy])
            kept = self._dy if isinstance(self._dy, list) and len(self._dy) == len(ys) else [None] * len(ys)
            out = []
            for y, d, g in zip(ys, dys, kept):
                out.append(self._with_penalty_grad(y, d, g, seeds[0]))
            self._dy = out
            dy = out if multi else out[0]
        return self.inner.backward(dy)

    def _with_penalty_grad(self, y, dy, g, seed):
        """dy + seed * d regularizer(y) / dy, in a buffer of this wrapper."""
        reg = self.inner.activity_regularizer
        dt = str(y.dtype) if str(y.dtype) == "float64" else "float32"   # a float64 layer's dy is float64
        if g is None or tuple(g.shape) != tuple(y.shape) or str(g.dtype) != dt:
            g = kernels.empty(tuple(y.shape), dt)
        np.copyto(np.asarray(g), np.asarray(dy))   # never into dy: it may be another layer's buffer
        scale = seed / _batch_of(y)
        if scale == 1.0:
            reg.penalty(y, g)
        else:
            extra = kernels.zeros(tuple(y.shape), dt)
            reg.penalty(y, extra)
            np.asarray(g)[...] += (np.float64 if dt == "float64" else np.float32)(scale) * np.asarray(extra)
        return g


def _batch_of(t):
    """The batch size an activity penalty is divided by (Keras 3: the output's first axis; a
    scalar output is not divided)."""
    shape = tuple(t.shape)
    return float(shape[0]) if shape and shape[0] else 1.0


class _FixedTraining:
    """The call context of a node whose call fixed its training flag (``training=False`` on a
    frozen base model: forward always runs with that flag) or gave a Keras layer options
    (``call_kwargs``, handed to that forward only). Fusion rules do not see through it."""

    __slots__ = ("inner", "training", "call_kwargs")
    _HIDDEN = ("can_fuse_max_pool", "backward_from_preactivation")

    def __init__(self, inner, training, call_kwargs=None):
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "training", training)
        object.__setattr__(self, "call_kwargs", call_kwargs)

    def __getattr__(self, name):
        if name in _FixedTraining._HIDDEN:
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "inner"), name)

    def __setattr__(self, name, value):
        setattr(self.inner, name, value)

    def forward(self, x, training=False):
        if self.training is not None:
            training = self.training
        if not self.call_kwargs:
            return self.inner.forward(x, training=training)
        d = self.inner.__dict__
        d["_call_kwargs"] = self.call_kwargs
        try:
            return self.inner.forward(x, training=training)
        finally:
            d.pop("_call_kwargs", None)

    def backward(self, dy):
        return self.inner.backward(dy)


class _NarrowInputs(_FixedTraining):
    """The call context of a built-in float32 layer that a float64 tensor reaches (a float64
    Input, or a float64 layer's output): its float64 inputs are cast to float32 on the way in,
    as Keras casts a layer's inputs to its compute dtype; its input gradients go back float32
    (the float64 producer's rules take them)."""

    __slots__ = ()

    def __init__(self, inner):
        super().__init__(inner, None)

    def forward(self, x, training=False):
        narrow = lambda t: kernels.Tensor.from_numpy(np.asarray(t, np.float32)) \
            if isinstance(t, kernels.Tensor) and t.dtype == "float64" else t   # noqa: E731
        return self.inner.forward([narrow(t) for t in x] if isinstance(x, list) else narrow(x), training=training)


def _narrows_inputs(layer, node):
    """Whether a graph step must cast float64 inputs for its layer (see _NarrowInputs)."""
    from ..layers.base import Layer
    return (getattr(type(layer), "_float64_of", None) is None and type(layer).forward is not Layer.forward
            and any(str(getattr(t, "dtype", "")) == "float64" for t in node.inputs))


def _loss_makers(ctx):
    """The objects a step's context may record as loss makers (itself and what it wraps)."""
    out = [ctx]
    while type(ctx) in (_MaskedCall, _ActivityRegularized, _FixedTraining, _NarrowInputs):
        ctx = object.__getattribute__(ctx, "inner")
        out.append(ctx)
    return out


def Input(shape=None, batch_size=None, dtype=None, name=None, sparse=None, batch_shape=None,
          tensor=None, optional=False):
    """``keras.Input``: a symbolic input of one sample's ``shape`` (without the batch axis).

    ``dtype`` 'float32' (default) or an integer type (token ids for an Embedding).
    ``Sequential([Input(shape=(784,)), Dense(10)])`` also takes it as the declared input.
    """
    # sparse=True: the model takes tf.sparse.SparseTensor batches, densified as they enter
    # (corenn's kernels are dense; models/model.py _densify_sparse), so the flag needs nothing here
    if tensor is not None or optional:
        raise NotImplementedError("keras.Input: tensor= and optional= are not supported")
    if batch_shape is not None:
        shape, batch_size = tuple(batch_shape)[1:], tuple(batch_shape)[0]
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)
    return layer.output


# -- the executor -----------------------------------------------------------------------------

class _Parts(list):
    """The gradients one slot received, not yet summed: its producer sums them (fusion rule 5)."""

    __slots__ = ()

    def __add__(self, other):
        return _Parts(list.__add__(self, other))


class _Step:
    """One node as the executor runs it: its call context and the slots it reads and writes."""

    __slots__ = ("node", "ctx", "ins", "outs", "packed", "multi_out", "owner")

    def __init__(self, node, ctx, ins, outs, owner):
        self.node, self.ctx, self.ins, self.outs = node, ctx, ins, outs
        self.packed, self.multi_out, self.owner = node.packed, node.multi_out, owner


def topological_nodes(inputs, outputs, where):
    """The nodes between ``inputs`` and ``outputs`` (KerasTensors), each after its inputs'
    producers. Raises naming the tensor when an output depends on a source that is not one of
    ``inputs``."""
    input_ids = {id(t) for t in inputs}
    order, state = [], {}
    for out in outputs:
        if not isinstance(out, KerasTensor):
            raise TypeError(f"{where}: outputs must be KerasTensors (layer outputs), got {type(out).__name__}")
        stack = [(out, False)]
        while stack:
            t, done = stack.pop()
            node = t.node
            if id(t) in input_ids:
                continue
            if node is None or isinstance(node.layer, InputLayer):
                raise ValueError(f"{where}: output depends on {t!r}, which is not one of the model's "
                                 f"inputs; pass every keras.Input the outputs need in inputs=")
            key = id(node)
            if done:
                if state.get(key) != 2:
                    state[key] = 2
                    order.append(node)
                continue
            if state.get(key) == 2:
                continue
            if state.get(key) == 1:
                continue
            state[key] = 1
            stack.append((t, True))
            for src in reversed(node.inputs + [m for m in node.mask_inputs or () if m is not None]):
                if state.get(id(src.node)) != 2:
                    stack.append((src, False))
    return order


def replay_from(inputs, outputs, where):
    """Keras 3's ``Model(inputs=t, ...)`` where some ``t`` are not ``keras.Input`` tensors but
    layer outputs (FeatureSpace's encoded features): a new ``keras.Input`` of the same shape and
    dtype stands in for each, and the layer calls between them and ``outputs`` are made again on
    the new inputs (the same layer objects, so the weights are shared with the first graph).
    Returns the new (inputs, outputs)."""
    def is_input(t):
        return isinstance(t, KerasTensor) and t.node is not None and isinstance(t.node.layer, InputLayer)
    if all(is_input(t) for t in inputs):
        return inputs, outputs
    for t in inputs:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"{where}: inputs must be keras.Input(...) tensors or layer outputs, got "
                            f"{type(t).__name__}")
    nodes = topological_nodes(inputs, outputs, where)
    mapping = {}
    new_inputs = []
    for t in inputs:
        if is_input(t):
            new = t
        else:
            layer = t.node.layer
            new = Input(batch_shape=t.shape, dtype=t.dtype, name=unique_name(f"{layer.name}_input"))
        mapping[id(t)] = new
        new_inputs.append(new)
    for node in nodes:
        if node.group is not None or node.mask_output is not None or node.mask_inputs:
            raise NotImplementedError(
                f"{where}: a model whose inputs are layer outputs replays the layer calls after them; "
                f"'{node.layer.name}' is part of an inner model or carries a Keras mask, which that "
                "replay does not take. Start the model at keras.Input tensors instead")
        args = [mapping[id(t)] for t in node.inputs]
        kwargs = dict(node.call_kwargs or {})
        if node.training is not None:
            kwargs["training"] = node.training
        out = node.layer(args if node.packed else args[0], **kwargs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        for old, new in zip(node.outputs, outs):
            mapping[id(old)] = new
    return new_inputs, [mapping.get(id(t), t) for t in outputs]


class Graph:
    """Runs a graph of layer calls forward and backward (see the module docstring)."""

    # called with the run index k after node k's backward (corenn.distributed starts reducing the
    # weight gradients that node made final); None in a single process
    on_node_backward = None

    def __init__(self, inputs, outputs, where="model", own_contexts=False):
        self.inputs, self.outputs = list(inputs), list(outputs)
        for t in self.inputs:
            if not isinstance(t, KerasTensor) or t.node is None or not isinstance(t.node.layer, InputLayer):
                raise TypeError(f"{where}: every input must be a keras.Input(...), got "
                                f"{t!r}" + ("" if isinstance(t, KerasTensor) else f" ({type(t).__name__})"))
        self.nodes = topological_nodes(self.inputs, self.outputs, where)
        slot = {}
        for t in self.inputs:
            slot.setdefault(id(t), len(slot))
        for node in self.nodes:
            for t in node.outputs + mask_outputs(node):
                slot.setdefault(id(t), len(slot))
        self.n_slots = len(slot)
        self.input_slots = [slot[id(t)] for t in self.inputs]
        self.output_slots = [slot[id(t)] for t in self.outputs]
        # the slot of each output's Keras mask (None: unmasked), for the masked loss
        self.output_mask_slots = [slot.get(id(t._keras_mask)) if t._keras_mask is not None else None
                                  for t in self.outputs]
        uses = {}
        self.steps = []
        for node in self.nodes:
            layer = node.layer
            n = uses.get(id(layer), 0)
            uses[id(layer)] = n + 1
            # own_contexts: a second copy of a graph in use (a model called twice under one tape)
            ctx = layer if n == 0 and not own_contexts else layer._call_context()
            if node.training is not None or node.call_kwargs:
                ctx = _FixedTraining(ctx, node.training, node.call_kwargs)
            if _narrows_inputs(layer, node):
                ctx = _NarrowInputs(ctx)
            if layer.activity_regularizer is not None:
                ctx = _ActivityRegularized(ctx)
            ins, outs = [slot[id(t)] for t in node.inputs], [slot[id(t)] for t in node.outputs]
            masked = node.mask_output is not None or any(m is not None for m in node.mask_inputs or ())
            if masked:
                ctx = _MaskedCall(ctx, node)
                ins += [slot[id(m)] for m in node.mask_inputs or () if m is not None]
                outs += [slot[id(m)] for m in mask_outputs(node)]
            step = _Step(node, ctx, ins, outs, layer)
            if masked:
                step.packed, step.multi_out = True, node.mask_output is not None or node.multi_out
            self.steps.append(step)
        self.layers = []  # unique, in first-call order
        seen = set()
        for s in self.steps:
            if id(s.owner) not in seen:
                seen.add(id(s.owner))
                self.layers.append(s.owner)
        self.shared = [l for l in self.layers if uses[id(l)] > 1]
        # where each layer's summed weight gradients end up: the layer itself, or (a graph with
        # its own contexts) the context of its first call here
        self.accumulator = {}
        for s in self.steps:
            self.accumulator.setdefault(id(s.owner), s.ctx)
        # the accumulators whose Params a tape step may give new gradient Tensors
        # (autodiff._unhold_weight_grads)
        self.weight_accumulators = [a for a in self.accumulator.values()
                                    if isinstance(getattr(a, "_params", None), list)]
        self.own_contexts = own_contexts
        self.run = list(self.steps)   # what forward/backward execute: the steps, or fused ones (fusion.plan)
        self.parts_slots = frozenset()   # slots whose gradients stay unsummed for their producer (rule 5)
        self.relu_sum_finishers = {}     # run index -> (slot, producer): the slot's last reader (rule 5)
        self.trainable_layers = [l for l in self.layers if l.weights]
        consumers = [0] * self.n_slots
        for s in self.steps:
            for i in s.ins:
                consumers[i] += 1
        self.consumers = consumers
        self.producer = {o: k for k, s in enumerate(self.steps) for o in s.outs}
        self._sum_buffers = {}
        self.added_losses = []   # (maker, loss Tensor) of the last forward (see _ActivityRegularized)
        self._maker_step = {id(m): s for s in self.steps for m in _loss_makers(s.ctx)}
        # The first slot pass decides which contexts must compute dL/dx.
        self.run = list(self.steps)
        self.ran = [False] * len(self.run)
        self.mark_input_grads()

    # -- which inputs need a gradient -----------------------------------------------------------

    def mark_input_grads(self, watched_inputs=(), watched_outputs=()):
        """A context computes dL/dx only when something before it has trainable weights (or is a
        watched input): in the usual Flatten -> Dense start, the first Dense's dX GEMM is never
        needed."""
        needs = [False] * self.n_slots
        for i in watched_inputs:
            needs[self.input_slots[i]] = True
        for s in self.steps:
            upstream = any(needs[i] for i in s.ins)
            s.ctx.needs_input_grad = upstream
            s.ctx._planned_by = None   # a graph that planned this context must plan it again
            produces = upstream or bool(trained(s.owner)[0])   # (an inner layer trained in a frozen one)
            for o in s.outs:
                needs[o] = produces
            if watched_outputs:   # a model output another node reads, differentiated under a tape
                for k in watched_outputs:
                    if self.output_slots[k] in s.outs:
                        needs[self.output_slots[k]] = True
        self.slot_needs_grad = needs
        _fusion_serial[0] += 1

    # -- running --------------------------------------------------------------------------------

    def forward(self, xs, training=False, timings=None):
        """Outputs (list of Tensors) for inputs ``xs`` (list of Tensors, one per model input)."""
        values = [None] * self.n_slots
        for i, x in zip(self.input_slots, xs):
            values[i] = x
        if self.added_losses:   # a new call: forget the last one's losses
            for maker, _ in self.added_losses:
                maker._clear_losses()
        outer_sink, outer_call = _LOSS_SINK.entries, _LOSS_SINK.in_call
        added = _LOSS_SINK.entries = []
        _LOSS_SINK.in_call = None
        try:
            self._run_forward(values, training, timings)
        finally:
            _LOSS_SINK.entries, _LOSS_SINK.in_call = outer_sink, outer_call
        if outer_call is not None and added:   # run (under a tape) inside a layer's call
            outer_call.extend(v for _, v in added)
        self.added_losses = added
        self.values = values
        return [values[i] for i in self.output_slots]

    def _run_forward(self, values, training, timings):
        if timings is None:
            for s in self.run:
                arg = [values[i] for i in s.ins] if s.packed else values[s.ins[0]]
                y = s.ctx.forward(arg, training=training)
                if s.multi_out:
                    for o, t in zip(s.outs, y):
                        values[o] = t
                else:
                    values[s.outs[0]] = y
        else:
            import time
            clock, fwd = time.perf_counter_ns, timings.forward
            t0 = clock()
            for k, s in enumerate(self.run):
                arg = [values[i] for i in s.ins] if s.packed else values[s.ins[0]]
                y = s.ctx.forward(arg, training=training)
                if s.multi_out:
                    for o, t in zip(s.outs, y):
                        values[o] = t
                else:
                    values[s.outs[0]] = y
                t1 = clock()
                fwd[k] += t1 - t0
                t0 = t1

    def backward(self, output_grads, preactivation=(), timings=None, loss_seeds=None, slot_grads=None):
        """Backpropagate ``output_grads`` (one Tensor or None per model output). Outputs listed in
        ``preactivation`` carry dL/dz of their layer (softmax/sigmoid fused into the loss): their
        node runs ``backward_from_preactivation``. Weight gradients land in the layers' gradient
        Tensors, summed over calls. Returns the gradients of the model inputs (None where not
        computed). ``loss_seeds``: one weight per ``added_losses`` entry (1.0 in fit), so the
        losses layers added in this forward are backpropagated too."""
        grads = [None] * self.n_slots
        from_z = set()
        for k, (slot, g) in enumerate(zip(self.output_slots, output_grads)):
            if g is None:
                continue
            if k in preactivation:
                from_z.add(slot)
            self._accumulate(grads, slot, g)
        if loss_seeds is not None and self.added_losses:
            self._seed_added_losses(grads, loss_seeds)
        ran = self.ran
        # per-node extras (profiling, the distributed "gradient ready" hook): one callable or None,
        # decided once per step, so the plain walk pays one test per node as before
        after = None if timings is None and self.on_node_backward is None else self._after_node(timings)
        run = self.run
        for k in range(len(run) - 1, -1, -1):
            s = run[k]
            if s.multi_out:
                dy = [grads[o] for o in s.outs]
                if all(g is None for g in dy):
                    ran[k] = False
                    continue
                dy = [self._zeros_like_output(o) if g is None else g for o, g in zip(s.outs, dy)]
            else:
                dy = grads[s.outs[0]]
                if dy is None:
                    ran[k] = False
                    continue
            ran[k] = True
            finisher = self.relu_sum_finishers.get(k)
            if finisher is not None and type(dy) is not _Parts and s.outs[0] not in from_z \
                    and finisher[0] not in from_z and not (slot_grads and finisher[0] in slot_grads):
                # fusion rule 5: the slot's last reader takes the other parts and the producer's
                # relu' into its own data gradient; the producer then starts from dL/dz
                slot, producer = finisher
                dx = s.ctx.backward_relu_sum(dy, grads[slot], producer._y)
                if dx is not None:
                    grads[slot] = dx
                    from_z.add(slot)
                    if after is not None:
                        after(k)
                    continue
            if type(dy) is _Parts:   # fusion rule 5: the producer sums them in its own pass
                dx = s.ctx.backward_parts(dy)
            elif not s.multi_out and s.outs[0] in from_z:
                dx = s.ctx.backward_from_preactivation(dy)
            else:
                dx = s.ctx.backward(dy)
            if dx is not None:
                if s.packed:
                    for i, g in zip(s.ins, dx):
                        if g is not None:
                            self._accumulate(grads, i, g)
                else:
                    self._accumulate(grads, s.ins[0], dx)
            if after is not None:
                after(k)
        self.finish_weight_grads()
        if slot_grads is not None:   # the tape asks for intermediate outputs' gradients (Grad-CAM)
            for slot in slot_grads:
                g = self._summed(grads, slot)
                slot_grads[slot] = None if g is None else kernels.Tensor.from_numpy(np.array(g, copy=True))
        return [grads[i] for i in self.input_slots]

    def _seed_added_losses(self, grads, loss_seeds):
        """Hand each loss maker its losses' seeds; a node whose outputs nobody differentiates
        still runs backward (zeros for dy) when it made a loss."""
        per_maker = {}
        for (maker, _), seed in zip(self.added_losses, loss_seeds):
            per_maker.setdefault(id(maker), (maker, []))[1].append(float(seed))
        for maker, seeds in per_maker.values():
            if not any(seeds):
                continue
            maker._loss_seeds = seeds
            step = self._maker_step.get(id(maker))
            if step is None:
                continue
            for o in step.outs:
                if grads[o] is None:
                    grads[o] = self._zeros_like_output(o)

    def _after_node(self, timings):
        """What runs after node k's backward: the node's time into ``timings`` (profile=True) and
        ``on_node_backward(k)`` (set by corenn.distributed: its weight gradients may be final)."""
        hook = self.on_node_backward
        if timings is None:
            return hook
        import time
        clock, bwd, last = time.perf_counter_ns, timings.backward, [time.perf_counter_ns()]

        def after(k):
            t1 = clock()
            bwd[k] += t1 - last[0]
            if hook is not None:
                hook(k)
            last[0] = clock()   # the hook's time is nobody's backward
        return after

    def _zeros_like_output(self, slot):
        t = self.values[slot]
        return kernels.zeros(tuple(t.shape), "float64" if t.dtype == "float64" else "float32")

    def _accumulate(self, grads, slot, g):
        """grads[slot] += g; the sum goes into a buffer this graph owns (never into a layer's
        buffer, which may be another tensor's gradient as well: Flatten returns a view of dy)."""
        have = grads[slot]
        if have is None:
            grads[slot] = g
            return
        if slot in self.parts_slots:   # kept apart for the producer's backward_parts (rule 5)
            grads[slot] = have + [g] if type(have) is _Parts else _Parts([have, g])
            return
        if g.dtype == "float64" or have.dtype == "float64":   # a float64 layer's gradient: summed in float64
            grads[slot] = kernels.Tensor.from_numpy(np.asarray(have, np.float64) + np.asarray(g, np.float64))
            return
        shape = tuple(g.shape)
        buf = self._sum_buffers.get(slot)
        if have is not buf:
            if buf is None or tuple(buf.shape) != shape:
                buf = self._sum_buffers[slot] = kernels.empty(shape)
            _add(have, g, buf)
            grads[slot] = buf
        else:
            _add(buf, g, buf)

    def _summed(self, grads, slot):
        """grads[slot] as one Tensor (the sum of rule 5's parts, into this graph's buffer)."""
        g = grads[slot]
        if type(g) is not _Parts:
            return g
        buf = self._sum_buffers.get(slot)
        if buf is None or tuple(buf.shape) != tuple(g[0].shape):
            buf = self._sum_buffers[slot] = kernels.empty(tuple(g[0].shape))
        return kernels.sum_n(g, out=buf)

    def weight_params(self):
        """(the Params whose gradients ``weight_grads`` reads, their weights' ids) for the usual
        graph (each weight once, no wrapper layers); (None, None) otherwise."""
        cached = self._weight_entries()
        return (cached[1], cached[2]) if cached[2] is not None else (None, None)

    def weight_grads(self):
        """After backward: (ids of the weights, their gradients), two aligned lists; the gradients
        are the layers' own gradient Tensors (this copy's contexts' when the graph has its own),
        summed over calls."""
        cached = self._weight_entries()
        if cached[2] is not None:
            return cached[2], [p.grad for p in cached[1]]
        ids, grads, seen = [], [], set()
        for e in cached[1]:
            for w, g in (zip(trained(e[0])[0], trained(e[1])[1]) if isinstance(e, tuple) else [(e.value, e.grad)]):
                if id(w) not in seen:
                    seen.add(id(w))
                    ids.append(id(w))
                    grads.append(g)
        return ids, grads

    def _weight_entries(self):
        """(trainable flags, entries, ids or None), kept while the layers' trainable flags stay."""
        key = [TRAINABLE_VERSION[0]] + [layer.trainable for layer in self.trainable_layers]
        cached = self.__dict__.get("_weight_params")
        if cached is None or cached[0] != key:
            # per layer: its Params (read p.grad each time: a held gradient may be replaced), or
            # for wrappers (weights of inner layers) the layer and its accumulator themselves
            entries = []
            for layer in self.trainable_layers:
                acc = self.accumulator[id(layer)]
                if layer._sublayer_attrs:
                    entries.append((layer, acc))
                else:
                    # Keras 3's variable flags (Layer._flagged_params): the layer's own weights
                    # train with it, an inner layer's with that layer
                    entries += [p for p in acc._flagged_params() if p.trainable]
            # the usual graph: Params only, each weight once; its ids are fixed (a Param keeps
            # its weight Tensor), so only the gradients are read per step
            simple = all(type(e) is not tuple for e in entries) and \
                len({id(p.value) for p in entries}) == len(entries)
            ids = [id(p.value) for p in entries] if simple else None
            cached = self.__dict__["_weight_params"] = (key, entries, ids)
        return cached

    def finish_weight_grads(self):
        """Sum each shared layer's weight gradients over the calls that ran backward (into the
        layer's own gradient Tensors), and zero those of trainable layers no call reached."""
        ran, run = self.ran, self.run
        weighted = self.__dict__.get("_weighted_steps")   # run indices of steps with weights
        if weighted is None or weighted[0] is not run:
            weighted = self._weighted_steps = (run, [k for k, s in enumerate(run) if s.owner.weights])
        all_ran = True
        for k in weighted[1]:
            if not ran[k]:
                all_ran = False
                break
        if self.shared or self.own_contexts or not all_ran:
            per_layer = {}
            for k, s in enumerate(run):
                ctx = weights_context(s.ctx)
                per_layer.setdefault(id(s.owner), []).append((ctx, ran[k]))
            for layer in self.layers:
                if not trained(layer)[0] or id(layer) not in per_layer:
                    continue
                calls = per_layer[id(layer)]
                ctxs = [c for c, r in calls if r]
                acc = self.accumulator[id(layer)]
                owner_grads = trained(acc)[1]
                if not ctxs:
                    for g in owner_grads:
                        np.asarray(g)[...] = 0.0
                    continue
                # a layer written with call writes its sublayers' gradient buffers, which all
                # its calls share (the second call overwrote the first's): each call's own
                # gradients are the Tensors its backward kept (Layer.backward)
                parts = [c.__dict__.get("_weight_grad_parts") for c in ctxs]
                if all(p is not None and len(p) == len(owner_grads) for p in parts):
                    per_call = [[g for _, g in p] for p in parts]
                else:
                    per_call = [trained(c)[1] for c in ctxs]
                for g, v in zip(owner_grads, per_call[0]):
                    if v is not g:   # the accumulator's own gradients are the sum's buffers
                        np.copyto(np.asarray(g), np.asarray(v))
                for vs in per_call[1:]:
                    for g, v in zip(owner_grads, vs):
                        _add(g, v, g)


def masked_row_weights(graph, k, out, rw):
    """The loss row weights of output ``k`` (``out``, after graph.forward) with its Keras mask
    applied, as Keras 3 does: a sequence output (N, T, C) weighs step t of sample n by
    mask[n, t] * (N*T / number of unmasked steps), so the mean over rows is the mean over the
    real steps. A per-sample output (N, C) with a per-sample mask (N,) (Masking of rank-2 inputs
    upstream) is weighed the same way, mask[n] * (N / unmasked samples). ``rw``: the sample
    weights the loss would use (per row), or None. Unmasked outputs, and masks that do not match
    the loss rows (out's axes but the last): ``rw`` unchanged."""
    slot = graph.output_mask_slots[k] if k < len(graph.output_mask_slots) else None
    if slot is None or len(out.shape) not in (2, 3):
        return rw
    m = np.asarray(graph.values[slot], np.float32)
    if tuple(m.shape) != tuple(out.shape[:-1]):
        return rw
    m = m.reshape(-1)
    valid = float(m.sum())
    w = m * np.float32(m.size / valid) if valid > 0 else m
    if rw is not None:
        w = w * np.asarray(rw, np.float32).reshape(-1)
    return kernels.as_tensor(np.ascontiguousarray(w, np.float32))


def _add(a, b, out):
    """out = a + b (equal shapes)."""
    fn = getattr(kernels, "binary_forward", None)
    if fn is not None:
        fn("add", a, b, out=out)
    else:
        np.add(np.asarray(a), np.asarray(b), out=np.asarray(out))


def keras_layer_order(inputs, outputs, entries):
    """``entries`` — (layer or inner model, its calls) — in the order Keras lists a functional
    model's layers (``Model.layers``, its config's ``layers``, its summary's rows), with the
    InputLayers of ``inputs`` among them: by depth (the longest path to an output), deepest first,
    and within one depth in the order a depth-first walk from the outputs, inputs left to right,
    first meets them. So ``model.layers[:n]`` freezes what a Keras user expects, and Keras' HDF5
    files, which hold their layers in this order and are matched by position, load. A nested
    model's call counts as one node (its inlined calls belong to one ModelCall), as in Keras."""
    def producer(t):
        node = t.node
        if node is None:
            return None
        return node.group if node.group is not None else node

    def entity(call):
        return call.model if isinstance(call, ModelCall) else call.layer

    def inputs_of(call):
        if not isinstance(call, ModelCall) and isinstance(call.layer, InputLayer):
            return []
        return list(call.inputs)

    postorder = []       # every call after the calls that make its inputs
    first_met = {}       # id(entity) -> the walk's count when it first met the entity
    done, on_path = set(), set()

    def walk(start):
        stack = [(start, False)]
        while stack:
            call, finished = stack.pop()
            if finished:
                on_path.discard(id(call))
                if id(call) not in done:
                    done.add(id(call))
                    postorder.append(call)
                continue
            if id(call) in done or id(call) in on_path:
                continue
            first_met.setdefault(id(entity(call)), len(first_met))
            on_path.add(id(call))
            stack.append((call, True))
            for t in reversed(inputs_of(call)):
                p = producer(t)
                if p is not None:
                    stack.append((p, False))

    for t in outputs:
        walk(producer(t))
    call_depth, depth = {}, {}
    for call in reversed(postorder):   # outputs first: a call is deeper than every consumer
        d = max(call_depth.setdefault(id(call), 0), depth.get(id(entity(call)), 0))
        depth[id(entity(call))] = call_depth[id(call)] = d
        for t in inputs_of(call):
            p = producer(t)
            if p is not None:
                call_depth[id(p)] = max(d + 1, call_depth.get(id(p), 0))
    rows = [(t.node.layer, [t.node]) for t in inputs] + list(entries)
    for layer, _ in rows[:len(inputs)]:   # an input no output depends on: depth 0, first of it
        if id(layer) not in depth:
            depth[id(layer)], first_met[id(layer)] = 0, -1
    return sorted(rows, key=lambda row: (-depth.get(id(row[0]), 0), first_met.get(id(row[0]), len(first_met))))
