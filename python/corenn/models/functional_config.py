"""get_config / from_config of graph models, in Keras 3's functional format.

    {"name": ..., "trainable": ...,
     "layers": [{"class_name": "Dense", "config": {...}, "name": "dense",
                 "inbound_nodes": [{"args": [<tensor>], "kwargs": {}}, ...]}, ...],
     "input_layers": [[layer_name, node_index, tensor_index], ...],
     "output_layers": [[layer_name, node_index, tensor_index], ...]}
    <tensor> = {"class_name": "__keras_tensor__",
                "config": {"shape": [...], "dtype": ..., "keras_history": [layer, node, tensor]}}
``layers`` lists them in Keras' order (models.graph.keras_layer_order). A merge layer's call has one argument, the list of its input tensors. Node indices count the
calls of a layer inside this model, in topological order. Layer classes resolve through
``layers.deserialize`` (the registry), never through imports of arbitrary names.
"""
from __future__ import annotations

__all__ = ["graph_config", "model_from_graph_config"]


_MODEL_CLASS_NAMES = {"Model": "Functional"}


def graph_config(model, layer_spec=None):
    """``layer_spec(layer)`` replaces serialize for the entries (clone_model's in-memory tokens)."""
    from ..layers import serialize
    from ..layers.base import InputLayer
    if layer_spec is not None:
        serialize = layer_spec   # noqa: F811
    graph = model._graph
    history = {}         # id(KerasTensor) -> [layer name, call index, tensor index]
    rows = model._layer_rows()   # InputLayers among them, in Keras' order
    for entry, calls in rows:
        for i, call in enumerate(calls):
            for k, t in enumerate(call.outputs):
                history[id(t)] = [entry.name, i, k]

    def tensor(t):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype, "keras_history": history[id(t)]}}

    layers = []
    for entry, calls in rows:
        if isinstance(entry, InputLayer):
            layers.append(dict(serialize(entry), name=entry.name, inbound_nodes=[]))
            continue
        if hasattr(entry, "_graph") and layer_spec is None:   # an inner model, configured as a whole (Keras' nesting)
            cls = type(entry).__name__
            spec = {"class_name": _MODEL_CLASS_NAMES.get(cls, cls), "config": entry.get_config()}
        else:
            spec = serialize(entry)
        spec["name"] = entry.name
        spec["inbound_nodes"] = [_node_spec(entry, c, tensor) for c in calls]
        layers.append(spec)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": [history[id(t)] for t in graph.inputs],
            "output_layers": [history[id(t)] for t in graph.outputs],
            **({"output_names": list(model._output_dict_keys)} if model._output_dict_keys else {}),
            **({"input_names": list(model._input_dict_keys)} if model._input_dict_keys else {})}


def _node_spec(entry, call, tensor):
    """One call's ``{"args", "kwargs"}``: a layer called with several tensors (``layer(a, b)``)
    has one argument each, others one (a tensor, or a merge layer's list); kwargs hold a fixed
    ``training`` flag and the options a Keras layer's call was given."""
    keys = entry.__dict__.get("_dict_input_keys")
    if entry.__dict__.get("_positional_inputs"):
        args = [tensor(t) for t in call.inputs]
    elif keys is not None and call.packed and len(keys) == len(call.inputs):
        # a layer written with call on a dict of tensors: the dict, as Keras 3 writes it, so the
        # call gets its keys back when the model is loaded (keras.io's feature-engineering layer)
        args = [{k: tensor(t) for k, t in zip(keys, call.inputs)}]
    else:
        args = [[tensor(t) for t in call.inputs]] if call.packed else [tensor(call.inputs[0])]
    kwargs = dict(getattr(call, "call_kwargs", None) or {})
    if getattr(call, "training", None) is not None:
        kwargs["training"] = call.training
    return {"args": args, "kwargs": kwargs}


def _is_tensor_ref(v):
    """A node argument that names a tensor (or a list of them), as Keras 3 writes it."""
    if isinstance(v, list):
        return bool(v) and all(_is_tensor_ref(x) for x in v)
    if isinstance(v, dict) and "class_name" not in v:   # a dict of tensors, by key
        return bool(v) and all(isinstance(k, str) and _is_tensor_ref(x) for k, x in v.items())
    return isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"


def _build_entry(entry, prepare_layer):
    """A layer, or an inner model (Functional / Sequential config), from a config entry."""
    from .. import layers as _layers
    from ..saving import MODEL_CLASSES
    name = entry["class_name"]
    if name in MODEL_CLASSES:
        cls = MODEL_CLASSES[name]
        return cls.from_config(dict(entry.get("config", {})), prepare_layer=prepare_layer)
    return _layers.deserialize({"class_name": name, "config": entry.get("config", {}),
                                "registered_name": entry.get("registered_name"),
                                "build_config": entry.get("build_config")}, prepare_layer=prepare_layer)


def model_from_graph_config(config, cls=None, prepare_layer=None, build_layer=None):
    """``build_layer(entry)``, when given, makes each layer instead of deserializing it."""
    from .model import Model
    if not isinstance(config.get("layers"), list):
        raise ValueError("functional config: 'layers' must be a list")
    created, pending = {}, []
    for entry in config["layers"]:
        if not isinstance(entry, dict) or "class_name" not in entry:
            raise ValueError(f"functional config: bad layer entry {str(entry)[:100]!r}")
        layer = build_layer(entry) if build_layer is not None else _build_entry(entry, prepare_layer)
        name = entry.get("name", layer.name)
        if name in created:
            raise ValueError(f"functional config: two layers are named {name!r}")
        created[name] = layer
        # keyed by the config's name: a layer whose get_config leaves out ``name`` (a Keras
        # custom layer) gets a new one, but the config's tensor references use the old
        pending.append((layer, list(entry.get("inbound_nodes", [])), name))
    outputs = {}          # (layer name, node index) -> list of output KerasTensors
    for name, layer in created.items():
        if type(layer).__name__ == "InputLayer" and layer.name == name:
            outputs[(name, 0)] = [layer.output]

    def resolve(arg):
        if isinstance(arg, list):
            return [resolve(a) for a in arg]
        if isinstance(arg, dict) and "class_name" not in arg and arg and all(isinstance(k, str) for k in arg):
            return {k: resolve(v) for k, v in arg.items()}   # a dict of tensors (Keras 3 writes it so)
        if not isinstance(arg, dict) or arg.get("class_name") != "__keras_tensor__":
            raise ValueError(f"functional config: a node argument must be a tensor reference, got {str(arg)[:100]!r}")
        layer_name, node, index = arg["config"]["keras_history"]
        outs = outputs.get((layer_name, int(node)))
        if outs is None:
            raise KeyError((layer_name, node))
        return outs[int(index)]

    progress = True
    done = {id(layer): 0 for layer, _, _ in pending}
    while progress:
        progress = False
        for layer, nodes, name in pending:
            while done[id(layer)] < len(nodes):
                spec = nodes[done[id(layer)]]
                kwargs = spec.get("kwargs") or {}
                if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
                    raise ValueError(f"functional config: layer '{layer.name}' node kwargs must be a dict")
                try:
                    args = [resolve(a) for a in spec.get("args", [])]
                    # tensors passed by keyword (Keras' mha(query, value, key=k, attention_mask=m))
                    kwargs = {k: resolve(v) if _is_tensor_ref(v) else v for k, v in kwargs.items()}
                except KeyError:
                    break
                if not args:
                    raise ValueError(f"functional config: layer '{layer.name}' node has no arguments")
                out = layer(*args, **kwargs)
                # an inner model with a dict (or tuple) of outputs: the config's tensor
                # indices count them in that model's output order, the dict's order
                outputs[(name, done[id(layer)])] = list(out.values()) if isinstance(out, dict) else \
                    list(out) if isinstance(out, (list, tuple)) else [out]
                done[id(layer)] += 1
                progress = True
    left = [name for layer, nodes, name in pending if done[id(layer)] < len(nodes)]
    if left:
        raise ValueError(f"functional config: the calls of layer(s) {', '.join(left)} refer to tensors that no "
                         "layer produces")

    def pick(refs):
        return [resolve({"class_name": "__keras_tensor__", "config": {"keras_history": r}}) for r in refs]
    ins, outs = pick(config.get("input_layers", [])), pick(config.get("output_layers", []))
    if config.get("input_names"):
        ins = dict(zip(config["input_names"], ins))
    elif len(ins) == 1:
        ins = ins[0]
    if config.get("output_names"):
        outs = dict(zip(config["output_names"], outs))
    elif len(outs) == 1:
        outs = outs[0]
    model = (cls or Model)(inputs=ins, outputs=outs, name=config.get("name"))
    if config.get("trainable", True) is False:   # now that it has its layers, which a frozen model freezes
        model.trainable = False
    return model
