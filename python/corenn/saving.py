"""Reading and writing model files. Writers are atomic; readers never unpickle or execute.

Every file is written through :func:`atomic_write`: a temporary file in the target's directory,
flushed and fsync'ed, then ``os.replace``d over the target, so a crash or an exception midway
never leaves a half-written file where a good one was (the old file stays, the temp is removed).

Weights files (``model.save_weights`` / ``model.load_weights``)
    A NumPy ``.npz`` archive of plain arrays named ``<index>:<layer>/<weight index>`` plus a JSON
    manifest (``__corenn_manifest__``, format ``corenn.weights/1``), read with
    ``allow_pickle=False``. ``load_weights`` also takes a model file (``.keras``): its weights.

Model files (``model.save('m.keras')`` / ``corenn.models.load_model``), format version 1
    One ZIP archive (members stored, JSON deflated, fixed timestamps: the same model gives the
    same bytes). Exactly these members, nothing else:

    ``metadata.json``
        ``{"format": "corenn.model", "format_version": 1, "corenn_version": "0.1.0",
        "arrays": [{"member": "weights/0.npy", "shape": [6, 5], "dtype": "float32",
        "layer": "dense", "weight": "kernel"}, ..., {"member": "optimizer/iterations.npy",
        "shape": [], "dtype": "int64"}, ...]}`` -- every array member with its shape and dtype.
    ``config.json``
        ``{"class_name": "Sequential", "config": model.get_config()}``; the config holds
        ``name``, ``input_shape`` (one sample, ``null`` for unknown sizes) and ``layers``, a list
        of ``{"class_name": "Dense", "config": {...}}`` (``layers.serialize``). Activations,
        initializers and regularizers inside a layer config are names or
        ``{"class_name", "config"}`` dicts of corenn's own registries.
    ``compile.json``
        ``null`` (not compiled) or ``{"optimizer": {"class_name": "Adam", "config": {...}},
        "loss": "mse" | {"class_name", "config"}, "metrics": ["accuracy" | {...}, ...]}``; a
        learning-rate schedule sits in the optimizer config as ``{"class_name", "config"}``.
    ``training_state.json`` (optional; written by ``callbacks.BackupAndRestore``)
        ``{"epoch": <last finished epoch>, "rng": <corenn's generator bit_generator.state>}``.
    ``weights/<k>.npy``
        ``model.get_weights()[k]`` (Keras order), float32, NumPy ``.npy`` format 1.0.
    ``optimizer/<key>.npy``
        ``optimizer.save_own_variables(store)``: ``iterations`` (int64 scalar) and ``0``, ``1``,
        ... (float32 state tensors in the optimizer's ``variables`` order). Absent when the
        model was saved without its optimizer.

    Versioning: ``format_version`` is an integer bumped on any change an older reader would
    misread; a reader refuses versions newer than its own and keeps reading older ones.

    What the reader checks before building anything: the archive opens (truncated or non-zip
    files fail); member names are unique, plain (no absolute paths, ``..`` or backslashes) and
    exactly the set above (a stray ``*.pkl`` fails); compression is stored/deflate with bounded
    declared sizes and ratios (zip bombs fail); every ``.npy`` header is parsed by hand and must
    declare a little-endian float32/int64 C-order array of the shape in ``metadata.json`` and
    hold exactly that many bytes (``dtype=object`` fails: pickle is never reached); CRCs match.
    Class names resolve only through corenn's registries (``layers``, ``optimizers``,
    ``losses``, ``metrics``, ``schedules``, ``initializers``, ``regularizers``, ``activations``);
    an unknown one fails. Every failure is a ``ValueError`` naming the file and the problem.
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
import tempfile
import zipfile
import zlib

import numpy as np

__all__ = ["atomic_write", "save_weights", "load_weights", "save_model", "load_model",
           "read_model_file", "restore_training_state"]

_MANIFEST = "__corenn_manifest__"
_FORMAT = "corenn.weights/1"

MODEL_FORMAT = "corenn.model"
MODEL_FORMAT_VERSION = 1

_JSON_MEMBERS = ("metadata.json", "config.json", "compile.json")
_OPTIONAL_JSON = ("training_state.json",)
_ARRAY_MEMBER = re.compile(r"^(weights/\d{1,6}|optimizer/(iterations|\d{1,6}))\.npy$")
_ALLOWED_DTYPES = {"float32": np.dtype("<f4"), "int64": np.dtype("<i8")}
_MAX_JSON_BYTES = 64 << 20      # a config far larger than any real model's
_MAX_DEFLATE_RATIO = 200        # JSON compresses ~10x; a bomb compresses ~1000x
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def atomic_write(path, write_fn, mode: str = "wb") -> None:
    """Call ``write_fn(file)`` on a temporary file next to ``path`` and rename it into place."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ================================================================================================
# weights files (.npz)
# ================================================================================================

def _weight_names(model):
    names = []
    for i, layer in enumerate(model.layers):
        for j, _ in enumerate(layer.get_weights()):
            names.append(f"{i}:{layer.name}/{j}")
    return names


def save_weights(model, path) -> None:
    """Write every layer's weights (in Keras order) to an ``.npz`` file, atomically."""
    weights = model.get_weights()
    names = _weight_names(model)
    manifest = {"format": _FORMAT, "names": names,
                "shapes": [list(w.shape) for w in weights]}
    arrays = {name: np.ascontiguousarray(w) for name, w in zip(names, weights)}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_weights(model, path) -> None:
    """Load weights saved by :func:`save_weights` (or the weights of a model file) into
    ``model``; never unpickles anything."""
    path = os.fspath(path)
    if path.endswith(".keras"):
        _set_model_weights(model, path, read_model_file(path)["weights"], "load_weights")
        return
    try:
        # np.load is given an open file so a bad archive cannot leak the handle.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            if _MANIFEST not in archive.files:
                raise ValueError(f"{path} is not a corenn weights file (no manifest)")
            manifest = json.loads(bytes(archive[_MANIFEST]).decode("utf-8"))
            if manifest.get("format") != _FORMAT:
                raise ValueError(f"{path}: unsupported weights format {manifest.get('format')!r}")
            weights = [archive[name] for name in manifest["names"]]
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} is corrupt or truncated: {exc}") from None
    _set_model_weights(model, path, weights, "load_weights")


def _set_model_weights(model, path, weights, op):
    expected = [tuple(w.shape) for w in model.get_weights()]
    got = [tuple(w.shape) for w in weights]
    if expected != got:
        raise ValueError(f"{op}: {path} holds weights of shapes {got}, but the model's "
                         f"weights have shapes {expected}")
    model.set_weights(weights)


# ================================================================================================
# model files (.keras): writing
# ================================================================================================

def _zip_info(name, compress):
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _write_array(zf, member, array):
    """One array as a ``.npy`` member (the test suite interrupts this to simulate a crash)."""
    with zf.open(_zip_info(member, False), "w", force_zip64=True) as f:
        np.lib.format.write_array(f, array, version=(1, 0), allow_pickle=False)


def _spec(obj, serialize):
    """A compile() argument as JSON: names stay strings, objects become {class_name, config}."""
    return obj if isinstance(obj, str) else serialize(obj)


def _compile_config(model):
    from . import losses, metrics, optimizers
    if not model.compiled:
        return None
    metric_specs = [_spec(m, lambda m: {"class_name": type(m).__name__, "config": m.get_config()})
                    for m in model._metric_specs]
    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": _spec(model.loss, losses.serialize), "metrics": metric_specs}


def _to_json(obj, what, path):
    try:
        return json.dumps(obj, indent=1, allow_nan=True).encode("utf-8")
    except TypeError as exc:
        raise ValueError(f"save: {path}: the {what} holds a value that cannot be saved as JSON "
                         f"({exc}); a Python callable (e.g. a learning_rate function) cannot be "
                         f"stored: use a corenn.optimizers.schedules schedule") from None


def _model_arrays(model, include_optimizer):
    """[(member, array, description)] for every weight and optimizer variable."""
    arrays = []
    k = 0
    for layer in model.layers:
        values = layer.get_weights()  # wrappers (TimeDistributed, ...) hold no _params of their own
        names = [p.name for p in layer._params] if len(layer._params) == len(values) else []
        for j, value in enumerate(values):
            arrays.append((f"weights/{k}.npy", np.ascontiguousarray(value, np.float32),
                           {"layer": layer.name, "weight": names[j] if names else str(j)}))
            k += 1
    if include_optimizer and model.compiled and model.optimizer is not None:
        store = {}
        model.optimizer.save_own_variables(store)
        for key, value in store.items():
            dtype = np.int64 if key == "iterations" else np.float32
            arrays.append((f"optimizer/{key}.npy", np.array(value, dtype, order="C"), {}))
    return arrays


def save_model(model, path, include_optimizer=True, training_state=None) -> None:
    """Write ``model`` (architecture, compile config, weights, optimizer state) to one ZIP
    file, atomically; see the module docstring for the format."""
    from . import __version__
    path = os.fspath(path)
    arrays = _model_arrays(model, include_optimizer)
    metadata = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION,
                "corenn_version": __version__,
                "arrays": [{"member": m, "shape": list(a.shape), "dtype": a.dtype.name, **d}
                           for m, a, d in arrays]}
    members = [("metadata.json", _to_json(metadata, "metadata", path)),
               ("config.json", _to_json({"class_name": type(model).__name__,
                                         "config": model.get_config()}, "model config", path)),
               ("compile.json", _to_json(_compile_config(model) if include_optimizer else None,
                                         "compile config", path))]
    if training_state is not None:
        members.append(("training_state.json", _to_json(training_state, "training state", path)))

    def write(f):
        zf = zipfile.ZipFile(f, "w")
        try:
            for name, data in members:
                zf.writestr(_zip_info(name, True), data)
            for member, array, _ in arrays:
                _write_array(zf, member, array)
        except BaseException:
            # Abandon the archive: atomic_write deletes the temporary file. Closing it would
            # fail on a member handle left open and hide the original exception.
            zf.fp = None
            raise
        zf.close()

    atomic_write(path, write)


# ================================================================================================
# model files (.keras): reading
# ================================================================================================

class _Bad(Exception):
    """A problem found while reading; turned into ValueError('<path>: <message>')."""


def _check_members(zf):
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise _Bad("the archive has duplicate member names")
    for info in infos:
        name = info.filename
        if (name.startswith("/") or "\\" in name or ".." in name.split("/")
                or not re.fullmatch(r"[A-Za-z0-9_./-]+", name)):
            raise _Bad(f"member name {name!r} is not a plain relative path")
        if name not in _JSON_MEMBERS + _OPTIONAL_JSON and not _ARRAY_MEMBER.match(name):
            raise _Bad(f"unexpected member {name!r} (a corenn model file holds only "
                       f"{', '.join(_JSON_MEMBERS + _OPTIONAL_JSON)}, weights/<k>.npy and "
                       f"optimizer/<key>.npy)")
        if info.flag_bits & 0x1:
            raise _Bad(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Bad(f"member {name!r} uses an unsupported compression method")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _Bad(f"member {name!r} declares inconsistent sizes")
        if info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1) + 1024:
            raise _Bad(f"member {name!r} declares {info.file_size} bytes from "
                       f"{info.compress_size} compressed bytes (a zip bomb?)")
        if name.endswith(".json") and info.file_size > _MAX_JSON_BYTES:
            raise _Bad(f"member {name!r} is too large ({info.file_size} bytes)")
    for name in _JSON_MEMBERS:
        if name not in names:
            raise _Bad(f"member {name!r} is missing")
    return {i.filename: i for i in infos}


def _read_member(zf, info):
    """The member's bytes, never more than its declared size; CRC checked by zipfile."""
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise _Bad(f"member {info.filename!r} holds {len(data)} bytes but declares "
                   f"{info.file_size}")
    return data


def _read_json(zf, info):
    try:
        return json.loads(_read_member(zf, info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _Bad(f"member {info.filename!r} is not valid JSON: {exc}") from None


def _parse_npy(data, member, shape, dtype_name):
    """An .npy member as an array, without np.load: the header must declare exactly the
    expected dtype and shape, so object arrays (pickles) are refused before any data is read."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version != (1, 0):
            raise _Bad(f"{member}: unsupported .npy version {version}")
        # version 1.0 headers are at most 65535 bytes, parsed with ast.literal_eval by NumPy
        got_shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    except (ValueError, SyntaxError) as exc:
        raise _Bad(f"{member}: bad .npy header: {exc}") from None
    expected = _ALLOWED_DTYPES[dtype_name]
    if dtype != expected or dtype.hasobject:
        raise _Bad(f"{member}: array dtype {dtype} is not the {dtype_name} declared in "
                   f"metadata.json (only float32 and int64 arrays are read)")
    if fortran or tuple(got_shape) != tuple(shape):
        raise _Bad(f"{member}: array of shape {tuple(got_shape)}"
                   f"{' (Fortran order)' if fortran else ''} where metadata.json declares "
                   f"{tuple(shape)}")
    body = data[f.tell():]
    nbytes = int(np.prod(shape, dtype=np.int64)) * expected.itemsize
    if len(body) != nbytes:
        raise _Bad(f"{member}: holds {len(body)} data bytes, expected {nbytes}")
    return np.frombuffer(body, dtype=expected).reshape(shape).copy()


def _check_metadata(meta, infos):
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise _Bad(f"metadata.json does not name the format {MODEL_FORMAT!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _Bad(f"bad format_version {version!r}")
    if version > MODEL_FORMAT_VERSION:
        raise _Bad(f"format_version {version} is newer than this corenn reads "
                   f"({MODEL_FORMAT_VERSION}); upgrade corenn")
    arrays = meta.get("arrays")
    if not isinstance(arrays, list):
        raise _Bad("metadata.json has no 'arrays' list")
    listed = []
    for entry in arrays:
        ok = (isinstance(entry, dict) and isinstance(entry.get("member"), str)
              and _ARRAY_MEMBER.match(entry["member"]) and entry.get("dtype") in _ALLOWED_DTYPES
              and isinstance(entry.get("shape"), list)
              and all(isinstance(d, int) and 0 <= d < 2**40 for d in entry["shape"]))
        if not ok:
            raise _Bad(f"metadata.json: bad array entry {entry!r}")
        listed.append(entry["member"])
    present = sorted(n for n in infos if n.endswith(".npy"))
    if sorted(listed) != present or len(set(listed)) != len(listed):
        raise _Bad(f"the array members {present} do not match those listed in metadata.json "
                   f"{sorted(listed)}")
    return arrays


def read_model_file(path) -> dict:
    """Parse and validate a model file without building anything.

    Returns ``{"config", "compile", "training_state", "weights": [arrays],
    "optimizer": {key: array} or None}``; raises ValueError naming ``path`` on any problem.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
            infos = _check_members(zf)
            meta = _read_json(zf, infos["metadata.json"])
            arrays = _check_metadata(meta, infos)
            out = {"config": _read_json(zf, infos["config.json"]),
                   "compile": _read_json(zf, infos["compile.json"]),
                   "training_state": (_read_json(zf, infos["training_state.json"])
                                      if "training_state.json" in infos else None)}
            weights, opt = {}, {}
            for entry in arrays:
                member = entry["member"]
                value = _parse_npy(_read_member(zf, infos[member]), member, entry["shape"],
                                   entry["dtype"])
                folder, key = member[:-4].split("/")
                (weights if folder == "weights" else opt)[key] = value
    except FileNotFoundError:
        raise
    except _Bad as exc:
        raise ValueError(f"{path}: not a valid corenn model file: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError, struct.error, zlib.error) as exc:
        raise ValueError(f"{path}: not a valid corenn model file (truncated, corrupt or not a "
                         f"zip archive): {exc}") from None
    if sorted(weights, key=int) != [str(i) for i in range(len(weights))]:
        raise ValueError(f"{path}: not a valid corenn model file: weights/<k>.npy members are "
                         f"not numbered 0..{len(weights) - 1}")
    out["weights"] = [weights[str(i)] for i in range(len(weights))]
    out["optimizer"] = opt or None
    return out


def _check_layer_classes(config, path):
    """Only corenn's concrete layer classes may be named (checked before anything is built)."""
    from . import layers
    from .layers.base import Layer
    known = {n for n in layers.__all__ if isinstance(getattr(layers, n), type)
             and issubclass(getattr(layers, n), Layer) and n != "Layer"}
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        raise ValueError(f"{path}: config.json: expected a 'Sequential' model, got "
                         f"{config.get('class_name') if isinstance(config, dict) else config!r}")
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise ValueError(f"{path}: config.json: the model config has no 'layers' list")
    for i, layer in enumerate(inner["layers"]):
        name = layer.get("class_name") if isinstance(layer, dict) else None
        if name not in known:
            raise ValueError(f"{path}: config.json: layer {i} has unknown class {name!r}; "
                             f"known layers: {', '.join(sorted(known))}")
    return inner


def _build_model(contents, path):
    from .models.sequential import Sequential
    inner = _check_layer_classes(contents["config"], path)
    try:
        model = Sequential.from_config(inner)
    except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError) as exc:
        raise ValueError(f"{path}: config.json does not describe a valid corenn model: "
                         f"{type(exc).__name__}: {exc}") from None
    try:
        _set_model_weights(model, path, contents["weights"], "load_model")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return model


def _compile_from(model, compile_cfg, path):
    from . import losses, metrics, optimizers
    try:
        if not isinstance(compile_cfg, dict):
            raise TypeError("expected a JSON object")
        optimizer = optimizers.deserialize(compile_cfg["optimizer"])
        loss = compile_cfg["loss"]
        loss = loss if isinstance(loss, str) else losses.deserialize(loss)
        specs = compile_cfg.get("metrics") or []
        if not isinstance(specs, list):
            raise TypeError("'metrics' must be a list")
        specs = [s if isinstance(s, str) else metrics.get(s) for s in specs]
        model.compile(optimizer=optimizer, loss=loss, metrics=specs)
    except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError) as exc:
        raise ValueError(f"{path}: compile.json is not a valid compile config: "
                         f"{type(exc).__name__}: {exc}") from None


def _restore_optimizer(model, store, path):
    if not store:
        return
    opt = model.optimizer
    try:
        if len(store) > 1:  # state tensors besides iterations: build for this model first
            opt.build(model.trainable_weights)
            opt.load_own_variables(store)
        else:
            opt.iterations = int(store["iterations"])
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{path}: the optimizer state does not fit the model: {exc}") from None


def load_model(path, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights and (``compile=True``)
    the compiled optimizer with its state, loss and metrics. Never unpickles or executes code
    from the file; a bad file raises ValueError naming the file and the problem."""
    path = os.fspath(path)
    contents = read_model_file(path)
    model = _build_model(contents, path)
    if compile and contents["compile"] is not None:
        _compile_from(model, contents["compile"], path)
        _restore_optimizer(model, contents["optimizer"], path)
    return model


def restore_training_state(model, path) -> dict | None:
    """Load a model file's weights and optimizer state into an existing, compiled ``model`` of
    the same architecture (BackupAndRestore); returns the file's training state."""
    contents = read_model_file(path)
    try:
        _set_model_weights(model, path, contents["weights"], "restore")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if model.compiled:
        _restore_optimizer(model, contents["optimizer"], path)
    return contents["training_state"]
