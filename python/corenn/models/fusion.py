"""The fusion pass: rules over the graph of layer calls that let neighbouring calls share work.

It runs whenever a model prepares a training or inference run (``Model._mark_input_grads``) and
decides, for a graph (Sequential or functional alike), which call contexts take part in:

1. relu' folded into max pooling: Conv(relu) -> MaxPooling whose input feeds nothing else. The
   pooling's backward masks its (4x smaller) dy with [max > 0] and the conv skips its relu' pass.
2. conv + relu + 2x2 max pool in one pass: a stride-1 Conv2D(relu) whose output feeds only a
   MaxPooling2D(2) becomes one step of the graph, a ``ConvReluMaxPool`` node built here, which
   runs ``conv2d_relu_max_pool2d`` (the conv output is never stored) into buffers of its own; its
   backward applies relu' to the pooled gradient, unpools it and runs the conv's backward from
   there, or, when the conv is the first trainable call (no input gradient), forms the weight
   gradient from the pooled gradient directly (the full-size gradient is never formed). Neither
   layer knows about the other: the node calls their public parts.
3. softmax/sigmoid output + cross-entropy: the loss is computed from the logits in one kernel and
   the output call's backward starts from dL/dz (returned as the set of output indices).
4. a residual block's tail, BatchNormalization -> Add(skip) -> ReLU, where the normalization's
   output feeds only the Add and the sum only the ReLU: one step, a ``BatchNormAddRelu`` node,
   from (the normalization's input, the skip) to the ReLU's output. In training it runs
   ``batch_norm_add_relu_forward`` (the normalized tensor and the sum are never stored: 4 passes
   over memory instead of 8) and its backward (the skip's gradient is written in the pass that
   takes the normalization's gradient sums); otherwise (inference, frozen statistics,
   channels-first, a broadcasting Add, a non-CPU device) it calls the three layers in turn.
   When the ReLU's output feeds only a GlobalAveragePooling2D (a network's last block), the step
   takes the pooling too: the per-image means are summed in the pass that writes the ReLU output,
   and backward reads the pooled (N, C) gradient instead of its full-size broadcast.
5. the gradient of a relu output read by several nodes (a residual block's input: the skip and
   the next conv): the graph keeps the gradients it receives apart (``graph.parts_slots``) and the
   producing Dense/Conv (relu in its epilogue) sums them and applies relu' in one pass
   (``backward_parts``: sum_n_relu_grad), instead of a sum pass and then a relu' pass. A
   BatchNormAddRelu producer (the residual stream between two blocks: the next block's conv and
   Add read it) adds the last part in its backward's relu' pass (batch_norm_add_relu_backward's
   dy2). A Conv2D reader whose backward runs last finishes a Dense/Conv producer's slot
   (``graph.relu_sum_finishers``): its data gradient adds the parts the others left and applies
   relu' as it stores dx (conv2d_backward_data_relu_sum), and the producer starts from dL/dz.

Rules set flags on the call contexts of one graph or replace steps of that graph's run list
(``graph.run``), so a layer shared elsewhere is unaffected; they are cleared before they are
decided again.

``prepare`` is what models call before every run: the input-gradient marks and the plan are
redone only when what they read changed (which inputs are watched, the layers' trainable flags,
the compiled losses) or when another graph marked or planned a context this one uses (a layer
shared between models). A counter bumped by every mark and plan makes the usual check O(1):
when nothing was marked or planned since this graph's own plan, nothing can have undone it.
"""
from __future__ import annotations

from .. import kernels

__all__ = ["plan", "prepare", "reset", "is_planned", "fused_pairs", "weights_context",
           "ConvReluMaxPool", "BatchNormAddRelu"]

# bumped by every mark_input_grads / plan / reset of any graph (see prepare)
_SERIAL = [0]


def reset(ctx):
    ctx.relu_grad_by_next = ctx.masks_relu_input = False
    ctx._planned_by = None   # its flags no longer say what a graph decided
    _SERIAL[0] += 1


class ConvReluMaxPool:
    """One graph step for Conv2D(relu, stride 1) -> MaxPooling2D(2, 2, 'valid'), made by rule 2.

    forward   y, argmax = conv2d_relu_max_pool2d(x; W, b)      (N, H/2, W/2, C); z never stored
    backward  weights_from_pooled: dW, db from (x, dy, y, argmax) directly
              else: dz = unpool(dy * [y > 0], argmax) at the conv output's size, then the conv's
              backward_from_preactivation(dz) (dW, db and, if needed, dx)
    The node owns its buffers (in the conv call's context) and calls only the conv's public
    parts; the pooling layer does no work of its own in this graph.
    """

    def __init__(self, conv, pool):
        self.conv, self.pool = conv, pool

    @property
    def needs_input_grad(self):
        return self.conv.needs_input_grad

    @property
    def weights_from_pooled(self):
        return not self.conv.needs_input_grad

    @property
    def trainable_weights(self):
        return self.conv.trainable_weights

    @property
    def gradients(self):
        return self.conv.gradients

    def forward(self, x, training=False):
        conv = self.conv
        # the conv's geometry, cached per input shape (stride and dilation are 1: rule 2's terms)
        (n, oh, ow, c), (_, _, pt, pl, _, _) = conv._geometry(x.shape)
        shape = (n, oh // 2, ow // 2, c)
        y, argmax = conv._buffer("pooled", shape), conv._buffer("pooled_argmax", shape, "int32")
        kernels._conv2d_relu_max_pool2d_forward(x, conv.kernel, conv.bias, y, argmax, oh, ow, pt, pl, True)
        conv._x = x   # what the conv's own backward reads
        self._y, self._argmax, self._conv_shape = y, argmax, (n, oh, ow, c)
        return y

    def backward(self, dy):
        conv = self.conv
        if self.weights_from_pooled:
            if conv.trainable_weights:
                grads = conv.gradients
                (_, oh, ow, _), (_, _, pt, pl, _, _) = conv._geometry(conv._x.shape)
                kernels._conv2d_relu_max_pool2d_backward_weights(
                    conv._x, dy, self._y, self._argmax, grads[0], grads[1] if conv.use_bias else None,
                    oh, ow, pt, pl)
            return None
        dy = kernels.activation_backward("relu", self._y, self._y, dy, conv._buffer("pooled_dy", dy.shape))
        dz = kernels.max_pool2d_backward(dy, self._argmax, self._conv_shape, (2, 2), (2, 2), "valid",
                                         out=conv._buffer("unpooled_dz", self._conv_shape))
        return conv.backward_from_preactivation(dz)

    def __repr__(self):
        return f"<ConvReluMaxPool {self.conv.name} + {self.pool.name}>"


class BatchNormAddRelu:
    """One graph step for BatchNormalization -> Add -> ReLU (rule 4), inputs (z, skip), and the
    GlobalAveragePooling2D after it when ``pool`` is given (its output is then the step's):

    forward   y = relu(bn(z) + skip)          batch_norm_add_relu_forward (training)
              (pooled = mean of y per image, in the same pass)
    backward  dskip = dy * relu'(y); dz, dgamma, dbeta = the normalization's backward of dskip
              (batch_norm_add_relu_backward; with the pooling, dy is the (N, C) gradient of the
              means); returns [dz, dskip]
    Outside training on the CPU with equal shapes, the three layers' own forward / backward run in
    turn (the same results as the unfused graph). The node keeps its per-call state on itself
    and writes the normalization's gradients into that call's gradient Tensors.
    """

    packed, multi_out = True, False   # what the executor reads off a step's node

    def __init__(self, bn, add, relu, bn_index, pool=None):
        self.bn, self.add, self.relu, self._bn_index, self.pool = bn, add, relu, bn_index, pool

    @property
    def needs_input_grad(self):
        return self.bn.needs_input_grad or self.add.needs_input_grad

    @property
    def trainable_weights(self):
        return self.bn.trainable_weights

    @property
    def gradients(self):
        return self.bn.gradients

    def _fusable(self, z, skip, training):
        bn = self.bn
        return (training and bn.trainable and z.device == "cpu" and skip.device == "cpu"
                and z.dtype == "float32" and skip.dtype == "float32"
                and tuple(z.shape) == tuple(skip.shape) and z.ndim >= 2
                and not bn._channels_first(z.ndim) and (self.pool is None or z.ndim == 4))

    def forward(self, xs, training=False):
        z, skip = xs
        self._fused = self._fusable(z, skip, training)
        if not self._fused:
            b = self.bn.forward(z, training=training)
            pair = [b, skip] if self._bn_index == 0 else [skip, b]
            y = self.relu.forward(self.add.forward(pair, training=training), training=training)
            return y if self.pool is None else self.pool.forward(y, training=training)
        bn, c = self.bn, (z.shape[-1],)
        pooled = None if self.pool is None else self.pool._buffer("y", (z.shape[0], z.shape[-1]))
        y, mean, inv_std = kernels.batch_norm_add_relu_forward(
            z, bn.gamma, bn.beta, skip, moving_mean=bn.moving_mean, moving_variance=bn.moving_variance,
            momentum=bn.momentum, epsilon=bn.epsilon, out=self.relu._buffer("y", z.shape),
            mean=bn._buffer("mean", c), inv_std=bn._buffer("inv_std", c), pooled=pooled)
        self._z, self._y, self._mean, self._inv_std = z, y, mean, inv_std
        return y if pooled is None else pooled

    def backward(self, dy):
        if not self._fused:
            d = self.relu.backward(dy if self.pool is None else self.pool.backward(dy))
            grads = self.add.backward(d)
            dz = self.bn.backward(grads[self._bn_index])
            return [dz, grads[1 - self._bn_index]]
        return self._backward_fused(dy, None)

    def _backward_fused(self, dy, dy2):
        bn, shape = self.bn, tuple(self._z.shape)
        learn = bn.trainable
        dr, dz = kernels.batch_norm_add_relu_backward(
            dy, self._z, self._y, bn.gamma, self._mean, self._inv_std,
            dr=self.add._buffer("dskip", shape),
            dx=bn._buffer("dx", shape) if bn.needs_input_grad else None,
            dgamma=bn._grad_of("gamma") if learn and bn.scale else None,
            dbeta=bn._grad_of("beta") if learn and bn.center else None, dy2=dy2)
        return [dz, dr]

    def backward_parts(self, parts):
        """backward of the sum of ``parts``, the gradients the ReLU's output received from its
        consumers (rule 5: a residual stream read by the next block's conv and its Add). The
        fused kernel adds the last part in its relu' pass (``dy2``); two parts cost no pass of
        their own, more are first summed in list order, so the order of the additions is the
        graph's (p0 + p1) + p2 ... either way."""
        if not self._fused or self.pool is not None:
            return self.backward(kernels.sum_n(parts, out=self.add._buffer("dy_sum", parts[0].shape)))
        head = parts[0] if len(parts) == 2 else kernels.sum_n(
            parts[:-1], out=self.add._buffer("dy_sum", parts[0].shape))
        return self._backward_fused(head, parts[-1])

    def __repr__(self):
        pool = "" if self.pool is None else f" + {self.pool.name}"
        return f"<BatchNormAddRelu {self.bn.name} + {self.add.name} + {self.relu.name}{pool}>"


def _is_plain_relu(layer):
    """An Activation('relu') or a ReLU() with Keras' defaults (no ceiling, slope or threshold)."""
    from ..layers.activation import ReLU
    from ..layers.core import Activation
    if type(layer) is Activation:
        return getattr(layer.activation, "name", None) == "relu"
    return type(layer) is ReLU and layer._kind == "relu" and layer._alpha == 0.0


def _bn_add_relu_steps(steps, consumer_of, outputs):
    """Rule 4's matches: (bn step index, add step index, relu step index, the normalization's
    place among the Add's two inputs, the index of the GlobalAveragePooling2D step the ReLU
    feeds alone or None)."""
    from ..layers.merging import Add
    from ..layers.normalization import BatchNormalization
    from ..layers.pooling import GlobalAveragePooling2D

    def only_user(step):
        users = consumer_of.get(step.outs[0], [])
        return users[0] if len(users) == 1 and step.outs[0] not in outputs else None

    found = []
    for k, s in enumerate(steps):
        if type(s.ctx) is not BatchNormalization or s.packed or s.multi_out:
            continue
        a = only_user(s)
        if a is None or type(steps[a].ctx) is not Add or not steps[a].packed \
                or steps[a].multi_out or len(steps[a].ins) != 2:
            continue
        r = only_user(steps[a])
        if r is None or not _is_plain_relu(steps[r].ctx) or steps[r].packed or steps[r].multi_out:
            continue
        p = only_user(steps[r])
        pool = steps[p].ctx if p is not None else None
        if not (type(pool) is GlobalAveragePooling2D and not pool.keepdims and not steps[p].packed
                and not steps[p].multi_out and not pool._channels_first(4)):
            p = None
        found.append((k, a, r, steps[a].ins.index(s.outs[0]), p))
    return found


def _relu_sum_slots(graph, consumer_of, outputs):
    """Rule 5: the output slots of run steps whose context applies relu in its epilogue (Dense,
    Conv*: ActivatedLayer; a residual block's tail: BatchNormAddRelu without the pooling) and
    whose gradient comes from two or more places."""
    from ..layers.base import ActivatedLayer
    slots = []
    for s in graph.run:
        ctx = s.ctx
        tail = isinstance(ctx, BatchNormAddRelu) and ctx.pool is None
        if (s.packed and not tail) or s.multi_out or not (tail or isinstance(ctx, ActivatedLayer)
                                                          and getattr(ctx, "_fused", False)
                                                          and ctx.activation.name == "relu"
                                                          and not ctx.relu_grad_by_next):
            continue
        slot = s.outs[0]
        if len(consumer_of.get(slot, ())) + (slot in outputs) >= 2:
            slots.append(slot)
    return slots


def _relu_sum_finishers(graph):
    """Rule 5, the last reader: for a parts slot made by a Dense/Conv with relu in its epilogue,
    the reader whose backward runs last (the earliest in run order) when it is a conv that can
    take the other parts and relu' into its data gradient's store (``finishes_relu_sum``). Then
    no part of the slot is written and re-read: {run index: (slot, producer context)}."""
    from ..layers.base import ActivatedLayer
    producer = {s.outs[0]: s.ctx for s in graph.run if not s.multi_out}
    finishers = {}
    for slot in graph.parts_slots:
        made_by = producer.get(slot)
        if not isinstance(made_by, ActivatedLayer):
            continue
        readers = [k for k, s in enumerate(graph.run) if slot in s.ins]
        if not readers:
            continue
        k = min(readers)
        s = graph.run[k]
        if s.packed or s.multi_out or s.ins.count(slot) != 1 \
                or not getattr(s.ctx, "finishes_relu_sum", lambda: False)():
            continue
        finishers[k] = (slot, made_by)
    return finishers


def weights_context(ctx):
    """The call context holding the weights of a run step's context: the conv of a
    ConvReluMaxPool, the normalization of a BatchNormAddRelu, else the context itself."""
    if isinstance(ctx, ConvReluMaxPool):
        return ctx.conv
    if isinstance(ctx, BatchNormAddRelu):
        return ctx.bn
    return ctx


def fused_pairs(graph):
    """The (conv, pool) call contexts that rule 2 runs as one step in ``graph``."""
    return [(s.ctx.conv, s.ctx.pool) for s in graph.run if isinstance(s.ctx, ConvReluMaxPool)]


def _fused_step(conv_step, pool_step, node):
    """A graph step running ``node`` from the conv's inputs to the pooling's outputs."""
    from .graph import _Step
    return _Step(pool_step.node, node, conv_step.ins, pool_step.outs, conv_step.owner)


def is_planned(graph) -> bool:
    """Whether every context of ``graph`` carries this graph's plan (no other graph sharing a
    layer marked or planned it since)."""
    for s in graph.steps:
        if s.ctx.__dict__.get("_planned_by") is not graph:
            return False
    return True


def prepare(graph, watched=(), losses=(), watched_outputs=()):
    """``graph.mark_input_grads(watched, watched_outputs)`` and ``plan(graph, losses)``, each redone
    only when what it reads changed (see the module docstring); returns plan's fused output indices."""
    key = (watched, [layer.trainable for layer in graph.trainable_layers], watched_outputs)
    d = graph.__dict__
    if d.get("_plan_key") != key or not (d.get("_plan_serial") == _SERIAL[0] or is_planned(graph)):
        graph.mark_input_grads(watched, watched_outputs)
        plan(graph)
        d["_plan_key"], d["_fused_losses"] = key, None
    d["_plan_serial"] = _SERIAL[0]
    if not losses:
        return frozenset()
    fused = d.get("_fused_losses")
    loss_key = [None if loss is None else (loss.kind, loss.from_logits) for loss in losses]
    if fused is None or fused[0] != loss_key:
        fused = d["_fused_losses"] = (loss_key, fused_losses(graph, losses))
    return fused[1]


def plan(graph, losses=()):
    """Apply the rules to ``graph``; returns the output indices whose loss is fused (rule 3)."""
    from ..layers.base import ActivatedLayer
    from ..layers.pooling import MaxPooling1D, MaxPooling2D
    from .graph import _Step
    steps = graph.steps
    for s in steps:
        reset(s.ctx)
        s.ctx._planned_by = graph   # a context shared with another graph is re-planned before use
    consumer_of = {}
    for k, s in enumerate(steps):
        for i in s.ins:
            consumer_of.setdefault(i, []).append(k)
    outputs = set(graph.output_slots)
    replaced = {}   # conv step index -> (fused step, pool step index)
    for k, s in enumerate(steps):
        if s.multi_out or s.outs[0] in outputs:
            continue
        users = consumer_of.get(s.outs[0], [])
        if len(users) != 1 or steps[users[0]].packed:
            continue
        a, b = s.ctx, steps[users[0]].ctx
        if hasattr(a, "can_fuse_max_pool") and a.can_fuse_max_pool(b):      # rule 2
            fused = _fused_step(s, steps[users[0]], ConvReluMaxPool(a, b))
            replaced[k] = (fused, users[0])
            continue
        if (isinstance(a, ActivatedLayer) and hasattr(a, "backward_from_preactivation")   # rule 1
                and a._fused and a.activation.name == "relu"
                and isinstance(b, (MaxPooling2D, MaxPooling1D)) and b.needs_input_grad):
            a.relu_grad_by_next = b.masks_relu_input = True
    skipped = {pool for _, pool in replaced.values()}
    for b, a, r, bn_index, p in _bn_add_relu_steps(steps, consumer_of, outputs):     # rule 4
        if {b, a, r} & (skipped | set(replaced)):
            continue
        bn, add = steps[b], steps[a]
        skip = add.ins[1 - bn_index]
        last = r if p is None else p
        node = BatchNormAddRelu(bn.ctx, add.ctx, steps[r].ctx, bn_index,
                                None if p is None else steps[p].ctx)
        # at the last call's place: both inputs (the skip may be made after the normalization)
        # are ready, and nothing between reads the calls' outputs (each has this one reader)
        replaced[last] = (_Step(node, node, [bn.ins[0], skip], steps[last].outs, bn.owner), None)
        skipped |= {b, a, r} - {last}
    graph.run = [replaced[k][0] if k in replaced else s for k, s in enumerate(steps) if k not in skipped]
    graph.ran = [False] * len(graph.run)
    graph.parts_slots = frozenset(_relu_sum_slots(graph, consumer_of, outputs))       # rule 5
    graph.relu_sum_finishers = _relu_sum_finishers(graph)
    _SERIAL[0] += 1
    return fused_losses(graph, losses)


def fused_losses(graph, losses):
    """Rule 3: the output indices whose softmax/sigmoid the loss computes from the logits."""
    steps = graph.steps
    fused = set()
    for k, (slot, loss) in enumerate(zip(graph.output_slots, losses)):
        if loss is None or loss.from_logits or graph.consumers[slot] or graph.output_slots.count(slot) > 1 \
                or getattr(loss, "_written_in_python", False):   # (its own __call__ sees probabilities)
            continue
        step = steps[graph.producer[slot]] if slot in graph.producer else None
        if step is None or step.multi_out or not hasattr(step.ctx, "backward_from_preactivation"):
            continue
        if getattr(step.ctx, "data_format", None) == "channels_first":
            continue   # its logits are channels-last (layers/_channels_first.py), y_true is not
        act = step.ctx.activation.name
        if (act == "softmax" and loss.kind in ("categorical_crossentropy", "sparse_categorical_crossentropy")) \
                or (act == "sigmoid" and loss.kind == "binary_crossentropy"):
            fused.add(k)
    return frozenset(fused)
