"""The fusion pass: rules over the graph of layer calls that let neighbouring calls share work.

It runs whenever a model prepares a training or inference run (``Model._mark_input_grads``) and
decides, for a graph (Sequential or functional alike), which call contexts take part in:

1. relu' folded into max pooling: Conv(relu) -> MaxPooling whose input feeds nothing else. The
   pooling's backward masks its (4x smaller) dy with [max > 0] and the conv skips its relu' pass.
2. conv + relu + 2x2 max pool in one pass (``conv2d_relu_max_pool2d``): when the conv's full
   output is never needed by a backward (relu' folded as in 1, or no backward reaches the conv),
   the conv's forward computes the pooling and the conv output is never stored; when that conv is
   also the first trainable call (no input gradient), its weight gradient reads the pooled
   gradient directly and the pooling's backward hands dy over untouched.
3. softmax/sigmoid output + cross-entropy: the loss is computed from the logits in one kernel and
   the output call's backward starts from dL/dz (returned as the set of output indices).

Rules only set flags on the call contexts of one graph (so a layer shared elsewhere is
unaffected) and are all cleared before they are decided again.
"""
from __future__ import annotations

__all__ = ["plan", "reset", "is_planned"]


def reset(ctx):
    ctx.relu_grad_by_next = ctx.masks_relu_input = False
    ctx.pooled_by, ctx._fused_output = None, None
    ctx.grad_through_pool = ctx.passes_grad_back = False


def is_planned(graph) -> bool:
    """Whether every context of ``graph`` carries this graph's plan (no other graph sharing a
    layer planned it since)."""
    return all(s.ctx.__dict__.get("_planned_by") is graph for s in graph.steps)


def plan(graph, losses=()):
    """Apply the rules to ``graph``; returns the output indices whose loss is fused (rule 3)."""
    from ..layers.base import ActivatedLayer
    from ..layers.pooling import MaxPooling1D, MaxPooling2D
    steps = graph.steps
    for s in steps:
        reset(s.ctx)
        s.ctx._planned_by = graph   # a context shared with another graph is re-planned before use
    consumer_of = {}
    for k, s in enumerate(steps):
        for i in s.ins:
            consumer_of.setdefault(i, []).append(k)
    outputs = set(graph.output_slots)
    for s in steps:
        if s.multi_out or s.outs[0] in outputs:
            continue
        users = consumer_of.get(s.outs[0], [])
        if len(users) != 1 or steps[users[0]].packed:
            continue
        a, b = s.ctx, steps[users[0]].ctx
        if (isinstance(a, ActivatedLayer) and a._fused and a.activation.name == "relu"
                and isinstance(b, (MaxPooling2D, MaxPooling1D)) and b.needs_input_grad):
            a.relu_grad_by_next = b.masks_relu_input = True
        no_backward = not a.trainable_weights and not a.needs_input_grad
        if (hasattr(a, "can_fuse_max_pool") and a.can_fuse_max_pool(b)
                and (a.relu_grad_by_next or no_backward)):
            a.pooled_by = b
            if a.relu_grad_by_next and not a.needs_input_grad and a.trainable_weights:
                a.grad_through_pool = b.passes_grad_back = True
    fused = set()
    for k, (slot, loss) in enumerate(zip(graph.output_slots, losses)):
        if loss is None or loss.from_logits or consumer_of.get(slot) or graph.output_slots.count(slot) > 1:
            continue
        step = steps[graph.producer[slot]] if slot in graph.producer else None
        if step is None or step.multi_out or not hasattr(step.ctx, "backward_from_preactivation"):
            continue
        act = step.ctx.activation.name
        if (act == "softmax" and loss.kind in ("categorical_crossentropy", "sparse_categorical_crossentropy")) \
                or (act == "sigmoid" and loss.kind == "binary_crossentropy"):
            fused.add(k)
    return frozenset(fused)
