"""Export a corenn model to ONNX: ``corenn.onnx.export(model, "m.onnx")`` or
``model.export("m.onnx", format="onnx")``.

The model's graph of layer calls (a Sequential's chain, a functional graph, or a subclassed
model's traced ``call``) is walked in topological order; each call becomes ONNX nodes through the
converter registered for its layer class (_registry.CONVERTERS, code in _convert / _recurrent),
while every tensor's layout (channels-first for convolutions, time-major for RNNs) is tracked so
Transposes appear only where the layout really changes (_builder). BatchNormalization after a
conv or Dense (linear activation, sole consumer) is folded into its weights; Dropout vanishes.
The finished model is checked (``onnx.checker.check_model(full_check=True)``) and only then
written, atomically, with the umask's mode. Needs the ``onnx`` extra (``pip install onnx``;
``onnxruntime`` to run the file).
"""
from __future__ import annotations

import numpy as np

__all__ = ["export", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17   # LayerNormalization's; run by every onnxruntime since 1.14
MIN_OPSET = 13       # Softmax over one axis, Squeeze / Unsqueeze / Split axes as inputs


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("corenn.onnx.export needs the 'onnx' package: pip install 'corenn[onnx]' "
                          "(or pip install onnx onnxruntime)") from exc
    return onnx


def export(model, path, opset=None, dynamic_batch=True):
    """Write ``model`` (built) as an ONNX file at ``path``; returns ``path``.

    Args:
        model: a built corenn Model (Sequential, functional, or subclassed and called once so
            its ``call`` can be traced on symbolic inputs).
        path: the file to write (replaced atomically; nothing is written when a layer cannot
            be exported: the error names it and its class).
        opset: the ONNX opset (default DEFAULT_OPSET; MIN_OPSET up to what the installed onnx
            package knows).
        dynamic_batch: the batch dimension is symbolic ('batch'); False fixes it to the inputs'
            declared batch size (1 when none was declared).
    """
    onnx = _require_onnx()
    from ..saving import atomic_write
    max_opset = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"corenn.onnx.export: opset must be an int in [{MIN_OPSET}, {max_opset}], got {opset!r}")
    graph = _model_graph(model)
    proto = _build(onnx, graph, getattr(model, "name", "model"), int(opset), bool(dynamic_batch))
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return path


def _model_graph(model):
    """The graph of layer calls to export: the model's own, or a subclassed model's traced call."""
    from ..models.model import Model
    if not isinstance(model, Model):
        raise TypeError(f"corenn.onnx.export: expected a corenn Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"corenn.onnx.export: model '{model.name}' is not built; build it, call it "
                         "on data or give its first layer an input shape")
    graph = model._graph
    if graph is not None:
        return graph
    shapes = model.__dict__.get("_build_input_shapes")
    if not shapes:
        raise ValueError(f"corenn.onnx.export: subclassed model '{model.name}' has not been called "
                         "on data yet; call it once (or model.build(shape)) so its call can be traced")
    xs = [np.zeros((1,) + tuple(s[1:]), np.float32) for s in shapes]
    graph = model._trace(xs, False)
    if graph is None:
        raise ValueError(f"corenn.onnx.export: the call of subclassed model '{model.name}' cannot be "
                         "traced on symbolic inputs (it computes on values or branches on data); "
                         "write it with layer calls only, or as a functional model")
    return graph


def _plan_bn_folding(graph):
    """BatchNormalization calls that can be folded into the Dense / conv call producing their
    input: that call has a linear activation and the BN is its output's only consumer.
    Returns ({id(producer node): bn layer}, {id(bn node)})."""
    consumers = {}
    for node in graph.nodes:
        for t in node.inputs:
            consumers[id(t)] = consumers.get(id(t), 0) + 1
    outputs = {id(t) for t in graph.outputs}
    folded, fused = {}, set()
    for node in graph.nodes:
        bn = node.layer
        if type(bn).__name__ != "BatchNormalization" or bn.axis not in (-1, len(node.inputs[0].shape) - 1):
            continue
        t = node.inputs[0]
        prod = t.node
        if prod is None or type(prod.layer).__name__ not in ("Dense", "Conv1D", "Conv2D", "Conv3D") \
                or getattr(prod.layer, "_quantized", None) == "int8":   # an int8 kernel takes no folded scale
            continue
        if consumers.get(id(t)) != 1 or id(t) in outputs or prod.layer.activation.name != "linear" \
                or id(prod) in folded:
            continue
        folded[id(prod)] = bn
        fused.add(id(node))
    return folded, fused


def _elem_type(onnx, dtype):
    p = onnx.TensorProto
    return {"float32": p.FLOAT, "int32": p.INT32, "int64": p.INT64, "string": p.STRING, "bool": p.BOOL,
            "float64": p.DOUBLE, "float16": p.FLOAT16, "uint8": p.UINT8, "int8": p.INT8, "uint16": p.UINT16,
            "int16": p.INT16, "uint32": p.UINT32, "uint64": p.UINT64}.get(str(dtype), p.FLOAT)


# An Input of a storage-only dtype (a uint8 image, float64 data) is declared in its dtype and cast
# at once to what the layers compute in, as corenn's predict converts it at the entry: float32
# (exact for 8- and 16-bit integers; an Embedding casts its ids to int64 itself), int64 for the
# 32- and 64-bit unsigned ones
_ENTRY_CASTS = {"float64": "float32", "float16": "float32", "uint8": "float32", "int8": "float32",
                "uint16": "float32", "int16": "float32", "uint32": "int64", "uint64": "int64"}


def _build(onnx, graph, model_name, opset, dynamic_batch):
    from ._builder import Builder, Value
    from ._registry import CONVERTERS
    b = Builder(onnx.helper, onnx.numpy_helper, onnx.TensorProto, opset)
    b.folded, b.fused_bn = _plan_bn_folding(graph)
    b.made_masks = {}   # node id -> the mask Value its converter made (onnx/_masks.py)
    b.domains = {}      # other operator domains a converter used -> their opset (ai.onnx.ml)
    values, inputs = {}, []
    for t in graph.inputs:
        batch = "batch" if dynamic_batch else (t.shape[0] or 1)
        name = b.fresh(t.name or "input")
        declared = str(t.dtype) if str(t.dtype) in ("int32", "int64", "string") or str(t.dtype) in _ENTRY_CASTS \
            else "float32"
        inputs.append(onnx.helper.make_tensor_value_info(name, _elem_type(onnx, declared),
                                                         [batch] + list(t.shape[1:])))
        dtype = _ENTRY_CASTS.get(declared, declared)
        if dtype != declared:
            name = b.op("Cast", [name], f"{name}_as_{dtype}", to=_elem_type(onnx, dtype))
        values[id(t)] = Value(name, t.shape, dtype=dtype)
    for node in graph.nodes:
        layer = node.layer
        kind = type(layer).__name__
        masks = [m for m in node.mask_inputs or () if m is not None]
        b.masks = []   # the converter's Keras masks (N, T) as float Values (_masks.py)
        b.mask_slots = []   # the same by input position (None: that input carries none)
        if masks:
            from ._masks import MASK_READERS
            if kind not in MASK_READERS:
                raise NotImplementedError(f"ONNX export: layer '{layer.name}' ({kind}) reads a Keras mask "
                                          f"(from Embedding(mask_zero=True) or Masking); masks are exported "
                                          f"for {', '.join(sorted(MASK_READERS))}")
            if any(id(m) not in values for m in masks):
                raise NotImplementedError(f"ONNX export: layer '{layer.name}' ({kind}) reads a Keras mask made "
                                          "by a layer other than Embedding(mask_zero=True) or Masking")
            b.masks = [values[id(m)] for m in masks]
            b.mask_slots = [None if m is None else values[id(m)] for m in node.mask_inputs]
        rank = len(node.inputs[0].shape) if node.inputs else 0
        if rank >= 3 and (getattr(layer, "data_format", None) == "channels_first" or (
                kind == "BatchNormalization" and layer.axis in (1, 1 - rank))):
            # its kernels run channels-last between two transposes (layers/_channels_first.py);
            # the layout tracking here has no channels-first Keras tensors yet
            raise NotImplementedError(f"ONNX export: layer '{layer.name}' ({kind}) takes channels_first "
                                      "data, which the exporter does not handle yet; build the model "
                                      "channels_last (the default) to export it")
        if getattr(type(layer), "_float64_of", None) is not None:
            # the converters write float32 graphs: a float64 layer exported so would lose its
            # precision without a word (predict returns float64)
            raise NotImplementedError(f"ONNX export: layer '{layer.name}' ({kind}) computes in float64; the "
                                      "exporter writes float32 graphs. Rebuild the model with float32 layers "
                                      "(set_weights copies the weights) to export it in float32")
        convert = CONVERTERS.get(kind)
        if convert is None:
            raise NotImplementedError(f"ONNX export: layer '{layer.name}' ({kind}) has no ONNX converter; "
                                      f"exportable layers: {', '.join(sorted(CONVERTERS))}")
        outs = convert(b, layer, [values[id(t)] for t in node.inputs], node)
        for t, v in zip(node.outputs, outs):
            values[id(t)] = v
        if node.mask_output is not None:   # Embedding(mask_zero=True), Masking: the mask as a value
            from ._masks import mask_value
            made = b.made_masks.pop(id(node), None)   # Masking's converter made it already
            values[id(node.mask_output)] = made if made is not None else \
                mask_value(b, layer, [values[id(t)] for t in node.inputs], node)
    outputs, seen = [], set()
    for t in graph.outputs:
        v = values[id(t)]
        name = b.fresh(t.name if t.name not in seen else f"{t.name}_out")
        seen.add(t.name)
        b.nodes.append(onnx.helper.make_node("Identity", [b.plain(v)], [name], name=b.fresh(f"{name}/output")))
        batch = "batch" if dynamic_batch else (t.shape[0] or 1)
        outputs.append(onnx.helper.make_tensor_value_info(name, _elem_type(onnx, v.dtype),
                                                          [batch] + list(t.shape[1:])))
    g = onnx.helper.make_graph(b.nodes, model_name, inputs, outputs, initializer=b.initializers)
    model = onnx.helper.make_model(g, producer_name="corenn",
                                   opset_imports=[onnx.helper.make_opsetid("", opset)] + [
                                       onnx.helper.make_opsetid(d, v) for d, v in sorted(b.domains.items())])
    model.ir_version = min(model.ir_version, _max_ir_version(onnx, opset))
    return model


def _max_ir_version(onnx, opset):
    """The IR version that goes with ``opset`` (a runtime may not read newer IR versions)."""
    table = getattr(onnx.helper, "VERSION_TABLE", [])
    irs = [row[1] for row in table if len(row) > 2 and row[2] == opset]
    return min(irs) if irs else 8
