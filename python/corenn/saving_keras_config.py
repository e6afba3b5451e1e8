"""Keras' model configs translated into corenn's and back (used by saving_keras.py).

Reading: Keras 3's ``serialize_keras_object`` form (``module``, ``class_name``, ``config``,
``registered_name``; functional ``inbound_nodes`` of ``__keras_tensor__`` references) and
TF-Keras 2's (dtype names, ``batch_input_shape``, ``[[layer, node, tensor, kwargs]]`` nodes)
both become corenn's own model config, which then goes through saving.py's checks. Serialized
code and classes from outside Keras are refused before anything is translated. Every problem is
a ``saving._BadConfig`` naming the layer and the option.

Writing (``keras2_model_config``): a corenn model as TF-Keras 2's config, the inverse of the
reading above through the same tables (``_KERAS2_NAMES``, ``_NEUTRAL``): what TF-Keras 2 calls
otherwise is renamed, Keras 3's options that TF-Keras 2 lacks are left out when they hold their
neutral value and refused otherwise, and a layer class corenn would not read back is refused
by name, all before anything is written.
"""
from __future__ import annotations

from . import saving as _saving
from .saving import _BadConfig
from .saving_keras_ops import is_keras3_op, is_tf_op_layer, keras3_op_entry, tf_op_entry

__all__ = ["translate_model_config", "keras2_model_config", "keras2_training_config", "keras3_model_config"]


# (TF-Keras 2's TFOpLambda / SlicingOpLambda name a TF function, hold no code: saving_keras_ops.py)
_CODE_CLASSES = {"Lambda", "__lambda__", "function", "__function__"}
_CODE_KEYS = {"__lambda__", "bytecode", "function_type", "__function__"}


def _refuse_code(obj, where="config.json"):
    """Refuse serialized Python code or classes from outside Keras anywhere in the config."""
    stack = [(obj, where)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(value))
            continue
        if not isinstance(value, dict):
            continue
        name = value.get("class_name")
        if name in _CODE_CLASSES:
            raise _BadConfig(f"{at}: refusing {name!r}: it holds serialized Python code (a Lambda "
                             f"layer or function), which corenn never runs from a file; rewrite it "
                             f"as a layer corenn has")
        for key in _CODE_KEYS & set(value):
            raise _BadConfig(f"{at}: refusing {key!r}: serialized Python code is never loaded")
        module = value.get("module")
        registered = value.get("registered_name")
        if _user_class(value) is None:
            if module is not None and not (isinstance(module, str)
                                           and (module == "keras" or module.startswith("keras."))):
                raise _BadConfig(f"{at}: refusing class {str(name)[:60]!r} from module "
                                 f"{str(module)[:80]!r}: only Keras' own classes are read, and the "
                                 f"classes the program registers or passes in custom_objects")
            if registered is not None and registered != name:
                raise _BadConfig(f"{at}: refusing registered class {str(registered)[:80]!r}: a custom "
                                 f"class is read only when the program defines it (register_keras_serializable "
                                 f"or load_model(..., custom_objects={{{str(name)[:40]!r}: cls}}))")
        stack.extend((v, f"{at}.{k}") for k, v in value.items())


def custom_class_name(spec):
    """Whether a user class is found under the spec's registered name (else its class name)."""
    from .saving import custom_class
    return custom_class(spec.get("registered_name")) is not None


def _user_class(spec):
    """The class a serialized object names when the program itself provides it: registered with
    register_keras_serializable (Keras' ``package>name``) or passed in load_model's custom_objects.
    Its code is the program's, already imported: nothing from the file is run. None otherwise."""
    from .saving import custom_class
    if not isinstance(spec, dict):
        return None
    # keras.applications' own layers (module keras.src.applications.*, or TF-Keras 2's
    # 'Custom>CustomScaleLayer') are registered when corenn's applications are imported
    from . import applications   # noqa: F401
    for key in (spec.get("registered_name"), spec.get("class_name")):
        cls = custom_class(key)
        if cls is not None:
            return cls
    return None


# Keras config keys corenn's layers do not take, with the values that change nothing; any
# other value is refused. (None: any value is harmless: a performance or bookkeeping option.)
_NEUTRAL = {"kernel_constraint": (None,), "bias_constraint": (None,), "recurrent_constraint": (None,),
            "activity_regularizer": (None,), "beta_constraint": (None,), "gamma_constraint": (None,),
            "embeddings_constraint": (None,), "depthwise_constraint": (None,),
            "pointwise_constraint": (None,), "lora_rank": (None, 0), "lora_alpha": (None,),
            "lora_enabled": (False,), "quantization_config": (None,), "autocast": (True,),
            "synchronized": (False,), "sparse": (False,), "ragged": (False,), "optional": (False,),
            "time_major": (False,), "renorm": (False,), "renorm_clipping": (None,),
            "renorm_momentum": None, "zero_output_for_mask": None, "implementation": None,
            "use_cudnn": None, "build_config": None, "groups": (1,), "virtual_batch_size": (None,),
            "adjustment": (None,), "fused": (None, True, False), "input_length": None,
            "sparse_gradient": (False,), "use_gate": (False,), "antialias": (False,),
            "sliding_window": (None,), "query_shape": None, "key_shape": None, "value_shape": None,
            "softmax_robust_masking": (False,), "vocabulary_size": None, "oov_method": ("floormod",), "salt": (None,),
            "noise_shape": (None,)}
# Keras config keys one class writes but does not use (TF-Keras 2's SeparableConv configs carry the
# base Conv's kernel_* options, which the depthwise_* / pointwise_* ones replace): ignored there
_UNUSED_IN = {"SeparableConv1D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint"),
              "SeparableConv2D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint")}
# Layers whose output is an index or count: the dtype Keras gives it is an integer type, which
# corenn's float32 output holds exactly
_INDEX_OUTPUT = ("Discretization", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization",
                 "HashedCrossing")
# Layers whose config holds the serialized layer they wrap (read through the same translation)
_WRAPPERS = ("Bidirectional", "TimeDistributed", "SpectralNormalization")
# Keras 3 layers whose constructor takes no ``trainable`` (a fixed signature): not written to them
_KERAS3_NO_TRAINABLE = ("Discretization", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")
# Options TF-Keras 2 names otherwise than corenn (and Keras 3): {(class, TF-Keras 2 name): corenn's
# name}, renamed one way when reading and the other when writing.
_KERAS2_NAMES = {("LeakyReLU", "alpha"): "negative_slope"}


def _neutral(value, allowed):
    """Whether ``value`` is one of the ``allowed`` neutral values (None: any value is)."""
    return allowed is None or any(value is v or (value == v and type(value) is type(v)) for v in allowed)


_INITIALIZER_CLASSES = {"GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                        "LecunNormal", "RandomNormal", "RandomUniform", "TruncatedNormal", "Zeros",
                        "Ones", "Constant", "Orthogonal", "VarianceScaling"}


def _without_object_ids(obj, depth=0):
    """The config without Keras' ``shared_object_id`` bookkeeping (Python id()s: 64-bit
    integers that say which entries were one object; corenn rebuilds every entry anyway)."""
    if depth > 64:
        raise _BadConfig("config.json is nested too deeply")
    if isinstance(obj, dict):
        return {k: _without_object_ids(v, depth + 1) for k, v in obj.items()
                if not (k == "shared_object_id" and type(v) is int)}
    if isinstance(obj, list):
        return [_without_object_ids(v, depth + 1) for v in obj]
    return obj


def _accepted_keys(cls):
    """Keyword arguments ``cls`` (a corenn layer) takes, over its __init__ chain."""
    import inspect
    from .layers.base import Layer
    keys = set()
    for klass in cls.__mro__:
        if isinstance(klass, type) and issubclass(klass, Layer) and "__init__" in vars(klass):
            keys |= {p.name for p in inspect.signature(klass.__init__).parameters.values()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    cell_class = getattr(cls, "_cell_class", None)   # LSTM / GRU / SimpleRNN pass them to their cell
    if cell_class is not None:
        keys |= _accepted_keys(cell_class) - {"name", "trainable"}
    return keys - {"self"}


def _dtype_name(value, where):
    """A Keras dtype or DTypePolicy as a dtype name (computing layers take float32 or float64)."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadConfig(f"{where}: bad dtype {str(value)[:60]!r}")
    return value


_QUANTIZED_POLICIES = ("QuantizedDTypePolicy", "Int4DTypePolicy")


def _is_quantized_policy(value):
    return isinstance(value, dict) and value.get("class_name") in _QUANTIZED_POLICIES


def _quantized_dtype(name, value, where):
    """Keras' QuantizedDTypePolicy / Int4DTypePolicy of a layer that ``quantize`` converted, as
    corenn's policy name: int8 or int4 ("int4/<block_size>") from float32 on Dense / EinsumDense /
    Embedding (layers/quantization.py); anything else refused."""
    config = value.get("config") or {}
    mode, source = config.get("mode"), config.get("source_name", "float32")
    int4 = value.get("class_name") == "Int4DTypePolicy" and isinstance(mode, str) and mode.startswith("int4")
    if name not in ("Dense", "EinsumDense", "Embedding") or not (mode == "int8" or int4) or source != "float32":
        raise _BadConfig(f"{where}: quantized dtype policy {str(mode)[:20]!r} from {str(source)[:30]!r} is not "
                         "supported; corenn reads int8 and int4 quantization from float32 of Dense, EinsumDense "
                         "and Embedding")
    return f"{mode}_from_float32"


def _object_spec(value, kind, where):
    """A Keras initializer / regularizer ({module, class_name, config}) as corenn's spec."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise _BadConfig(f"{where}: bad {kind} {str(value)[:80]!r}")
    name, config = value["class_name"], value.get("config") or {}
    if not isinstance(config, dict):
        raise _BadConfig(f"{where}: bad {kind} config {str(config)[:80]!r}")
    if kind == "initializer":
        if name not in _INITIALIZER_CLASSES:
            raise _BadConfig(f"{where}: initializer {name!r} is not one corenn has")
        # Keras 3's extra fields (input_axes, output_axes of the fan computation) are dropped
        # when neutral; the loaded weights never come from initializers anyway
        config = {k: v for k, v in config.items() if not (k in ("input_axes", "output_axes") and v is None)}
    elif kind == "regularizer" and name not in ("L1", "L2", "L1L2"):
        raise _BadConfig(f"{where}: regularizer {name!r} is not one corenn has")
    return {"class_name": name, "config": config}


_MODEL_CLASSES = ("Sequential", "Functional", "Model")


def _nested_model(name, where):
    return _BadConfig(f"{where}: a model nested in a model ({name}) is not written to Keras files yet; "
                      f"save the inner model on its own")


def _layer_class(name, where):
    """corenn's layer class of a Keras layer class name, for the classes that are read and
    written: corenn's own layers, without Lambda (code) and models nested in models."""
    from . import layers as corenn_layers
    from .layers.base import Layer
    if name in _MODEL_CLASSES:
        raise _nested_model(name, where)
    cls = getattr(corenn_layers, name, None)
    if name not in corenn_layers.__all__ or not (isinstance(cls, type) and issubclass(cls, Layer)) \
            or name in ("Layer", "Lambda"):
        raise _BadConfig(f"{where}: Keras layer class {name!r} is not one corenn has (a class of "
                         f"your own: define it and pass load_model(..., custom_objects={{{name!r}: cls}}) "
                         f"or register it with keras.saving.register_keras_serializable)")
    return cls


# TF-Keras 2's hard_sigmoid is clip(0.2 x + 0.5, 0, 1); Keras 3's (and corenn's) is
# relu6(x + 3) / 6, slope 1/6: a TF-Keras 2 file naming it would load and predict differently
_TF2_ONLY_ACTIVATIONS = {"hard_sigmoid": "clip(0.2 x + 0.5, 0, 1) in TF-Keras 2, relu6(x + 3) / 6 in Keras 3 "
                                         "and corenn"}


def _layer_config(spec, where, tf_keras2=False):
    """A Keras layer spec ({class_name, config, ...}) as corenn's {class_name, config}."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise _BadConfig(f"{where}: bad layer entry {str(spec)[:100]!r}")
    name = spec["class_name"]
    user = _user_class(spec)
    if user is not None:   # the program's own layer: its config is its own get_config's, as written
        config = spec.get("config")
        if not isinstance(config, dict):
            raise _BadConfig(f"{where} ({name}): 'config' is not a JSON object")
        out = dict(config)
        if out.get("autocast", True) is True:
            out.pop("autocast", None)   # Keras' base config key; True is what corenn's layers do
        if _is_quantized_policy(out["dtype"] if "dtype" in out else None):
            # a layer quantized by its own hooks (quantize / _int8_call): the policy as Keras wrote
            # it, which Layer takes (mixed_precision.quantized_policy) and its build reads
            pass
        elif "dtype" in out:
            dtype = _dtype_name(out["dtype"], where)
            if dtype not in (None, "float32", "float64"):
                raise _BadConfig(f"{where}: dtype {dtype!r} is not supported (float32 or float64 only)")
            out["dtype"] = dtype
        return {"class_name": spec.get("registered_name") if custom_class_name(spec) else name, "config": out}
    cls = _layer_class(name, where)
    config = spec.get("config")
    if not isinstance(config, dict):
        raise _BadConfig(f"{where} ({name}): 'config' is not a JSON object")
    where = f"{where} ({name} {str(config.get('name'))[:60]!r})"
    accepted = _accepted_keys(cls)
    out = {}
    for key in ("activation", "recurrent_activation"):
        if tf_keras2 and config.get(key) in _TF2_ONLY_ACTIVATIONS:
            raise _BadConfig(f"{where}: {key} {config[key]!r} of a TF-Keras 2 file is "
                             f"{_TF2_ONLY_ACTIVATIONS[config[key]]}; loading it would change the "
                             f"model's outputs, so it is refused")
    for key, value in config.items():
        key = _KERAS2_NAMES.get((name, key), key)
        if key == "batch_input_shape":   # TF-Keras 2: the input shape, read by the model's translation
            continue
        if key == "dtype" and _is_quantized_policy(value):
            out["dtype"] = _quantized_dtype(name, value, where)
            continue
        if key == "quantization_config" and isinstance(value, dict) and \
                value.get("class_name") == "Int4QuantizationConfig" and _is_quantized_policy(config.get("dtype")):
            out[key] = value   # an int4 layer's config; the layer checks it against its policy
            continue
        if key == "dtype":
            dtype = _dtype_name(value, where)
            if name == "InputLayer":
                out["dtype"] = dtype
            elif dtype == "float64":
                out["dtype"] = dtype   # a float64 layer (layers/_float64.py; one without a form raises by name)
            elif dtype not in (None, "float32") and not (name in _INDEX_OUTPUT and dtype in ("int32", "int64")):
                raise _BadConfig(f"{where}: dtype {dtype!r} is not supported (float32 or float64 only)")
            continue
        if key in ("layer", "backward_layer") and name in _WRAPPERS:
            out[key] = _layer_config(value, f"{where} {key!r}", tf_keras2)
            continue
        if key == "axis" and name == "BatchNormalization" and isinstance(value, list) and len(value) == 1:
            value = value[0]   # TF-Keras 2 writes the axis as a list
        if key in _UNUSED_IN.get(name, ()):
            continue
        if key.endswith("_initializer"):
            value = _object_spec(value, "initializer", f"{where} {key}")
        elif key.endswith("_regularizer") and key != "activity_regularizer":
            value = _object_spec(value, "regularizer", f"{where} {key}")
        elif key == "activation" and isinstance(value, dict):
            raise _BadConfig(f"{where}: activation {str(value.get('class_name'))[:60]!r} is not one "
                             f"corenn has")
        if key in accepted:
            out[key] = value
        elif key in _NEUTRAL and _neutral(value, _NEUTRAL[key]):
            continue
        else:
            raise _BadConfig(f"{where}: option {key}={str(value)[:60]} is not supported by "
                             f"corenn's {name}")
    if name == "InputLayer" and "batch_input_shape" in config:   # TF-Keras 2
        out["batch_shape"] = config["batch_input_shape"]
    return {"class_name": name, "config": out}


def _tensor_ref(ref, where):
    """An inbound reference in either format as Keras 3's ``__keras_tensor__``."""
    if isinstance(ref, dict) and ref.get("class_name") == "__keras_tensor__":
        history = (ref.get("config") or {}).get("keras_history")
    elif isinstance(ref, list) and len(ref) in (3, 4):      # TF-Keras 2: [layer, node, tensor, kwargs]
        # training= is dropped as from Keras 3 nodes (_inbound_nodes): a model called with
        # training=False (transfer learning's base) is written so by TF-Keras 2
        if len(ref) == 4 and ref[3] not in ({}, None) and not (
                isinstance(ref[3], dict) and set(ref[3]) == {"training"} and ref[3]["training"] in (True, False, None)):
            raise _BadConfig(f"{where}: call arguments {str(ref[3])[:80]} are not supported")
        history = ref[:3]
    else:
        raise _BadConfig(f"{where}: bad tensor reference {str(ref)[:100]!r}")
    if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
            and all(type(v) is int and 0 <= v < 1 << 20 for v in history[1:])):
        raise _BadConfig(f"{where}: bad keras_history {str(history)[:100]!r}")
    return {"class_name": "__keras_tensor__", "config": {"keras_history": list(history)}}


def _inbound_nodes(nodes, where):
    if not isinstance(nodes, list):
        raise _BadConfig(f"{where}: 'inbound_nodes' is not a list")
    out = []
    for node in nodes:
        if isinstance(node, dict):                           # Keras 3: {"args": [...], "kwargs": {...}}
            args, kwargs = node.get("args"), node.get("kwargs") or {}
            if not isinstance(args, list) or len(args) != 1:
                raise _BadConfig(f"{where}: a call with {str(args)[:80]} arguments is not supported")
            # plain option values (ReversibleEmbedding's reverse=True) are the call's, and so is
            # mask= (Keras 3's TensorFlow backend writes a propagated Keras mask as the call's mask=
            # argument, computed by an op node: NotEqual of the token ids); other tensors and
            # objects passed by keyword are not supported
            if not isinstance(kwargs, dict) or any(v is not None and not isinstance(v, (bool, int, float, str))
                                                   for k, v in kwargs.items() if k not in ("training", "mask")):
                raise _BadConfig(f"{where}: call arguments {str(kwargs)[:80]} are not supported")
            options = {k: v for k, v in kwargs.items() if k not in ("training", "mask") and v is not None}
            arg = args[0]
            arg = [_tensor_ref(a, where) for a in arg] if isinstance(arg, list) else _tensor_ref(arg, where)
            mask = kwargs.get("mask")
            if mask is not None:
                options["mask"] = [None if m is None else _tensor_ref(m, where) for m in mask] \
                    if isinstance(mask, list) else _tensor_ref(mask, where)
            out.append({"args": [arg], "kwargs": options})
            continue
        elif isinstance(node, list) and node:               # TF-Keras 2: [[layer, node, tensor, kwargs], ...]
            refs = [_tensor_ref(r, where) for r in node]
            arg = refs[0] if len(refs) == 1 else refs
        else:
            raise _BadConfig(f"{where}: bad inbound node {str(node)[:80]!r}")
        out.append({"args": [arg], "kwargs": {}})
    return out


def _attention_nodes(nodes, where):
    """An attention layer's calls, mha(query, value, key=..., attention_mask=...,
    use_causal_mask=..., return_attention_scores=...), as corenn's one list of inputs, and the
    options (key given, mask given, causal, scores) of its calls, which must all agree (corenn's
    layer takes one set). TF-Keras 2 writes the call as [[query ref, ..., {"value": ref, ...}]]."""
    out, options = [], None
    for node in nodes if isinstance(nodes, list) else [None]:
        if isinstance(node, dict):                             # Keras 3
            args, kwargs = node.get("args"), dict(node.get("kwargs") or {})
        elif isinstance(node, list) and len(node) == 1 and isinstance(node[0], list) and len(node[0]) == 4:
            ref = node[0]                                      # TF-Keras 2: the kwargs in the query's ref
            kwargs = dict(ref[3]) if isinstance(ref[3], dict) else {}
            args = [ref[:3]]
        else:
            raise _BadConfig(f"{where}: bad inbound node {str(node)[:80]!r}")
        if not isinstance(args, list) or not 1 <= len(args) <= 3 or not isinstance(kwargs, dict):
            raise _BadConfig(f"{where}: an attention call with {str(args)[:80]} arguments is not supported")
        names = ["query", "value", "key"]
        given = dict(zip(names, args))
        for k in names:
            if k in kwargs:
                given[k] = kwargs.pop(k)
        mask = kwargs.pop("attention_mask", None)
        causal = bool(kwargs.pop("use_causal_mask", False))
        scores = bool(kwargs.pop("return_attention_scores", False))
        kwargs.pop("training", None)
        for k in ("query_mask", "value_mask", "key_mask"):
            if kwargs.get(k) is None:
                kwargs.pop(k, None)
        if kwargs or "value" not in given:
            raise _BadConfig(f"{where}: attention call arguments {str(sorted(kwargs) or 'without value')[:80]} "
                             "are not supported")
        items = [given["query"], given["value"]] + ([given["key"]] if given.get("key") is not None else []) + \
                ([mask] if mask is not None else [])
        node_options = [given.get("key") is not None, mask is not None, causal, scores]
        if options is not None and node_options != options:
            raise _BadConfig(f"{where}: the attention layer's calls differ in their inputs or options")
        options = node_options
        out.append({"args": [[_tensor_ref(r, where) for r in items]], "kwargs": {}})
    return out, options or [False, False, False, False]


def _layer_refs(refs, where):
    """input_layers / output_layers: Keras 3 writes a single one flat ([name, 0, 0])."""
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        refs = [refs]
    if not isinstance(refs, list) or not refs:
        raise _BadConfig(f"bad {where} {str(refs)[:100]}")
    return [_tensor_ref(r, where)["config"]["keras_history"] for r in refs]


def _layer_or_model(spec, where, tf_keras2):
    """(corenn's entry, the inner order for a model used as a layer, else None)."""
    name = spec.get("class_name") if isinstance(spec, dict) else None
    if name in _MODEL_CLASSES:   # its own config, translated alike
        return _translate_model(spec, f"{where} ({name})", tf_keras2, nested=True)
    return _layer_config(spec, where, tf_keras2), None


def translate_model_config(config, tf_keras2=False):
    """Keras' model config -> (corenn's model config, [(keras layer name, class name, inner)] in
    Keras' layer order, which numbers the weight groups of Keras 3 files; ``inner`` is the same
    list for a model used as a layer, None for other layers). A model held by a Sequential model
    stays one entry of it, as in Keras."""
    if not isinstance(config, dict):
        raise _BadConfig("config.json is not a JSON object")
    config = _without_object_ids(config)
    _saving._check_json_values(config, "config.json")
    _refuse_code(config)
    return _translate_model(config, "config.json", tf_keras2)


def _translate_model(config, where, tf_keras2, nested=False):
    """translate_model_config of a checked config, or of a model nested in one (``where``
    names it). ``tf_keras2``: the file is TF-Keras 2's, whose node indices count a
    nested model's own first node (see _skip_first_nodes)."""
    kind, inner = config.get("class_name"), config.get("config")
    if kind not in _MODEL_CLASSES or not isinstance(inner, dict):
        raise _BadConfig(f"{where}: expected a Keras Sequential or Functional model, got "
                         f"{str(kind)[:60]!r} (subclassed Keras models hold Python code and are not read)")
    specs = inner.get("layers")
    if not isinstance(specs, list):
        raise _BadConfig(f"{where}: the model config has no 'layers' list")
    order = []
    if kind == "Sequential":
        layers, input_shape = [], None
        for i, spec in enumerate(specs):
            entry, inner_order = _layer_or_model(spec, f"{where}: layer {i}", tf_keras2)
            if entry["class_name"] == "InputLayer":
                if i != 0:
                    raise _BadConfig(f"{where}: layer {i}: an InputLayer must come first")
                cfg = entry["config"]
                shape = cfg.get("batch_shape") or ([None] + list(cfg.get("shape") or []))
                input_shape = list(shape[1:]) if isinstance(shape, list) else None
                continue
            order.append((entry["config"].get("name"), spec["class_name"], inner_order))
            layers.append(entry)
        if input_shape is None and layers:   # TF-Keras 2 put batch_input_shape on the first layer
            first = (specs[0].get("config") or {}) if isinstance(specs[0], dict) else {}
            if isinstance(first.get("batch_input_shape"), list):
                input_shape = first["batch_input_shape"][1:]
        name, trainable = inner.get("name"), inner.get("trainable", True) is not False
        # a model among the layers stays one entry (corenn's Sequential nests it as Keras does)
        return {"class_name": "Sequential",
                "config": {"name": name, "input_shape": input_shape, "layers": layers,
                           **({"trainable": False} if not trainable else {})}}, order
    layers = []
    for i, spec in enumerate(specs):
        at = f"{where}: layer {i}"
        lname = spec.get("name", (spec.get("config") or {}).get("name")) if isinstance(spec, dict) else None
        if not isinstance(lname, str):
            raise _BadConfig(f"{at} has no name")
        if is_keras3_op(spec):   # a tensor op: no layer of Keras' model.layers, no weights group
            layers.append(keras3_op_entry(spec, lname, f"{at} ({spec.get('class_name')} {lname[:60]!r})"))
            continue
        inner_order = None
        if is_tf_op_layer(spec):
            entry = tf_op_entry(spec, lname, f"{at} ({spec['class_name']} {lname[:60]!r})")
        else:
            entry, inner_order = _layer_or_model(spec, at, tf_keras2)
            entry["name"] = lname
            if entry["class_name"] in _ATTENTION_CALLS:
                entry["inbound_nodes"], options = _attention_nodes(spec.get("inbound_nodes", []), at)
                if any(options[1:]):
                    entry["config"]["_call_options"] = options
            else:
                entry["inbound_nodes"] = _inbound_nodes(spec.get("inbound_nodes", []), at)
        order.append((lname, spec["class_name"], inner_order))
        layers.append(entry)
    out = {"class_name": "Functional",
           "config": {"name": inner.get("name"), "trainable": inner.get("trainable", True) is not False,
                      "layers": layers}}
    for key, names_key in (("input_layers", "input_names"), ("output_layers", "output_names")):
        refs = inner.get(key)
        if isinstance(refs, dict):   # Keras 3: a model called on / returning a dict of tensors
            if not refs or not all(isinstance(k, str) for k in refs):
                raise _BadConfig(f"{where}: bad {key} {str(refs)[:100]}")
            out["config"][names_key] = list(refs)
            refs = [list(r) if isinstance(r, (list, tuple)) else r for r in refs.values()]
        out["config"][key] = _layer_refs(refs, f"{where}: {key}")
    if tf_keras2:
        _skip_first_nodes(out["config"], {name for name, _, inner_order in order if inner_order is not None}, where)
    return out, order


def _skip_first_nodes(config, models, where):
    """TF-Keras 2 numbers the calls of a model used as a layer from 1: node 0 is the model's
    own graph, left out of configs (its ``_should_skip_first_node``); corenn's nodes count
    calls only."""
    def shift(history):
        if history[0] in models:
            if history[1] < 1:
                raise _BadConfig(f"{where}: node {history[1]} of model '{history[0]}' (TF-Keras 2 "
                                 f"counts a nested model's calls from 1)")
            history[1] -= 1
    for entry in config["layers"]:
        for node in entry["inbound_nodes"]:
            for arg in node["args"]:
                for ref in arg if isinstance(arg, list) else [arg]:
                    shift(ref["config"]["keras_history"])
    for history in config["output_layers"]:
        shift(history)

# ================================================================================================
# writing: a corenn model as TF-Keras 2's model_config and training_config
# ================================================================================================

# Keras 3's options that TF-Keras 2's layers and optimizers do not take (they refuse unknown
# arguments), with the values that change nothing and are left out; any other value is refused.
# (None: any value is harmless: a random seed for dropout inside a recurrent layer.)
_KERAS3_ONLY = {"lora_rank": (None,), "lora_alpha": (None,), "rms_scaling": (False,),
                "use_cudnn": None, "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,),
                "quantization_config": (None,)}
_KERAS3_ONLY_IN = {"seed": ("SimpleRNN", "LSTM", "GRU")}   # TF-Keras 2 seeds only Dropout-like layers


def _keras2_layer_spec(spec, where):
    """corenn's {class_name, config} of one layer as TF-Keras 2's."""
    name = spec["class_name"]
    where = f"{where} ({name})"
    if "_user_class" in spec:
        raise _BadConfig(f"{where}: a custom layer class is written to Keras 3 archives "
                         f"(save_format='keras3'), not to TF-Keras 2 HDF5 files")
    if "_model" in spec:   # a model held by a Sequential: its own TF-Keras 2 config, nested
        inner = spec["_model"]
        nested, _ = keras2_model_config(inner)
        if not inner.trainable:
            nested["config"]["trainable"] = False
        return nested
    dtype = spec["config"].get("dtype")
    if _is_quantized_policy(dtype):
        raise _BadConfig(f"{where}: a quantized (int8 / int4) layer has no TF-Keras 2 form; Keras 3 archives hold "
                         "it (save_format='keras3')")
    for key in ("activation", "recurrent_activation"):
        if spec["config"].get(key) in _TF2_ONLY_ACTIVATIONS:
            raise _BadConfig(f"{where}: {key} {spec['config'][key]!r} is {_TF2_ONLY_ACTIVATIONS[spec['config'][key]]}: "
                             f"TF-Keras 2 would compute another model (Keras 3 archives hold it: save_format='keras3')")
    _layer_class(name, where)
    keras2_names = {ours: theirs for (cls, theirs), ours in _KERAS2_NAMES.items() if cls == name}
    out = {}
    for key, value in spec["config"].items():
        if key == "input_shape":    # the model's InputLayer holds the input shape
            continue
        if key in ("layer", "backward_layer") and name == "Bidirectional":
            # Keras 3's Bidirectional finds the wrapped class by its module even in legacy files
            value = dict(_keras2_layer_spec(value, f"{where} {key!r}"), module="keras.layers",
                         registered_name=None)
        elif key == "activation" and not isinstance(value, str):
            raise _BadConfig(f"{where}: activation {str(value)[:60]!r} is not a Keras activation name")
        if key in _KERAS3_ONLY or name in _KERAS3_ONLY_IN.get(key, ()):
            if not _neutral(value, _KERAS3_ONLY.get(key)):
                raise _BadConfig(f"{where}: option {key}={str(value)[:60]} has no TF-Keras 2 equivalent")
            continue
        out[keras2_names.get(key, key)] = value
    out.setdefault("dtype", "float32")
    return {"class_name": name, "config": out}


def _keras2_input_layer(layer, where):
    """An InputLayer as TF-Keras 2 writes it: its batch_input_shape, dtype and name."""
    config = layer.get_config()
    shape = config.get("shape")
    if not isinstance(shape, (list, tuple)):
        raise _BadConfig(f"{where}: input '{layer.name}' has no shape")
    return {"class_name": "InputLayer",
            "config": {"batch_input_shape": [config.get("batch_size"), *shape],
                       "dtype": config.get("dtype") or "float32", "sparse": False, "ragged": False,
                       "name": layer.name}}


def _keras2_refs(node, where):
    """A corenn / Keras 3 node ({"args": [...], "kwargs": {...}}) as TF-Keras 2's list of
    [layer, node, tensor, kwargs] references (the reader above refuses kwargs it cannot honour)."""
    args, kwargs = node["args"], dict(node.get("kwargs") or {})
    if len(args) != 1:
        raise _BadConfig(f"{where}: a call with {len(args)} arguments is not supported")
    tensors = args[0] if isinstance(args[0], list) else [args[0]]
    return [[*t["config"]["keras_history"], kwargs] for t in tensors]


def _check_sequential_input(model, where):
    if not model.built or not getattr(model, "inputs", None):
        raise _BadConfig(f"{where}: the Sequential model has no input shape yet (give it a "
                         f"keras.Input, build it or call it first)")


def _functional_config(model, where, dicts=False):
    """corenn's config of a functional model, refused for a subclassed model (Python code) and
    dict inputs / outputs (which Keras' configs here do not hold)."""
    kind = type(model).__name__
    if getattr(model, "_graph", None) is None or kind not in ("Model", "Functional"):
        raise _BadConfig(f"{where}: a subclassed model ({kind}) holds Python code; only Sequential "
                         f"and functional models are written")
    config = model.get_config()
    if not dicts and ("output_names" in config or "input_names" in config):
        raise _BadConfig(f"{where}: inputs or outputs given as a dict are not written to TF-Keras 2 files "
                         f"(Keras 3 archives hold them: save_format='keras3')")
    return config


def _written_layers(model, where, input_entry, layer_entry, dicts=False):
    """(corenn's functional config, or None for a Sequential; the layers as written entries: a
    Sequential's InputLayer then its layers, or the functional config's layers, named)."""
    if type(model).__name__ == "Sequential":
        _check_sequential_input(model, where)
        entries = [input_entry(model.inputs[0].node.layer, where)]
        for layer in model.layers:
            lwhere = f"{where}: layer '{layer.name}'"
            entries.append(layer_entry(_layer_spec(layer, lwhere), lwhere))
        return None, entries
    config = _functional_config(model, where, dicts)
    entries = []
    for spec in config["layers"]:
        lwhere = f"{where}: layer '{spec['name']}'"
        layer = model.get_layer(spec["name"])
        entry = input_entry(layer, lwhere) if spec["class_name"] == "InputLayer" else \
            layer_entry(_layer_spec(layer, lwhere, spec), lwhere)
        entries.append(dict(entry, name=spec["name"]))
    return config, entries


def keras2_model_config(model):
    """``model`` as TF-Keras 2's model_config: (config, layer names in Keras' order, which the
    legacy HDF5 file's ``layer_names`` follow). Raises _BadConfig naming what cannot be written."""
    where = f"model '{model.name}'"
    config, entries = _written_layers(model, where, _keras2_input_layer, _keras2_layer_spec)
    if config is None:
        return ({"class_name": "Sequential", "config": {"name": model.name, "layers": entries}},
                [layer.name for layer in model.layers])
    # a model called in this graph: TF-Keras 2 numbers its calls from 1 (node 0 is the model's
    # own graph, its _should_skip_first_node), corenn from 0; the reader (_skip_first_nodes)
    # undoes this shift
    models = {layer.name for layer in model.layers if getattr(layer, "_is_corenn_model", False)}

    def shifted(ref):
        return [ref[0], ref[1] + 1, *ref[2:]] if ref[0] in models else ref
    for entry, spec in zip(entries, config["layers"]):
        entry["inbound_nodes"] = [[shifted(ref) for ref in _keras2_refs(node, f"{where}: layer '{entry['name']}'")]
                                  for node in spec["inbound_nodes"]]
    # Keras' loaders match a legacy file's weights to layers by position in Keras' layer order,
    # which model.layers and the config's layers list follow (models/graph.py)
    order = [spec["name"] for spec in config["layers"]]
    return ({"class_name": "Functional",
             "config": {"name": model.name, "trainable": model.trainable, "layers": entries,
                        "input_layers": [list(ref) for ref in config["input_layers"]],
                        "output_layers": [shifted(list(ref)) for ref in config["output_layers"]]}},
            order)


def _layer_spec(layer, where, spec=None):
    """The layer's {class_name, config}, refused when the layer is not corenn's own class of
    that name (a user's class, or a subclass of one of corenn's)."""
    from . import layers as corenn_layers
    from .models.model import Model
    name = type(layer).__name__
    if name in _CODE_CLASSES:
        raise _BadConfig(f"{where} ({name}): it holds Python code, which is never written to a model "
                         f"file (TF-Keras 2 would have to unpickle it); rewrite it as a layer corenn has")
    if isinstance(layer, Model):
        if type(layer).__name__ in ("Sequential", "Model", "Functional") and getattr(layer, "_graph", None) is not None:
            return {"class_name": name, "config": {}, "_model": layer}   # Keras 3 archives nest it (below)
        raise _nested_model(name, where)
    cls = getattr(type(layer), "_float64_of", None) or type(layer)   # a float64 layer is its class's
    if name not in corenn_layers.__all__ or getattr(corenn_layers, name, None) is not cls:
        if _is_user_layer(layer):   # written to Keras 3 archives (the loading program provides the class)
            return {"class_name": name, "config": layer.get_config(), "_user_class": type(layer)}
        raise _BadConfig(f"{where}: class {type(layer).__module__}.{name} is not one of corenn's "
                         f"Keras layers (custom classes and recorded ops are not written to Keras files)")
    return spec if spec is not None else corenn_layers.serialize(layer)


def _is_user_layer(layer):
    """A layer class the program defines (subclassing Layer with its own ``call``), not one of
    corenn's classes or an op recorded on KerasTensors."""
    from .layers.base import Layer
    cls = type(layer)
    if "_keras_module" in cls.__dict__:   # keras.applications' own layers (applications/_builder.py)
        return True
    return (isinstance(layer, Layer) and not cls.__module__.startswith("corenn.")
            and cls.call is not Layer.call)


def keras2_training_config(compile_config):
    """corenn's compile config (saving._compile_config) as TF-Keras 2's training_config."""
    optimizer = compile_config["optimizer"]
    where = f"optimizer {optimizer['class_name']}"
    options = {}
    for key, value in optimizer["config"].items():
        if key in _KERAS3_ONLY:
            if not _neutral(value, _KERAS3_ONLY[key]):
                raise _BadConfig(f"{where}: option {key}={str(value)[:60]} has no TF-Keras 2 equivalent "
                                 f"(save with include_optimizer=False)")
            continue
        options[key] = value
    options["is_legacy_optimizer"] = False   # without it TF-Keras 2 builds its pre-2.11 optimizer class
    return {"loss": compile_config["loss"], "metrics": compile_config["metrics"],
            "weighted_metrics": compile_config.get("weighted_metrics"),
            "loss_weights": compile_config.get("loss_weights"),
            "optimizer_config": {"class_name": optimizer["class_name"], "config": options}}


_KERAS3_DTYPE = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                 "registered_name": None}
_KERAS3_DTYPE64 = {**_KERAS3_DTYPE, "config": {"name": "float64"}}


# corenn's MultiHeadAttention calls are one list [query, value(, key)(, attention_mask)] with the
# options (key given, mask given, causal, scores) in the layer; Keras 3 writes mha(query, value,
# key=..., attention_mask=..., use_causal_mask=True, return_attention_scores=True)
_ATTENTION_CALLS = ("MultiHeadAttention", "GroupQueryAttention", "GroupedQueryAttention")
# corenn classes Keras 3 exports under another name (keras.layers.<name> is what its loader finds)
_KERAS3_EXPORT_NAMES = {"GroupedQueryAttention": "GroupQueryAttention"}


def _keras3_attention_node(node, layer):
    args, kwargs = list(node["args"]), dict(node.get("kwargs") or {})
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    has_key, has_mask, causal, scores = layer._options or (len(items) > 2, False, False, False)
    rest = list(items[2:])
    if has_key and rest:
        kwargs["key"] = rest.pop(0)
    if has_mask and rest:
        kwargs["attention_mask"] = rest.pop(0)
    if causal:
        kwargs["use_causal_mask"] = True
    if scores:
        kwargs["return_attention_scores"] = True
    return {"args": list(items[:2]), "kwargs": kwargs}


def _keras3_layer_spec(spec, where):
    """corenn's {class_name, config} of one layer as Keras 3's serialized layer (corenn's
    options are Keras 3's, so only the wrapping and the dtype policy are added)."""
    name = spec["class_name"]
    where = f"{where} ({name})"
    if "_model" in spec:   # a model used as a layer: its own Keras 3 config, nested (as Keras writes it)
        inner = keras3_model_config(spec["_model"])
        shapes = [list(t.shape) for t in spec["_model"].inputs]
        inner["build_config"] = {"input_shape": shapes[0] if len(shapes) == 1 else shapes}
        return inner
    if "_user_class" in spec:   # Keras finds it by its registered name or its module, as Keras writes it
        from .saving import get_registered_name
        cls = spec["_user_class"]
        # a layer quantized by its own hooks keeps its policy (its build reads it in Keras too)
        dtype = spec["config"].get("dtype")
        config = dict(spec["config"], dtype=dtype if _is_quantized_policy(dtype) else
                      _KERAS3_DTYPE64 if dtype == "float64" else _KERAS3_DTYPE)
        keras_module = getattr(cls, "_keras_module", None)   # keras.applications' own layers
        return {"module": keras_module or cls.__module__, "class_name": name, "config": config,
                "registered_name": name if keras_module else get_registered_name(cls)}
    _layer_class(name, where)
    config = {key: value for key, value in spec["config"].items()
              if key not in ("input_shape", "_call_options")   # corenn's record of a call: in the node
              and not (key == "trainable" and name in _KERAS3_NO_TRAINABLE)}
    for key in ("layer", "backward_layer"):
        if name in _WRAPPERS and isinstance(config.get(key), dict):
            config[key] = _keras3_layer_spec(config[key], f"{where} {key!r}")
    if "activation" in config and not isinstance(config["activation"], str):
        raise _BadConfig(f"{where}: activation {str(config['activation'])[:60]!r} is not a Keras activation name")
    quantized = _is_quantized_policy(config.get("dtype"))
    # a quantized layer keeps its policy; a float64 one gets Keras' float64 policy
    config["dtype"] = config["dtype"] if quantized else _KERAS3_DTYPE64 if config.get("dtype") == "float64" \
        else _KERAS3_DTYPE
    return {"module": "keras.layers", "class_name": _KERAS3_EXPORT_NAMES.get(name, name), "config": config,
            "registered_name": None}


def _keras3_input_layer(layer, where):
    config = _keras2_input_layer(layer, where)["config"]
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
            "config": {"batch_shape": config["batch_input_shape"], "dtype": config["dtype"],
                       "sparse": False, "name": config["name"]}}


def keras3_model_config(model):
    """``model`` as Keras 3's config.json (``serialize_keras_object`` of a Sequential or
    Functional model). Raises _BadConfig naming what cannot be written."""
    where = f"model '{model.name}'"
    config, entries = _written_layers(model, where, _keras3_input_layer, _keras3_layer_spec, dicts=True)
    if config is None:
        return {"module": "keras", "class_name": "Sequential", "registered_name": None,
                "config": {"name": model.name, "trainable": model.trainable, "dtype": _KERAS3_DTYPE,
                           "layers": entries, "build_input_shape": entries[0]["config"]["batch_shape"]}}
    for entry, spec in zip(entries, config["layers"]):
        entry["inbound_nodes"] = spec["inbound_nodes"]   # corenn's nodes are in Keras 3's form
        if entry["class_name"] in _ATTENTION_CALLS:      # ... but for the attention layers' calls
            layer = model.get_layer(spec["name"])
            entry["inbound_nodes"] = [_keras3_attention_node(node, layer) for node in spec["inbound_nodes"]]
    def refs(key, names_key):   # Keras 3 writes one flat, a dict as {name: ref}
        found = config[key]
        if config.get(names_key):
            return dict(zip(config[names_key], found))
        return found[0] if len(found) == 1 else found
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "registered_name": "Functional",
            "config": {"name": model.name, "trainable": model.trainable, "layers": entries,
                       "input_layers": refs("input_layers", "input_names"),
                       "output_layers": refs("output_layers", "output_names")}}


# ================================================================================================
# reading compile configs: Keras 3's ``compile_config``, TF-Keras 2's ``training_config``
# ================================================================================================

# how Keras runs a step, not what the step computes: not read
_EXECUTION_OPTIONS = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")


def _spec_name(spec):
    return spec if isinstance(spec, str) else spec.get("class_name") if isinstance(spec, dict) else None


def _known(kind, name):
    """Whether corenn has the loss / metric of this name or class name."""
    from . import losses, metrics
    if not isinstance(name, str):
        return False
    table = losses if kind == "loss" else metrics
    return (kind == "metric" and name in ("accuracy", "acc")) or name.lower() in table._BY_NAME \
        or name in table._CLASSES


def _compile_objects(value, kind, where):
    """A loss or metrics entry (a name, a {class_name, config} object, or lists / dicts of them
    per output) without Keras' module fields: (corenn's entry, the first name corenn lacks)."""
    if value is None:
        return None, None
    if isinstance(value, list):
        found = [_compile_objects(v, kind, where) for v in value]
        return [v for v, _ in found], next((m for _, m in found if m), None)
    if isinstance(value, dict) and "class_name" not in value:
        found = {k: _compile_objects(v, kind, where) for k, v in value.items()}
        return {k: v for k, (v, _) in found.items()}, next((m for _, m in found.values() if m), None)
    name = _spec_name(value)
    if not isinstance(name, str) or (isinstance(value, dict) and not isinstance(value.get("config") or {}, dict)):
        raise _BadConfig(f"{where}: bad {kind} {str(value)[:80]}")
    if kind == "metric" and name == "MeanMetricWrapper":   # TF-Keras 2: a metric function by name
        config = value.get("config") or {}
        value = name = config.get("name") if _known(kind, config.get("name")) else config.get("fn")
        if not isinstance(name, str):
            raise _BadConfig(f"{where}: bad metric {str(config)[:80]}")
    if not _known(kind, name):
        return None, f"{kind} {name[:60]!r}"
    if isinstance(value, dict):
        value = {"class_name": name, "config": value.get("config") or {}}
    return value, None


def keras_compile_config(config, legacy):
    """Keras' compile config (Keras 3's ``compile_config``; the ``training_config`` of a
    ``legacy`` HDF5 file, whose optimizer is ``optimizer_config``) as corenn's compile.json: (config, None), or
    (None, what) when it names an optimizer, optimizer option, loss or metric corenn does not
    have. Raises _BadConfig for a malformed one, naming what is wrong."""
    from . import optimizers
    where = "training_config" if legacy else "compile_config"
    if not isinstance(config, dict):
        raise _BadConfig(f"{where} is not a JSON object")
    config = _without_object_ids(config)
    _saving._check_json_values(config, where)
    _refuse_code(config, where)
    optimizer = config.get("optimizer_config" if legacy else "optimizer")
    if isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("class_name"), str) \
            or not isinstance(optimizer.get("config") or {}, dict):
        raise _BadConfig(f"{where}: bad optimizer {str(optimizer)[:80]}")
    name = optimizer["class_name"]
    name = name[len("Custom>"):] if name.startswith("Custom>") else name   # TF-Keras 2 registers them so
    cls = optimizers._BY_NAME.get(name.lower())
    if cls is None:
        return None, f"optimizer {name[:60]!r}"
    options = dict(optimizer.get("config") or {})
    options.pop("jit_compile", None)
    if options.pop("is_legacy_optimizer", False) is not False:
        return None, f"TF-Keras 2's legacy optimizer {name!r}"
    lacking = sorted(set(options) - set(cls().get_config()))
    if lacking:
        return None, f"optimizer option(s) {', '.join(lacking)[:80]} of {name!r}"
    out = {"optimizer": {"class_name": cls.__name__, "config": options}}
    for key, kind in (("loss", "loss"), ("metrics", "metric"), ("weighted_metrics", "metric")):
        value = config.get(key)
        if legacy and kind == "metric" and isinstance(value, list) and len(value) == 1 \
                and isinstance(value[0], list):
            value = value[0]   # TF-Keras 2 lists the metrics per output
        out[key], lacking = _compile_objects(value, kind, f"{where}: {key}")
        if lacking:
            return None, lacking
    out["loss_weights"] = config.get("loss_weights")
    unknown = set(config) - set(out) - set(_EXECUTION_OPTIONS) - {"optimizer", "optimizer_config"}
    if unknown:
        return None, f"compile option(s) {', '.join(sorted(unknown))[:80]}"
    return out, None
