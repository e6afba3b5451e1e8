"""Reading model files that Keras wrote: Keras 3 archives (``.keras``), Keras 3 weights files
(``.weights.h5``) and the legacy HDF5 model files of TF-Keras 2 (``.h5``, which Keras 3 still
writes with ``model.save("m.h5")``). corenn reads them all, and writes ``.weights.h5`` files
(``save_h5_weights``), legacy ``.h5`` model files (``save_legacy_h5``) and Keras 3 archives
(``save_keras3_archive``), at the end.

Keras 3 archive (``.keras``)
    A ZIP of ``metadata.json`` (``{"keras_version": "3.x", ...}``), ``config.json`` (the model's
    ``serialize_keras_object``: ``module``, ``class_name``, ``config``, ``registered_name``; a
    functional model's layers carry ``inbound_nodes`` of ``__keras_tensor__`` references) and
    ``model.weights.h5``. Told apart from corenn's own ``.keras`` files by that last member.
Keras 3 weights (``model.weights.h5`` and ``.weights.h5`` files)
    ``layers/<path>/vars/<i>`` datasets, where ``<path>`` is the layer's class name in
    snake_case, numbered within the model in layer order (``dense``, ``dense_1``, ...: not the
    layer's name, which the ``vars`` group's ``name`` attribute holds). Wrappers nest:
    ``lstm/cell/vars``, ``bidirectional/forward_layer/cell/vars``, then ``backward_layer``.
    A subclassed model is saved as a layer: ``vars`` its own variables, then its layers by
    attribute name (``_subclassed_groups``).
Legacy HDF5 (``.h5``)
    Attribute ``model_config`` (JSON), group ``model_weights`` with attribute ``layer_names``;
    each ``model_weights/<layer>`` group lists its datasets in attribute ``weight_names``.
    A weights-only legacy file has ``layer_names`` at the root.

Mapping (saving_keras_config.py). Keras' configs map onto corenn's layers of the same class
name (corenn's weight layouts are Keras': Dense (in, out), Conv2D (KH, KW, Cin, Cout), LSTM gates i, f, c, o, GRU
z, r, h with a (2, 3U) bias when reset_after; see ARCHITECTURE.md section 3), so arrays pass
through unchanged, in Keras' order. Config keys corenn does not take are dropped only when they
hold Keras' neutral value (``kernel_constraint: null``, ``lora_rank: null``, ...); any other
value is refused, naming the layer and the option. Initializers and regularizers map to
corenn's classes of the same name. Recorded ops become OpLayers (saving_keras_ops.py), models
used as layers stay models. A compiled file loads compiled, with its optimizer's state
(``_set_optimizer_state``).

Safety, as for corenn's own files: nothing is unpickled or executed. A Lambda layer, any
serialized function (``__lambda__``, ``function`` objects, ``bytecode``), a ``module`` outside
``keras`` or a ``registered_name`` (a user's class) is refused, naming it; an unknown class is
refused, naming it. The archive is checked like corenn's (sizes, zip bombs, names); JSON is
capped; the HDF5 tree is walked before any data is read: only hard links (no external or soft
links), at most ``_MAX_H5_OBJECTS`` objects, datasets of plain numbers without external or
virtual storage; each weight a float dataset of exactly the shape the rebuilt model expects
(and each optimizer variable of the shape of its model weight). Only then is anything read. Every failure is a ``ValueError`` naming the file.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import warnings

import numpy as np

from . import saving as _saving
from .saving import _Bad, _BadConfig, _reading
from .saving_keras_config import translate_model_config

__all__ = ["load_keras_archive", "load_legacy_h5", "load_h5_weights",
           "load_keras_archive_weights", "save_h5_weights", "save_legacy_h5", "save_keras3_archive"]

KERAS_ARCHIVE_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}
_MAX_H5_BYTES = 1 << 32          # the weights member of a .keras archive
_MAX_H5_OBJECTS = 100_000        # groups + datasets walked in one HDF5 file
_MAX_H5_DEPTH = 16
_MAX_ATTR_BYTES = 16 << 20       # model_config, layer_names, weight_names


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading or writing Keras .h5 / .weights.h5 / .keras files needs h5py: "
                          "pip install 'corenn[keras]' (or pip install h5py)") from None
    return h5py


# ================================================================================================
# HDF5: the tree walked and checked before any data is read
# ================================================================================================

class _Dataset:
    """A checked HDF5 dataset: ``shape`` and ``member`` (its path), read with ``read()``;
    ``aliases``: other paths holding the same weight (read once, counted as read)."""
    __slots__ = ("ds", "shape", "member", "aliases")

    def __init__(self, ds):
        # floats and integers (Keras' Normalization keeps its sample count as an int32 weight;
        # int8 arrays are the kernels / tables of int8-quantized layers; a layer's own counters
        # and flags): plain numbers, nothing else
        if ds.dtype.kind not in "fiu":
            raise _Bad(f"{ds.name}: weight of type {ds.dtype} (weights are arrays of numbers)")
        self.ds, self.shape, self.member, self.aliases = ds, tuple(ds.shape), ds.name, ()

    def paths(self):
        return (self.member,) + self.aliases

    def read(self):
        out = np.empty(self.shape, self.ds.dtype)
        if out.size:
            self.ds.read_direct(out)
        # float32 as corenn's weights are, but for float64 values and integers (a layer's int64
        # counter, float64 sums), which keep their precision for the weight they fill (the int8
        # kernels of quantized layers stay float32 integers, as corenn keeps them)
        if out.dtype == np.float64 or (out.dtype.kind in "iu" and out.dtype != np.int8):
            return out
        return np.asarray(out, np.float32)


def _check_h5_tree(h5py, f):
    """Walk every object by its links: only hard links, bounded count and depth; every
    dataset plain numbers (floats; integers such as an optimizer's step count), stored in this
    file (no external storage, no virtual dataset). Returns {path: h5py.Dataset}."""
    datasets, count = {}, 0
    stack = [(f, 0)]
    while stack:
        group, depth = stack.pop()
        if depth > _MAX_H5_DEPTH:
            raise _Bad(f"{group.name}: HDF5 groups nested more than {_MAX_H5_DEPTH} deep")
        for key in list(group.keys()):
            count += 1
            if count > _MAX_H5_OBJECTS:
                raise _Bad(f"more than {_MAX_H5_OBJECTS} HDF5 objects")
            link = group.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise _Bad(f"{group.name.rstrip('/')}/{key}: a {type(link).__name__} (only plain "
                           f"objects inside the file are read, never links to other files or paths)")
            obj = group[key]
            if isinstance(obj, h5py.Group):
                stack.append((obj, depth + 1))
            elif isinstance(obj, h5py.Dataset):
                dtype = obj.dtype
                plain = (dtype.kind == "f" and dtype.itemsize in (2, 4, 8)) or (
                    dtype.kind in "iu" and dtype.itemsize in (1, 2, 4, 8))
                if not plain or dtype.fields is not None or dtype.subdtype is not None:
                    raise _Bad(f"{obj.name}: dataset of type {dtype} (only plain numbers are read)")
                if obj.is_virtual or obj.external:
                    raise _Bad(f"{obj.name}: dataset stored outside the file (virtual or external)")
                if len(obj.shape) > _saving._MAX_RANK:
                    raise _Bad(f"{obj.name}: dataset of rank {len(obj.shape)}")
                datasets[obj.name] = obj
            else:
                raise _Bad(f"{group.name.rstrip('/')}/{key}: unexpected HDF5 object {type(obj).__name__}")
    return datasets


def _string_attr(obj, name, what):
    """A string or list-of-strings attribute of at most ``_MAX_ATTR_BYTES``. A fixed-size
    attribute's size is checked before it is read; a variable-length string's text lives in the
    file's global heap, so reading it allocates at most the file's own size, and its length is
    checked right after."""
    if name not in obj.attrs:
        return None
    try:
        attr = obj.attrs.get_id(name)
        # HDF5 reports no storage for an empty attribute (Keras' empty weight_names)
        size = attr.get_storage_size() if attr.shape != (0,) else 0
    except Exception:   # noqa: BLE001 - h5py raises several types for a damaged attribute
        raise _Bad(f"{obj.name}: attribute {name!r} cannot be read") from None
    if size > _MAX_ATTR_BYTES:
        raise _Bad(f"{obj.name}: attribute {name!r} of {size} bytes (at most {_MAX_ATTR_BYTES})")
    value = obj.attrs[name]

    def text(v):
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        if not isinstance(v, str):
            raise _Bad(f"{obj.name}: attribute {name!r} holds {type(v).__name__}, not {what}")
        return v
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise _Bad(f"{obj.name}: attribute {name!r} of shape {value.shape}")
        result = [text(v) for v in value.tolist()] if value.dtype.kind in "OSU" or value.size else []
    else:
        result = text(value)
    size = sum(map(len, result)) if isinstance(result, list) else len(result)
    if size > _MAX_ATTR_BYTES:
        raise _Bad(f"{obj.name}: attribute {name!r} of {size} bytes (at most {_MAX_ATTR_BYTES})")
    return result


def _snake_case(name):
    """Keras' generic_utils.to_snake_case: the names of Keras 3's weight groups."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# Keras 3 exports some classes under another name than the class's own, which names its groups
_KERAS3_CLASS_OF_EXPORT = {"GroupQueryAttention": "GroupedQueryAttention",
                           "Model": "Functional"}   # corenn's functional model class is Model


def _keras3_paths(classes):
    """Keras 3's weight-group names for layers of these classes, in model order."""
    seen, paths = {}, []
    for cls in classes:
        base = _snake_case(_KERAS3_CLASS_OF_EXPORT.get(cls, cls))
        n = seen.get(base, 0)
        paths.append(base if n == 0 else f"{base}_{n}")
        seen[base] = n + 1
    return paths


_SUBGROUPS = ("cell", "forward_layer", "backward_layer", "layer")

# Layers whose weights corenn holds itself but Keras 3 keeps in named sub-layers (its attention
# layers' EinsumDense projections): the groups, in corenn's (= Keras' get_weights) order. Each
# group's ``vars`` follow in order; none is written twice.
_KERAS3_SUBLAYER_GROUPS = {
    "MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense"),
    "GroupQueryAttention": ("_query_dense", "_key_dense", "_value_dense", "_output_dense"),
    "GroupedQueryAttention": ("_query_dense", "_key_dense", "_value_dense", "_output_dense"),
}
# Keras 3's SpectralNormalization tracks the wrapped layer's kernel twice: its own vars/0 and
# layer/vars/0 are the same variable (corenn: [kernel, vector_u, the wrapped layer's others]).
_KERAS3_SHARED_KERNEL = ("SpectralNormalization",)


def _sublayer_datasets(datasets, group_path, cls):
    """The datasets of a _KERAS3_SUBLAYER_GROUPS layer's group, in corenn's order; every
    dataset below the group must be one of them."""
    prefix, found, used = group_path + "/", [], set()
    for sub in _KERAS3_SUBLAYER_GROUPS[cls]:
        own = {}
        for path in datasets:
            rest = path[len(prefix):].split("/") if path.startswith(prefix) else None
            if rest is not None and len(rest) == 3 and rest[0] == sub and rest[1] == "vars":
                own[rest[2]] = datasets[path]
        if sorted(own) != sorted(str(i) for i in range(len(own))):
            raise _Bad(f"{group_path}/{sub}/vars: datasets are not numbered 0..{len(own) - 1}")
        found += [_Dataset(own[str(i)]) for i in range(len(own))]
        used |= {f"{prefix}{sub}/vars/{i}" for i in range(len(own))}
    extra = [p for p in datasets if p.startswith(prefix) and p not in used]
    if extra:
        raise _Bad(f"{extra[0]}: unexpected dataset in the weights group of a {cls} layer "
                   f"(Keras' groups: {', '.join(_KERAS3_SUBLAYER_GROUPS[cls])})")
    return found


def _nested_groups(layer):
    """[(group path below the layer's group, sublayer)] in ``layer.weights`` order, for layers
    that hold other layers the way Keras 3's saving walks them: a model used as a layer (a
    Sequential augmentation block, a functional encoder) keeps its layers under ``layers/<class
    name in snake case, numbered>``; a Keras layer written with ``call`` keeps each layer it holds
    under the attribute's name, and those in a list or dict under ``<attribute>/<class, numbered>``
    (a ViT PatchEncoder's ``projection`` Dense and ``position_embedding``). [] for other layers."""
    from .layers.base import Layer
    if getattr(layer, "_graph", None) is not None and hasattr(layer, "layers"):
        subs = list(layer.layers)
        return [(f"layers/{path}", sub) for path, sub in zip(_keras3_paths([type(x).__name__ for x in subs]), subs)]
    if layer is None or type(layer).call is Layer.call:
        return []
    out, seen = [], {id(layer)}

    def is_layer(v):   # a model a layer holds (a Sequential feed-forward block) is one of its layers
        return isinstance(v, Layer) or getattr(v, "_is_corenn_model", False)

    def flat(v, found):   # the order Layer._sublayers visits containers in
        if is_layer(v):
            if id(v) not in seen:
                seen.add(id(v))
                found.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                flat(item, found)
        elif isinstance(v, dict):
            for item in v.values():
                flat(item, found)
    from .layers.base import tracked_items
    # in the order the layer's weights list them (Layer._sublayers); a user's private
    # ``self._proj`` is tracked as Keras 3 tracks it, under its attribute's name
    for attr, value in tracked_items(layer):
        if is_layer(value):
            if id(value) not in seen:
                seen.add(id(value))
                out.append((attr, value))
        elif isinstance(value, (list, tuple, dict)):
            items = []
            flat(value, items)
            out += [(f"{attr}/{path}", item)
                    for path, item in zip(_keras3_paths([type(i).__name__ for i in items]), items)]
    return out


def _is_subclassed(model):
    """A subclassed model (``class Net(keras.Model)`` with its own ``call``, no graph): Keras 3
    saves it as a layer, by its attributes, not by ``layers/<class numbered>``."""
    from .models.sequential import Sequential
    return getattr(model, "_is_corenn_model", False) and getattr(model, "_graph", None) is None \
        and not isinstance(model, Sequential)


def _own_keras_order(holder):
    """A subclassed model's own variables (its add_weight, Variable attributes: the holder's)
    in Keras 3's file order: the trainable ones, then the others (Layer.save_own_variables)."""
    return [] if holder is None else _keras_variables(holder)


def _unique_group_name(name, used):
    """Keras 3's _get_unique_name: 'dense', 'dense_1', ... within one container."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _subclassed_groups(model):
    """[(group path, layer)] of a subclassed model, as Keras 3's saving walks it (saving_lib
    ``_save_state``): the model's public attributes and its ``layers`` list in sorted name
    order, each object once (the first path that reaches it; later ones write nothing). A layer
    attribute is a group of that name (``dense1``); a list, tuple or dict attribute a group of
    its items named by class in snake case, numbered within it (``heads/dense``,
    ``heads/dense_1``; a nested list is ``container``); ``layers`` (every layer the model
    tracks, in order) is such a list, so a layer reached first through it -- its attribute
    sorts after 'layers', or it is only in a list -- is ``layers/<class numbered>``. Private
    attributes of a user's model come after all the others, as Keras 3 walks them
    (saving_lib._name_key sorts ``_block`` as ``~_block``), so a layer also in ``layers`` is
    saved there."""
    from .layers.base import Layer, tracked_items

    def is_layer(v):
        return isinstance(v, Layer) or getattr(v, "_is_corenn_model", False)

    holder = model.__dict__.get("_own_variables")
    attrs = sorted(tracked_items(model) + [("layers", list(model.layers))],
                   key=lambda kv: "~" + kv[0] if kv[0].startswith("_") else kv[0])
    visited, out = {id(model), id(holder)}, []

    def save(obj, path):
        if id(obj) not in visited:
            visited.add(id(obj))
            out.append((path, obj))

    def container(items, path, seen):
        if id(items) in seen:
            return
        seen.add(id(items))
        used = {}
        for item in (list(items.values()) if isinstance(items, dict) else items):
            if is_layer(item):
                cls = type(item).__name__
                if getattr(item, "_graph", None) is not None:
                    cls = _KERAS3_CLASS_OF_EXPORT.get(cls, cls)   # a functional model: 'functional'
                save(item, f"{path}/{_unique_group_name(_snake_case(cls), used)}")
            elif isinstance(item, (list, tuple, dict)):
                container(item, f"{path}/{_unique_group_name('container', used)}", seen)
    for name, value in attrs:
        if is_layer(value):
            save(value, name)
        elif isinstance(value, (list, tuple, dict)):
            container(value, name, set())
    return out


def _shared_kernel_datasets(datasets, group_path, cls):
    """A _KERAS3_SHARED_KERNEL layer's datasets in corenn's order: its own vars (vars/0 the
    kernel, which layer/vars/0 repeats), then the wrapped layer's others (layer/vars/1..)."""
    prefix, groups = group_path + "/", {"vars": {}, "layer/vars": {}}
    for path, ds in datasets.items():
        if not path.startswith(prefix):
            continue
        head, _, index = path[len(prefix):].rpartition("/")
        if head not in groups:
            raise _Bad(f"{path}: unexpected dataset in the weights group of a {cls} layer")
        groups[head][index] = ds
    for head, own in groups.items():
        if sorted(own) != sorted(str(i) for i in range(len(own))) or not own:
            raise _Bad(f"{group_path}/{head}: datasets are not numbered 0..{len(own) - 1}")
    own, inner = groups["vars"], groups["layer/vars"]
    if tuple(own["0"].shape) != tuple(inner["0"].shape):
        raise _Bad(f"{group_path}: vars/0 and layer/vars/0 (the same kernel) differ in shape")
    found = [_Dataset(own[str(i)]) for i in range(len(own))]
    found[0].aliases = (inner["0"].name,)
    return found + [_Dataset(inner[str(i)]) for i in range(1, len(inner))]


def _keras3_layer_datasets(datasets, group_path, layer=None, cls=None, visited=None):
    """The datasets of one layer group of a Keras 3 weights file, in Keras' order: its own
    ``vars/0..n-1``, then those of its wrapped parts (``cell``; ``forward_layer`` then
    ``backward_layer``), or, given the layer, those of the layers it holds (_nested_groups).
    ``cls``: the layer's class name (else the layer's), for the layouts of
    _KERAS3_SUBLAYER_GROUPS and _KERAS3_SHARED_KERNEL. ``visited``: as _keras_variables (a
    layer the walk reached before has no group here: [])."""
    prefix = group_path + "/"
    if layer is not None and visited is not None:
        if id(layer) in visited:
            return []
        visited.add(id(layer))
    cls = cls or (type(layer).__name__ if layer is not None else None)
    if cls in _KERAS3_SUBLAYER_GROUPS:
        return _sublayer_datasets(datasets, group_path, cls)
    if cls in _KERAS3_SHARED_KERNEL:
        return _shared_kernel_datasets(datasets, group_path, cls)
    generic = _nested_groups(layer) if layer is not None else []
    if generic:
        visited = {id(layer)} if visited is None else visited
        own = {}
        inner = [prefix + sub + "/" for sub, _ in generic]
        for path in datasets:
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):].split("/")
            if len(rest) == 2 and rest[0] == "vars":
                own[rest[1]] = datasets[path]
            elif not any(path.startswith(p) for p in inner):
                raise _Bad(f"{path}: unexpected dataset in the weights group of layer '{layer.name}'")
        if sorted(own, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(own))]:
            raise _Bad(f"{group_path}/vars: datasets are not numbered 0..{len(own) - 1}")
        found = [_Dataset(own[str(i)]) for i in range(len(own))]
        for sub, sublayer in generic:
            found += _keras3_layer_datasets(datasets, f"{group_path}/{sub}", sublayer, visited=visited)
        return found
    own = {}
    nested = {}
    for path in datasets:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix):].split("/")
        if len(rest) == 2 and rest[0] == "vars":
            own[rest[1]] = datasets[path]
        elif rest[0] in _SUBGROUPS:
            nested.setdefault(rest[0], None)
        else:
            raise _Bad(f"{path}: unexpected dataset in a Keras weights group")
    if sorted(own, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(own))]:
        raise _Bad(f"{group_path}/vars: datasets are not numbered 0..{len(own) - 1}")
    found = [_Dataset(own[str(i)]) for i in range(len(own))]
    for sub in _SUBGROUPS:
        if sub in nested:
            found += _keras3_layer_datasets(datasets, f"{group_path}/{sub}")
    return found


def _keras3_weights(datasets, paths, names, where, layers=None):
    """Datasets per layer from a Keras 3 weights tree: {layer name: [_Dataset]} for the
    (group path, layer name) pairs given (and the layers, when a model reads into its own layers:
    models and Keras layers nested in them are read by their structure); every dataset of the
    file must belong to one."""
    per_layer, used, visited = {}, set(), set()
    for k, (path, name) in enumerate(zip(paths, names)):
        found = _keras3_layer_datasets(datasets, f"/layers/{path}", None if layers is None else layers[k],
                                       visited=visited)
        per_layer[name] = found
        used |= {p for d in found for p in d.paths()}
    _check_all_used(datasets, used, where)
    return per_layer


def _check_all_used(datasets, used, where):
    # a compiled model's file also holds its optimizer's state (optimizer/vars/...), read apart
    extra = sorted(p for p in set(datasets) - used if not p.startswith("/optimizer/"))
    if extra:
        raise _Bad(f"{where} holds weights the model has no layer for: {', '.join(extra[:5])}")


def _user_layer_class(name):
    from .layers.base import Layer
    from .saving import custom_class
    cls = custom_class(name)
    return cls if isinstance(cls, type) and issubclass(cls, Layer) else None


class _Deferred:
    """The weights group of a layer whose structure is known only once built (a class the
    program provides): read with the built layer (_nested_groups) by _checked_weights."""

    def __init__(self, datasets, group):
        self.datasets, self.group = datasets, group

    def size(self):
        prefix = self.group + "/"
        return sum(math.prod(d.shape) for p, d in self.datasets.items() if p.startswith(prefix))

    def resolve(self, layer):
        return _keras3_layer_datasets(self.datasets, self.group, layer)


def _keras3_order_weights(datasets, order, group="/layers"):
    """{layer name: [_Dataset]} for the entries of translate_model_config's ``order`` (Keras'
    layers, numbered by class) below ``group``; a model used as a layer holds the datasets of
    its own layers, in their order, below ``<its group>/layers``."""
    per_layer = {}
    for (name, cls, inner), path in zip(order, _keras3_paths([cls for _, cls, _ in order])):
        if inner is None and _user_layer_class(cls) is not None:
            # the program's own layer class: the layers it holds are known once it is built
            per_layer[name] = _Deferred(datasets, f"{group}/{path}")
        elif inner is None:
            per_layer[name] = _keras3_layer_datasets(datasets, f"{group}/{path}", cls=cls)
        else:
            per_layer[name] = [d for found in _keras3_order_weights(datasets, inner, f"{group}/{path}/layers").values()
                               for d in found]
    return per_layer


def _legacy_weights(h5py, root, datasets):
    """{layer name: [_Dataset]} from a legacy weights group (``layer_names``, ``weight_names``),
    in the file's layer order."""
    layer_names = _string_attr(root, "layer_names", "layer names")
    if not isinstance(layer_names, list):
        raise _Bad(f"{root.name}: no 'layer_names' attribute (not a Keras HDF5 weights file)")
    per_layer = {}
    for lname in layer_names:
        group = root.get(lname, getlink=True)
        if group is None or lname in per_layer:
            raise _Bad(f"{root.name}: layer {lname!r} listed in layer_names is missing or repeated")
        weight_names = _string_attr(root[lname], "weight_names", "weight names") or []
        found = []
        for wname in weight_names:
            path = f"{root[lname].name}/{wname}"
            if path not in datasets:
                raise _Bad(f"{path}: weight listed in weight_names is missing")
            found.append(_Dataset(datasets[path]))
        per_layer[lname] = found
    return per_layer


# ================================================================================================
# loading
# ================================================================================================

def _open_h5_bytes(h5py, data):
    return h5py.File(io.BytesIO(data), "r")


# A lookup layer's vocabulary file among an archive's assets: bounded, as everything read
_MAX_ASSET_BYTES = 64 << 20
_MAX_ASSETS = 4096
_VOCABULARY_LAYERS = ("TextVectorization", "StringLookup", "IntegerLookup")


def _read_archive(f, with_assets=False):
    """(config, weights.h5 bytes) of a Keras 3 archive, every member checked; with
    ``with_assets`` also {member: bytes} of its ``assets/`` (Keras' lookup layers keep their
    vocabulary there: assets/layers/<group>/vocabulary.txt)."""
    archive = _saving._Archive(f)
    members = set(archive.infos)
    extra = sorted(m for m in members - KERAS_ARCHIVE_MEMBERS if not m.startswith("assets/"))
    if extra:
        raise _Bad(f"unexpected member(s) {extra[:5]} (a Keras archive corenn reads holds only "
                   f"{', '.join(sorted(KERAS_ARCHIVE_MEMBERS))} and assets/)")
    asset_names = sorted(m for m in members if m.startswith("assets/") and not m.endswith("/"))
    if len(asset_names) > _MAX_ASSETS:
        raise _Bad(f"{len(asset_names)} assets (at most {_MAX_ASSETS} are read)")
    assets, total = {}, 0
    for name in asset_names if with_assets else ():
        if not name.endswith("/vocabulary.txt"):
            continue   # assets of other layers: nothing corenn reads
        data = archive.read_bytes(name, _MAX_ASSET_BYTES - total)
        total += len(data)
        assets[name] = data
    missing = sorted(KERAS_ARCHIVE_MEMBERS - members)
    if missing:
        raise _Bad(f"member(s) {missing} missing")
    meta = archive.read_json("metadata.json")
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    if not isinstance(version, str) or not version.startswith("3."):
        raise _Bad(f"metadata.json: keras_version {str(version)[:40]!r} (Keras 3 archives are read)")
    config = archive.read_json("config.json")
    data = archive.read_bytes("model.weights.h5", _MAX_H5_BYTES)
    return (config, data, assets) if with_assets else (config, data)


def _load_vocabularies(model, order, assets):
    """Keras' lookup layers (TextVectorization, StringLookup, IntegerLookup) adapted rather than
    given a vocabulary keep it in assets/layers/<group>/vocabulary.txt, one token a line, the
    mask and OOV tokens first (Keras' save_assets); set_vocabulary takes it as Keras' does."""
    for (name, cls, inner), path in zip(order, _keras3_paths([c for _, c, _ in order])):
        member = f"assets/layers/{path}/vocabulary.txt"
        if inner is not None or cls not in _VOCABULARY_LAYERS or member not in assets:
            continue
        layer = model.get_layer(name)
        if getattr(layer, "output_mode", None) == "tf_idf":
            raise _Bad(f"{member}: layer '{name}' ({cls}) in tf_idf mode: its vocabulary asset is not read "
                       f"(its idf weights are not in it)")
        try:
            lines = assets[member].decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise _Bad(f"{member}: not UTF-8 text ({exc})") from None
        while lines and lines[-1] == "":
            lines.pop()
        if cls == "IntegerLookup":
            try:
                lines = [int(t) for t in lines]
            except ValueError as exc:
                raise _Bad(f"{member}: an IntegerLookup vocabulary line is not an integer ({exc})") from None
        try:
            layer.set_vocabulary(lines)
        except ValueError as exc:
            raise _Bad(f"{member}: {exc}") from None


def _checked_weights(inner_config, per_layer, legacy=False, datasets=None):
    """Check the translated config like a corenn file's, compare the shapes its model builds
    (without storage) with the file's datasets, then read them: (checked config, arrays in
    model order). Nothing is read before every shape matched. A ``legacy`` file lists a model
    used as a layer's weights as Keras' ``trainable_weights + non_trainable_weights``."""
    inner = _saving._check_layer_classes(inner_config)
    # a layer that runs its call while built (SpectralNormalization) gets real zero weights,
    # bounded by what the file holds (a dataset under several paths counted once per path)
    _saving._STAND_IN_BUDGET[0] = sum(
        found.size() if isinstance(found, _Deferred) else
        sum(math.prod(d.shape) * (1 + len(d.aliases)) for d in found) for found in per_layer.values())
    try:
        stand_in = _saving._stand_in_model(inner)
    finally:
        _saving._STAND_IN_BUDGET[0] = 0
    ordered = []
    for layer in stand_in.layers:
        if isinstance(per_layer.get(layer.name), _Deferred):
            per_layer[layer.name] = per_layer[layer.name].resolve(layer)
        if layer.weights:
            found = per_layer.get(layer.name)
            if found is None:
                raise _BadConfig(f"the file holds no weights for layer '{layer.name}'")
            if legacy and getattr(layer, "_graph", None) is not None:
                found = _in_weights_order(layer, found)
            ordered += found
        elif per_layer.get(layer.name):
            raise _BadConfig(f"layer '{layer.name}' ({type(layer).__name__}) has no weights, but the "
                             f"file holds {len(per_layer[layer.name])} for it")
    if datasets is not None:   # every dataset of the file belongs to a layer
        _check_all_used(datasets, {p for found in per_layer.values() if not isinstance(found, _Deferred)
                                   for d in found for p in d.paths()}, "model.weights.h5")
    # in model.layers order, as ``ordered`` was gathered and _build sets them (a model whose
    # layers run in another order than Keras lists them, ResNet's shortcut convolutions, too)
    _saving._compare_weight_shapes(stand_in, ordered, stand_in.layers, _keras_weight_shapes)
    return inner, [d.read() for d in ordered]


def _lora(layer):
    return getattr(layer, "lora_enabled", False)


# Keras 3's save_own_variables of an int8 layer writes [kernel, bias, kernel_scale] (int4: then
# kernel_zero, g_idx), while its weights list the bias first (quantize() makes the quantized
# kernel again after it)
_FILE_RANK = {"kernel": 0, "embeddings": 0, "bias": 1, "kernel_scale": 2, "embeddings_scale": 2,
              "kernel_zero": 3, "embeddings_zero": 3, "g_idx": 4}


def _creation_flags(layer):
    """{id(weight Tensor): (id of the layer that made it, trainable when made)} over ``layer``
    and every layer (and model) it holds. The flag is the one the weight was made with
    (add_weight's ``trainable=``, a variable's when assigned): freezing a layer later does not
    move its weights in Keras' lists."""
    found, seen = {}, set()

    def visit(obj):
        if obj is None or id(obj) in seen:
            return
        seen.add(id(obj))
        d = obj.__dict__
        for p in list(d.get("_params", ())) + list((d.get("_var_params") or {}).values()):
            found.setdefault(id(p.value), (id(obj), bool(p.trainable)))
        if getattr(obj, "_is_corenn_model", False):
            visit(d.get("_own_variables"))
            for sub in getattr(obj, "layers", ()):
                visit(sub)
        elif hasattr(obj, "_sublayers"):
            for sub in obj._sublayers():
                visit(sub)
    visit(layer)
    return found


def _run_order(layer):
    """Positions in ``layer.weights`` in Keras' order for a layer that holds no layers by
    attribute (a built-in layer; a wrapper's parts are runs of their own). Keras 3 keeps a
    layer's own variables in two lists, the trainable ones then the others (Layer.weights and
    save_own_variables: ``_trainable_variables + _non_trainable_variables``), each in the order
    made; corenn lists them as made. So each layer's own run of weights is split, trainable
    first."""
    weights = layer.weights
    flags = _creation_flags(layer)
    order, i = [], 0
    while i < len(weights):
        owner = flags.get(id(weights[i]), (None, True))[0]
        j = i + 1
        while owner is not None and j < len(weights) and flags.get(id(weights[j]), (None,))[0] == owner:
            j += 1
        run = range(i, j)
        for trainable in (True, False):
            part = [k for k in run if flags.get(id(weights[k]), (None, True))[1] is trainable]
            order += [part[n] for n in _made_order([weights[k] for k in part])]
        i = j
    return order


def _made_order(weights):
    """Positions of ``weights`` in the order they were made (add_weight and keras.Variable
    stamp ``_made``): a layer whose ``self.a = keras.Variable(...)`` in __init__ comes before
    its build's add_weight lists ``a`` first, as Keras 3 does; as they are when one has no stamp."""
    made = [getattr(w, "__dict__", {}).get("_made") for w in weights]
    if any(m is None for m in made):
        return list(range(len(weights)))
    return sorted(range(len(weights)), key=made.__getitem__)


def _own_in_keras_order(layer, own):
    """A layer's own weights, trainable (as made) first: Keras' ``vars`` of the layer."""
    d = layer.__dict__
    made = {id(p.value): bool(p.trainable)
            for p in list(d.get("_params", ())) + list((d.get("_var_params") or {}).values())}
    out = []
    for trainable in (True, False):
        part = [w for w in own if made.get(id(w), True) is trainable]
        out += [part[n] for n in _made_order(part)]
    return out


def _keras_variables(layer, visited=None):
    """What Keras 3 saves for ``layer``, in its file's order: its own variables (trainable
    first, _run_order; an int8 layer's kernel before its bias; for a LoRA layer the merged
    kernel and no LoRA pair, layers/lora.py), then those of the layers it holds, group by group
    as _nested_groups walks them (a model used as a layer: by its ``layers``, which is not the
    order its weights run in when it branches, ResNet's shortcut convolutions).
    ``visited``: ids of the layers the walk has reached. Keras' saving writes each object once,
    at the first path that reaches it (saving_lib's visited set): a layer already in it gives
    [], and a layer two models share (two sub-models cut out of one backbone) is written with
    the first only. The layers walked here are added to it."""
    if visited is not None:
        if id(layer) in visited:
            return []
        visited.add(id(layer))
    if _lora(layer):
        return layer.keras_variables()
    weights = layer.weights
    if getattr(layer, "_quantized", None) is not None:
        return sorted(weights, key=lambda w: _FILE_RANK.get(getattr(w, "name", ""), 1))
    if type(layer).__name__ in (*_KERAS3_SUBLAYER_GROUPS, *_KERAS3_SHARED_KERNEL):
        return list(weights)   # their own layouts, in corenn's order (_write_layer)
    generic = _nested_groups(layer)
    if not generic:
        return [weights[i] for i in _run_order(layer)]
    visited = {id(layer)} if visited is None else visited
    theirs = {id(w) for _, sub in generic for w in sub.weights}
    own = [] if getattr(layer, "_graph", None) is not None else [w for w in weights if id(w) not in theirs]
    out = _own_in_keras_order(layer, own)
    for _, sub in generic:
        out += _keras_variables(sub, visited)
    return out


def _keras_weight_shapes(layer, visited=None):
    return [tuple(np.shape(w)) for w in _keras_variables(layer, visited)]


def _set_keras_weights(layer, arrays, variables=None):
    """Set ``layer``'s weights from arrays in Keras' file order (``variables``: the
    _keras_variables they are for; those of the whole layer when None)."""
    if _lora(layer):
        layer.set_keras_variables(arrays)
        return
    arrays = list(arrays)
    variables = _keras_variables(layer) if variables is None else variables
    for a, v in zip(arrays, variables):
        # integers fill integer weights (a layer's counter); an integer array where a float weight
        # is (a tampered kernel) is refused, as before integer weights could be saved
        if isinstance(a, np.ndarray) and a.dtype.kind in "iu" and a.ndim and \
                np.dtype(str(getattr(v, "dtype", "float32"))).kind == "f":
            raise _Bad(f"layer '{layer.name}': weight of type {a.dtype} where a float weight of shape "
                       f"{tuple(np.shape(v))} is")
    weights = layer.weights
    position = {id(w): i for i, w in enumerate(weights)}
    if len(arrays) == len(variables) == len(weights) and \
            sorted(position.get(id(v), -1) for v in variables) == list(range(len(weights))):
        in_weights_order = [None] * len(weights)
        for array, v in zip(arrays, variables):
            in_weights_order[position[id(v)]] = array
        layer.set_weights(in_weights_order)
        return
    if len(arrays) != len(variables) or not all(id(v) in position for v in variables):
        layer.set_weights(arrays)   # (a count that differs: set_weights names the mismatch)
        return
    # a part of the layer's weights (the rest were read with a layer that shares them), or a
    # weight two of its layers share, read with each: one by one
    for array, v in zip(arrays, variables):
        array = np.asarray(array)
        if tuple(array.shape) != tuple(v.shape):
            raise ValueError(f"{layer.name}: weight '{getattr(v, 'path', None) or getattr(v, 'name', '?')}' has "
                             f"shape {tuple(v.shape)}, got an array of shape {tuple(array.shape)}")
        if getattr(v, "dtype", None) == "int8":   # a quantized kernel / table, checked as set_weights does
            from .kernels import int8_values
            array = int8_values(array, f"{layer.name}: weight '{getattr(v, 'path', None) or getattr(v, 'name', '?')}'")
        np.asarray(v)[...] = array


def _in_weights_order(model, found):
    """A legacy file's datasets of a model used as a layer (trainable ones first, as Keras'
    legacy writer lists them) in _keras_variables order."""
    weights = _keras_variables(model)   # (by its layers, as Keras lists them)
    trainable = {id(w) for w in model.trainable_weights}
    keras_order = [i for i, w in enumerate(weights) if id(w) in trainable] + \
        [i for i, w in enumerate(weights) if id(w) not in trainable]
    if len(found) != len(weights):
        return found   # the shape comparison names the mismatch
    out = [None] * len(weights)
    for dataset, i in zip(found, keras_order):
        out[i] = dataset
    return out


def _build(inner, arrays, path):
    model = _saving._build_model(inner, path)
    pos = 0
    for layer in model.layers:
        n = len(_keras_weight_shapes(layer))
        if n:
            _set_keras_weights(layer, arrays[pos:pos + n])
        pos += n
    return model


@contextlib.contextmanager
def _reading_h5(path, what):
    """saving._reading, plus what h5py raises for a damaged file besides OSError/ValueError."""
    with _reading(path, what):
        try:
            yield
        except (KeyError, TypeError, AttributeError) as exc:
            raise _Bad(f"corrupt or truncated ({type(exc).__name__}: {exc})") from None


# Keras' optimizer variables after ``iterations`` (and ``learning_rate``, which Keras 3 keeps as
# a variable): groups of slots, each group made in one pass over the model's trainable
# variables (one of each slot per variable, interleaved), in the order Keras' build() makes
# them, by corenn's slot names. TF-Keras 2's optimizers build the same.
_KERAS_SLOT_GROUPS = {"Adam": (("momentums", "velocities"), ("velocity_hats",)),
                      "AdamW": (("momentums", "velocities"), ("velocity_hats",)),
                      "SGD": (("momentums",),),
                      "RMSprop": (("velocities",), ("momentums",), ("average_gradients",))}


def _compile_args(compile_config, legacy, path):
    """The compile() arguments of Keras' compile config, or None (with a warning, as the model
    then loads uncompiled) when it names something corenn does not have."""
    from .saving_keras_config import keras_compile_config
    config, lacking = keras_compile_config(compile_config, legacy)
    if lacking is not None:
        import warnings
        warnings.warn(f"{path}: the model is loaded uncompiled: its compile config names {lacking}, "
                      f"which corenn does not have; call compile() to train it", stacklevel=4)
        return None
    return _saving._compile_args(config)


def _scalar(dataset, what):
    if dataset.shape != () or dataset.dtype.kind not in "iuf":
        raise _Bad(f"{dataset.name}: the optimizer's {what} must be a number, got shape {dataset.shape}")
    value = dataset[()]
    if not np.isfinite(value) or value < 0 or value >= 1 << 53:
        raise _Bad(f"{dataset.name}: the optimizer's {what} is {value}")
    return value


def _set_optimizer_state(model, values, path):
    """Keras' optimizer variables (HDF5 datasets, in Keras' order: ``iterations``, Keras 3's
    ``learning_rate``, the slots as _KERAS_SLOT_GROUPS lays them out) into the compiled
    ``model``'s optimizer; every shape checked before anything is read."""
    import warnings
    opt = model.optimizer
    groups = _KERAS_SLOT_GROUPS.get(type(opt).__name__)
    if getattr(opt, "_variables_in_keras_order", False) and not opt.use_ema \
            and opt.gradient_accumulation_steps is None:
        return _set_keras_ordered_state(model, opt, values)
    if groups is None or opt.use_ema or opt.gradient_accumulation_steps is not None:
        warnings.warn(f"{path}: the state of the {type(opt).__name__} optimizer (with these options) is not "
                      f"read; it starts afresh", stacklevel=3)
        return
    variables = model.trainable_weights
    active = opt._active_slots()
    layout = [(slot, j) for group in groups for j in range(len(variables))
              for slot in group if slot in active]
    leading = len(values) - len(layout)
    if leading not in (1, 2):
        raise _Bad(f"the file holds {len(values)} optimizer variables; {type(opt).__name__} of this model "
                   f"has {len(layout)} and its step count (and learning rate)")
    state = values[leading:]
    for (slot, j), dataset in zip(layout, state):
        if dataset.dtype.kind != "f" or tuple(dataset.shape) != tuple(variables[j].shape):
            raise _Bad(f"{dataset.name}: optimizer variable of shape {dataset.shape} ({dataset.dtype}) for "
                       f"weight '{getattr(variables[j], 'name', j)}' of shape {tuple(variables[j].shape)}")
    iterations = _scalar(values[0], "step count")
    if int(iterations) != iterations:
        raise _Bad(f"{values[0].name}: the step count {iterations} is not a whole number")
    learning_rate = float(_scalar(values[1], "learning rate")) if leading == 2 else None
    opt.build(variables)
    position = {id(t): i for i, t in enumerate(opt._state_variables)}   # corenn's order of the same state
    store = {"iterations": np.int64(iterations)}
    for (slot, j), dataset in zip(layout, state):
        store[str(position[id(opt._state[slot][j])])] = _Dataset(dataset).read()
    opt.load_own_variables(store)
    if learning_rate is not None and not callable(opt.learning_rate):
        opt.learning_rate = learning_rate


def _set_keras_ordered_state(model, opt, values):
    """The state of an optimizer whose ``variables`` list its arrays in Keras' own order (Muon,
    ScheduleFreeAdamW: each variable's slots in turn): read one to one, shapes checked first."""
    opt.build(model.trainable_weights)
    state = opt._state_variables
    leading = len(values) - len(state)
    if leading not in (1, 2):
        raise _Bad(f"the file holds {len(values)} optimizer variables; {type(opt).__name__} of this model has "
                   f"{len(state)} and its step count (and learning rate)")
    for array, dataset in zip(state, values[leading:]):
        if dataset.dtype.kind != "f" or tuple(dataset.shape) != tuple(np.shape(array)):
            raise _Bad(f"{dataset.name}: optimizer variable of shape {dataset.shape} ({dataset.dtype}) where "
                       f"{type(opt).__name__} has one of shape {tuple(np.shape(array))}")
    iterations = _scalar(values[0], "step count")
    if int(iterations) != iterations:
        raise _Bad(f"{values[0].name}: the step count {iterations} is not a whole number")
    learning_rate = float(_scalar(values[1], "learning rate")) if leading == 2 else None
    store = {"iterations": np.int64(iterations)}
    for i, dataset in enumerate(values[leading:]):
        store[str(i)] = _Dataset(dataset).read()
    opt.load_own_variables(store)
    if learning_rate is not None and not callable(opt.learning_rate):
        opt.learning_rate = learning_rate


def _keras3_optimizer_values(datasets):
    """Keras 3's ``optimizer/vars/<i>`` datasets, in order."""
    found = {}
    for name, dataset in datasets.items():
        if name.startswith("/optimizer/"):
            match = re.fullmatch(r"/optimizer/vars/(\d{1,6})", name)
            if match is None:
                raise _Bad(f"{name}: unexpected dataset in the optimizer's state")
            found[int(match.group(1))] = dataset
    if sorted(found) != list(range(len(found))):
        raise _Bad(f"/optimizer/vars: datasets are not numbered 0..{len(found) - 1}")
    return [found[i] for i in range(len(found))]


def _legacy_optimizer_values(h5, datasets):
    """A legacy file's ``optimizer_weights`` datasets, in its ``weight_names`` order."""
    if "optimizer_weights" not in h5:
        return []
    group = h5["optimizer_weights"]
    names = _string_attr(group, "weight_names", "weight names")
    if not isinstance(names, list):
        raise _Bad("optimizer_weights has no 'weight_names' list")
    values = []
    for name in names:
        dataset = datasets.get(f"{group.name}/{name}")
        if dataset is None:
            raise _Bad(f"optimizer_weights/{name}: listed in weight_names, missing")
        values.append(dataset)
    return values


def _compiled(model, args, values, path):
    """The loaded model, compiled with ``args`` and its optimizer's state set from ``values``."""
    if args is None:
        return model
    try:
        model.compile(**args)
    except _saving._BUILD_ERRORS as exc:
        raise _BadConfig(f"the compile config is not valid: {type(exc).__name__}: {exc}") from None
    if values:
        _set_optimizer_state(model, values, path)
    return model


def load_keras_archive(path, compile=True):
    """``corenn.models.load_model`` of a Keras 3 ``.keras`` archive; with ``compile``, compiled
    as its ``compile_config`` says, with the optimizer's state."""
    h5py = _h5py()
    with open(path, "rb") as f, _reading_h5(path, "Keras model file"):
        config, data, assets = _read_archive(f, with_assets=True)
        corenn_config, order = translate_model_config(config)
        compile_config = config.get("compile_config") if compile else None
        args = _compile_args(compile_config, False, path) if compile_config else None   # {}: not compiled
        with _open_h5_bytes(h5py, data) as h5:
            datasets = _check_h5_tree(h5py, h5)
            per_layer = _keras3_order_weights(datasets, order)
            _check_group_names(h5, _keras3_paths([c for _, c, _ in order]), [n for n, _, _ in order])
            values = _keras3_optimizer_values(datasets) if args is not None else []
            inner, arrays = _checked_weights(corenn_config, per_layer, datasets=datasets)
            model = _build(inner, arrays, path)
            _load_vocabularies(model, order, assets)
            return _compiled(model, args, values, path)


def _check_group_names(h5, paths, names):
    """Keras 3 records each layer's name on its ``vars`` group: they must agree with the
    config (a file whose weights were moved between layers fails here)."""
    for path, name in zip(paths, names):
        vars_group = h5.get(f"layers/{path}/vars")
        if vars_group is None:
            continue
        recorded = _string_attr(vars_group, "name", "a name")
        if recorded is not None and recorded != name:
            raise _Bad(f"/layers/{path}/vars names layer {recorded!r}, the config {name!r}")


def load_legacy_h5(path, compile=True):
    """``corenn.models.load_model`` of a legacy HDF5 model file (``model_config`` +
    ``model_weights``); with ``compile``, compiled as its ``training_config`` says, with the
    optimizer's state (``optimizer_weights``)."""
    h5py = _h5py()
    os.stat(path)   # a missing file is FileNotFoundError, as for corenn's own files
    with _reading_h5(path, "Keras HDF5 model file"):
        with h5py.File(path, "r") as h5:
            datasets = _check_h5_tree(h5py, h5)
            text = _string_attr(h5, "model_config", "JSON text")
            if not isinstance(text, str):
                raise _Bad("no 'model_config' attribute (a weights-only file? use model.load_weights)")
            try:
                config = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise _Bad(f"model_config is not valid JSON: {exc}") from None
            version = _string_attr(h5, "keras_version", "a version")
            corenn_config, _ = translate_model_config(config, tf_keras2=str(version).startswith("2."))
            if "model_weights" not in h5:
                raise _Bad("no 'model_weights' group")
            training = _string_attr(h5, "training_config", "JSON text") if compile else None
            args = None
            if training is not None:
                try:
                    training = json.loads(training)
                except (ValueError, RecursionError) as exc:
                    raise _Bad(f"training_config is not valid JSON: {exc}") from None
                args = _compile_args(training, True, path)
            per_layer = _legacy_weights(h5py, h5["model_weights"], datasets)
            values = _legacy_optimizer_values(h5, datasets) if args is not None else []
            inner, arrays = _checked_weights(corenn_config, per_layer, legacy=True)
            return _compiled(_build(inner, arrays, path), args, values, path)


def _into_model(model, per_layer_in_order, path, skip_mismatch=False, layers=None):
    """Weights matched to ``model``'s layers with weights (or to ``layers``, a subclassed
    model's, its holder of own variables first), in order; shapes checked first.
    ``skip_mismatch``: as Keras 3, an object (a layer's own variables: one HDF5 group's
    ``vars``) whose saved shapes do not fit keeps its values, with a warning, and the rest load
    (a new classifier head on a pretrained body)."""
    layers = [layer for layer in model.layers if layer.weights] if layers is None else layers
    if len(per_layer_in_order) != len(layers):
        raise ValueError(f"load_weights: {path} holds weights for {len(per_layer_in_order)} layers, "
                         f"the model has {len(layers)} layers with weights")
    keep = {}   # layer index -> positions that keep their current values
    visited = set()   # each layer once, as the file holds it (_keras_variables)
    variables = [_keras_variables(layer, visited) for layer in layers]
    for i, (layer, found) in enumerate(zip(layers, per_layer_in_order)):
        want = [tuple(np.shape(w)) for w in variables[i]]
        got = [d.shape for d in found]
        if want == got:
            continue
        message = (f"load_weights: {path}: layer '{layer.name}' ({type(layer).__name__}) has "
                   f"weights of shapes {want}, the file holds {got} "
                   f"({', '.join(d.member for d in found) or 'none'})")
        if not skip_mismatch:
            raise ValueError(message)
        keep[i] = _mismatched_objects(want, found)
        skipped = sorted({found[j].member.rsplit("/vars/", 1)[0] for j in keep[i] if j < len(found)}) \
            or [layer.name]
        warnings.warn(f"load_weights(skip_mismatch=True): skipping {', '.join(skipped)}: {message}",
                      stacklevel=5)
    with _reading_h5(path, "Keras weights file"):
        values = [[None if j in keep.get(i, ()) else d.read() for j, d in enumerate(found)]
                  for i, found in enumerate(per_layer_in_order)]
    for i, (layer, vals) in enumerate(zip(layers, values)):
        if i in keep:
            if len(vals) != len(variables[i]):
                continue   # nothing lines up: the whole layer keeps its values
            vals = [np.array(c, np.float32, copy=True) if v is None else v for v, c in zip(vals, variables[i])]
        _set_keras_weights(layer, vals, variables[i])


def _mismatched_objects(want, found):
    """Positions of the saved weights to skip: every weight of each object (its HDF5 group
    holding ``vars/<i>``) with a shape that does not fit; all of them when the counts differ."""
    if len(want) != len(found):
        return set(range(max(len(want), len(found))))
    group = [d.member.rsplit("/vars/", 1)[0] for d in found]
    bad = {group[j] for j, d in enumerate(found) if tuple(d.shape) != tuple(want[j])}
    return {j for j, g in enumerate(group) if g in bad}


def _keras3_into_model(h5py, h5, model, path, where):
    datasets = _check_h5_tree(h5py, h5)
    classes = [type(layer).__name__ for layer in model.layers
               if type(layer).__name__ != "InputLayer"]
    paths = _keras3_paths(classes)
    kept = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    named = [layer.name for layer in kept]
    per_layer = _keras3_weights(datasets, paths, named, where, kept)
    return [per_layer[layer.name] for layer in model.layers
            if layer.weights and type(layer).__name__ != "InputLayer"]


def _own_datasets(datasets, group_path):
    """The datasets ``<group>/vars/0..n-1`` in order (none: [])."""
    prefix, own = group_path + "/vars/", {}
    for p, ds in datasets.items():
        if p.startswith(prefix) and "/" not in p[len(prefix):]:
            own[p[len(prefix):]] = ds
    if sorted(own, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(own))]:
        raise _Bad(f"{group_path}/vars: datasets are not numbered 0..{len(own) - 1}")
    return [_Dataset(own[str(i)]) for i in range(len(own))]


def _subclassed_found(datasets, group_path, model, visited=None):
    """[(layer, [_Dataset] in Keras' file order, _keras_variables)] of a subclassed model's
    Keras 3 layout (_write_subclassed): the holder of its own variables first (the file lists
    them trainable first), then each layer of _subclassed_groups, a subclassed one by the same
    walk."""
    found, visited = [], set() if visited is None else visited
    holder = model.__dict__.get("_own_variables")
    own = _own_datasets(datasets, group_path)
    if holder is not None:
        found.append((holder, own))
    elif own:
        raise _Bad(f"{group_path or '/'}vars: {len(own)} variables of model '{model.name}', which has none of its own")
    for path, layer in _subclassed_groups(model):
        if _is_subclassed(layer):
            found += _subclassed_found(datasets, f"{group_path}/{path}", layer, visited)
        else:
            found.append((layer, _keras3_layer_datasets(datasets, f"{group_path}/{path}", layer,
                                                        visited=visited)))
    return found


def _fits(pairs):
    visited = set()
    return all(_keras_weight_shapes(layer, visited) == [d.shape for d in found] for layer, found in pairs)


def _subclassed_into_model(h5py, h5, model, path, where, skip_mismatch):
    """A subclassed model's weights from a Keras 3 file (Keras' layout, _subclassed_found), or
    from a file corenn wrote before issue 13: ``layers/<class numbered>`` over ``model.layers``
    and none of the model's own variables. Such a file loads when it is that layout exactly
    (every dataset used, every shape right) and the model has no variables of its own; with
    some, they are not in the file: a ValueError names them (skip_mismatch=True loads the rest
    and warns). Never a guess between the two: a file that is neither is refused, as before."""
    datasets = _check_h5_tree(h5py, h5)
    error = None
    try:
        pairs = _subclassed_found(datasets, "", model)
        _check_all_used(datasets, {p for _, f in pairs for d in f for p in d.paths()}, where)
        if _fits(pairs) or skip_mismatch:
            return pairs, None
    except _Bad as exc:
        error = exc
        pairs = None
    if "layers" in h5:   # corenn's layout before issue 13?
        try:
            old = _keras3_into_model(h5py, h5, model, path, where)
        except _Bad:
            old = None
        layers = [layer for layer in model.layers if layer.weights and type(layer).__name__ != "InputLayer"]
        if old is not None and _fits(list(zip(layers, old))):
            own = _own_keras_order(model.__dict__.get("_own_variables"))
            missing = None
            if own:
                names = ", ".join(getattr(w, "path", None) or getattr(w, "name", "?") for w in own)
                missing = (f"load_weights: {path} has the layout corenn wrote for subclassed models before "
                           f"issue 13 (layers/<class>), which left out the model's own variables: "
                           f"{names} are not in the file")
            return list(zip(layers, old)), missing
    if error is not None:
        raise error
    return pairs, None   # the shape check of _into_model names what differs


def _subclassed_load(h5py, h5, model, path, where, skip_mismatch, what):
    with _reading_h5(path, what):
        pairs, missing = _subclassed_into_model(h5py, h5, model, path, where, skip_mismatch)
    if missing is not None:
        if not skip_mismatch:
            raise ValueError(missing + "; load_weights(..., skip_mismatch=True) loads the rest and keeps "
                             "their values, and save_weights writes them now")
        warnings.warn(missing + "; they keep their values", stacklevel=4)
    _into_model(model, [f for _, f in pairs], path, skip_mismatch, [layer for layer, _ in pairs])


def load_h5_weights(model, path, skip_mismatch=False):
    """``model.load_weights`` of a Keras 3 ``.weights.h5`` file (layers matched by Keras'
    group names: class names numbered in layer order) or a legacy HDF5 file (a weights-only
    file or a full model file; layers with weights matched in order, as Keras does)."""
    h5py = _h5py()
    os.stat(path)
    with _reading_h5(path, "Keras HDF5 weights file"):
        h5 = h5py.File(path, "r")
    with h5:
        if _is_subclassed(model) and "layer_names" not in h5.attrs:
            _subclassed_load(h5py, h5, model, path, os.path.basename(path), skip_mismatch,
                             "Keras HDF5 weights file")
            return
        with _reading_h5(path, "Keras HDF5 weights file"):
            if "layers" in h5 and "layer_names" not in h5.attrs:
                found = _keras3_into_model(h5py, h5, model, path, os.path.basename(path))
            else:
                datasets = _check_h5_tree(h5py, h5)
                root = h5["model_weights"] if "model_weights" in h5 else h5
                found = [v for v in _legacy_weights(h5py, root, datasets).values() if v]
                layers = [layer for layer in model.layers if layer.weights]
                if len(found) == len(layers):
                    # a model used as a layer is listed trainable weights first (TF-Keras 2's
                    # writer, and Keras 3's legacy one), as the model-file reader reorders them;
                    # two BatchNormalizations of one size would otherwise swap their statistics
                    found = [_in_weights_order(layer, f) if getattr(layer, "_graph", None) is not None else f
                             for layer, f in zip(layers, found)]
        _into_model(model, found, path, skip_mismatch)


def load_keras_archive_weights(model, path, skip_mismatch=False):
    """``model.load_weights`` of a Keras 3 ``.keras`` archive: its model.weights.h5."""
    h5py = _h5py()
    with open(path, "rb") as f, _reading_h5(path, "Keras model file"):
        _, data = _read_archive(f)
        h5 = _open_h5_bytes(h5py, data)
    with h5:
        if _is_subclassed(model):
            _subclassed_load(h5py, h5, model, path, "model.weights.h5", skip_mismatch, "Keras model file")
            return
        with _reading_h5(path, "Keras model file"):
            found = _keras3_into_model(h5py, h5, model, path, "model.weights.h5")
        _into_model(model, found, path, skip_mismatch)


# ================================================================================================
# Writing Keras 3 weights files (model.save_weights('....weights.h5'))
# ================================================================================================

def _own_and_nested(layer, where):
    """(own weight Tensors in Keras' order, [(subgroup, sublayer)]) of a layer, as the reader
    above groups them (``vars`` then the layers it holds, _nested_groups, or ``cell`` /
    ``forward_layer`` / ``backward_layer`` / ``layer``)."""
    from .layers.base import Layer
    generic = _nested_groups(layer)
    if generic:   # a model used as a layer, or a Keras layer holding layers: by their structure
        theirs = {id(w) for _, sublayer in generic for w in sublayer.weights}
        own = [] if getattr(layer, "_graph", None) is not None else \
            [w for w in layer.weights if id(w) not in theirs]
        # the walk's order need not be the weights' (a block cut out of a ResNet lists its
        # shortcut convolution where it runs, Keras' file where the block's layers list it):
        # every weight must be reached, once its own or through a layer it holds
        if {id(w) for w in _keras_variables(layer)} == {id(w) for w in layer.weights}:
            return _own_in_keras_order(layer, own), generic
        raise NotImplementedError(f"{where}: layer '{layer.name}' ({type(layer).__name__}) cannot be written to a "
                                  "Keras weights file: some of its weights are neither its own nor those of "
                                  "the layers it holds (Keras' saving would not reach them); use a "
                                  ".weights.npz name")
    nested = [(sub, layer.__dict__[sub]) for sub in _SUBGROUPS
              if isinstance(layer.__dict__.get(sub), Layer)]
    # a wrapper may list its parts' weights as its own too (Bidirectional, RNN): those are theirs
    theirs = {id(w) for _, sublayer in nested for w in sublayer.weights}
    layer.weights   # (caches the Params of variables held as attributes, _var_params)
    own = [p.value for p in list(layer.__dict__.get("_params", ())) +
           list((layer.__dict__.get("_var_params") or {}).values()) if id(p.value) not in theirs]
    count = len(own) + sum(len(s.weights) for _, s in nested)
    if count != len(layer.weights) or getattr(layer, "_graph", None) is not None:
        raise NotImplementedError(f"{where}: layer '{layer.name}' ({type(layer).__name__}) cannot be written to a "
                                  "Keras weights file yet (nested models and layers holding other layers); "
                                  "use a .weights.npz name")
    return own, nested


# corenn's recurrent layers hold their weights themselves; Keras keeps them in the layer's cell
_CELL_NAMES = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell",
               "ConvLSTM1D": "conv_lstm_cell", "ConvLSTM2D": "conv_lstm_cell", "ConvLSTM3D": "conv_lstm_cell"}


def _write_vars(group, name, weights):
    vars_ = group.create_group("vars")
    vars_.attrs["name"] = name   # Keras writes the object's name on each vars group
    for i, w in enumerate(weights):
        # a weight a layer made in another dtype keeps it: an int8-quantized layer's int8 kernel /
        # table / int4 bytes (layers/quantization.py, as Keras keeps them), an int64 counter
        have = np.dtype(str(getattr(w, "dtype", "float32")))
        dtype = have if have.kind in "iu" or have == np.float64 else np.float32
        vars_.create_dataset(str(i), data=np.array(w, dtype=dtype, copy=True))


def _write_layer(parent, name, layer, where, visited):
    """``layer``'s group ``name`` below ``parent``, unless the walk wrote it before
    (``visited``: Keras writes each object once, at the first path that reaches it, and makes
    no group for it elsewhere, _keras_variables)."""
    if id(layer) in visited:
        return
    visited.add(id(layer))
    group = parent.create_group(name)   # (h5py makes the intermediate groups: 'layers/dense')
    cls = type(layer).__name__
    if cls in tuple(_KERAS3_SUBLAYER_GROUPS):   # Keras' sub-layers, each with its share of the weights
        subs, weights = _KERAS3_SUBLAYER_GROUPS[cls], list(layer.weights)
        per = len(weights) // len(subs)
        if per * len(subs) != len(weights):
            raise NotImplementedError(f"{where}: layer '{layer.name}' ({cls}) has {len(weights)} weights, "
                                      f"not an equal share for each of Keras' {', '.join(subs)}")
        _write_vars(group, layer.name, [])
        for k, sub in enumerate(subs):
            _write_vars(group.create_group(sub), sub, weights[k * per:(k + 1) * per])
        for sub in ("_dropout_layer", "_softmax"):   # Keras' weightless sub-layers: empty groups
            _write_vars(group.create_group(sub), sub, [])
        return
    if cls in _KERAS3_SHARED_KERNEL:   # [kernel, u, the wrapped layer's others]: Keras' layout
        weights = list(layer.weights)
        _write_vars(group, layer.name, weights[:2])
        _write_vars(group.create_group("layer"), layer.layer.name, weights[:1] + weights[2:])
        return
    own, nested = _own_and_nested(layer, where)
    if _lora(layer) or getattr(layer, "_quantized", None) is not None:
        own = _keras_variables(layer)
    elif not _nested_groups(layer):   # (else _own_and_nested ordered them)
        # its own variables in Keras' order: the trainable ones first (_run_order)
        rank = {id(w): k for k, w in enumerate(_keras_variables(layer))}
        own = sorted(own, key=lambda w: rank.get(id(w), len(rank)))
    cell = _CELL_NAMES.get(type(layer).__name__)
    if cell is not None and not nested:
        _write_vars(group, layer.name, [])
        _write_vars(group.create_group("cell"), cell, own)
        return
    _write_vars(group, layer.name, own)
    for sub, sublayer in nested:
        _write_layer(group, sub, sublayer, where, visited)


def save_h5_weights(model, path):
    """Keras 3's ``.weights.h5`` layout, which Keras' ``load_weights`` and corenn's reader take:
    ``layers/<class name in snake case, numbered in layer order>/vars/<i>`` per layer (the
    names Keras gives its layer groups; a recurrent layer's weights in its ``cell`` group, a
    wrapper's parts in ``forward_layer`` / ``backward_layer`` / ``cell`` / ``layer``), each
    ``vars`` group named by an attribute as Keras does, and one for the model itself.
    Written to a temporary file and renamed (``saving.atomic_write``)."""
    _saving.atomic_write(path, _keras3_weights_writer(model, f"{model.name}.save_weights"),
                         mode="w+b")   # h5py reads back what it writes


def _keras3_weights_writer(model, where):
    """A function writing ``model``'s Keras 3 weights file to an open binary file; what cannot
    be written is refused now, before anything is."""
    h5py = _h5py()
    if _is_subclassed(model):
        _check_subclassed(model, where)

        def write_subclassed(f):
            with h5py.File(f, "w") as h5:
                _write_subclassed(h5, model, where, set())
        return write_subclassed
    # a functional model lists its InputLayers (Keras writes an empty group for each); they
    # do not shift the numbering of the other classes' groups
    layers = list(model.layers)
    paths = _keras3_paths([type(layer).__name__ for layer in layers])
    for layer in layers:
        if type(layer).__name__ not in (*_KERAS3_SUBLAYER_GROUPS, *_KERAS3_SHARED_KERNEL):
            _own_and_nested(layer, where)

    def write(f):
        with h5py.File(f, "w") as h5:
            _write_vars(h5, model.name, [])
            group, visited = h5.create_group("layers"), set()
            for layer, name in zip(layers, paths):
                _write_layer(group, name, layer, where, visited)
    return write


def _subclassed_written(model, where):
    """The weights a subclassed model's file holds, in the order written (its own, then each
    group's, depth first); checks each layer can be written, before anything is."""
    written = list(_own_keras_order(model.__dict__.get("_own_variables")))
    for _, layer in _subclassed_groups(model):
        if _is_subclassed(layer):
            written += _subclassed_written(layer, where)
            continue
        if type(layer).__name__ not in (*_KERAS3_SUBLAYER_GROUPS, *_KERAS3_SHARED_KERNEL):
            _own_and_nested(layer, where)
        written += list(layer.weights)
    return written


def _check_subclassed(model, where):
    """Refuse, before writing, a subclassed model with a weight the walk does not reach (one
    of a layer kept where Keras' walk does not look): its file would lose it, as files before
    issue 13 lost the model's own add_weight variables. (A weight two layers share is written
    with each, as Keras writes it.)"""
    written = {id(w) for w in _subclassed_written(model, where)}
    lost = [w for w in model.weights if id(w) not in written]
    if lost:
        names = ", ".join(getattr(w, "path", None) or getattr(w, "name", "?") for w in lost[:5])
        raise NotImplementedError(f"{where}: model '{model.name}' ({type(model).__name__}) has weights that Keras "
                                  "3's layout of a subclassed model (its own variables, then its layers by "
                                  f"attribute) does not reach: {names}; use a .weights.npz name")


def _write_subclassed(group, model, where, visited):
    """Keras 3's layout of a subclassed model (or one used inside it): ``vars`` its own
    variables (trainable first), then each layer's group at its _subclassed_groups path."""
    _write_vars(group, model.name, _own_keras_order(model.__dict__.get("_own_variables")))
    for path, layer in _subclassed_groups(model):
        if _is_subclassed(layer):
            _write_subclassed(group.create_group(path), layer, where, visited)   # ('heads/net')
        else:
            _write_layer(group, path, layer, where, visited)


# ================================================================================================
# Writing legacy HDF5 model files (model.save('m.h5'), TF-Keras 2's format)
# ================================================================================================

# The format written is TF-Keras 2's, whose loaders read keras_version only to convert Keras 1
# files and backend only to flip Theano's convolution kernels: this names the format, not corenn.
_KERAS2_VERSION = "2.15.0"
_KERAS2_BACKEND = "tensorflow"


def _legacy_layer_weights(layer, scope, where):
    """[(TF-Keras 2 weight name, Tensor)] of one layer in Keras' order (_keras_variables: a
    layer's own trainable weights first, as TF-Keras 2's ``weights`` lists them), named as
    TF-Keras 2 names them: ``dense/kernel:0``, ``lstm/lstm_cell/kernel:0``,
    ``bidirectional/forward_lstm/lstm_cell/kernel:0`` (its loaders read them by position)."""
    if getattr(layer, "_is_corenn_model", False) and getattr(layer, "_graph", None) is not None:
        # a model held by a Sequential: its layers' weights under their own names, trainable
        # ones first, as TF-Keras 2 lists a nested model's (the reader puts them back in order)
        found = [item for leaf in layer._weight_layers() for item in _legacy_layer_weights(leaf, leaf.name, where)]
        if [id(w) for _, w in found] != [id(w) for w in layer.weights]:
            raise NotImplementedError(f"{where}: model '{layer.name}' cannot be written to a legacy HDF5 file: "
                                      "its weights are not its layers' in order")
        trainable = {id(w) for w in layer.trainable_weights}
        return [f for f in found if id(f[1]) in trainable] + [f for f in found if id(f[1]) not in trainable]
    own, nested = _own_and_nested(layer, where)
    keras_order = _keras_variables(layer)
    rank = {id(w): k for k, w in enumerate(keras_order)}
    own = sorted(own, key=lambda w: rank.get(id(w), len(rank)))   # (RandomFourierFeatures' scale first)
    names = {id(p.value): p.name for p in layer.__dict__.get("_params", ())}
    cell = _CELL_NAMES.get(type(layer).__name__)
    own_scope = f"{scope}/{cell}" if cell is not None and not nested else scope
    found = [(f"{own_scope}/{names.get(id(w), f'param_{i}')}:0", w) for i, w in enumerate(own)]
    for sub, sublayer in nested:
        sub_scope = scope if sub == "layer" else f"{scope}/{sublayer.name}"   # TimeDistributed: its own
        found += _legacy_layer_weights(sublayer, sub_scope, where)
    if [id(w) for _, w in found] != [id(w) for w in keras_order] or \
            len({n for n, _ in found}) != len(found):
        raise NotImplementedError(f"{where}: layer '{layer.name}' ({type(layer).__name__}) cannot be written "
                                  "to a legacy HDF5 file: its weights are not its own followed by those of "
                                  "the layers it holds")
    return found


def _string_list(values):
    """Names as Keras stores them in an attribute (none: an empty float array, as Keras writes)."""
    return [v.encode("utf-8") for v in values]


def _legacy_optimizer_state(model):
    """[(name, array)] of the optimizer's state as TF-Keras 2 lists it (``iteration:0``, then the
    slots as _KERAS_SLOT_GROUPS lays them out), or [] for an optimizer not yet built or one
    whose layout is not in the table (TF-Keras 2 then starts it afresh)."""
    opt = model.optimizer
    groups = _KERAS_SLOT_GROUPS.get(type(opt).__name__)
    if groups is None or not opt.built or opt.use_ema or opt.gradient_accumulation_steps is not None:
        return []
    variables = model.trainable_weights
    active = opt._active_slots()
    prefix = type(opt).__name__
    state = [("iteration:0", np.asarray(int(opt.iterations), np.int64))]
    for group in groups:
        for j in range(len(variables)):
            state += [(f"{prefix}/{slot}/{j}:0", np.array(opt._state[slot][j], np.float32, copy=True))
                      for slot in group if slot in active]
    return state


def save_legacy_h5(model, path, include_optimizer=True):
    """``model.save('m.h5')``: TF-Keras 2's HDF5 model file. Root attributes ``model_config``
    (TF-Keras 2's JSON: saving_keras_config.keras2_model_config), ``training_config`` when the
    model is compiled (loss, metrics, optimizer config), ``keras_version`` and ``backend``; group
    ``model_weights`` with ``layer_names`` (every layer, in Keras' order) and per layer a group
    with ``weight_names`` and one dataset per name (``<layer>/<variable>:0``, nested groups), then
    an empty ``top_level_model_weights`` group as Keras 3 writes; a compiled model's optimizer
    state in group ``optimizer_weights`` (_legacy_optimizer_state: TF-Keras 2's variable list,
    which its loader hands to ``optimizer.set_weights``). Everything that
    cannot be written (a Lambda, a custom or unknown layer class, an option TF-Keras 2 lacks) is
    refused by name before the file is opened; the config is checked to read back in corenn.
    Written to a temporary file and renamed (``saving.atomic_write``)."""
    from .saving_keras_config import keras2_model_config, keras2_training_config
    h5py = _h5py()
    where = f"{model.name}.save"
    try:
        config, order = keras2_model_config(model)
        training = keras2_training_config(_saving._compile_config(model)) \
            if include_optimizer and model.compiled else None
        translate_model_config(config)   # what is written, corenn reads back
        _saving._check_json_values(config, "model_config")
    except _BadConfig as exc:
        raise ValueError(f"{where}: {os.fspath(path)}: {exc}") from None
    layers = [model.get_layer(name) for name in order]
    weights = [_legacy_layer_weights(layer, layer.name, where) for layer in layers]
    texts = {"model_config": _saving._to_json(config, "model config", path)}
    if training is not None:
        texts["training_config"] = _saving._to_json(training, "compile config", path)
    optimizer_state = _legacy_optimizer_state(model) if training is not None else []

    def write(f):
        with h5py.File(f, "w") as h5:
            h5.attrs["keras_version"] = _KERAS2_VERSION.encode("utf-8")
            h5.attrs["backend"] = _KERAS2_BACKEND.encode("utf-8")
            for key, text in texts.items():
                h5.attrs[key] = text
            group = h5.create_group("model_weights")
            group.attrs["layer_names"] = _string_list(order)
            group.attrs["backend"] = _KERAS2_BACKEND.encode("utf-8")
            group.attrs["keras_version"] = _KERAS2_VERSION.encode("utf-8")
            for name, named in sorted(zip(order, weights), key=lambda item: item[0]):   # as Keras: by name
                layer_group = group.create_group(name)
                layer_group.attrs["weight_names"] = _string_list(n for n, _ in named)
                for wname, w in named:
                    layer_group.create_dataset(wname, data=np.array(w, dtype=np.float32, copy=True))
            group.create_group("top_level_model_weights").attrs["weight_names"] = []
            if optimizer_state:
                state = h5.create_group("optimizer_weights")
                state.attrs["weight_names"] = _string_list(n for n, _ in optimizer_state)
                for name, value in optimizer_state:
                    state.create_dataset(name, data=value)
    _saving.atomic_write(path, write, mode="w+b")


def save_legacy_h5_weights(model, path):
    """``model.save_weights('w.h5')`` as TF-Keras 2 writes it (Keras 3 refuses such a name; a
    tf.keras program, keras.io's IIC example, saves its best weights so): root attributes
    ``layer_names`` (``model.layers``, Keras' order), ``backend`` and ``keras_version``, and per
    layer a group with ``weight_names`` and one dataset per name (_legacy_layer_weights:
    ``dense/kernel:0``). load_h5_weights reads it back by position, as TF-Keras 2 does. Weights
    that belong to no layer in ``model.layers`` (a subclassed model's own ``add_weight``) are
    refused by name, since the layout has no place for them."""
    h5py = _h5py()
    where = f"{model.name}.save_weights"
    layers = list(model.layers)
    weights = [_legacy_layer_weights(layer, layer.name, where) if layer.weights else [] for layer in layers]
    written = {id(w) for named in weights for _, w in named}
    left = [w for w in model.weights if id(w) not in written]
    if left:
        raise NotImplementedError(f"{where}: {os.fspath(path)}: {len(left)} weight(s) belong to no layer of "
                                  f"the model ({getattr(left[0], 'path', None) or getattr(left[0], 'name', '?')}"
                                  "), which a legacy .h5 weights file cannot hold; use a '.weights.h5' name")

    def write(f):
        with h5py.File(f, "w") as h5:
            h5.attrs["layer_names"] = _string_list(layer.name for layer in layers)
            h5.attrs["backend"] = _KERAS2_BACKEND.encode("utf-8")
            h5.attrs["keras_version"] = _KERAS2_VERSION.encode("utf-8")
            for layer, named in zip(layers, weights):
                group = h5.create_group(layer.name)
                group.attrs["weight_names"] = _string_list(n for n, _ in named)
                for wname, w in named:
                    group.create_dataset(wname, data=np.array(w, dtype=np.float32, copy=True))
    _saving.atomic_write(path, write, mode="w+b")


# ================================================================================================
# Writing Keras 3 archives (corenn.saving.save_model(model, 'm.keras', save_format='keras3'))
# ================================================================================================

_KERAS3_VERSION = "3.15.1"   # the Keras 3 release whose archives the fixtures hold: the format written


def save_keras3_archive(model, path):
    """Keras 3's ``.keras`` archive (which Keras 3's ``load_model`` and corenn's reader take):
    ``metadata.json``, ``config.json`` (saving_keras_config.keras3_model_config) and
    ``model.weights.h5`` (the layout ``save_h5_weights`` writes), uncompiled (no optimizer state).
    Refusals as for ``save_legacy_h5``, before anything is written; written atomically."""
    import zipfile
    from .saving_keras_config import keras3_model_config
    where = f"{model.name}.save"
    from .saving_keras_config import _is_user_layer
    # the model's own layer classes are known to this program: the read-back check may use them
    users = {type(layer).__name__: type(layer) for layer in [*model.layers, *model._weight_layers()]
             if _is_user_layer(layer)}   # (inside nested models too)
    _saving._SCOPE.append(users)
    try:
        config = keras3_model_config(model)
        translate_model_config(config)   # what is written, corenn reads back
    except _BadConfig as exc:
        raise ValueError(f"{where}: {os.fspath(path)}: {exc}") from None
    finally:
        _saving._SCOPE.pop()   # the scope pushed above (the last one)
    weights = io.BytesIO()
    _keras3_weights_writer(model, where)(weights)
    members = [("metadata.json", _saving._to_json({"keras_version": _KERAS3_VERSION}, "metadata", path)),
               ("config.json", _saving._to_json(config, "model config", path)),
               ("model.weights.h5", weights.getvalue())]

    def write(f):
        with zipfile.ZipFile(f, "w") as zf:
            for name, data in members:
                zf.writestr(_saving._zip_info(name, name.endswith(".json")), data)
    _saving.atomic_write(path, write)
