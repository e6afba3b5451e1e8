"""plot_model: a text diagram of a model (Keras draws an image with pydot; a Sequential is a
chain of layers, so a column of boxes says the same and needs no graphviz)."""
from __future__ import annotations

__all__ = ["plot_model"]


def plot_model(model, to_file=None, show_shapes=True, show_layer_names=True, **kwargs):
    """A text diagram of ``model``: one box per layer, arrows between them. Returns the text;
    also writes it to ``to_file`` when given. (Keras draws an image with pydot; a Sequential is
    a chain, so text says the same.) Other Keras arguments are accepted and ignored."""
    from ..layers.base import shape_str
    from ..saving import atomic_write
    if not model.built:
        raise ValueError(f"plot_model: {model.name} is not built yet; build it or give the first "
                         "layer input_shape=...")
    boxes = []
    if show_shapes:
        boxes.append([f"input: {shape_str(model.input_shape)}"])
    for layer in model.layers:
        title = f"{layer.name} ({type(layer).__name__})" if show_layer_names else type(layer).__name__
        lines = [title]
        if show_shapes:
            lines.append(f"{shape_str(layer.input_shape)} -> {shape_str(layer.output_shape)}")
        boxes.append(lines)
    width = max(len(l) for b in boxes for l in b) + 4
    mid = width // 2
    text = []
    for k, box in enumerate(boxes):
        if k:
            text += [" " * mid + "|", " " * mid + "v"]
        text.append("+" + "-" * (width - 2) + "+")
        text += ["| " + l.center(width - 4) + " |" for l in box]
        text.append("+" + "-" * (width - 2) + "+")
    diagram = "\n".join(text) + "\n"
    if to_file is not None:
        atomic_write(to_file, lambda f: f.write(diagram), mode="w")
    return diagram
