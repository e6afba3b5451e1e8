"""GradientTape: reverse-mode gradients of eager code (layer calls, tensor ops, losses).

    with corenn.GradientTape() as tape:
        predictions = model(images, training=True)     # each layer call is recorded
        loss = loss_fn(labels, predictions)             # a scalar Tensor, recorded
    grads = tape.gradient(loss, model.trainable_variables)

What is recorded. Inside a recording tape every layer call gets a call context of its own
(``Layer._call_context``: its saved inputs, buffers and weight-gradient Tensors belong to that
call, so a layer called twice contributes twice) and is recorded with its input and output
Tensors. Tensor ops (``corenn.ops``, operators on Tensors) and losses record a small backward
rule. A call is recorded only when something it reads needs a gradient: a trainable weight, a
watched tensor, or the output of a recorded call.

``gradient`` walks the records backwards, exactly like the graph executor: layers run their
explicit fused C++ backward, gradients of a tensor used several times are summed, and a weight's
gradient is the sum over every call and op that used it. Sources that the target does not depend
on get ``None``.

Buffers. The Tensors a tape call returns are fresh (nothing is reused across steps), so a
prediction kept from an earlier step is never overwritten.
"""
from __future__ import annotations

import sys
import threading
import weakref

import numpy as np

from . import kernels

__all__ = ["GradientTape", "ForwardAccumulator", "recording_tape", "watch_variable", "is_variable",
           "record_op", "rules_run_in", "stop_recording", "graph_tape", "graph_gradients", "calls_graph_gradients",
           "run_as_graph"]

_local = threading.local()
# id(weight Tensor) -> a weak reference to it: the trainable variables a tape watches
# automatically. A plain dict of weakrefs, not a WeakValueDictionary: its get() is Python code,
# and the tape asks this for every source and input of every step.
_variables: dict = {}


def _forget(ref, key=None):
    if _variables.get(key) is ref:
        del _variables[key]


def watch_variable(t) -> None:
    """Register a weight Tensor (Layer.add_weight does) so tapes treat it as a variable."""
    key = id(t)
    _variables[key] = weakref.ref(t, lambda ref, key=key: _forget(ref, key))


def is_variable(t) -> bool:
    ref = _variables.get(id(t))
    return ref is not None and ref() is t


def _stack():
    try:
        return _local.tapes
    except AttributeError:   # this thread's first tape
        s = _local.tapes = []
        return s


def recording_tape():
    """The innermost tape recording on this thread, or None (asked by every layer, model, loss
    and op call: kept to one attribute read)."""
    try:
        s = _local.tapes
    except AttributeError:
        return None
    if s:
        tape = s[-1]
        if tape._recording and len(s) == 1:
            return tape
        return _group_of([t for t in s if t._recording])
    return None


def _group_of(tapes):
    """The recording tapes as one recorder: None, the one tape, or their _TapeGroup (kept by its
    tapes, so a captured graph's weak ``user`` reference to it lives as long as they do)."""
    if len(tapes) <= 1:
        return tapes[0] if tapes else None
    key = tuple(id(t) for t in tapes)
    inner = tapes[-1]
    group = inner.__dict__.get("_group")
    if group is None or group.key != key:
        group = _TapeGroup(tapes, key)
        for t in tapes:
            t._groups.append(group)
        inner._group = group
    return group


class _Record:
    """One recorded call: a layer context (``ctx``), a backward rule (``rule``) or a whole graph
    of layer calls (``graph``: a model call captured as a graph, see call_graph)."""

    __slots__ = ("ctx", "rule", "inputs", "outputs", "packed", "multi_out", "graph", "n_losses", "holders",
                 "op")

    def __init__(self, ctx, rule, inputs, outputs, packed, multi_out, graph=None, n_losses=0, op=None):
        self.ctx, self.rule, self.inputs, self.outputs = ctx, rule, inputs, outputs
        self.packed, self.multi_out, self.graph = packed, multi_out, graph
        self.n_losses = n_losses   # trailing outputs that are losses the layer added (add_loss)
        self.holders = 1   # tapes holding this record (several when tapes record at once)
        self.op = op   # a tensor op's (name, *attributes): its rule again with ops (op_gradients.py)


class GradientTape:
    """Records eager computation for reverse-mode differentiation (tf.GradientTape's API).

    Args:
        persistent: allow several ``gradient`` calls (otherwise one, then the records are freed).
        watch_accessed_variables: watch every trainable weight automatically (the default);
            with False only ``watch``-ed tensors and weights are sources.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._records: list[_Record] = []
        self._tracked: dict[int, object] = {}   # id -> Tensor that needs a gradient (kept alive)
        self._watched: dict[int, object] = {}
        self._accessed: dict[int, object] = {}   # variables an op or layer call read while recording
        self._recording = False
        self._used = False
        self._shared = False   # holds records another tape holds too: its results are copies
        self._groups = []      # the _TapeGroups this tape recorded in (kept alive, see _group_of)

    # -- context ---------------------------------------------------------------------------------

    def __enter__(self):
        try:
            _local.tapes.append(self)
        except AttributeError:
            _stack().append(self)
        self._recording = True
        return self

    def __exit__(self, *exc):
        self._recording = False
        s = _stack()
        if s and s[-1] is self:   # the innermost tape, as with blocks are nested
            s.pop()
        elif self in s:
            s.remove(self)
        return False

    def stop_recording(self):
        """A context in which nothing is recorded on this tape."""
        return _Pause(self)

    def reset(self):
        for rec in self._records:
            rec.holders -= 1
            if rec.graph is not None and rec.holders <= 0:
                rec.graph.user = None   # the graph copy may serve the next call
        self._records.clear()
        self._tracked.clear()
        self._accessed.clear()

    def watch(self, tensor):
        """Make ``tensor`` (a Tensor, or a list of them) a source the tape differentiates for."""
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not isinstance(t, kernels.Tensor):
                raise TypeError(f"GradientTape.watch: expected a corenn Tensor, got {type(t).__name__}; "
                                "convert it with corenn.convert_to_tensor first and use that tensor")
            self._watched[id(t)] = t
            self._tracked[id(t)] = t

    def watched_variables(self):
        """The variables this tape watched: the ones ``watch``-ed, and (when it watches accessed
        variables) the ones an op or layer call it recorded read."""
        seen = {id(t): t for t in self._watched.values() if is_variable(t)}
        for key, t in self._accessed.items():
            seen.setdefault(key, t)
        return list(seen.values())

    # -- recording -------------------------------------------------------------------------------

    def needs_grad(self, t) -> bool:
        if id(t) in self._tracked:
            return True
        if not self.watch_accessed_variables:
            return False
        ref = _variables.get(id(t))
        if ref is not None and ref() is t:
            self._accessed[id(t)] = t   # for watched_variables()
            return True
        return False

    def _wants(self, rec, weights=()) -> bool:
        """Whether this tape differentiates through ``rec``: an input or a weight it reads needs a
        gradient here, or it made losses."""
        if rec.graph is not None or rec.n_losses:
            return True
        tracked = self._tracked
        for x in rec.inputs:
            if id(x) in tracked or self.needs_grad(x):
                return True
        return bool(weights) and (self.watch_accessed_variables or any(id(w) in self._watched for w in weights))

    def _keep(self, rec, weights=()):
        """Hold ``rec`` and track its outputs (a _TapeGroup hands it to each tape that wants it)."""
        self._records.append(rec)
        tracked = self._tracked
        for o in rec.outputs:
            tracked[id(o)] = o

    def call_layer(self, layer, inputs, training):
        """``layer(inputs)`` run in a fresh call context and recorded."""
        packed = isinstance(inputs, (list, tuple))
        flat = [x if type(x) is kernels.Tensor else convert(x, layer.name)
                for x in (inputs if packed else [inputs])]
        if not layer.built:
            layer._build_for_values(flat, packed)
        if not packed:
            layer.check_input_shape(tuple(flat[0].shape))
        ctx = layer._call_context(snapshot=True)
        ctx.needs_input_grad = any(self.needs_grad(x) for x in flat)
        from .layers.base import trained
        weights = trained(layer)[0]   # (an inner layer trained in a frozen one: Keras 3)
        trainable = bool(weights) and (
            self.watch_accessed_variables or any(id(w) in self._watched for w in weights))
        layer._clear_losses()
        y = ctx.forward(flat if packed else flat[0], training=bool(training))
        multi = isinstance(y, list)
        outs = _distinct(y if multi else [y], flat)
        # the losses the call added are recorded on this tape by its own ops
        # (Layer.add_loss; `sum(model.losses)` is differentiable), so its record must exist
        record = ctx.__dict__.get("_call_record")   # a layer written with call: also its sublayers' losses
        losses = list(record[4]) if record is not None else list(layer.__dict__.get("_added_losses", ()))
        if ctx.needs_input_grad or trainable or losses:
            self._keep(_Record(ctx, None, flat, outs + losses, packed, multi, n_losses=len(losses)), weights)
        if layer.activity_regularizer is not None:
            layer.add_activity_losses(outs if multi else outs[0])
        return outs if multi else outs[0]

    def call_graph(self, graph, inputs, training):
        """A model call captured as a graph (models/graph.py), run by the graph executor with its
        reused buffers and fused backward passes, recorded as one step of this tape. The outputs
        handed back are copies (the graph's buffers are reused by its next run)."""
        xs = [_input_tensor(x, getattr(spec, "dtype", None) == "float64") for x, spec in zip(inputs, graph.inputs)] \
            if len(graph.inputs) == len(inputs) else [_input_tensor(x) for x in inputs]
        tracked = self._tracked
        if len(xs) == 1:   # the usual model: one input (a batch: neither tracked nor a variable)
            x = xs[0]
            key = id(x)
            ref = _variables.get(key) if self.watch_accessed_variables else None
            watched = (0,) if key in tracked or ref is not None and ref() is x else ()
        else:
            watched = tuple(i for i, x in enumerate(xs) if self.needs_grad(x))
        inner = graph.__dict__.get("_inner_outputs")
        if inner is None:   # outputs that other nodes read (Grad-CAM's conv output): sources too
            consumers = graph.consumers
            inner = graph._inner_outputs = tuple(k for k, slot in enumerate(graph.output_slots) if consumers[slot])
        (_FUSION or _fusion()).prepare(graph, watched, watched_outputs=inner)
        outs = graph.forward(xs, training=bool(training))
        outs = [o.clone() for o in outs]
        if graph.added_losses:
            # the losses its layers added (layer.losses / model.losses hold these Tensors) are
            # outputs of the record too: their gradients become the graph's loss seeds
            outs_and_losses = outs + [v for _, v in graph.added_losses]
        else:
            outs_and_losses = outs
        self._keep(_Record(None, None, xs, outs_and_losses, True, True, graph))
        return outs

    def record(self, rule, inputs, outputs, op=None):
        """Record a tensor op: ``rule(dys) -> [dx or None per input]``; outputs need grads when
        any input does. ``op`` names the op for op_gradients.vjp, which differentiates it again
        with recorded ops when a gradient is itself differentiated. Returns whether it was
        recorded."""
        tracked = self._tracked
        for x in inputs:
            if id(x) in tracked or self.needs_grad(x):
                break
        else:
            return False
        modes = getattr(_local, "rule_modes", None)
        if modes:   # recorded under rules_run_in: the rule runs in the same modes later
            rule = _run_in(rule, tuple(modes))
        self._keep(_Record(None, rule, list(inputs), list(outputs), True, True, op=op))
        return True

    # -- differentiation -------------------------------------------------------------------------

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=None):
        """d(target)/d(sources): the same structure as ``sources`` (a Tensor, list, tuple or
        dict of them), ``None`` for a source the target does not depend on (or zeros with
        ``unconnected_gradients='zero'``). A non-scalar target is summed, as TensorFlow does."""
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient: a non-persistent tape can only compute one gradient; "
                               "use GradientTape(persistent=True) to call gradient several times")
        if output_gradients is None and unconnected_gradients is None and type(sources) is list:
            result = self._training_step_gradient(target, sources)
            if result is not None:
                return result
        if unconnected_gradients not in (None, "none", "zero"):
            raise ValueError(f"GradientTape.gradient: unconnected_gradients must be 'none' or 'zero', "
                             f"got {unconnected_gradients!r}")
        flat_sources, rebuild = _flatten(sources)
        keys = [id(s) for s in flat_sources]
        tracked, variables, tensor = self._tracked, _variables, kernels.Tensor
        for s, key in zip(flat_sources, keys):
            if type(s) is tensor:   # the common case, checked cheaply
                ref = variables.get(key)
                if ref is not None and ref() is s or key in tracked:
                    continue
            if not isinstance(s, kernels.Tensor):
                raise TypeError(f"GradientTape.gradient: sources must be Tensors (variables or watched "
                                f"tensors), got {type(s).__name__}")
            if not (is_variable(s) or id(s) in self._tracked or s.__dict__.get("_is_variable", False)):
                raise ValueError(f"GradientTape.gradient: source {s!r} is neither a variable (a layer weight) "
                                 "nor a tensor this tape watches; call tape.watch(x) inside the tape first")
        targets = target if isinstance(target, (list, tuple)) else [target]
        seeds = output_gradients if isinstance(output_gradients, (list, tuple)) else [output_gradients]
        if output_gradients is None:
            seeds = [None] * len(targets)
        was_recording, self._recording = self._recording, False
        # a persistent tape asked, inside its own block, for the gradient of a watched tensor (a
        # PINN's u_x = tape.gradient(u, x), differentiated by the same tape into u_xx): as
        # TensorFlow, the gradient's ops are recorded on this tape itself
        own = was_recording and self.persistent and any(key in self._tracked for key in keys) \
            and not isinstance(self, _GraphTape)   # (tf.gradients in a tf.function: first-order, as before)
        # (also when an outer tape tracks a seed: the gradient is linear in it, so a seed that
        # depends on the weights, a layer's dy inside a re-run graph, makes it depend on them)
        recorded, why = own or self._differentiated_by_another(
            targets if output_gradients is None else list(targets) + list(seeds)), None
        try:
            if recorded:
                self._recording = own
                try:
                    grads, weight_grads = self._backward_recorded(targets, seeds, keys), {}
                except NotImplementedError as exc:
                    # a layer it cannot differentiate twice: the first-order gradient, marked so that
                    # differentiating it raises this, and an outer tape that never does is fine
                    recorded, why = False, str(exc)
                finally:
                    self._recording = False
            if not recorded:
                grads, weight_grads = self._backward(targets, seeds, set(keys))
        finally:
            self._recording = was_recording
        self._used = True
        # weight_grads: id -> the gradient Tensor of a weight one call or graph used, or a list of
        # them (several); grads: id -> the gradient of a tracked tensor (a watched input)
        result = [weight_grads.get(key) for key in keys]
        # (recorded: fresh outputs of ops the outer tapes hold, handed out as they are)
        copy = (self.persistent or self._shared) and not recorded
        if copy or grads or _has_lists(result):   # else each result is its one gradient as it is
            for i, key in enumerate(keys):
                parts = result[i]
                parts = [] if parts is None else parts if type(parts) is list else [parts]
                g = grads.get(key)
                if g is not None:
                    parts = [g] + parts
                result[i] = parts[0] if len(parts) == 1 and not copy else _sum(parts, copy=copy)
        if unconnected_gradients == "zero":
            result = [kernels.zeros(tuple(s.shape)) if g is None else g for s, g in zip(flat_sources, result)]
        # an integer source has no gradient in TensorFlow (None, whatever unconnected_gradients says)
        result = [None if s.dtype.is_integer else g for s, g in zip(flat_sources, result)]
        # a float source gets its gradient in its dtype, as TensorFlow (a float64 one computed in
        # float32, a float32 one through float64 layers; a recorded gradient through a recorded
        # cast, so the outer tapes still reach it)
        result = [_in_dtype_of(s, g, recorded) if isinstance(g, kernels.Tensor) and g.dtype != s.dtype
                  and s.dtype.is_floating else g for s, g in zip(flat_sources, result)]
        if not recorded:   # (recorded: the outer tapes hold the ops that made these gradients)
            self._mark_second_order(targets, [g for g in result if g is not None], was_recording, why)
        if not self.persistent:
            accessed = dict(self._accessed)
            self.reset()
            self._accessed = accessed   # watched_variables() still answers after the one gradient
        return rebuild(result)

    def jacobian(self, target, sources, unconnected_gradients=None, parallel_iterations=None,
                 experimental_use_pfor=True):
        """d(target)/d(sources) element by element: for each source a Tensor of shape
        target.shape + source.shape (TensorFlow's layout). One reverse pass per element of the
        target, each seeded with that element's one-hot; a non-persistent tape allows one call,
        as ``gradient``. Meant for the small cases the autodiff guide shows."""
        flat_sources, rebuild = _flatten(sources)
        target = convert(target, "GradientTape.jacobian")
        rows = self._rows_of("jacobian", target, flat_sources, unconnected_gradients,
                             [np.unravel_index(i, tuple(target.shape)) for i in range(int(np.prod(target.shape)))])
        out = []
        for j, s in enumerate(flat_sources):
            if rows[0][j] is None:
                out.append(None)
                continue
            dtype = np.float64 if str(s.dtype) == "float64" else np.float32
            stacked = np.stack([np.asarray(r[j], dtype) for r in rows]) if rows else \
                np.zeros((0,) + tuple(s.shape), dtype)
            out.append(kernels.Tensor.from_numpy(np.asarray(
                stacked.reshape(tuple(target.shape) + tuple(s.shape)), order="C")))
        return rebuild(out)

    def batch_jacobian(self, target, source, unconnected_gradients=None, parallel_iterations=None,
                       experimental_use_pfor=True):
        """The per-sample Jacobian: target (B, ...) and source (B, ...) give (B, target.shape[1:] +
        source.shape[1:]), entry [b, i, j] = d target[b, i] / d source[b, j]. Sample b's target
        must depend only on sample b's source (what a batch of independent samples is), so one
        pass seeded with element i of every sample gives row i for the whole batch."""
        target = convert(target, "GradientTape.batch_jacobian")
        if target.ndim < 1 or source.ndim < 1 or target.shape[0] != source.shape[0]:
            raise ValueError(f"GradientTape.batch_jacobian: target and source need the same batch size "
                             f"(axis 0), got shapes {tuple(target.shape)} and {tuple(source.shape)}")
        inner = tuple(target.shape[1:])
        rows = self._rows_of("batch_jacobian", target, [source], unconnected_gradients,
                             [(slice(None),) + np.unravel_index(i, inner) for i in range(int(np.prod(inner)))])
        if rows[0][0] is None:
            return None
        b = target.shape[0]
        stacked = np.stack([np.asarray(r[0], np.float32) for r in rows], axis=1)   # (B, prod(inner), src...)
        return kernels.Tensor.from_numpy(np.asarray(
            stacked.reshape((b,) + inner + tuple(source.shape[1:])), order="C"))

    def _rows_of(self, op, target, sources, unconnected_gradients, seeds_at):
        """One ``gradient`` of ``target`` per entry of ``seeds_at`` (an index into the target),
        seeded with ones there: the rows of a Jacobian, as NumPy arrays (None: unconnected)."""
        if self._used and not self.persistent:
            raise RuntimeError(f"GradientTape.{op}: a non-persistent tape can only compute one gradient; "
                               "use GradientTape(persistent=True) to call it several times")
        if not seeds_at:
            raise ValueError(f"GradientTape.{op}: the target has no elements (shape {tuple(target.shape)})")
        was_persistent, self.persistent = self.persistent, True
        rows = []
        try:
            for at in seeds_at:
                seed = np.zeros(tuple(target.shape), np.float32)
                seed[at] = 1.0
                grads = self.gradient(target, list(sources), output_gradients=kernels.Tensor.from_numpy(seed),
                                      unconnected_gradients=unconnected_gradients)
                rows.append([None if g is None else np.array(g, np.float32) for g in grads])
        finally:
            self.persistent = was_persistent
        if not was_persistent:
            accessed = dict(self._accessed)
            self.reset()
            self._accessed = accessed
        return rows

    def _training_step_gradient(self, target, sources):
        """The gradients of a training step's loss, or None when this is not such a step.

        The step of TensorFlow's custom-training-loop guides records two things: one model call
        (a captured graph: one input nobody watches, one output) and a built-in loss of that
        output, whose fused kernel already computed d(loss)/d(output). Asked for
        ``d(loss)/d(model.trainable_variables)`` after the ``with`` block, the general walk in
        _backward would come to the same thing: seed 1 through the loss rule, the graph's
        backward, the graph's weight gradients in its own weight order. Doing just that saves
        the per-step bookkeeping (seed tensors, dictionaries keyed by tensor id, result lists),
        which is what separated a tape step from a ``fit`` step (bench/tape_steps.py)."""
        records = self._records
        if len(records) != 2 or self.persistent or self._shared or self._recording or _local.tapes:
            return None   # (any recording tape would need the second-order bookkeeping)
        model_call, loss = records
        rule, graph = loss.rule, model_call.graph
        if type(rule) is not _LossRule or graph is None or loss.outputs[0] is not target \
                or len(model_call.outputs) != 1 or loss.inputs[0] is not model_call.outputs[0] \
                or len(model_call.inputs) != 1 or graph._inner_outputs:
            return None
        x = model_call.inputs[0]
        if id(x) in self._tracked or is_variable(x):
            return None   # an input gradient asked for: the general walk copies it out
        params, ids = graph.weight_params()
        if ids is None or len(ids) != len(sources):
            return None
        for s, key in zip(sources, ids):
            if id(s) != key:
                return None   # other sources, or another order: the general walk maps them
        self._used = True
        _unhold_weight_grads(graph)
        graph.backward([rule.grad])   # a seed of 1: the loss's own gradient as it is
        result = [p.grad for p in params]
        accessed = dict(self._accessed)
        self.reset()
        self._accessed = accessed   # watched_variables() still answers after the one gradient
        return result

    def _mark_second_order(self, targets, outs, was_recording, why=None):
        """A gradient computed while a tape records (an inner tape inside an outer one, WGAN-GP's
        gradient penalty, or a persistent tape inside its own block) is not differentiable in
        corenn: the backward kernels are not recorded. Rather than let a recording tape treat it as
        a constant (a silently wrong second-order gradient), each such tape that tracks a target
        records the gradients as outputs of a rule that raises when a gradient reaches them."""
        stack = _stack()
        if not stack and not was_recording:   # the usual step: no tape records now
            return
        recording = [t for t in stack if t._recording and t is not self]
        if was_recording:
            recording.append(self)
        if not recording:
            return
        for tape in recording:
            if outs and any(id(t) in tape._tracked for t in targets if isinstance(t, kernels.Tensor)):
                rule = _second_order if why is None else _SecondOrderRefused(why)
                tape._keep(_Record(None, rule, list(targets), outs, True, True))

    def _differentiated_by_another(self, targets) -> bool:
        """Whether another tape records now and tracks a target: its gradient will then be
        differentiated (WGAN-GP's penalty, a PINN's u_xx, a Hessian-vector product), so it is
        computed with recorded ops (models/second_order.py for layer calls, op_gradients.py for
        tensor ops). Where that cannot be done, gradient falls back to the first-order one,
        marked (_mark_second_order)."""
        outer = [t for t in _stack() if t is not self and t._recording]
        return bool(outer) and any(id(t) in o._tracked for o in outer for t in targets
                                   if isinstance(t, kernels.Tensor))

    def _backward_recorded(self, targets, seeds, source_ids):
        """_backward with the gradients computed by recorded ops (see _differentiated_by_another):
        layer calls and captured graphs through models/second_order.py (their weights' gradients
        too when a source is not a watched input), tensor ops through op_gradients.py. Returns
        {id: gradient} for the tracked tensors and weights it reached."""
        from .models import second_order
        weights = any(key not in self._tracked for key in source_ids)
        grads: dict[int, object] = {}
        for t, seed in zip(targets, seeds):
            g = kernels.Tensor.empty(t.shape).fill_(1.0) if seed is None else convert(seed, "seed")
            _accumulate(grads, id(t), g)
        for rec in reversed(self._records):
            # consumed here, but a source's gradient is kept for the result (an intermediate source)
            dys = [grads.get(id(o)) if id(o) in source_ids else grads.pop(id(o), None) for o in rec.outputs]
            if all(g is None for g in dys):
                continue
            if rec.n_losses:
                raise NotImplementedError("GradientTape.gradient: a second-order gradient through a layer that "
                                          "adds losses (add_loss / activity_regularizer)")
            weight_grads = {}
            if rec.graph is not None:
                # (an output no gradient reached stays None: the calls only it needs are skipped)
                dxs, weight_grads = second_order.graph_input_gradients(rec.graph, rec.inputs, dys, weights)
            elif rec.ctx is not None:
                if rec.multi_out:
                    raise NotImplementedError(f"GradientTape.gradient: a second-order gradient through layer "
                                              f"'{rec.ctx.name}', which returns several tensors")
                dxs, weight_grads = second_order.layer_input_gradients(rec.ctx, rec.inputs, dys, weights)
            else:
                dxs = _op_input_gradients(rec, dys)
            pairs = list(zip(rec.inputs, dxs)) + list(weight_grads.values())
            for x, g in pairs:
                if g is not None and (id(x) in self._tracked or id(x) in source_ids or self.needs_grad(x)):
                    key = id(x)
                    grads[key] = g if key not in grads else _ops_add(grads[key], g)
        return grads

    def _backward(self, targets, seeds, source_ids):
        grads: dict[int, object] = {}
        for t, seed in zip(targets, seeds):
            if not isinstance(t, kernels.Tensor):
                raise TypeError(f"GradientTape.gradient: the target must be a Tensor, got {type(t).__name__}")
            g = kernels.Tensor.empty(t.shape).fill_(1.0) if seed is None else convert(seed, "seed")
            _accumulate(grads, id(t), g)
        weight_grads: dict[int, list] = {}
        tracked = self._tracked
        for rec in reversed(self._records):
            keys = [id(o) for o in rec.outputs]
            dys = [grads.get(key) for key in keys]
            for g in dys:
                if g is not None:
                    break
            else:
                continue
            for key in keys:   # consumed here (a source's gradient is kept for the result)
                if key not in source_ids:
                    grads.pop(key, None)
            if rec.graph is not None:
                graph = rec.graph
                n_out = len(graph.output_slots)
                dy = [kernels.zeros(tuple(o.shape)) if g is None else g for o, g in zip(rec.outputs[:n_out], dys)]
                seeds = None
                if len(rec.outputs) > n_out:   # the losses its layers added
                    seeds = [0.0 if g is None else float(np.asarray(g).sum()) for g in dys[n_out:]]
                _unhold_weight_grads(graph)
                # an output that other nodes read and that is itself a source: its gradient is the
                # sum over the graph's inner uses too, which only the graph's backward knows
                inner = [(o, graph.output_slots[k]) for k, o in enumerate(rec.outputs[:n_out])
                         if id(o) in source_ids and k in graph._inner_outputs] if graph._inner_outputs else ()
                slot_grads = {slot: None for _, slot in inner} if inner else None
                dxs = graph.backward(dy, loss_seeds=seeds, slot_grads=slot_grads)
                # the input gradients live in buffers the graph reuses on its next run (the next
                # batch of an integrated-gradients loop): the tape hands out copies
                dxs = [None if g is None else kernels.Tensor.from_numpy(np.array(g, copy=True)) for g in dxs]
                for o, slot in inner:
                    if slot_grads[slot] is not None:
                        grads[id(o)] = slot_grads[slot]
                keys, grads_of_weights = graph.weight_grads()
                if not weight_grads:   # the first call that reached weights: nothing to add to
                    weight_grads.update(zip(keys, grads_of_weights))
                else:
                    for key, g in zip(keys, grads_of_weights):
                        _add_part(weight_grads, key, g)
            elif rec.ctx is not None:
                ctx = rec.ctx
                if rec.n_losses:   # seeds of the losses it added, for Layer.backward
                    n = len(rec.outputs) - rec.n_losses
                    ctx._loss_seeds = [0.0 if g is None else float(np.asarray(g).sum()) for g in dys[n:]]
                    dys = dys[:n]
                    if all(g is None for g in dys):
                        dys = [kernels.zeros(tuple(o.shape)) for o in rec.outputs[:n]]
                if rec.multi_out:
                    dy = [kernels.zeros(tuple(o.shape)) if g is None else g for o, g in zip(rec.outputs, dys)]
                else:
                    dy = dys[0]
                dx = ctx.backward(dy)
                parts = ctx.__dict__.pop("_weight_grad_parts", None)
                if parts is not None:   # this call's own gradient Tensors (Layer.backward)
                    pairs = parts
                elif ctx.__dict__.get("_params") is not None and not ctx._sublayer_attrs:
                    pairs = [(p.value, p.grad) for p in ctx._all_params() if p.trainable] if ctx.trainable else []
                else:
                    from .layers.base import trained
                    pairs = zip(*trained(ctx))
                for w, g in pairs:
                    _add_part(weight_grads, id(w), g)
                dxs = (dx if rec.packed else [dx]) if dx is not None else []
            else:
                dxs = rec.rule(dys)
            for x, g in zip(rec.inputs, dxs):
                if g is not None:
                    key = id(x)
                    if key in tracked or self.needs_grad(x):
                        _accumulate(grads, key, g)
        return grads, weight_grads


class _LossRule:
    """The backward rule of a built-in loss call: its fused kernel computed d(loss)/d(y_pred)
    with the value, so the rule scales that by the seed (the training-step fast path of
    GradientTape.gradient reads ``grad`` directly)."""

    __slots__ = ("grad",)

    def __init__(self, grad):
        self.grad = grad

    def __call__(self, dys):
        return [scaled(self.grad, dys[0])]


def _op_input_gradients(rec, dys):
    """A tensor op's input gradients with recorded ops (op_gradients.py), for a gradient that an
    outer tape differentiates; an op with no such rule raises, naming it."""
    from . import op_gradients
    if rec.op is not None:
        try:
            return op_gradients.vjp(rec.op, rec.inputs, rec.outputs, dys)
        except NotImplementedError as exc:
            what = f"{rec.op[0]} {exc}" if str(exc) else rec.op[0]
    else:
        what = getattr(rec.rule, "__qualname__", type(rec.rule).__name__).split(".<locals>")[0]
    raise NotImplementedError(
        f"GradientTape.gradient: a gradient taken inside another tape's block (a higher-order gradient) "
        f"goes through the tensor op '{what}', whose gradient corenn cannot differentiate again; the ops "
        f"it can: elementwise arithmetic, unary math, the activations, sum / mean / max / min, reshape, "
        f"transpose, concatenate, matmul, where, indexing (corenn/op_gradients.py), and layer calls")


def _second_order(dys):
    raise NotImplementedError(
        "GradientTape.gradient: corenn cannot differentiate this gradient (a second-order derivative): a "
        "gradient computed while this tape recorded feeds the target, and it was not a gradient of layer "
        "calls with respect to watched inputs taken inside another tape (WGAN-GP's penalty, which corenn "
        "differentiates: models/second_order.py). Compute the inner gradient outside this tape's block, "
        "or use a penalty that needs only first-order gradients")


class _SecondOrderRefused:
    """The rule of a gradient that the second-order path could not record: raises its reason."""

    def __init__(self, why):
        self.why = why

    def __call__(self, dys):
        raise NotImplementedError(self.why)


class _TapeGroup:
    """Several tapes recording at once: nested ``with`` blocks, or ``with GradientTape() as g,
    GradientTape() as d:`` as the DCGAN tutorial writes. TensorFlow records every op on every
    active tape; here each op and layer call runs once and its record is shared by each tape that
    differentiates through it. A tape holding a shared record returns copies of its gradients
    (another tape's backward would overwrite a call context's gradient Tensors)."""

    def __init__(self, tapes, key):
        self.tapes, self.key = tapes, key

    @property
    def _records(self):   # truthy while any tape still holds records (a captured graph is in use)
        return [r for t in self.tapes for r in t._records]

    @property
    def watch_accessed_variables(self):
        return any(t.watch_accessed_variables for t in self.tapes)

    @property
    def _watched(self):
        return {k: v for t in self.tapes for k, v in t._watched.items()}

    @property
    def _tracked(self):
        return {k: v for t in self.tapes for k, v in t._tracked.items()}

    def needs_grad(self, t) -> bool:
        return any([tape.needs_grad(t) for tape in self.tapes])   # each tape notes the variables it saw

    def _keep(self, rec, weights=()):
        holders = [t for t in self.tapes if t._wants(rec, weights)] or self.tapes[-1:]
        rec.holders = len(holders)
        for t in holders:
            t._keep(rec)
            if len(holders) > 1:
                t._shared = True

    call_layer = GradientTape.call_layer
    call_graph = GradientTape.call_graph
    record = GradientTape.record


# -- tf.gradients: symbolic gradients where TensorFlow 2 builds a graph ------------------------------

class _GraphTape(GradientTape):
    """What TensorFlow 2's graph is to ``tf.gradients``: a tape that records every float
    computation (not only that of watched tensors and variables), so ``tf.gradients(ys, xs)``
    can differentiate ys with respect to any tensor xs that they were computed from. It is
    opened around the body of a ``tf.function`` and a user's ``train_step`` / ``test_step``
    whose code calls ``gradients`` (TensorFlow traces those into a graph), never around other
    code: recording everything costs memory and routes an inner tape's gradient through the
    recorded (differentiable) backward. Tapes opened outside it (a training step's) record the
    gradient's ops too, so a loss built from ``tf.gradients`` is differentiated to second order."""

    _records_everything = True

    def __init__(self):
        super().__init__(persistent=True, watch_accessed_variables=True)

    def needs_grad(self, t) -> bool:
        if id(t) in self._tracked or super().needs_grad(t):
            return True
        return isinstance(t, kernels.Tensor) and str(t.dtype).startswith("float")


def graph_tape():
    """The innermost recording _GraphTape of this thread (a tf.function body that calls
    tf.gradients), or None."""
    for t in reversed(_stack()):
        if isinstance(t, _GraphTape) and t._recording:
            return t
    return None


class GraphGradientsOutsideGraph(RuntimeError):
    """tf.gradients called where no graph tape records (TensorFlow 2's eager-execution error).
    A tf.function catches it once and runs its body again as a graph (corenn.function)."""


def graph_gradients(ys, xs, grad_ys=None, unconnected_gradients=None):
    """``tf.gradients``: the list of sum_i d ys[i] / d xs[j] (grad_ys: the seeds), on the
    innermost graph tape; RuntimeError where TensorFlow 2 runs eagerly."""
    tape = graph_tape()
    if tape is None:
        raise GraphGradientsOutsideGraph(
            "tf.gradients is not supported when eager execution is enabled. Use tf.GradientTape instead. "
            "(corenn runs tf.gradients where TensorFlow 2 builds a graph: inside a function decorated with "
            "@tf.function, or a Model.train_step / test_step, whose own code calls tf.gradients -- the "
            "layers and models it calls included; a Keras model's call, a Lambda or a layer run eagerly, "
            "or by fit / predict without such a step, raises this, as TensorFlow does outside a graph)")
    ys_list = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    xs_list = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    if grad_ys is not None:
        grad_ys = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys]
        if len(grad_ys) != len(ys_list):
            raise ValueError(f"tf.gradients: grad_ys has {len(grad_ys)} entries for {len(ys_list)} ys")
        grad_ys = [None if g is None else convert(g, "grad_ys") for g in grad_ys]
    for name, group in (("ys", ys_list), ("xs", xs_list)):
        for t in group:
            if not isinstance(t, kernels.Tensor):
                raise TypeError(f"tf.gradients: {name} must be tensors computed inside the function, got "
                                f"{type(t).__name__}")
    unconnected = getattr(unconnected_gradients, "value", unconnected_gradients)
    if unconnected not in (None, "none", "zero"):
        raise ValueError(f"tf.gradients: unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
    for x in xs_list:   # any tensor is a source in a graph; one made before the tape has no records
        tape._tracked.setdefault(id(x), x)
    return list(tape.gradient(ys_list, xs_list, output_gradients=grad_ys, unconnected_gradients=unconnected))


def calls_graph_gradients(fn) -> bool:
    """Whether the code of ``fn`` (a function or method, and the functions and lambdas defined
    in it) names ``gradients``: ``tf.gradients(...)``. Only such functions run as a graph."""
    fn = getattr(fn, "__func__", fn)
    fn = getattr(fn, "__wrapped__", fn)   # a tf.function's wrapper: the function it wraps
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    stack = [code] if code is not None else []
    while stack:
        c = stack.pop()
        if "gradients" in c.co_names:
            return True
        stack.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    return False


class run_as_graph:
    """``with run_as_graph(): ...`` -- the block records on a _GraphTape (see there)."""

    def __enter__(self):
        self.tape = _GraphTape()
        return self.tape.__enter__()

    def __exit__(self, *exc):
        self.tape.__exit__(*exc)
        self.tape.reset()   # its records are the function's; outer tapes keep their own holds
        return False


class _Pause:
    def __init__(self, tape):
        self.tape = tape

    def __enter__(self):
        self.was, self.tape._recording = self.tape._recording, False
        return self.tape

    def __exit__(self, *exc):
        self.tape._recording = self.was
        return False


def several_tapes_recording() -> bool:
    """Whether more than one tape records now (nested blocks): a gradient taken now may itself
    be differentiated, so built-in losses compute with ops rather than their fused kernels."""
    stack = _stack()
    return len(stack) > 1 and sum(1 for t in stack if t._recording) > 1


class rules_run_in:
    """``with autodiff.rules_run_in(mode):`` (mode: a function returning a context manager) the
    rules of the ops recorded inside run inside ``mode()`` when a gradient is taken. An op whose
    formulas read a thread-local mode (ops' float64 NumPy mode) computes its gradient in the
    mode its forward ran in."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        if not hasattr(_local, "rule_modes"):
            _local.rule_modes = []
        _local.rule_modes.append(self.mode)

    def __exit__(self, *exc):
        _local.rule_modes.pop()
        return False


def _run_in(rule, modes):
    def rule_in_modes(dys):
        import contextlib
        with contextlib.ExitStack() as stack:
            for mode in modes:
                stack.enter_context(mode())
            return rule(dys)
    return rule_in_modes


def _in_dtype_of(source, g, recorded):
    """The gradient ``g`` of ``source`` in the source's float dtype: as it is when it has it, else
    cast (recorded when the gradient is itself differentiated)."""
    if str(g.dtype) == str(source.dtype):
        return g
    if recorded:
        from . import ops
        return ops.cast(g, str(source.dtype))
    return kernels.Tensor.from_numpy(np.asarray(g).astype(str(source.dtype)))


def record_op(rule, inputs, outputs, op=None) -> bool:
    """Record a tensor op on the recording tape (if any)."""
    tape = recording_tape()
    return tape is not None and tape.record(rule, inputs, outputs, op)


class stop_recording:
    """``with corenn.autodiff.stop_recording():`` nothing inside is recorded on any tape."""

    def __enter__(self):
        self.paused = [t for t in _stack() if t._recording]
        for t in self.paused:
            t._recording = False

    def __exit__(self, *exc):
        for t in self.paused:
            t._recording = True
        return False


# -- helpers --------------------------------------------------------------------------------------

def _input_tensor(x, float64=False):
    """A model input as the float32 Tensor that fit and predict hand the captured graph
    (models/model.py _to_array): a C-contiguous float32 array is wrapped as it is (the common
    batch), a float32 Tensor passes (a watched input keeps its identity), and numbers of any
    other dtype are cast (integer pixels or ids into a Dense or an Embedding model). ``float64``
    (an Input of dtype float64): the same with float64."""
    if float64:
        if isinstance(x, kernels.Tensor) and x.dtype == "float64":
            return x
        from . import ops   # (a float32 Tensor joins through a recorded cast: its gradient still flows)
        return ops.cast(x, "float64") if isinstance(x, kernels.Tensor) and x.dtype.is_floating else \
            kernels.Tensor.from_numpy(np.array(np.asarray(x), dtype=np.float64, order="C"))
    if type(x) is kernels.Tensor or isinstance(x, kernels.Tensor):
        if x.dtype == "float32":
            return x
        x = np.asarray(x)
    if type(x) is np.ndarray and x.dtype is _FLOAT32 and x.flags.c_contiguous:
        return kernels.Tensor.from_numpy(x)
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"model input: expected numeric data, got dtype {a.dtype}")
    return kernels.Tensor.from_numpy(np.array(a, dtype=np.float32, order="C"))   # (keeps 0-d)


_FLOAT32 = np.dtype(np.float32)


def convert(x, where="tensor"):
    """A Tensor for ``x`` (Tensors pass through; float and bool arrays and numbers become float32
    Tensors, integer arrays keep their dtype, as Keras's convert_to_tensor keeps uint8)."""
    if isinstance(x, kernels.Tensor):
        return x
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{where}: expected numeric data, got dtype {a.dtype}")
    if a.dtype != np.float32 and a.dtype.kind == "f" or a.dtype.kind == "b":
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu" and not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return kernels.Tensor.from_numpy(np.asarray(a, order="C"))  # keeps 0-d (ascontiguousarray would not)


def _distinct(outs, inputs):
    """Outputs as Tensor objects distinct from the inputs (a layer that passes its input through,
    Identity or inactive Dropout, gets a view), so the tape's bookkeeping by identity holds."""
    ids = {id(x) for x in inputs}
    return [o.reshape(list(o.shape)) if id(o) in ids else o for o in outs]


def _add_part(weight_grads, key, g):
    """One more gradient of the weight ``key`` (summed by gradient): the Tensor itself when it is
    the first, a list once there are several."""
    have = weight_grads.get(key)
    if have is None:
        weight_grads[key] = g
    elif type(have) is list:
        have.append(g)
    else:
        weight_grads[key] = [have, g]


def _has_lists(values):
    for v in values:
        if type(v) is list:
            return True
    return False


def _ops_add(a, b):
    from . import ops
    return ops.add(a, b)


def _accumulate(grads, key, g):
    """grads[key] += g (key: the id of the tensor g is the gradient of)."""
    have = grads.get(key)
    if have is None:
        grads[key] = g
    else:
        grads[key] = _sum([have, g], copy=True)


def _sum(parts, copy=False):
    if not parts:
        return None
    if len(parts) == 1:
        return kernels.Tensor.from_numpy(np.array(parts[0], copy=True)) if copy else parts[0]
    if any(isinstance(p, kernels.Tensor) and str(p.dtype) != "float32" for p in parts):
        # float64 / float16 gradients (ops._ops_wide): NumPy, in the widest of their dtypes
        arrays = [np.asarray(p) for p in parts]
        return kernels.Tensor.from_numpy(np.array(sum(arrays[1:], arrays[0].astype(np.result_type(*arrays))),
                                                  order="C"))
    out = kernels.empty(tuple(parts[0].shape))
    fn = getattr(kernels, "sum_n", None)
    if fn is not None:
        return fn(list(parts), out=out)
    acc = np.asarray(out)
    np.add(np.asarray(parts[0]), np.asarray(parts[1]), out=acc)
    for p in parts[2:]:
        acc += np.asarray(p)
    return out


def _fusion():
    """corenn.models.fusion, imported on first use (corenn.models imports this module)."""
    global _FUSION
    if _FUSION is None:
        from .models import fusion
        _FUSION = fusion
    return _FUSION


_FUSION = None


# how many times _unhold_weight_grads gave a Param a new gradient Tensor: a model's cached step
# lists (fit's gradients, models/model.py _train_step) built before a change are stale
GRADS_REPLACED = [0]


def _unhold_weight_grads(graph):
    """Before a captured graph writes its weight gradients: a gradient Tensor that the caller
    still holds (last step's gradients, kept) is replaced by a new one, never overwritten."""
    refcount = sys.getrefcount
    for acc in graph.weight_accumulators:
        replaced = False
        for p in acc._params:
            g = p.grad
            if g is not None and (refcount(g) > 3 or g._storage_refs > 1):  # slot, g, argument
                # a spare nobody holds (double buffering across steps); the backward overwrites
                # it whole, and finish_weight_grads zeroes the gradient of a layer no call reached
                p.grad = p.spare_grad()
                replaced = True
        if replaced:   # fit's cached step lists of its gradients are stale
            acc.__dict__.get("_owner", acc).__dict__.pop("_step_lists", None)   # (a Layer's getattr miss is slow)
            GRADS_REPLACED[0] += 1   # (a graph inside a custom layer: the model holding it is not acc's owner)


def scaled(t, s):
    """t * s for a Tensor ``t`` and a scalar Tensor ``s`` (t itself when s == 1)."""
    k = float(np.asarray(s))
    if k == 1.0:
        return t
    return kernels.Tensor.from_numpy(np.asarray(t) * np.float32(k))


class ForwardAccumulator:
    """``tf.autodiff.ForwardAccumulator(primals, tangents)``: Jacobian-vector products of what
    the ``with`` block computes from ``primals``, ``acc.jvp(y)`` = (dy/dprimals) . tangents,
    summed over the primals. corenn has no forward-mode kernels: the block is recorded on a
    persistent GradientTape watching the primals, and ``jvp`` contracts the reverse-mode Jacobian
    (one backward pass per element of ``y``) with the tangents. Exact, meant for the small
    cases the autodiff guides show; ``y`` may be a gradient an inner tape computed in the block
    (forward-over-backward Hessian-vector products) where corenn differentiates that gradient."""

    def __init__(self, primals, tangents):
        self._primals, _ = _flatten(primals)
        flat_tangents, _ = _flatten(tangents)
        if len(flat_tangents) != len(self._primals):
            raise ValueError(f"ForwardAccumulator: {len(self._primals)} primals but {len(flat_tangents)} tangents")
        self._tangents = []
        for p, t in zip(self._primals, flat_tangents):
            if not isinstance(p, kernels.Tensor):
                raise TypeError(f"ForwardAccumulator: primals must be Tensors or Variables, got {type(p).__name__}")
            t = np.asarray(t, np.float32)
            if t.shape != tuple(p.shape):
                raise ValueError(f"ForwardAccumulator: a tangent's shape {t.shape} differs from its primal's "
                                 f"{tuple(p.shape)}")
            self._tangents.append(t)
        self._tape = GradientTape(persistent=True, watch_accessed_variables=False)

    def __enter__(self):
        self._tape.__enter__()
        self._tape.watch(self._primals)
        return self

    def __exit__(self, *exc):
        return self._tape.__exit__(*exc)

    def jvp(self, primals, unconnected_gradients="none"):
        """The JVP of each Tensor in ``primals`` (a Tensor or a structure of them): a Tensor of
        its shape; None where it does not depend on the accumulator's primals (zeros with
        ``unconnected_gradients='zero'``)."""
        if unconnected_gradients not in ("none", "zero", None):
            raise ValueError(f"ForwardAccumulator.jvp: unconnected_gradients must be 'none' or 'zero', "
                             f"got {unconnected_gradients!r}")
        targets, rebuild = _flatten(primals)
        out = []
        for y in targets:
            y = convert(y, "ForwardAccumulator.jvp")
            with self._tape.stop_recording():
                jac = self._tape.jacobian(y, list(self._primals), unconnected_gradients="none")
            total = None
            for j, t in zip(jac, self._tangents):
                if j is None:
                    continue
                part = np.tensordot(np.asarray(j, np.float64), t.astype(np.float64), axes=t.ndim) \
                    if t.ndim else np.asarray(j, np.float64) * float(t)
                total = part if total is None else total + part
            if total is None:
                out.append(None if unconnected_gradients in ("none", None)
                           else kernels.Tensor.from_numpy(np.zeros(tuple(y.shape), np.float32)))
            else:
                # (np.array, not ascontiguousarray: that makes a 0-d result 1-d)
                out.append(kernels.Tensor.from_numpy(np.array(
                    np.asarray(total, np.float32).reshape(tuple(y.shape)), order="C")))
        return rebuild(out)


def _flatten(sources):
    """The Tensors of ``sources`` in order, and a function building the same structure from a
    flat list of results. Lists, tuples and dicts nest, as TensorFlow's nested sources (the MAE
    example asks for ``[model_a.trainable_variables, model_b.trainable_variables, ...]``)."""
    if isinstance(sources, dict):
        keys = list(sources)
        parts = [_flatten(sources[k]) for k in keys]
        if all(rebuild is _one for _, rebuild in parts):   # the flat case, kept cheap
            return [flat[0] for flat, _ in parts], lambda r: dict(zip(keys, r))
        return _nest(parts, lambda vals: dict(zip(keys, vals)))
    if isinstance(sources, (list, tuple)):
        kind = type(sources)
        if not any(isinstance(s, (list, tuple, dict)) for s in sources):
            return list(sources), (lambda r: list(r)) if kind is list else (lambda r: tuple(r))
        return _nest([_flatten(s) for s in sources], list if kind is list else tuple)
    return [sources], _one


def _one(r):
    return r[0]


def _nest(parts, make):
    flat, sizes = [], []
    for f, _ in parts:
        flat.extend(f)
        sizes.append(len(f))

    def rebuild(r):
        out, at = [], 0
        for (_, sub), n in zip(parts, sizes):
            out.append(sub(r[at:at + n]))
            at += n
        return make(out)
    return flat, rebuild
