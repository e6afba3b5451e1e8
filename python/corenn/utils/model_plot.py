"""plot_model: a diagram of a model's graph of layer calls, as text (or Graphviz DOT).

Keras draws an image with pydot and graphviz; corenn needs neither: the diagram is text, one box
per layer call in topological order, each naming the calls it reads from when that is not simply
the box above (branches, merges, shared layers). ``to_file='m.dot'`` writes the graph in DOT,
which ``dot -Tpng m.dot -o m.png`` renders where graphviz is installed. An image name (``.png``,
``.jpg``, ``.pdf``, ``.svg``, as Keras' guides write ``plot_model(model, "model.png")``) gets the
text diagram drawn by matplotlib (the optional 'plot' extra) in that format; without matplotlib
the text is written under that name and a warning says so.
"""
from __future__ import annotations

import os

__all__ = ["plot_model"]


def _entries(model, show_shapes, show_layer_names):
    """(key, box lines, source keys) per call, in topological order."""
    from ..layers.base import shape_str
    graph = model._graph
    names, entries = {}, []
    for t in graph.inputs:
        layer = t.node.layer
        key = layer.name
        names[id(t)] = key
        lines = [f"{layer.name} (InputLayer)" if show_layer_names else "InputLayer"]
        if show_shapes:
            lines.append(f"output: {shape_str(t.shape)}")
        entries.append((key, lines, []))
    calls = {}
    for node in graph.nodes:
        layer = node.layer
        n = calls.get(id(layer), 0)
        calls[id(layer)] = n + 1
        key = layer.name if n == 0 else f"{layer.name}[{n}]"
        for t in node.outputs:
            names[id(t)] = key
        title = f"{layer.name} ({type(layer).__name__})" if show_layer_names else type(layer).__name__
        if n:
            title += f" call {n + 1}"
        lines = [title]
        if show_shapes:
            ins = ", ".join(shape_str(t.shape) for t in node.inputs)
            outs = ", ".join(shape_str(t.shape) for t in node.outputs)
            lines.append(f"{ins} -> {outs}")
        entries.append((key, lines, [names[id(t)] for t in node.inputs]))
    return entries


def _text(entries):
    width = max(max(len(l) for l in lines + [f"from: {', '.join(sources)}"]) for _, lines, sources in entries) + 4
    mid = width // 2
    out, previous = [], None
    for key, lines, sources in entries:
        if previous is not None:
            if sources == [previous]:
                out += [" " * mid + "|", " " * mid + "v"]
            else:
                out.append("")
        lines = list(lines)
        if sources and sources != [previous]:
            lines.append(f"from: {', '.join(sources)}")
        out.append("+" + "-" * (width - 2) + "+")
        out += ["| " + l.center(width - 4) + " |" for l in lines]
        out.append("+" + "-" * (width - 2) + "+")
        previous = key
    return "\n".join(out) + "\n"


def _dot(model, entries):
    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = [f"digraph {q(model.name)} {{", "  node [shape=box];"]
    for key, lines, sources in entries:
        label = '"' + "\\n".join(q(l)[1:-1] for l in lines) + '"'   # DOT's line break is \n
        out.append(f"  {q(key)} [label={label}];")
        for src in sources:
            out.append(f"  {q(src)} -> {q(key)};")
    out.append("}")
    return "\n".join(out) + "\n"


def plot_model(model, to_file=None, show_shapes=True, show_layer_names=True, **kwargs):
    """A diagram of ``model``'s layer calls; returns the text and writes it to ``to_file`` when
    given (DOT when the name ends in .dot). Other Keras arguments are accepted and ignored."""
    from ..saving import atomic_write
    if not model.built or getattr(model, "_graph", None) is None:
        raise ValueError(f"plot_model: {model.name} is not built yet (or is a subclassed model whose "
                         "graph is its Python call); build it or give the first layer input_shape=...")
    entries = _entries(model, show_shapes, show_layer_names)
    diagram = _text(entries)
    if to_file is not None:
        import os
        name = os.fspath(to_file)
        if name.lower().endswith(_IMAGE_FORMATS) and _draw_image(diagram, name, kwargs.get("dpi") or 96):
            return diagram
        content = _dot(model, entries) if name.endswith(".dot") else diagram
        atomic_write(to_file, lambda f: f.write(content), mode="w")
    return diagram


_IMAGE_FORMATS = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def _draw_image(diagram, path, dpi):
    """The text diagram drawn in a monospace font into an image file (its format from the
    name), written atomically; False (after a warning) when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        import warnings
        warnings.warn(f"plot_model: matplotlib is not installed, so {path} holds the text diagram, not an "
                      "image (install corenn's 'plot' extra, or name the file .txt / .dot)", UserWarning,
                      stacklevel=3)
        return False
    from ..saving import atomic_write
    lines = diagram.rstrip("\n").split("\n")
    width = max(len(line) for line in lines)
    fig = Figure(figsize=(max(2.0, 0.09 * width + 0.4), max(1.0, 0.17 * len(lines) + 0.4)))
    fig.text(0.5, 0.5, "\n".join(lines), family="monospace", fontsize=9, ha="center", va="center",
             multialignment="left")   # the lines keep their columns
    fmt = os.path.splitext(path)[1][1:].lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi))
    return True
