"""get_config / from_config of graph models, in Keras 3's functional format.

    {"name": ..., "trainable": ...,
     "layers": [{"class_name": "Dense", "config": {...}, "name": "dense",
                 "inbound_nodes": [{"args": [<tensor>], "kwargs": {}}, ...]}, ...],
     "input_layers": [[layer_name, node_index, tensor_index], ...],
     "output_layers": [[layer_name, node_index, tensor_index], ...]}
    <tensor> = {"class_name": "__keras_tensor__",
                "config": {"shape": [...], "dtype": ..., "keras_history": [layer, node, tensor]}}
A merge layer's call has one argument, the list of its input tensors. Node indices count the
calls of a layer inside this model, in topological order. Layer classes resolve through
``layers.deserialize`` (the registry), never through imports of arbitrary names.
"""
from __future__ import annotations

__all__ = ["graph_config", "model_from_graph_config"]


def graph_config(model):
    from ..layers import serialize
    graph = model._graph
    node_index = {}      # id(node) -> index among its layer's calls in this model
    per_layer = {}
    history = {}         # id(KerasTensor) -> [layer name, node index, tensor index]
    for t in graph.inputs:
        layer = t.node.layer
        node_index[id(t.node)] = 0
        per_layer[id(layer)] = [t.node]
        history[id(t)] = [layer.name, 0, 0]
    for node in graph.nodes:
        calls = per_layer.setdefault(id(node.layer), [])
        node_index[id(node)] = len(calls)
        calls.append(node)
        for i, t in enumerate(node.outputs):
            history[id(t)] = [node.layer.name, node_index[id(node)], i]

    def tensor(t):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype, "keras_history": history[id(t)]}}

    layers = []
    for layer in model.layers:
        entry = serialize(layer)
        entry["name"] = layer.name
        nodes = [] if id(layer) not in per_layer or type(layer).__name__ == "InputLayer" else per_layer[id(layer)]
        entry["inbound_nodes"] = [
            {"args": [[tensor(t) for t in n.inputs]] if n.packed else [tensor(n.inputs[0])], "kwargs": {}}
            for n in nodes]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": [history[id(t)] for t in graph.inputs],
            "output_layers": [history[id(t)] for t in graph.outputs],
            **({"output_names": list(model._output_dict_keys)} if model._output_dict_keys else {}),
            **({"input_names": list(model._input_dict_keys)} if model._input_dict_keys else {})}


def model_from_graph_config(config, cls=None, prepare_layer=None):
    from .. import layers as _layers
    from .model import Model
    if not isinstance(config.get("layers"), list):
        raise ValueError("functional config: 'layers' must be a list")
    created, pending = {}, []
    for entry in config["layers"]:
        if not isinstance(entry, dict) or "class_name" not in entry:
            raise ValueError(f"functional config: bad layer entry {str(entry)[:100]!r}")
        layer = _layers.deserialize({"class_name": entry["class_name"], "config": entry.get("config", {})})
        if prepare_layer is not None:
            prepare_layer(layer)
        name = entry.get("name", layer.name)
        if name in created:
            raise ValueError(f"functional config: two layers are named {name!r}")
        created[name] = layer
        pending.append((layer, list(entry.get("inbound_nodes", []))))
    outputs = {}          # (layer name, node index) -> list of output KerasTensors
    for name, layer in created.items():
        if type(layer).__name__ == "InputLayer":
            outputs[(name, 0)] = [layer.output]

    def resolve(arg):
        if isinstance(arg, list):
            return [resolve(a) for a in arg]
        if not isinstance(arg, dict) or arg.get("class_name") != "__keras_tensor__":
            raise ValueError(f"functional config: a node argument must be a tensor reference, got {str(arg)[:100]!r}")
        layer_name, node, index = arg["config"]["keras_history"]
        outs = outputs.get((layer_name, int(node)))
        if outs is None:
            raise KeyError((layer_name, node))
        return outs[int(index)]

    progress = True
    done = {id(layer): 0 for layer, _ in pending}
    while progress:
        progress = False
        for layer, nodes in pending:
            while done[id(layer)] < len(nodes):
                spec = nodes[done[id(layer)]]
                try:
                    args = [resolve(a) for a in spec.get("args", [])]
                except KeyError:
                    break
                if len(args) != 1:
                    raise ValueError(f"functional config: layer '{layer.name}' node has {len(args)} arguments; "
                                     "one (a tensor or a list of tensors) is supported")
                out = layer(args[0])
                outputs[(layer.name, done[id(layer)])] = out if isinstance(out, list) else [out]
                done[id(layer)] += 1
                progress = True
    left = [layer.name for layer, nodes in pending if done[id(layer)] < len(nodes)]
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
    return (cls or Model)(inputs=ins, outputs=outs, name=config.get("name"), trainable=config.get("trainable", True))
