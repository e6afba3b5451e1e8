"""model.summary(): the Keras table plus FLOPs and measured time per layer.

Columns: Layer (type), Output Shape, Param # (as Keras), FLOPs (one forward pass per sample,
``Layer.flops``: a multiply-add counts 2), and after training Fwd ms / Bwd ms: the mean
wall-clock milliseconds per training step each layer spent in forward and backward.

Timing cost: ``Sequential._forward`` / ``_loss_grad`` read ``time.perf_counter_ns`` once per
layer and pass and add into a list (0.2 us per read, 0.5 us per ``_timings()`` lookup, measured
with timeit on the shared 2-core box): about 3 us per step for the README's 4-layer MLP, whose
step takes about 2.5 ms (batch 128 at 50,800 samples/s), i.e. about 0.1%. It is therefore on
by default; only toy models with steps under ~0.3 ms pay more than 1%: set
``model.profile = False`` there. Means include the first (warm-up) step of each shape.
"""
from __future__ import annotations

import numpy as np

from ..layers.base import shape_str

__all__ = ["LayerTimings", "format_summary"]


class LayerTimings:
    """Nanoseconds accumulated per layer over ``steps`` training steps."""

    def __init__(self, layers):
        self.layers = list(layers)
        self.forward = [0] * len(self.layers)
        self.backward = [0] * len(self.layers)
        self.loss = 0
        self.steps = 0

    def ms_per_step(self, ns):
        return ns / self.steps / 1e6


def _human(n) -> str:
    """1234 -> '1.23K', 5e6 -> '5.00M' (FLOPs)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def _bytes(n) -> str:
    """Keras 3's size note: 332.00 B, 198.79 KB, 1.20 MB (powers of 1024)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.2f} B"


def _entries(model, graph):
    """(layer or inner model, its calls: Nodes / ModelCalls) per row."""
    if graph is not None and type(model).__name__ != "Sequential":
        return model._layer_rows()
    nodes = {}
    if graph is not None:
        for node in graph.nodes:   # a nested model's inlined nodes: its call (one row, as Keras)
            owner, item = (node.group.model, node.group) if node.group is not None else (node.layer, node)
            calls = nodes.setdefault(id(owner), [])
            if not any(c is item for c in calls):
                calls.append(item)
    return [(layer, nodes.get(id(layer), [])) for layer in model.layers]


def _is_nested_model(entry, model):
    from .model import Model
    return isinstance(entry, Model) and entry is not model and entry.built


def _rows(model, timings, show_trainable=False, expand_nested=False, connected=None, depth=0):
    """One row per layer: name (type), output shape, params, FLOPs[, Connected to][, times].
    ``expand_nested``: an inner model's row is followed by its own layers' rows (recursively),
    their names prefixed by one "| " per level; the FLOPs total counts the inner model's row only.
    ``connected`` (the outer table's choice) says whether rows carry a "Connected to" cell."""
    graph = getattr(model, "_graph", None)
    if connected is None:
        connected = graph is not None and type(model).__name__ != "Sequential"
    entries = _entries(model, graph)
    call_index, label = {}, {}
    for entry, calls in entries:
        for i, call in enumerate(calls):
            call_index[id(call)] = i
            for k, t in enumerate(call.outputs):
                label[id(t)] = f"{entry.name}[{i}][{k}]"
    ms = {}
    if timings is not None:
        for k, layer in enumerate(timings.layers):
            f, b = ms.get(id(layer), (0, 0))
            ms[id(layer)] = (f + timings.forward[k], b + timings.backward[k])
    rows, total = [], 0
    prefix = "| " * depth
    for entry, calls in entries:
        inner = entry._graph.layers if getattr(entry, "_graph", None) is not None and entry is not model else [entry]
        if calls:
            call = calls[0]
            outs = [t.shape for t in call.outputs]
            out_text = shape_str(outs[0]) if len(outs) == 1 else ", ".join(shape_str(o) for o in outs)
            in_shape = ([t.shape for t in call.inputs] if call.packed else call.inputs[0].shape) \
                if call.inputs else None
        else:
            out_text, in_shape = shape_str(entry.output_shape) if entry.output_shape else "?", entry.input_shape
        try:
            flops = entry.flops(in_shape) if in_shape is not None else 0
        except (TypeError, ValueError, IndexError, AttributeError):
            flops = 0
        total += flops
        kind = type(entry).__name__
        kind = "Functional" if kind == "Model" else kind   # Keras' name for a graph model
        row = [f"{prefix}{entry.name} ({kind})", out_text, f"{entry.count_params():,}", _human(flops)]
        if connected:
            links = [label.get(id(t), t.name or "?") for call in calls for t in call.inputs]
            row.append(", ".join(links) if links else "-")
        if show_trainable:   # Keras' "Trainable" column: Y, N, or - for a layer without weights
            row.append(("Y" if entry.trainable else "N") if entry.weights else "-")
        if timings is not None:
            f = sum(ms.get(id(l), (0, 0))[0] for l in inner)
            b = sum(ms.get(id(l), (0, 0))[1] for l in inner)
            row += [f"{timings.ms_per_step(f):.3f}", f"{timings.ms_per_step(b):.3f}"]
        rows.append(row)
        if expand_nested and _is_nested_model(entry, model):
            nested, _ = _rows(entry, None, show_trainable, True, connected, depth + 1)
            if timings is not None:   # per-step times are kept for the outer model's rows only
                nested = [r + ["", ""] for r in nested]
            rows += nested
    return rows, total


def _layer_range(rows, layer_range):
    """Keras' ``layer_range=(first, last)``: the rows from the first top-level layer whose name
    matches ``first`` (fnmatch pattern) through the last matching ``last``."""
    import fnmatch
    if layer_range is None:
        return rows
    if not (isinstance(layer_range, (list, tuple)) and len(layer_range) == 2
            and all(isinstance(v, str) for v in layer_range)):
        raise ValueError(f"summary: layer_range must be a pair of layer names, got {layer_range!r}")
    names = [r[0].split(" (")[0] for r in rows]
    starts = [i for i, n in enumerate(names) if fnmatch.fnmatch(n, layer_range[0])]
    ends = [i for i, n in enumerate(names) if fnmatch.fnmatch(n, layer_range[1])]
    if not starts or not ends:
        raise ValueError(f"summary: layer_range {tuple(layer_range)} names no layer of {names}")
    return rows[starts[0]:ends[-1] + 1]


def _widths(headers, rows, line_length):
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    if line_length is not None:  # the first column (names) absorbs the difference
        widths[0] = max(8, widths[0] + int(line_length) - sum(widths))
    return widths


def _fit(text, width, right):
    if len(text) > width - 1:
        text = text[:max(1, width - 2)] + "~"
    return text.rjust(width - 1) + " " if right else text.ljust(width)


def format_summary(model, line_length=None, show_trainable=False, expand_nested=False,
                   layer_range=None) -> list[str]:
    """The lines of ``model.summary()``."""
    t = model.__dict__.get("_layer_timings")
    graph = getattr(model, "_graph", None)
    current = graph is not None and t is not None and t.layers == [s.owner for s in graph.run]
    timings = t if current and t.steps else None
    headers = ["Layer (type)", "Output Shape", "Param #", "FLOPs"]
    if graph is not None and type(model).__name__ != "Sequential":
        headers.append("Connected to")
    if show_trainable:
        headers.append("Trainable")
    if timings is not None:
        headers += ["Fwd ms", "Bwd ms"]
    rows, flops = _rows(model, timings, show_trainable, expand_nested)
    rows = _layer_range(rows, layer_range)
    widths = _widths(headers, rows, line_length)
    right = [False, False] + [h not in ("Connected to", "Trainable") for h in headers[2:]]

    def line(cells):
        return "".join(_fit(c, w, r) for c, w, r in zip(cells, widths, right)).rstrip()

    weights = model.count_params()
    trainable = sum(int(w.size) for w in model.trainable_weights)
    optimizer = _optimizer_counts(model)
    total = weights + (optimizer[0] if optimizer else 0)
    # bytes by each weight's dtype, as Keras 3 counts them (an int8-quantized kernel is 1 a value)
    weight_bytes = _nbytes(model.weights)
    trainable_bytes = _nbytes(model.trainable_weights)
    total_bytes = weight_bytes + (optimizer[1] if optimizer else 0)

    out = [f'Model: "{model.name}"', "_" * sum(widths), line(headers), "=" * sum(widths)]
    out += [line(r) for r in rows]
    out += ["=" * sum(widths),
            f"Total params: {total:,} ({_bytes(total_bytes)})",
            f"Trainable params: {trainable:,} ({_bytes(trainable_bytes)})",
            f"Non-trainable params: {weights - trainable:,} ({_bytes(weight_bytes - trainable_bytes)})"]
    if optimizer:
        out.append(f"Optimizer params: {optimizer[0]:,} ({_bytes(optimizer[1])})")
    out.append(f"Forward FLOPs per sample: {_human(flops)} (a multiply-add counts 2)")
    if timings is not None:
        ms = timings.ms_per_step
        out.append(f"Time per training step (mean of {timings.steps}): forward "
                   f"{ms(sum(timings.forward)):.3f} ms, loss {ms(timings.loss):.3f} ms, backward "
                   f"{ms(sum(timings.backward)):.3f} ms")
    out.append("_" * sum(widths))
    return out


def _nbytes(weights):
    return sum(int(w.size) * np.dtype(str(getattr(w, "dtype", "float32"))).itemsize for w in weights)


def _optimizer_counts(model):
    """(values, bytes) of the optimizer's variables once it has made them (its first update), as
    Keras 3's summary counts them in the total and on an 'Optimizer params' line; else None."""
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None or not getattr(opt, "built", False):
        return None
    count = size = 0
    for v in opt.variables:
        n = int(np.prod(np.shape(v)))
        count += n
        size += n * np.dtype(str(getattr(v, "dtype", "float32"))).itemsize
    return count, size


def format_unbuilt_summary(model, layers, line_length=None) -> list[str]:
    """Keras 3's table for a model whose input shape is not known yet: its layers with output
    shape "?" and, for those not built, "0 (unbuilt)" parameters."""
    headers = ["Layer (type)", "Output Shape", "Param #"]
    rows = []
    for layer in layers:
        n = sum(int(w.size) for w in layer.weights) if layer.built else 0
        rows.append([f"{layer.name} ({type(layer).__name__})", "?",
                     f"{n:,}" if layer.built else "0 (unbuilt)"])
    widths = _widths(headers, rows or [headers], line_length)
    right = [False, False, True]

    def line(cells):
        return "".join(_fit(c, w, r) for c, w, r in zip(cells, widths, right)).rstrip()

    total = sum(int(r[2].split()[0].replace(",", "")) for r in rows)
    out = [f'Model: "{model.name}"', "_" * sum(widths), line(headers), "=" * sum(widths)]
    out += [line(r) for r in rows]
    out += ["=" * sum(widths), f"Total params: {total:,} ({_bytes(4 * total)})",
            "(the input shape is not known yet: shapes and weights appear once the model is built)",
            "_" * sum(widths)]
    return out
