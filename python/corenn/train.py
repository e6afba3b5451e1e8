"""``tf.train``: the checkpoints of TensorFlow 2's custom training loops, in corenn's own file
format.

``Checkpoint(model=..., optimizer=..., step=tf.Variable(...))`` tracks models and layers (every
weight, trainable or not), optimizers (``iterations`` and every slot), ``tf.Variable``s, tf.Modules
and nested Checkpoints, by the keyword names. ``save(prefix)`` writes ``<prefix>-<n>`` (n the
``save_counter``, itself saved) and records it in the directory's ``checkpoint`` state file, which
``latest_checkpoint(dir)`` and ``CheckpointManager`` read; ``write(prefix)`` writes exactly
``prefix`` and touches no state file. ``restore`` / ``read`` put every value back bit for bit.

A model that has not run yet is built from the input shapes recorded at save time, and an
optimizer that has not stepped yet is built for the same variables as when saved (matched by
their names in the checkpoint), so ``ckpt.restore(manager.latest_checkpoint)`` before the loop
resumes it exactly, as TensorFlow's deferred restoration does.

File: ``<prefix>.corenn-ckpt`` (not TensorFlow's ``.index`` / ``.data-*`` pair, which corenn cannot
write), an uncompressed ZIP of ``.npy`` arrays (float32, int32, int64) and a JSON manifest naming
each value, its dtype and shape. It is written atomically and created as ``open()`` creates files
(saving.atomic_write); reading never unpickles, checks the archive, every header and every shape
against the manifest and against the objects before any value is read or written
(saving._Archive), so a bad or mismatched file raises ValueError and changes nothing.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

from . import saving
from .kernels import Tensor

__all__ = ["Checkpoint", "CheckpointManager", "latest_checkpoint", "CheckpointOptions", "get_checkpoint_state",
           "load_checkpoint", "list_variables", "load_variable", "CheckpointReader",
           "Example", "Features", "Feature", "BytesList", "FloatList", "Int64List", "SequenceExample",
           "FeatureList", "FeatureLists", "ClusterSpec", "checkpoints_iterator"]

# tf.train.ClusterSpec: the jobs and task addresses a multi-worker TF_CONFIG describes
from ._cluster_resolver import ClusterSpec  # noqa: E402

# tf.train.Example and its parts: protobuf messages of TFRecord files (io/_example.py)
from .io._example import (BytesList, Example, Feature, FeatureList, FeatureLists, Features,  # noqa: E402
                          FloatList, Int64List, SequenceExample)

SUFFIX = ".corenn-ckpt"
_FORMAT = "corenn.checkpoint/1"
_MANIFEST = "manifest"
_STATE_FILE = "checkpoint"
# what a checkpoint holds: the dtypes a corenn Tensor stores, little-endian (bools as uint8 "|b1")
_DTYPES = {d.str: d for d in map(np.dtype, ("<f4", "<i4", "<i8", "<f8", "<f2", "<i2", "|i1", "|u1", "<u2", "<u4",
                                            "<u8", "|b1"))}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")


class CheckpointOptions:
    """Accepted for TensorFlow's signature; corenn's checkpoints have no options."""

    def __init__(self, **kwargs):
        self.options = kwargs


def _is_variable(obj):
    return isinstance(obj, Tensor)


def _is_optimizer(obj):
    return hasattr(obj, "save_own_variables") and hasattr(obj, "load_own_variables") and hasattr(obj, "apply")


def _weights_of(obj):
    """A model's / layer's / tf.Module's variables in their stable order, or None."""
    if hasattr(obj, "weights") and not _is_optimizer(obj):
        return list(obj.weights)
    if hasattr(obj, "variables") and not _is_optimizer(obj):
        return list(obj.variables)
    return None


def _path(save_path):
    p = os.fspath(save_path)
    return p if p.endswith(SUFFIX) else p + SUFFIX


def _prefix(file_path):
    return file_path[:-len(SUFFIX)] if file_path.endswith(SUFFIX) else file_path


def _write_value(t, value):
    np.asarray(t)[...] = value


class _Status:
    """What ``restore`` returns: TensorFlow's checks of how the file and the objects matched."""

    def __init__(self, unused, missing):
        self._unused, self._missing = list(unused), list(missing)

    def assert_consumed(self):
        if self._unused or self._missing:
            raise AssertionError(f"Checkpoint.restore: not every value was matched (in the file but not "
                                 f"restored: {self._unused[:8]}; tracked but not in the file: {self._missing[:8]})")
        return self

    def assert_existing_objects_matched(self):
        if self._missing:
            raise AssertionError(f"Checkpoint.restore: tracked values not in the file: {self._missing[:8]}")
        return self

    def assert_nothing_matched(self):
        raise AssertionError("Checkpoint.restore: values were matched")

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        return None

    def initialize_or_restore(self, session=None):
        return None


class _NothingRestored(_Status):
    """restore(None): TensorFlow's initialization-only status (the first run of a resumable loop)."""

    def __init__(self):
        super().__init__([], [])

    def assert_consumed(self):
        raise AssertionError("Checkpoint.restore(None): nothing was restored")

    assert_existing_objects_matched = assert_consumed

    def assert_nothing_matched(self):
        return self


class Checkpoint:
    """``tf.train.Checkpoint(**objects)``: see the module docstring."""

    def __init__(self, root=None, **kwargs):
        from .variables import Variable
        objects = dict(kwargs)
        if root is not None:
            objects["root"] = root
        for key, obj in objects.items():
            if not _KEY.match(key):
                raise ValueError(f"tf.train.Checkpoint: {key!r} is not a usable name (letters, digits, _ and .)")
            if obj is None or isinstance(obj, (int, float, str, bytes, list, tuple, dict)):
                raise TypeError(f"tf.train.Checkpoint: {key}= must be a model, layer, optimizer, tf.Variable, "
                                f"tf.Module or Checkpoint; got {type(obj).__name__} (wrap numbers in tf.Variable)")
            if not (_is_variable(obj) or _is_optimizer(obj) or isinstance(obj, Checkpoint)
                    or _weights_of(obj) is not None):
                raise TypeError(f"tf.train.Checkpoint: cannot save {key}= of type {type(obj).__name__}: corenn "
                                f"checkpoints hold models, layers, optimizers, tf.Variables, tf.Modules and "
                                f"Checkpoints (a dataset iterator's position is not saved)")
        self.__dict__["_objects"] = objects
        self.__dict__["save_counter"] = Variable(np.int64(0), trainable=False, name="save_counter", dtype="int64")

    def __getattr__(self, name):
        objects = self.__dict__.get("_objects", {})
        if name in objects:
            return objects[name]
        raise AttributeError(f"'Checkpoint' object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name.startswith("_"):
            self.__dict__[name] = value
            return
        Checkpoint(**{name: value})   # the same checks as the constructor
        self._objects[name] = value

    # -- collecting and placing values ------------------------------------------------------------

    def _entries(self, prefix=""):
        """[(key, tensor)] of every tracked value, plus what rebuilding needs (build shapes,
        optimizer variable keys), as (entries, meta, optimizers)."""
        entries, meta, optimizers = [(prefix + "save_counter", self.save_counter)], {}, []
        for key, obj in self._objects.items():
            name = prefix + key
            if isinstance(obj, Checkpoint):
                e, m, o = obj._entries(name + ".")
                entries += e
                meta.update(m)
                optimizers += o
            elif _is_variable(obj):
                entries.append((name, obj))
            elif _is_optimizer(obj):
                optimizers.append((name, obj))
            else:
                for i, w in enumerate(_weights_of(obj)):
                    entries.append((f"{name}.w{i}", w))
                shapes = obj.__dict__.get("_build_input_shapes")
                if shapes is not None:
                    meta[name] = {"build_input_shapes": [[d for d in s] for s in shapes]}
        return entries, meta, optimizers

    def _arrays(self):
        entries, meta, optimizers = self._entries()
        by_id = {}
        for key, t in entries:
            by_id.setdefault(id(t), key)
        arrays = [(key, np.array(t, order="C", copy=True)) for key, t in entries]
        for name, opt in optimizers:
            store = {}
            opt.save_own_variables(store)
            built_for = opt.__dict__.get("_vars") or []
            var_keys = [by_id.get(id(v)) for v in built_for]
            meta[name] = {"optimizer": True, "var_keys": var_keys, "slots": len(store) - 1}
            arrays.append((f"{name}.iterations", np.asarray(store["iterations"], np.int64)))
            for i in range(len(store) - 1):
                arrays.append((f"{name}.slot{i}", np.array(store[str(i)], np.float32, order="C")))
        return arrays, meta

    # -- writing ------------------------------------------------------------------------------------

    def write(self, file_prefix, options=None):
        """Write the values to ``file_prefix`` (+ ``.corenn-ckpt``); returns file_prefix."""
        prefix = os.fspath(file_prefix)
        arrays, meta = self._arrays()
        manifest = {"format": _FORMAT, "keys": [k for k, _ in arrays],
                    "dtypes": [a.dtype.str for _, a in arrays], "shapes": [list(a.shape) for _, a in arrays],
                    "meta": meta}
        for k, a in arrays:
            if a.dtype.str not in _DTYPES:
                raise TypeError(f"tf.train.Checkpoint: {k} has dtype {a.dtype}, which checkpoints cannot hold "
                                f"(the real number and bool dtypes, little-endian)")
        members = {str(i): a for i, (_, a) in enumerate(arrays)}
        members[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
        saving.atomic_write(_path(prefix), lambda f: np.savez(f, **members))
        return prefix

    def save(self, file_prefix, options=None):
        """Count the save, write ``<file_prefix>-<save_counter>`` and record it as the directory's
        latest checkpoint; returns that path."""
        self.save_counter.assign_add(1)
        path = self.write(f"{os.fspath(file_prefix)}-{int(np.asarray(self.save_counter))}")
        directory = os.path.dirname(os.path.abspath(path))
        state = _read_state(directory)
        paths = [p for p in (state[1] if state else []) if p != path] + [path]
        _write_state(directory, path, paths)
        return path

    # -- reading ------------------------------------------------------------------------------------

    def read(self, save_path, options=None):
        """Restore values written by ``write`` (or ``save``)."""
        return self.restore(save_path, options)

    def restore(self, save_path, options=None):
        """Put back every value saved at ``save_path`` (a prefix as ``save`` returned it);
        ``None`` restores nothing (a first run: ``ckpt.restore(manager.latest_checkpoint)``).
        Values are matched by name; a shape or dtype that differs raises ValueError before
        anything is written."""
        if save_path is None:
            return _NothingRestored()
        path = _path(save_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"tf.train.Checkpoint.restore: no checkpoint at {_prefix(path)!r} "
                                    f"(looked for {path})")
        with open(path, "rb") as f:
            with saving._reading(path, "corenn checkpoint"):
                archive = saving._Archive(f)
                keys, headers, meta = _read_manifest(archive)
            values = dict(zip(keys, headers))
            self._build_for(meta, values)
            entries, _, optimizers = self._entries()
            self._check_counts(keys, path)
            plan, missing = [], []
            for key, t in entries:
                if key not in values:
                    missing.append(key)
                    continue
                h = values[key]
                if tuple(h.shape) != tuple(t.shape):
                    raise ValueError(f"tf.train.Checkpoint.restore: {key} has shape {tuple(t.shape)} here but "
                                     f"{tuple(h.shape)} in {path}")
                if np.dtype(str(t.dtype)) != h.dtype.newbyteorder("="):
                    raise ValueError(f"tf.train.Checkpoint.restore: {key} has dtype {t.dtype} here but "
                                     f"{h.dtype} in {path}")
                plan.append((key, t, h))
            opt_plan = []
            for name, opt in optimizers:
                if f"{name}.iterations" not in values:
                    missing.append(f"{name}.iterations")
                    continue
                m = meta.get(name, {})
                n = int(m.get("slots", 0))
                slot_keys = [f"{name}.slot{i}" for i in range(n)]
                if any(k not in values for k in slot_keys):
                    raise ValueError(f"tf.train.Checkpoint.restore: {path} lacks slots of optimizer {name}")
                if n:
                    own = opt._state_variables if opt.built else None
                    if own is None or len(own) != n:
                        raise ValueError(f"tf.train.Checkpoint.restore: optimizer {name} has "
                                         f"{0 if own is None else len(own)} slot variables here but {n} in {path}")
                    for k, s in zip(slot_keys, own):
                        if tuple(values[k].shape) != tuple(s.shape):
                            raise ValueError(f"tf.train.Checkpoint.restore: {k} has shape {tuple(s.shape)} here "
                                             f"but {tuple(values[k].shape)} in {path}")
                opt_plan.append((opt, name, slot_keys))
            with saving._reading(path, "corenn checkpoint"):
                read = {key: archive.read_array(h) for key, _, h in plan}
                for _, name, slot_keys in opt_plan:
                    for k in [f"{name}.iterations"] + slot_keys:
                        read[k] = archive.read_array(values[k])
        for key, t, _ in plan:
            _write_value(t, read[key])
        for opt, name, slot_keys in opt_plan:
            store = {"iterations": read[f"{name}.iterations"]}
            store.update({str(i): read[k] for i, k in enumerate(slot_keys)})
            if slot_keys:
                opt.load_own_variables(store)
            else:
                opt.iterations = int(np.asarray(store["iterations"]))
        used = {k for k, _, _ in plan} | {k for _, name, sk in opt_plan for k in [f"{name}.iterations"] + sk}
        return _Status([k for k in keys if k not in used], missing)

    def _check_counts(self, keys, path, prefix=""):
        """A model or layer must have as many weights as the file holds for it (an unbuilt layer
        has none: TensorFlow would restore it later, corenn asks for it to be built)."""
        for key, obj in self._objects.items():
            name = prefix + key
            if isinstance(obj, Checkpoint):
                obj._check_counts(keys, path, name + ".")
                continue
            if _is_variable(obj) or _is_optimizer(obj):
                continue
            saved = sum(1 for k in keys if re.fullmatch(re.escape(name) + r"\.w\d+", k))
            here = len(_weights_of(obj))
            if saved != here:
                hint = " (call it once, or build() it, before restoring)" if here == 0 else ""
                raise ValueError(f"tf.train.Checkpoint.restore: {name} has {here} weights here but {saved} in "
                                 f"{path}{hint}")

    def _build_for(self, meta, values):
        """Build models that have not run yet (from the saved input shapes) and optimizers that
        have not stepped yet (for the saved variables), so their values can be placed."""
        entries, _, optimizers = self._entries()
        for name, info in meta.items():
            shapes = info.get("build_input_shapes")
            if shapes is None:
                continue
            obj = self._lookup(name)
            if obj is not None and not _is_optimizer(obj) and not _weights_of(obj) and hasattr(obj, "build"):
                build = [tuple(d for d in s) for s in shapes]
                obj.build(build if len(build) > 1 else build[0])
        entries, _, optimizers = self._entries()
        by_key = dict(entries)
        for name, opt in optimizers:
            info = meta.get(name, {})
            if opt.built or not info.get("slots"):
                continue
            var_keys = info.get("var_keys") or []
            if not var_keys or any(k not in by_key for k in var_keys):
                raise ValueError(f"tf.train.Checkpoint.restore: optimizer {name} was saved with slots for variables "
                                 f"that are not built here ({[k for k in var_keys if k not in by_key][:4]}); call the "
                                 f"model once (or model.build(input_shape)) before restoring")
            opt.build([by_key[k] for k in var_keys])

    def _lookup(self, dotted):
        obj = self
        for part in dotted.split("."):
            if not isinstance(obj, Checkpoint) or part not in obj._objects:
                return None
            obj = obj._objects[part]
        return obj


def _read_manifest(archive):
    member = _MANIFEST + ".npy"
    if member not in archive.infos:
        raise saving._Bad("no manifest")
    npy = archive.npy_header(member, {"|u1": np.dtype("u1")})
    if len(npy.shape) != 1 or npy.nbytes > saving._MAX_JSON_BYTES:
        raise saving._Bad(f"the manifest is not a JSON byte string (shape {npy.shape})")
    try:
        manifest = json.loads(archive.read_array(npy).tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise saving._Bad(f"the manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise saving._Bad(f"unsupported checkpoint format {fmt!r} (expected {_FORMAT!r})")
    keys, dtypes, shapes, meta = (manifest.get(k) for k in ("keys", "dtypes", "shapes", "meta"))
    if (not isinstance(keys, list) or not all(isinstance(k, str) and _KEY.match(k.replace(".", "_")) for k in keys)
            or len(set(keys)) != len(keys)):
        raise saving._Bad("the manifest's 'keys' is not a list of distinct names")
    if (not isinstance(dtypes, list) or len(dtypes) != len(keys) or not all(d in _DTYPES for d in dtypes)
            or not isinstance(shapes, list) or len(shapes) != len(keys)
            or not all(saving._check_shape_list(s) for s in shapes) or not isinstance(meta, dict)):
        raise saving._Bad("the manifest's dtypes / shapes / meta do not describe its keys")
    if sorted(archive.infos) != sorted([member] + [f"{i}.npy" for i in range(len(keys))]):
        raise saving._Bad("the members do not match the manifest")
    headers = [archive.npy_header(f"{i}.npy", {d: _DTYPES[d]}, tuple(s))
               for i, (d, s) in enumerate(zip(dtypes, shapes))]
    return keys, headers, meta


# -- the directory's state file and CheckpointManager ------------------------------------------------

def _read_state(directory):
    """(latest, [all]) as absolute prefixes from ``directory/checkpoint``, or None."""
    path = os.path.join(os.fspath(directory), _STATE_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except (FileNotFoundError, NotADirectoryError):
        return None
    latest, paths = None, []
    for line in text.splitlines():
        m = re.match(r'^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$', line)
        if not m:
            continue
        value = m.group(2).encode("utf-8").decode("unicode_escape")
        full = value if os.path.isabs(value) else os.path.join(os.fspath(directory), value)
        if m.group(1) == "model_checkpoint_path":
            latest = full
        else:
            paths.append(full)
    if latest is None:
        return None
    return latest, paths or [latest]


def _write_state(directory, latest, paths):
    def rel(p):
        r = os.path.relpath(p, directory)
        return json.dumps(r if not r.startswith("..") else os.path.abspath(p))
    text = f"model_checkpoint_path: {rel(latest)}\n" + "".join(
        f"all_model_checkpoint_paths: {rel(p)}\n" for p in paths)
    saving.atomic_write(os.path.join(directory, _STATE_FILE), lambda f: f.write(text), mode="w")


class _State:
    def __init__(self, latest, paths):
        self.model_checkpoint_path = latest
        self.all_model_checkpoint_paths = list(paths)


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    state = _read_state(checkpoint_dir)
    return None if state is None else _State(*state)


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint recorded in ``checkpoint_dir``, or None."""
    state = _read_state(checkpoint_dir)
    if state is None or not os.path.isfile(_path(state[0])):
        return None
    return state[0]


def checkpoints_iterator(checkpoint_dir, min_interval_secs=0, timeout=None, timeout_fn=None):
    """Yield each new latest checkpoint of ``checkpoint_dir`` as it appears, waiting for the next
    one (polling the directory's state file); after ``timeout`` seconds without a new one, stop,
    unless ``timeout_fn()`` returns False (then wait again). Each checkpoint is yielded once,
    at most every ``min_interval_secs`` seconds, as TensorFlow's iterator does."""
    import time
    last = None
    while True:
        start = time.monotonic()
        while True:
            path = latest_checkpoint(checkpoint_dir)
            if path is not None and path != last:
                break
            if timeout is not None and time.monotonic() - start > float(timeout):
                path = None
                break
            time.sleep(min(1.0, max(0.05, float(min_interval_secs))))
        if path is None:
            if timeout_fn is None or timeout_fn():
                return
            continue
        last = path
        began = time.monotonic()
        yield path
        wait = float(min_interval_secs) - (time.monotonic() - began)
        if wait > 0:
            time.sleep(wait)


class CheckpointReader:
    """``tf.train.load_checkpoint(path)``: the values of a checkpoint by name, read-only. The
    names are corenn's keys (``model.w0``, ``optimizer.slot0``, ``save_counter``: the
    ``Checkpoint``'s keyword, then the weight's position), not TensorFlow's object-graph paths."""

    def __init__(self, path):
        self._path = path
        with open(path, "rb") as f, saving._reading(path, "corenn checkpoint"):
            keys, headers, _ = _read_manifest(saving._Archive(f))
        self._headers = dict(zip(keys, headers))

    def get_variable_to_shape_map(self):
        return {k: list(h.shape) for k, h in self._headers.items()}

    def get_variable_to_dtype_map(self):
        from . import dtypes
        return {k: dtypes.as_dtype(str(h.dtype.newbyteorder("="))) for k, h in self._headers.items()}

    def has_tensor(self, name):
        return name in self._headers

    def get_tensor(self, name):
        if name not in self._headers:
            raise KeyError(f"tf.train.CheckpointReader: {name!r} is not in {self._path}; it holds "
                           f"{', '.join(sorted(self._headers))}")
        with open(self._path, "rb") as f, saving._reading(self._path, "corenn checkpoint"):
            return saving._Archive(f).read_array(self._headers[name])


def _checkpoint_file(ckpt_dir_or_file, op):
    """The checkpoint file of a prefix, or of a directory's latest checkpoint (TensorFlow's rule)."""
    p = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(p):
        latest = latest_checkpoint(p)
        if latest is None:
            raise ValueError(f"tf.train.{op}: no checkpoint recorded in directory {p!r}")
        p = latest
    path = _path(p)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tf.train.{op}: no checkpoint at {p!r} (looked for {path})")
    return path


def load_checkpoint(ckpt_dir_or_file):
    """A ``CheckpointReader`` of the checkpoint at a prefix, or of a directory's latest one."""
    return CheckpointReader(_checkpoint_file(ckpt_dir_or_file, "load_checkpoint"))


def list_variables(ckpt_dir_or_file):
    """[(name, shape)] of a checkpoint's values, sorted by name, as TensorFlow lists them."""
    return sorted(load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file, name):
    """One value of a checkpoint, as a NumPy array."""
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


# ---- tf.keras 2's TF-format weights: model.save_weights("dir/prefix") ---------------------------

_FILE_WEIGHT_NAMES = (".npz", ".h5", ".hdf5", ".keras")


def is_weights_prefix(path):
    """tf.keras 2 writes weights in TensorFlow's checkpoint format to any name that is not an
    HDF5 / Keras file; corenn does the same for names without its own weights extensions
    (.npz, .weights.h5): a prefix written as this module's checkpoint."""
    return not os.fspath(path).lower().endswith(_FILE_WEIGHT_NAMES)


def save_weights_prefix(model, prefix):
    """``model.save_weights(prefix)``: the weights as a checkpoint at ``prefix``, recorded as its
    directory's latest (tf.keras 2 updates the ``checkpoint`` state file, so
    ``tf.train.latest_checkpoint(dir)`` finds it)."""
    prefix = os.fspath(prefix)
    directory = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    # tf.keras 2's checkpoint of a model holds its compiled optimizer too (the model tracks it):
    # SidecarEvaluator reads the training step from it. load_weights restores the weights only.
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and _is_optimizer(optimizer):
        Checkpoint(model=model, optimizer=optimizer).write(prefix)
    else:
        Checkpoint(model=model).write(prefix)
    _write_state(directory, os.path.abspath(prefix), [os.path.abspath(prefix)])


def load_weights_prefix(model, prefix):
    """``model.load_weights(prefix)`` of what save_weights_prefix wrote (every weight matched,
    by position, with its shape checked)."""
    Checkpoint(model=model).restore(prefix).assert_existing_objects_matched()


class CheckpointManager:
    """``tf.train.CheckpointManager(checkpoint, directory, max_to_keep)``: numbered saves
    ``<directory>/<checkpoint_name>-<n>``, the newest ``max_to_keep`` kept (None keeps all),
    picking up the checkpoints already recorded in the directory."""

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None, init_fn=None):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(f"tf.train.CheckpointManager: checkpoint must be a tf.train.Checkpoint, got "
                            f"{type(checkpoint).__name__}")
        if max_to_keep is not None and int(max_to_keep) < 1:
            raise ValueError(f"tf.train.CheckpointManager: max_to_keep must be None or >= 1, got {max_to_keep}")
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("tf.train.CheckpointManager: checkpoint_interval needs step_counter")
        self._checkpoint = checkpoint
        self.directory = os.fspath(directory)
        self._max_to_keep = None if max_to_keep is None else int(max_to_keep)
        self._prefix = os.path.join(self.directory, checkpoint_name)
        self._step_counter, self._interval = step_counter, checkpoint_interval
        self._last_step = None
        self._init_fn = init_fn
        state = _read_state(self.directory)
        self._paths = [p for p in (state[1] if state else []) if os.path.isfile(_path(p))]

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def latest_checkpoint(self):
        return self._paths[-1] if self._paths else None

    @property
    def checkpoints(self):
        return list(self._paths)

    @property
    def checkpoint_interval(self):
        return self._interval

    def restore_or_initialize(self):
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Write the next checkpoint (numbered checkpoint_number, else the checkpoint's
        save_counter after counting this save), drop the oldest beyond max_to_keep and update
        the state file; returns its path (None when checkpoint_interval skips this step)."""
        if self._interval is not None and check_interval:
            step = int(np.asarray(self._step_counter))
            if self._last_step is not None and step < self._last_step + int(self._interval):
                return None
            self._last_step = step
        ckpt = self._checkpoint
        ckpt.save_counter.assign_add(1)
        number = int(np.asarray(ckpt.save_counter)) if checkpoint_number is None else int(np.asarray(checkpoint_number))
        path = ckpt.write(f"{self._prefix}-{number}")
        self._paths = [p for p in self._paths if p != path] + [path]
        if self._max_to_keep is not None:
            while len(self._paths) > self._max_to_keep:
                old = self._paths.pop(0)
                try:
                    os.remove(_path(old))
                except FileNotFoundError:
                    pass
        _write_state(self.directory, path, self._paths)
        return path
