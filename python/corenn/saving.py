"""Reading and writing model files. Writers are atomic; readers never unpickle or execute.

Every file is written through :func:`atomic_write`: a temporary file in the target's directory
(``.tmp-corenn-<host>-<pid>-<random>-<name>``, mode 0666 & ~umask like ``open()``), flushed and
fsync'ed, ``os.replace``d over the target, then the directory fsync'ed; a crash or an exception
midway never leaves a half-written file where a good one was. Temp files of ours for the same
target whose writer was killed (pid gone, or untouched for a day) are removed by the next save.

Weights files (``model.save_weights`` / ``model.load_weights``)
    A NumPy ``.npz`` archive (members stored) of float32 arrays named
    ``<index>:<layer>/<weight index>`` plus a JSON manifest (``__corenn_manifest__``, a uint8
    array; format ``corenn.weights/1``, ``names`` and ``shapes``). Read without ``np.load``:
    the archive is checked as below, the manifest must list exactly the other members, every
    header must declare its manifest shape, and the shapes must be the model's before any data
    is read. ``load_weights`` also takes a model file (``.keras``): its weights.

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
        ``model.get_weights()[k]`` (Keras order), float32 (a non-trainable weight a layer made in
        another dtype, an int64 counter or float64 sums, keeps it), NumPy ``.npy`` format 1.0.
    ``optimizer/<key>.npy``
        ``optimizer.save_own_variables(store)``: ``iterations`` (int64 scalar) and ``0``, ``1``,
        ... (float32 state tensors in the optimizer's ``variables`` order). Absent when the
        model was saved without its optimizer.
    ``store/<layer index>/<key>.npy`` (optional)
        for a layer of ``model._layers_by_first_call()`` whose class overrides Keras 3's ``save_own_variables``
        or ``load_own_variables``: what its ``save_own_variables(store)`` put in the store
        (float32 or int64 arrays, keys of ``[A-Za-z0-9_]``), handed to its
        ``load_own_variables`` after the weights are set.
    ``assets/<layer index>/<path>`` (optional)
        the files a layer's overridden ``save_assets(dir)`` wrote (plain names, at most 4 levels),
        copied into a temporary directory for its ``load_assets(dir)``.

    Versioning: ``format_version`` is an integer bumped on any change an older reader would
    misread; a reader refuses versions newer than its own and keeps reading older ones.

    What the reader checks, in this order, before anything large is allocated:
    the archive (both formats): it opens (truncated or non-zip files fail); member names are
    unique and plain (no absolute paths, ``..``, backslashes or control characters);
    compression is stored/deflate, ``.npy`` members stored; every member lies inside the file
    and together they fit in it; deflated members declare at most 200x their compressed size
    (zip bombs fail unread); CRCs match. A model file holds exactly the members above (a stray
    ``*.pkl`` fails). Every ``.npy`` header is parsed by hand and must declare a little-endian
    C-order array of the dtype (one of ``_ALLOWED_DTYPES``) and shape in ``metadata.json`` and hold exactly that many
    bytes (``dtype=object`` fails: pickle is never reached); arrays are read in chunks into
    their final buffer. So what is read is bounded by the file's own size.
    ``config.json``: numbers finite, integers within int32 (seeds excepted); class names resolve
    only through corenn's registries (``layers``, ``optimizers``, ``losses``, ``metrics``,
    ``schedules``, ``initializers``, ``regularizers``, ``activations``; wrapped layers too), an
    unknown one fails; then the model is built with weights that own no memory (zero-stride
    views) and every layer's weight shapes must equal the arrays the file holds. ``compile.json``
    (when compiling): every optimizer / schedule hyper-parameter finite and in range
    (learning_rate >= 0, 0 <= beta_1, beta_2, rho < 1, epsilon > 0, momentum in [0, 1], ...).
    Only then is the model built: its memory is the model's own (weights, gradients, optimizer
    state) plus one layer's arrays in flight. Every failure is a ``ValueError`` naming the
    file, the member / layer / optimizer and the field.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import stat
import struct
import time
import zipfile
import zlib

import numpy as np

from .optimizers.optimizer import (HYPERPARAMETER_RANGES as _OPTIMIZER_RANGES, IN_RANGE as _IN_RANGE,
                                   NONNEG as _NONNEG, POSITIVE as _POSITIVE, UNIT as _UNIT)

__all__ = ["atomic_write", "save_weights", "load_weights", "save_model", "load_model",
           "read_model_file", "restore_training_state", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
           "serialize_keras_object", "deserialize_keras_object"]

_MANIFEST = "__corenn_manifest__"
_FORMAT = "corenn.weights/1"

MODEL_FORMAT = "corenn.model"
MODEL_FORMAT_VERSION = 1

_JSON_MEMBERS = ("metadata.json", "config.json", "compile.json")
_OPTIONAL_JSON = ("training_state.json",)
_ARRAY_MEMBER = re.compile(r"^(weights/\d{1,6}|optimizer/(iterations|\d{1,6})|store/\d{1,6}/[A-Za-z0-9_]{1,64})\.npy$")
_STORE_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_ASSET_MEMBER = re.compile(r"^assets/(\d{1,6})/([A-Za-z0-9_.-]{1,100}/){0,3}[A-Za-z0-9_.-]{1,100}$")
# The dtypes an array member may have (little-endian, as written). Weights are float32 but for
# the non-trainable ones a layer made in another dtype (an int64 counter, float64 sums), which
# keep it; the optimizer's iterations and the layers' own stores are int64.
_ALLOWED_DTYPES = {"float32": np.dtype("<f4"), "int64": np.dtype("<i8"), "float64": np.dtype("<f8"),
                   "float16": np.dtype("<f2"), "int32": np.dtype("<i4"), "int16": np.dtype("<i2"),
                   "int8": np.dtype("i1"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2"),
                   "uint32": np.dtype("<u4"), "uint64": np.dtype("<u8")}
_MAX_JSON_BYTES = 64 << 20      # a config far larger than any real model's
_MAX_DEFLATE_RATIO = 200        # JSON compresses ~10x; a bomb compresses ~1000x
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def atomic_write(path, write_fn, mode: str = "wb") -> None:
    """Call ``write_fn(file)`` on a temporary file next to ``path`` and rename it into place.

    The temporary file is ``.tmp-corenn-<host>-<pid>-<random>-<name>`` in the target's directory,
    created like ``open()`` creates files (mode 0666 & ~umask; an existing target's mode is
    kept), fsync'ed, renamed over the target, then the directory is fsync'ed. Before writing, our
    own temporary files for the same target left by a killed writer (its pid is gone, or the
    file was last written over a day ago) are removed; nothing else is ever touched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temps(directory, os.path.basename(path))
    fd, tmp = _create_temp(directory, path)
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
    _fsync_directory(directory)


_TMP_PREFIX = ".tmp-corenn-"
_TMP_NAME = re.compile(r"\.tmp-corenn-([0-9a-f]{8})-([0-9]{1,10})-[0-9a-f]{8}-(.+)", re.DOTALL)
_STALE_TEMP_AGE_S = 24 * 3600   # a live writer touches its file far more often than this
_host_tag_cache = None


def _host_tag() -> str:
    """8 hex digits naming this pid namespace (+ host name): a temp file's pid is only checked
    for liveness by a process that sees the same pids."""
    global _host_tag_cache
    if _host_tag_cache is None:
        import socket
        try:
            ns = str(os.stat("/proc/self/ns/pid").st_ino)
        except OSError:
            ns = ""
        _host_tag_cache = f"{zlib.crc32(f'{ns}/{socket.gethostname()}'.encode()):08x}"
    return _host_tag_cache


def _temp_stem(basename: str) -> str:
    """The target's name as it ends a temp file's name (shortened so names stay < 255 bytes)."""
    if len(basename.encode("utf-8", "surrogateescape")) <= 180:
        return basename
    return f"{basename[:120]}~{zlib.crc32(basename.encode('utf-8', 'surrogateescape')):08x}"


def _create_temp(directory, path):
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))
    stem = _temp_stem(os.path.basename(path))
    while True:
        tmp = os.path.join(directory, f"{_TMP_PREFIX}{_host_tag()}-{os.getpid()}-"
                                      f"{secrets.token_hex(4)}-{stem}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask, as for open()
            break
        except FileExistsError:
            continue
    try:  # overwriting keeps the target's permissions, as writing into it with open() would
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode) and hasattr(os, "fchmod"):
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o777)
    except OSError:
        pass
    return fd, tmp


def _pid_alive(pid: int) -> bool:
    if os.name != "posix" or pid <= 0:
        return True  # no safe probe here: the age rule decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def _remove_stale_temps(directory, basename):
    """Remove temp files of ours for ``basename`` whose writer died (see atomic_write)."""
    stem, tag, now = _temp_stem(basename), _host_tag(), time.time()
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = _TMP_NAME.fullmatch(entry.name)
        if m is None or m.group(3) != stem:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
            continue
        pid = int(m.group(2))
        dead = m.group(1) == tag and pid != os.getpid() and not _pid_alive(pid)
        if dead or now - st.st_mtime > _STALE_TEMP_AGE_S:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _fsync_directory(directory):
    """Make the rename durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ================================================================================================
# reading: zip archives and .npy members, bounded by the file's own size
# ================================================================================================

class _Bad(Exception):
    """A damaged or hostile archive; turned into ValueError('<path>: not a valid ...: <message>')."""


class _BadConfig(Exception):
    """A config (config.json, compile.json) that must not be built; ValueError('<path>: <message>')."""


# What a damaged archive makes zipfile / zlib / struct raise (FileNotFoundError is only raised
# by the first open(), outside these handlers).
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError,
                RuntimeError, ValueError, struct.error, zlib.error, OverflowError, IndexError)
_READ_CHUNK = 1 << 20
_MAX_NPY_HEADER = 1 << 16
_MAX_RANK = 32
_MAX_DIM = 1 << 40
_NPY_HEADER = re.compile(r"\{\s*'descr':\s*'([^'\\]{1,32})',\s*'fortran_order':\s*"
                         r"(False|True),\s*'shape':\s*\(([0-9,\s]*)\),?\s*\}\s*", re.ASCII)


@contextlib.contextmanager
def _reading(path, what):
    """Turn every way a damaged file can fail into ValueError naming the file."""
    try:
        yield
    except _BadConfig as exc:
        raise ValueError(f"{path}: {exc}") from None
    except _Bad as exc:
        raise ValueError(f"{path}: not a valid {what}: {exc}") from None
    except _READ_ERRORS as exc:
        raise ValueError(f"{path}: not a valid {what}: corrupt or truncated "
                         f"({type(exc).__name__}: {exc})") from None


def _plain_member_name(name) -> bool:
    return not (name.startswith("/") or "\\" in name or ".." in name.split("/")
                or any(ord(ch) < 32 or ord(ch) == 127 for ch in name))


class _Archive:
    """A ZIP archive whose central directory was checked against the file before any member
    is read: names unique and plain, stored or deflated, not encrypted, every member inside the
    file, members not overlapping, stored sizes consistent and deflated ones at most
    ``_MAX_DEFLATE_RATIO`` times their compressed size (zip bombs fail here, unread).
    ``.npy`` members must be stored, so an array never declares more bytes than the file has."""

    def __init__(self, f):
        size = os.fstat(f.fileno()).st_size
        self.zf = zipfile.ZipFile(f)
        infos = self.zf.infolist()
        self.infos = {i.filename: i for i in infos}
        if len(self.infos) != len(infos):
            raise _Bad("the archive has duplicate member names")
        total = 0
        for info in infos:
            name = info.filename
            if not _plain_member_name(name):
                raise _Bad(f"member name {name!r} is not a plain relative path")
            if info.flag_bits & 0x1:
                raise _Bad(f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _Bad(f"member {name!r} uses an unsupported compression method")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise _Bad(f"member {name!r} declares inconsistent sizes")
            if name.endswith(".npy") and info.compress_type != zipfile.ZIP_STORED:
                raise _Bad(f"member {name!r} is compressed (arrays are stored)")
            if info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1) + 1024:
                raise _Bad(f"member {name!r} declares {info.file_size} bytes from "
                           f"{info.compress_size} compressed bytes (a zip bomb?)")
            if info.header_offset < 0 or info.header_offset + 30 + info.compress_size > size:
                raise _Bad(f"member {name!r} declares {info.compress_size} bytes at offset "
                           f"{info.header_offset}, past the end of the {size}-byte file")
            total += info.compress_size
        if total > size:
            raise _Bad(f"the members declare {total} bytes in a {size}-byte file (overlapping "
                       f"members?)")

    def read_bytes(self, name, limit):
        """A (JSON) member's bytes: at most ``limit``, exactly its declared size; CRC checked."""
        info = self.infos[name]
        if info.file_size > limit:
            raise _Bad(f"member {name!r} is too large ({info.file_size} bytes)")
        with self.zf.open(info) as f:
            data = f.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise _Bad(f"member {name!r} holds {len(data)} bytes but declares {info.file_size}")
        return data

    def read_json(self, name):
        try:
            return json.loads(self.read_bytes(name, _MAX_JSON_BYTES).decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError, ...
            raise _Bad(f"member {name!r} is not valid JSON: {exc}") from None

    def npy_header(self, name, dtypes, shape=None):
        """Parse a ``.npy`` member's header by hand (never np.load, never a pickle): it must
        declare a C-order array of one of ``dtypes`` (descr -> dtype) and, when given, ``shape``,
        and the member must hold exactly that many data bytes. Returns an _Npy."""
        info = self.infos[name]
        with self.zf.open(info) as f:
            magic = f.read(8)
            if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
                raise _Bad(f"{name}: not a .npy array (bad magic)")
            version = (magic[6], magic[7])
            if version == (1, 0):
                prefix, (hlen,) = 10, struct.unpack("<H", f.read(2))
            elif version in ((2, 0), (3, 0)):
                prefix, (hlen,) = 12, struct.unpack("<I", f.read(4))
            else:
                raise _Bad(f"{name}: unsupported .npy version {version}")
            if hlen > _MAX_NPY_HEADER:
                raise _Bad(f"{name}: .npy header of {hlen} bytes")
            header = f.read(hlen)
        if len(header) != hlen:
            raise _Bad(f"{name}: truncated .npy header")
        m = _NPY_HEADER.fullmatch(header.decode("latin1"))
        if m is None:
            raise _Bad(f"{name}: bad .npy header {header[:80]!r}")
        descr, fortran, dims = m.groups()
        got = _npy_shape(dims, name)
        if descr not in dtypes:
            kind = "object" if "O" in descr else repr(descr)
            raise _Bad(f"{name}: array dtype {kind} is not one of {sorted(dtypes)} (only plain "
                       f"numeric arrays are read, never objects)")
        if fortran == "True":
            raise _Bad(f"{name}: array in Fortran order (only C order is read)")
        if shape is not None and got != tuple(shape):
            raise _Bad(f"{name}: array of shape {got} where {tuple(shape)} is declared")
        dtype = dtypes[descr]
        nbytes = math.prod(got) * dtype.itemsize
        offset = prefix + hlen
        if info.file_size - offset != nbytes:
            raise _Bad(f"{name}: holds {info.file_size - offset} data bytes, expected {nbytes}")
        return _Npy(name, dtype, got, offset, nbytes)

    def read_array(self, npy, out=None):
        """The data of a member checked by ``npy_header``, read in chunks straight into ``out``
        (a new array when None): never more memory than the array itself."""
        if out is None:
            out = np.empty(npy.shape, npy.dtype)
        elif not (out.flags.c_contiguous and out.flags.writeable and out.nbytes == npy.nbytes
                  and out.dtype == npy.dtype):
            out[...] = self.read_array(npy).reshape(out.shape)
            return out
        flat = memoryview(out.reshape(-1).view(np.uint8))
        with self.zf.open(self.infos[npy.member]) as f:
            if len(f.read(npy.offset)) != npy.offset:
                raise _Bad(f"{npy.member}: truncated")
            pos = 0
            while pos < npy.nbytes:
                chunk = f.read(min(_READ_CHUNK, npy.nbytes - pos))
                if not chunk:
                    raise _Bad(f"{npy.member}: truncated after {pos} of {npy.nbytes} data bytes")
                flat[pos:pos + len(chunk)] = chunk
                pos += len(chunk)
            if f.read(1):  # (cannot happen after the size check; also completes the CRC check)
                raise _Bad(f"{npy.member}: more data than its header declares")
        return out


class _Npy:
    __slots__ = ("member", "dtype", "shape", "offset", "nbytes")

    def __init__(self, member, dtype, shape, offset, nbytes):
        self.member, self.dtype, self.shape, self.offset, self.nbytes = \
            member, dtype, shape, offset, nbytes


def _npy_shape(dims, name):
    parts = [p.strip() for p in dims.split(",")]
    if parts and not parts[-1]:
        parts.pop()
    if (any(not p.isdigit() or len(p) > 13 for p in parts) or len(parts) > _MAX_RANK
            or (len(parts) == 1 and "," not in dims)):
        raise _Bad(f"{name}: bad shape ({dims}) in the .npy header")
    shape = tuple(int(p) for p in parts)
    if any(d >= _MAX_DIM for d in shape):
        raise _Bad(f"{name}: shape {shape} in the .npy header is too large")
    return shape


def _check_shape_list(shape) -> bool:
    return (isinstance(shape, list) and len(shape) <= _MAX_RANK
            and all(type(d) is int and 0 <= d < _MAX_DIM for d in shape))


# ================================================================================================
# weights files (.npz)
# ================================================================================================

# A weight array's dtype: float32, or that of a weight a layer made in another dtype (an
# int8-quantized kernel, an int64 counter), as save_weights writes it (get_weights' arrays)
_WEIGHT_DTYPES = {d.str: d for d in _ALLOWED_DTYPES.values()}


def _weight_names(model):
    names = []
    for i, layer in enumerate(model._layers_by_first_call()):
        for j, _ in enumerate(layer.weights):
            names.append(f"{i}:{layer.name}/{j}")
    return names


_HDF5 = (".h5", ".hdf5")


def _is_keras_archive(path) -> bool:
    """A Keras 3 ``.keras`` archive (it holds ``model.weights.h5``), not one of corenn's own."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "model.weights.h5" in zf.namelist()
    except FileNotFoundError:
        raise
    except _READ_ERRORS:   # damaged (even "zip file version 11.2"): corenn's reader names the problem
        return False


def check_model_path(path, op="save", save_format=None) -> str:
    """A model file's path must end in ``.keras`` (corenn's zip, Keras 3's rule) or ``.h5`` /
    ``.hdf5`` (TF-Keras 2's HDF5 model file, ``saving_keras.save_legacy_h5``); ``save_format``
    ("keras", "h5" as in TF-Keras 2, or "keras3": Keras 3's own archive,
    ``saving_keras.save_keras3_archive``) must agree with the name."""
    path = os.fspath(path)
    name = path.lower()
    if save_format not in (None, "keras", "keras3", "h5"):
        raise ValueError(f"{op}: save_format={save_format!r} is not supported; use 'keras' (corenn's "
                         "zip, a .keras name), 'keras3' (Keras 3's archive, a .keras name) or 'h5' "
                         "(TF-Keras 2's HDF5 model file, a .h5 name)")
    wanted = "keras" if save_format == "keras3" else save_format or ("h5" if name.endswith(_HDF5) else "keras")
    if name.endswith(".weights.h5"):
        raise ValueError(f"{op}: {path!r}: a .weights.h5 name is for weights alone "
                         "(model.save_weights); save the model as 'model.h5' or 'model.keras'")
    if name.endswith(".keras" if wanted == "keras" else _HDF5):
        return path
    if name.endswith(".keras") or name.endswith(_HDF5):
        raise ValueError(f"{op}: {path!r}: save_format={save_format!r} does not match the name; a "
                         "'keras' file's name ends in .keras, an 'h5' file's in .h5")
    raise ValueError(f"{op}: {path!r}: a model file's name must end in .keras (corenn's format, e.g. "
                     "model.save('model.keras')) or .h5 (TF-Keras 2's HDF5 model file, needs h5py)")


def check_weights_path(path, op="save_weights") -> str:
    """A weights file's path must end in ``.weights.h5`` (Keras 3's HDF5 layout), another
    ``.h5`` / ``.hdf5`` name (TF-Keras 2's legacy weights file, which tf.keras programs write) or
    ``.npz`` (corenn's NumPy archive; ``.weights.npz`` by convention)."""
    path = os.fspath(path)
    name = path.lower()
    if name.endswith(".npz") or name.endswith(_HDF5):
        return path
    raise ValueError(f"{op}: {path!r}: a weights file's name must end in .weights.h5 (Keras 3's HDF5 "
                     "layout, needs h5py), .h5 (TF-Keras 2's legacy HDF5 weights) or .npz "
                     "(e.g. model.save_weights('model.weights.npz'))")


def save_weights(model, path) -> None:
    """Write every layer's weights (in Keras order) to an ``.npz`` file, atomically; a
    ``.weights.h5`` name writes Keras 3's HDF5 layout instead (saving_keras.save_h5_weights),
    another ``.h5`` / ``.hdf5`` name TF-Keras 2's legacy one (saving_keras.save_legacy_h5_weights:
    tf.keras 2 wrote that for such a name, where Keras 3 refuses it)."""
    path = check_weights_path(path)
    if path.lower().endswith(".weights.h5"):
        from . import saving_keras
        saving_keras.save_h5_weights(model, path)
        return
    if path.lower().endswith(_HDF5):
        from . import saving_keras
        saving_keras.save_legacy_h5_weights(model, path)
        return
    weights = model.get_weights()
    names = _weight_names(model)
    manifest = {"format": _FORMAT, "names": names,
                "shapes": [list(w.shape) for w in weights]}
    arrays = {name: np.array(w, order="C") for name, w in zip(names, weights)}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read_manifest(archive):
    """The manifest's names and shapes, checked against the archive's members."""
    member = _MANIFEST + ".npy"
    npy = archive.npy_header(member, {"|u1": np.dtype("u1")})
    if len(npy.shape) != 1 or npy.nbytes > _MAX_JSON_BYTES:
        raise _Bad(f"the manifest is not a JSON byte string (shape {npy.shape})")
    try:
        manifest = json.loads(archive.read_array(npy).tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"the manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise _Bad(f"unsupported weights format {fmt!r} (expected {_FORMAT!r})")
    names, shapes = manifest.get("names"), manifest.get("shapes")
    if (not isinstance(names, list) or not all(isinstance(n, str) for n in names)
            or len(set(names)) != len(names) or _MANIFEST in names):
        raise _Bad("the manifest's 'names' is not a list of distinct strings")
    if (not isinstance(shapes, list) or len(shapes) != len(names)
            or not all(_check_shape_list(s) for s in shapes)):
        raise _Bad("the manifest's 'shapes' is not one list of sizes per name")
    members = sorted(n[:-4] for n in archive.infos if n != member)
    if members != sorted(names) or not all(n.endswith(".npy") for n in archive.infos):
        extra = sorted(set(archive.infos) - {n + ".npy" for n in names} - {member})
        raise _Bad(f"the members do not match the manifest (unexpected: {extra[:5]}, "
                   f"missing: {sorted(set(names) - set(members))[:5]})")
    return [archive.npy_header(n + ".npy", _WEIGHT_DTYPES, s) for n, s in zip(names, shapes)]


def _check_weight_shapes(model, got, path, op):
    expected = [tuple(w.shape) for w in model.weights]
    if expected != got:
        raise ValueError(f"{op}: {path} holds weights of shapes {got}, but the model's "
                         f"weights have shapes {expected}")


def load_weights(model, path, skip_mismatch=False) -> None:
    """Load weights saved by :func:`save_weights` (or the weights of a model file) into
    ``model``. Never unpickles anything; every member and header is checked and the shapes are
    compared with the model's before any array data is read; the model is left untouched when
    the file is bad (ValueError naming it). ``skip_mismatch`` (Keras' files, whose groups name
    each layer's own variables): what does not fit is skipped with a warning."""
    path = os.fspath(path)
    if path.lower().endswith(_HDF5):   # Keras' .weights.h5, or a legacy HDF5 file
        from . import saving_keras
        return saving_keras.load_h5_weights(model, path, skip_mismatch)
    if path.endswith(".keras") and _is_keras_archive(path):
        from . import saving_keras
        return saving_keras.load_keras_archive_weights(model, path, skip_mismatch)
    if skip_mismatch:
        # corenn's own files list the weights by position only: nothing says which layer a
        # weight that does not fit belongs to
        raise NotImplementedError(f"load_weights: skip_mismatch=True needs a Keras weights file "
                                  f"(.weights.h5 or a Keras .keras archive); {path} is corenn's own format")
    if path.endswith(".keras"):
        with open(path, "rb") as f:
            with _reading(path, "corenn model file"):
                reader = _ModelReader(f)
            _check_weight_shapes(model, [h.shape for h in reader.weights], path, "load_weights")
            with _reading(path, "corenn model file"):
                weights = [reader.archive.read_array(h) for h in reader.weights]
        model.set_weights(weights)
        return
    with open(path, "rb") as f:
        with _reading(path, "corenn weights file"):
            archive = _Archive(f)
            headers = _read_manifest(archive) if _MANIFEST + ".npy" in archive.infos else None
        if headers is None:
            raise ValueError(f"{path} is not a corenn weights file (no manifest)")
        _check_weight_shapes(model, [h.shape for h in headers], path, "load_weights")
        with _reading(path, "corenn weights file"):
            weights = [archive.read_array(h) for h in headers]
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
    def metric(m):
        # a function (compile(metrics=[my_fn])) is saved as the MeanMetricWrapper compile made of
        # it: by its registered name, which loading resolves through the registry
        m = metrics._to_metric(m)
        return {"class_name": type(m).__name__, "config": m.get_config()}
    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": _nested(model.loss, lambda x: _spec(x, losses.serialize)),
            "metrics": _nested(model._metric_arg or [], lambda x: _spec(x, metric)),
            **({"weighted_metrics": _nested(model._weighted_metric_arg, lambda x: _spec(x, metric))}
               if model.__dict__.get("_weighted_metric_arg") else {}),
            **({"loss_weights": model._loss_weight_arg} if model._loss_weight_arg is not None else {})}


def _nested(obj, fn):
    """``fn`` applied to the leaves of a list / dict structure (per-output compile arguments)."""
    if isinstance(obj, dict):
        return {str(k): _nested(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nested(v, fn) for v in obj]
    return None if obj is None else fn(obj)


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
    for layer in model._layers_by_first_call():
        values = layer.get_weights()  # wrappers (TimeDistributed, ...) hold no _params of their own
        params = getattr(layer, "_params", None) or []
        names = [p.name for p in params] if len(params) == len(values) else []
        for j, value in enumerate(values):
            # np.array, not np.ascontiguousarray: that makes a 0-d weight (Normalization's
            # count) 1-d, and the file would not match the layer's shapes on loading
            dtype = value.dtype if value.dtype.name in _ALLOWED_DTYPES else np.float32   # (bool: float32 0 / 1)
            arrays.append((f"weights/{k}.npy", np.array(value, _ALLOWED_DTYPES.get(np.dtype(dtype).name), order="C"),
                           {"layer": layer.name, "weight": names[j] if names else str(j)}))
            k += 1
    if include_optimizer and model.compiled and model.optimizer is not None:
        store = {}
        model.optimizer.save_own_variables(store)
        for key, value in store.items():
            dtype = np.int64 if key == "iterations" else np.float32
            arrays.append((f"optimizer/{key}.npy", np.array(value, dtype, order="C"), {}))
    return arrays


def _layer_stores(model, path):
    """[(member, array, description)] for the layers whose class overrides save_own_variables or
    load_own_variables (Keras 3's state saving customization): their own store."""
    from .layers.base import Layer
    arrays = []
    for i, layer in enumerate(model._layers_by_first_call()):
        cls = type(layer)
        if not isinstance(layer, Layer) or (cls.save_own_variables is Layer.save_own_variables
                                            and cls.load_own_variables is Layer.load_own_variables):
            continue   # (a model used as a layer keeps its weights in weights/)
        store = {}
        layer.save_own_variables(store)
        for key, value in store.items():
            if not isinstance(key, str) or not _STORE_KEY.match(key):
                raise ValueError(f"{path}: layer '{layer.name}'.save_own_variables put the key {key!r} in the "
                                 "store; keys must be 1-64 letters, digits or '_'")
            a = np.asarray(value)
            if a.dtype.kind in "iub":
                a = np.array(a, np.int64, order="C")
            elif a.dtype.kind == "f":
                a = np.array(a, np.float32, order="C")
            else:
                raise ValueError(f"{path}: layer '{layer.name}'.save_own_variables stored {key!r} of dtype "
                                 f"{a.dtype}; only numbers can be saved")
            arrays.append((f"store/{i}/{key}.npy", a, {"layer": layer.name, "store": key}))
    return arrays


def _layer_assets(model, path):
    """[(member, bytes)] of the files the layers' overridden save_assets(dir) write."""
    import tempfile
    from .layers.base import Layer
    members = []
    for i, layer in enumerate(model._layers_by_first_call()):
        if not isinstance(layer, Layer) or type(layer).save_assets is Layer.save_assets:
            continue
        with tempfile.TemporaryDirectory(prefix="corenn-assets-") as d:
            layer.save_assets(d)
            for root, dirs, files in os.walk(d):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    rel = os.path.relpath(full, d).replace(os.sep, "/")
                    member = f"assets/{i}/{rel}"
                    if not _ASSET_MEMBER.match(member) or not os.path.isfile(full) or os.path.islink(full):
                        raise ValueError(f"{path}: layer '{layer.name}'.save_assets wrote {rel!r}; asset files "
                                         "must be regular files with plain names (letters, digits, '_', '.', "
                                         "'-'), at most 4 levels deep")
                    with open(full, "rb") as f:
                        members.append((member, f.read()))
    return members


def _model_config(model):
    entry = {"class_name": type(model).__name__, "config": model.get_config()}
    if getattr(model, "_graph", None) is None and type(model).__name__ not in MODEL_CLASSES:
        shapes = model.__dict__.get("_build_input_shapes")
        if shapes is None:
            raise ValueError(f"save: {model.name} is a subclassed model that has not been called yet; call it "
                             "on data (or model.build(input_shape)) so its weights exist")
        entry["build_config"] = {"input_shape": [list(s) for s in shapes] if len(shapes) > 1 else list(shapes[0])}
    registered = type(model).__dict__.get("_registered_name")
    if registered is not None:   # Keras' key: the class is found by it before its short name
        entry["registered_name"] = registered
    return entry


def is_model_directory_name(path, save_format=None) -> bool:
    """True for what TF-Keras 2 saved as a SavedModel directory: a name with no extension
    (``model.save('my_model')``, ``save_model(model, filepath='model')``), or
    ``save_format='tf'`` for a name that is not a ``.keras`` / ``.h5`` file. corenn writes its own
    model directory there (the ``zipped=False`` layout), which load_model reads back; TensorFlow
    cannot read it (corenn has no TensorFlow graph to write: saved_model.py)."""
    name = os.path.basename(os.fspath(path).rstrip("/\\")).lower()
    if save_format == "tf":
        return not name.endswith((".keras",) + _HDF5)
    return save_format is None and bool(name) and not os.path.splitext(name)[1]


def save_model(model, filepath, overwrite=True, include_optimizer=True, save_format=None,
               zipped=None, training_state=None) -> None:
    """Write ``model`` (architecture, compile config, weights, optimizer state) to one ZIP
    file, atomically; see the module docstring for the format. A ``.h5`` name (or
    ``save_format="h5"``) writes TF-Keras 2's HDF5 model file instead
    (saving_keras.save_legacy_h5; no training state), ``save_format="keras3"`` Keras 3's own
    ``.keras`` archive (saving_keras.save_keras3_archive; uncompiled). ``zipped=False`` (Keras
    3's option) writes the same members into a directory instead (_save_unzipped), and so does a
    name without an extension (TF-Keras 2's SavedModel directory: is_model_directory_name).
    Keras' parameter names and order (``save_model(model=..., filepath=...)``)."""
    from . import __version__
    path = filepath
    if zipped is False or zipped is None and training_state is None and is_model_directory_name(path, save_format):
        return _save_unzipped(model, path, include_optimizer, overwrite)
    path = check_model_path(path, save_format=save_format)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path} exists and overwrite=False")
    if path.lower().endswith(_HDF5) or save_format == "keras3":
        from . import saving_keras
        if save_format == "keras3":
            saving_keras.save_keras3_archive(model, path)
        else:
            saving_keras.save_legacy_h5(model, path, include_optimizer=include_optimizer)
        return
    arrays = _model_arrays(model, include_optimizer) + _layer_stores(model, path)
    assets = _layer_assets(model, path)
    metadata = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION,
                "corenn_version": __version__,
                "arrays": [{"member": m, "shape": list(a.shape), "dtype": a.dtype.name, **d}
                           for m, a, d in arrays]}
    members = [("metadata.json", _to_json(metadata, "metadata", path)),
               ("config.json", _to_json(_model_config(model), "model config", path)),
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
            for member, data in assets:
                zf.writestr(_zip_info(member, not member.endswith(".npy")), data)   # .npy members are stored
        except BaseException:
            # Abandon the archive: atomic_write deletes the temporary file. Closing it would
            # fail on a member handle left open and hide the original exception.
            zf.fp = None
            raise
        zf.close()

    atomic_write(path, write)


def _save_unzipped(model, path, include_optimizer, overwrite):
    """``save(path, zipped=False)``: the members of the .keras zip as files of directory
    ``path`` (which must not end in .keras, as Keras 3 requires), written into a temporary
    directory next to it and renamed into place; an existing model directory is replaced."""
    import shutil
    import tempfile
    path = os.fspath(path)
    if path.lower().endswith((".keras",) + _HDF5):
        raise ValueError(f"save: with zipped=False the path names a directory and must not end in "
                         f".keras or .h5, got {path!r}")
    if os.path.exists(path):
        if not overwrite:
            raise FileExistsError(f"save: {path} exists and overwrite=False")
        # an empty directory is taken too (TF-Keras 2's ModelCheckpoint(filepath=tempfile.mkdtemp()))
        if not (os.path.isdir(path) and (os.path.isfile(os.path.join(path, "metadata.json"))
                                         or not os.listdir(path))):
            raise FileExistsError(f"save: {path} exists and is not a model directory; not replaced")
    parent = os.path.dirname(os.path.abspath(path))
    staging = tempfile.mkdtemp(prefix=".tmp-corenn-", dir=parent)
    try:
        archive = os.path.join(staging, "model.keras")
        save_model(model, archive, include_optimizer=include_optimizer)
        target = os.path.join(staging, "model")
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():   # our own members: relative names, no "..", no links
                dest = os.path.join(target, *name.split("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with zf.open(name) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        if os.path.exists(path):
            # replaced only when it holds nothing but what a save writes (a user's other files
            # next to a metadata.json are not deleted)
            extra = sorted(set(os.listdir(path)) - set(os.listdir(target)))
            if extra:
                raise FileExistsError(f"save: {path} holds files a model save does not write ({', '.join(extra[:5])}); "
                                      "not replaced")
            shutil.rmtree(path)
        os.replace(target, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _zip_model_dir(path, staging):
    """A model directory (``save(zipped=False)``) zipped into ``staging``/<name>.keras for the
    reader; only regular files are taken (links and anything else are refused)."""
    archive = os.path.join(staging, (os.path.basename(os.path.normpath(path)) or "model") + ".keras")
    with zipfile.ZipFile(archive, "w") as zf:
        for root, dirs, files in os.walk(path, followlinks=False):
            for d in dirs:
                if os.path.islink(os.path.join(root, d)):
                    raise ValueError(f"{path}: not a valid corenn model directory: {d!r} is a link")
            for name in sorted(files):
                full = os.path.join(root, name)
                if not stat.S_ISREG(os.lstat(full).st_mode):
                    raise ValueError(f"{path}: not a valid corenn model directory: {name!r} is not a "
                                     f"regular file")
                member = os.path.relpath(full, path).replace(os.sep, "/")
                with open(full, "rb") as f:
                    zf.writestr(_zip_info(member, not member.endswith(".npy")), f.read())
    return archive


# ================================================================================================
# model files (.keras): reading
# ================================================================================================

_DESCRS = {name: {dtype.str: dtype} for name, dtype in _ALLOWED_DTYPES.items()}


class _ModelReader:
    """A model file opened and checked with no array data read yet: the archive (see
    _Archive), the member set, metadata.json, every .npy header against metadata.json, the
    weights numbered 0..n-1 and the optimizer state (an int64 ``iterations`` scalar and float32
    ``0..k-1``). ``weights`` and ``optimizer`` hold _Npy headers; read them with
    ``archive.read_array``."""

    def __init__(self, f):
        self.archive = archive = _Archive(f)
        infos = archive.infos
        self.assets = {}
        for name in infos:
            asset = _ASSET_MEMBER.match(name)
            if asset:
                self.assets.setdefault(int(asset.group(1)), []).append(name)
                continue
            if name not in _JSON_MEMBERS + _OPTIONAL_JSON and not _ARRAY_MEMBER.match(name):
                raise _Bad(f"unexpected member {name!r} (a corenn model file holds only "
                           f"{', '.join(_JSON_MEMBERS + _OPTIONAL_JSON)}, weights/<k>.npy, "
                           f"optimizer/<key>.npy, store/<layer>/<key>.npy and assets/<layer>/...)")
        for name in _JSON_MEMBERS:
            if name not in infos:
                raise _Bad(f"member {name!r} is missing")
        entries = _check_metadata(archive.read_json("metadata.json"), infos)
        self.config = archive.read_json("config.json")
        self.compile = archive.read_json("compile.json")
        self.training_state = (archive.read_json("training_state.json")
                               if "training_state.json" in infos else None)
        weights, opt, names = {}, {}, {}
        self.stores = {}
        for entry in entries:
            member = entry["member"]
            if member.startswith("store/"):   # a layer's own store: float32 or int64, any shape
                _, index, key = member[:-4].split("/")
                self.stores.setdefault(int(index), {})[key] = archive.npy_header(
                    member, _DESCRS[entry["dtype"]], entry["shape"])
                continue
            folder, key = member[:-4].split("/")
            if folder == "optimizer" and entry["dtype"] != ("int64" if key == "iterations"
                                                            else "float32"):
                raise _Bad(f"metadata.json: {member} must be "
                           f"{'int64' if key == 'iterations' else 'float32'}")
            (weights if folder == "weights" else opt)[key] = archive.npy_header(
                member, _DESCRS[entry["dtype"]], entry["shape"])
            if folder == "weights":
                names[key] = (entry.get("layer"), entry.get("weight"))
        self.weights = _old_int8_order(_numbered(weights, "weights"),
                                       [names.get(str(i)) for i in range(len(weights))])
        self.optimizer = None
        if opt:
            iterations = opt.pop("iterations", None)
            if iterations is None or iterations.shape != ():
                raise _Bad("optimizer/iterations.npy must be an int64 scalar")
            self.optimizer = {"iterations": iterations,
                              **dict(enumerate(_numbered(opt, "optimizer")))}

    def read_weights(self):
        return [self.archive.read_array(h) for h in self.weights]

    def read_optimizer(self):
        """``{"iterations": int64 array, "0": float32 array, ...}`` (the optimizer's store)."""
        if self.optimizer is None:
            return None
        return {str(k): self.archive.read_array(h) for k, h in self.optimizer.items()}


def _numbered(headers, folder):
    if sorted(headers, key=int) != [str(i) for i in range(len(headers))]:
        raise _Bad(f"{folder}/<k>.npy members are not numbered 0..{len(headers) - 1}")
    return [headers[str(i)] for i in range(len(headers))]


def _check_metadata(meta, infos):
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise _Bad(f"metadata.json does not name the format {MODEL_FORMAT!r}")
    version = meta.get("format_version")
    if type(version) is not int or version < 1:
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
              and _ARRAY_MEMBER.match(entry["member"])
              and isinstance(entry.get("dtype"), str) and entry["dtype"] in _ALLOWED_DTYPES
              and _check_shape_list(entry.get("shape")))
        if not ok:
            raise _Bad(f"metadata.json: bad array entry {str(entry)[:200]}")
        listed.append(entry["member"])
    present = sorted(n for n in infos if n.endswith(".npy") and not _ASSET_MEMBER.match(n))
    if sorted(listed) != present or len(set(listed)) != len(listed):
        raise _Bad(f"the array members {present[:8]} do not match those listed in metadata.json "
                   f"{sorted(listed)[:8]}")
    return arrays


def read_model_file(path) -> dict:
    """Parse and validate a model file without building anything.

    Returns ``{"config", "compile", "training_state", "weights": [arrays],
    "optimizer": {key: array} or None}``; raises ValueError naming ``path`` on any problem.
    """
    path = os.fspath(path)
    with open(path, "rb") as f, _reading(path, "corenn model file"):
        reader = _ModelReader(f)
        return {"config": reader.config, "compile": reader.compile,
                "training_state": reader.training_state, "weights": reader.read_weights(),
                "optimizer": reader.read_optimizer()}


# ---- the architecture: checked before anything is allocated ------------------------------------

_MAX_JSON_DEPTH = 32
_MAX_CONFIG_INT = 2**31 - 1     # sizes, counts, axes; seeds are exempt (any 64-bit value)
_NESTED_LAYER_KEYS = ("layer", "backward_layer")   # wrappers: TimeDistributed, Bidirectional


def _check_json_values(obj, member):
    """Every number finite, every integer (but seeds) within int32, nesting shallow."""
    stack = [(obj, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > _MAX_JSON_DEPTH:
            raise _BadConfig(f"{member}: {where} is nested more than {_MAX_JSON_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1)
                         for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise _BadConfig(f"{member}: {where} = {value} is not a finite number")
        elif isinstance(value, int) and not isinstance(value, bool):
            limit = 2**64 if where.rpartition(".")[2] == "seed" else _MAX_CONFIG_INT
            if abs(value) > limit:
                raise _BadConfig(f"{member}: {where} = {value} is out of range (integers in a config "
                           f"must lie within +-{limit})")


def _known_layer_classes():
    from . import layers
    from .layers.base import Layer
    known = {n for n in layers.__all__ if isinstance(getattr(layers, n), type)
             and issubclass(getattr(layers, n), Layer) and n != "Layer"}
    known.add("OpLayer")   # an op called on KerasTensors (layers/op_layer.py), not a Keras name
    for scope in [CUSTOM_OBJECTS] + _SCOPE:
        known |= {n for n, c in scope.items() if isinstance(c, type) and issubclass(c, Layer)}
    return known


def _valid_build_shape(shape):
    one = lambda s: (isinstance(s, list) and len(s) <= _MAX_RANK
                     and all(d is None or (type(d) is int and 0 < d < _MAX_DIM) for d in s))
    return one(shape) or (isinstance(shape, list) and 0 < len(shape) <= 64 and all(one(s) for s in shape))


def _build_subclassed(inner):
    """A registered subclassed model from its config, built (weights created) for its saved
    input shape by running its own ``call`` once on zeros."""
    cls = custom_class(inner["__subclass__"])
    cfg = {k: v for k, v in inner.items() if k not in ("__subclass__", "__build_shape__")}
    model = cls.from_config(cfg)
    shape = inner.get("__build_shape__")
    if shape is not None:
        model.build([tuple(s) for s in shape] if shape and isinstance(shape[0], list) else tuple(shape))
    return model


def _check_layer_spec(spec, where, known):
    name = spec.get("class_name") if isinstance(spec, dict) else None
    if not isinstance(name, str) or name not in known:
        cls = (custom_class(spec.get("registered_name")) or custom_class(name)) if isinstance(spec, dict) else None
        if isinstance(cls, type) and getattr(cls, "_is_corenn_model", False):
            # Keras 3 rebuilds it as cls.from_config(config) called on the saved inputs; what its
            # call needs beyond its config (adapted vocabularies, layers made in adapt()) is then
            # missing: Keras 3.15 fails there too, a lookup layer "must set the layer's vocabulary"
            raise _BadConfig(f"config.json: {where} is the subclassed model {name!r} called as a layer of a "
                             "functional model; corenn does not rebuild such a model from a file. Keras 3 "
                             f"rebuilds it as {name}.from_config(config) and calls it on the saved inputs, so "
                             "everything its call uses (adapted vocabularies and statistics, layers made "
                             "outside __init__) must come back through get_config / from_config; save the "
                             "functional parts instead (the trained model) and rebuild the rest in code, or "
                             "use save_weights / load_weights on a model built the same way")
        if isinstance(name, str) and name.isidentifier():
            # Keras 3's "Could not locate class": a subclassed layer or model of the script
            raise _BadConfig(f"config.json: {where} has unknown class {name!r}. Could not locate class {name!r}: "
                             "make sure custom classes are decorated with "
                             "`@keras.saving.register_keras_serializable()` (and imported before loading) or "
                             f"passed as custom_objects={{{name!r}: {name}}}; corenn's own layers are "
                             f"{', '.join(sorted(known)[:8])}, ... ({len(known)} classes)")
        raise _BadConfig(f"config.json: {where} has unknown class {name!r}; known layers: "
                   f"{', '.join(sorted(known))}")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise _BadConfig(f"config.json: {where} ({name}): 'config' is not a JSON object")
    build = spec.get("build_config")
    if build is not None and not (isinstance(build, dict) and (
            build.get("input_shape") is None or _valid_build_shape(build["input_shape"]))):
        raise _BadConfig(f"config.json: {where} ({name}): bad build_config {str(build)[:100]}")
    for key in _NESTED_LAYER_KEYS:
        if config.get(key) is not None:
            _check_layer_spec(config[key], f"{where} ({name}) {key!r}", known)


# Model classes a file may name, filled by corenn.models (saving imports no model class).
MODEL_CLASSES: dict = {}
# Classes the user registered (register_keras_serializable) or passes to load_model as
# custom_objects: a file may name them, never anything else; nothing from the file is executed.
CUSTOM_OBJECTS: dict = {}
_SCOPE: list = []   # custom_objects of the load_model calls in progress


def register_keras_serializable(package="Custom", name=None):
    """Decorator (Keras' ``keras.saving.register_keras_serializable``): a custom layer, subclassed
    model, loss, metric or function (an activation, a loss function) that files may name, by its
    name and by Keras' registered name ``package>name``."""
    def register(obj):
        short = name or obj.__name__
        CUSTOM_OBJECTS[short] = obj
        CUSTOM_OBJECTS[f"{package}>{short}"] = obj
        try:
            obj._registered_name = f"{package}>{short}"
        except (AttributeError, TypeError):   # a builtin: looked up by its short name only
            pass
        return obj
    return register


def get_registered_name(obj):
    """Keras' ``get_registered_name``: ``package>name`` for a registered object, else its name."""
    return obj.__dict__.get("_registered_name", obj.__name__) if hasattr(obj, "__dict__") else obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """Keras' ``get_registered_object``: what ``name`` (``package>name`` or a short name) names
    in ``custom_objects``, the active custom_object_scope / registry, or ``module_objects``;
    None when nothing does."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    found = custom_class(name)
    if found is not None:
        return found
    return (module_objects or {}).get(name)


def get_custom_objects():
    """The registry itself (Keras' ``get_custom_objects``): adding to it registers a name."""
    return CUSTOM_OBJECTS


class CustomObjectScope:
    """``with custom_object_scope({"Name": obj}):`` the names resolve while loading or
    deserializing inside the block (Keras' ``keras.saving.custom_object_scope``)."""

    def __init__(self, *scopes):
        self.objects = {}
        for scope in scopes:
            self.objects.update(scope or {})

    def __enter__(self):
        _SCOPE.append(self.objects)
        return self

    def __exit__(self, *exc):
        _SCOPE.remove(self.objects)


custom_object_scope = CustomObjectScope


def function_name(fn):
    """The name a config stores for a user function: its registered name, else ``__name__``
    (then it must be registered or passed as a custom object when the file is read)."""
    return get_registered_name(fn)


def resolve_function(name, what="function"):
    """A user function named in a config: registered, or passed as a custom object (also by the
    part after Keras' ``package>``). Never evaluated from the file: unknown names raise."""
    fn = custom_class(name)
    if fn is None and isinstance(name, str) and ">" in name:
        fn = custom_class(name.split(">", 1)[1])
    if fn is None or not callable(fn):
        raise ValueError(f"unknown {what} {name!r}: register it with corenn.saving.register_keras_serializable() "
                         "or pass it in custom_objects")
    return fn


def custom_class(name):
    """A user class registered or passed as custom_objects under ``name``, or None."""
    if not isinstance(name, str):
        return None
    for scope in reversed(_SCOPE):
        if name in scope:
            return scope[name]
    return CUSTOM_OBJECTS.get(name)


def serialize_keras_object(obj):
    """Keras 3's ``{"module", "class_name", "config", "registered_name"}`` form of a layer, loss,
    metric, optimizer, initializer, regularizer (their ``get_config``) or user function (by name)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if callable(obj) and not hasattr(obj, "get_config"):
        name = function_name(obj)
        return {"module": getattr(obj, "__module__", None), "class_name": "function", "config": name,
                "registered_name": name}
    cls = type(obj)
    return {"module": cls.__module__, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": get_registered_name(cls)}


def _builtin_class(name):
    from . import (callbacks, initializers, layers, losses, metrics, optimizers, regularizers)
    for module in (layers, losses, metrics, optimizers, initializers, regularizers, callbacks):
        cls = getattr(module, name, None)
        if isinstance(cls, type):
            return cls
    return MODEL_CLASSES.get(name)


def deserialize_keras_object(config, custom_objects=None):
    """The object ``serialize_keras_object`` described: a user class or function registered or
    in ``custom_objects``, else corenn's class of that name, made with its ``from_config``."""
    if not isinstance(config, dict):
        return config
    with CustomObjectScope(custom_objects):
        name, registered = config.get("class_name"), config.get("registered_name")
        if name == "function":
            return resolve_function(config.get("config"))
        cls = custom_class(registered) or custom_class(name) or _builtin_class(name)
        if cls is None:
            raise ValueError(f"deserialize_keras_object: unknown class {name!r}; register it with "
                             "register_keras_serializable() or pass it in custom_objects")
        return cls.from_config(config.get("config") or {})


def register_model_class(name, cls):
    MODEL_CLASSES[name] = cls


def _check_layer_classes(config):
    """The model config, if it names only corenn's concrete layer classes (wrapped ones too)."""
    user = ((custom_class(config.get("registered_name")) or custom_class(config.get("class_name")))
            if isinstance(config, dict) else None)
    if user is not None and isinstance(config.get("config"), dict):
        # a subclassed model the user registered: its own from_config, built from build_config
        shape = (config.get("build_config") or {}).get("input_shape")
        if shape is not None and not _valid_build_shape(shape):
            raise _BadConfig(f"config.json: bad build_config input_shape {str(shape)[:100]}")
        key = config["class_name"] if custom_class(config.get("registered_name")) is None else config["registered_name"]
        return dict(config["config"], __subclass__=key, __build_shape__=shape)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) \
            or config["class_name"] not in MODEL_CLASSES:
        got = config.get("class_name") if isinstance(config, dict) else config
        raise _BadConfig(f"config.json: expected a {' or '.join(map(repr, sorted(MODEL_CLASSES)))} model, "
                         f"got {str(got)[:100]!r}; a subclassed model loads when its class is passed as "
                         "load_model(..., custom_objects={'Name': Class}) or registered with "
                         "register_keras_serializable")
    inner = config.get("config")
    if config["class_name"] != "Sequential":
        if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
            raise _BadConfig("config.json: the model config has no 'layers' list")
        for key in ("input_layers", "output_layers"):
            refs = inner.get(key)
            if not isinstance(refs, list) or not refs or not all(
                    isinstance(r, list) and len(r) == 3 and isinstance(r[0], str)
                    and all(type(v) is int and 0 <= v < 1 << 20 for v in r[1:]) for r in refs):
                raise _BadConfig(f"config.json: bad {key!r} in the functional model config")
        known = _known_layer_classes() | {"InputLayer"} | set(MODEL_CLASSES)
        for i, spec in enumerate(inner["layers"]):
            _check_layer_spec(spec, f"layer {i}", known)
            if spec.get("class_name") in MODEL_CLASSES:   # an inner model: its own layers too
                _check_layer_classes({"class_name": spec["class_name"], "config": spec.get("config")})
            if not isinstance(spec.get("inbound_nodes", []), list):
                raise _BadConfig(f"config.json: layer {i}: 'inbound_nodes' is not a list")
        inner = dict(inner, __class_name__=config["class_name"])
        return inner
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise _BadConfig("config.json: the model config has no 'layers' list")
    if not isinstance(inner.get("name"), (str, type(None))):
        raise _BadConfig("config.json: the model's 'name' is not a string")
    if inner.get("input_shape") is not None and not (
            isinstance(inner["input_shape"], list) and len(inner["input_shape"]) <= _MAX_RANK
            and all(d is None or (type(d) is int and d > 0) for d in inner["input_shape"])):
        raise _BadConfig(f"config.json: bad input_shape {str(inner['input_shape'])[:100]}")
    known = _known_layer_classes() | set(MODEL_CLASSES)
    for i, spec in enumerate(inner["layers"]):
        _check_layer_spec(spec, f"layer {i}", known)
        if spec.get("class_name") in MODEL_CLASSES:   # a nested model (Keras 3's nesting): its layers too
            _check_layer_classes({"class_name": spec["class_name"], "config": spec.get("config")})
    return inner


# elements the stand-in model may still allocate for real (see _without_storage): the file's own
# weights, so what the check allocates stays bounded by what the file declares and holds
_STAND_IN_BUDGET = [0]


def _without_storage(layer, real=False):
    """Make ``layer`` (and the layers it wraps) create weights that own no memory: zero-stride
    views of one float, so a build computes every weight's shape and allocates nothing. A Keras
    layer written with ``call`` (and the layers it holds) runs its own code on its weights while
    it is built (a probe call), so a user's such class (and what it holds) gets real zero Tensors,
    drawn from _STAND_IN_BUDGET."""
    from . import kernels
    from .layers.base import Layer, Param
    # corenn's own layers are built storage-less whatever they hold; a user's class runs its code
    # (or says it must run its call to be built: SpectralNormalization reads its wrapped kernel)
    real = real or (type(layer).call is not Layer.call and (
        not type(layer).__module__.startswith("corenn.") or getattr(type(layer), "_stand_in_runs_call", False)))

    def add_weight(name=None, shape=None, initializer=None, regularizer=None, trainable=True, dtype=None,
                   constraint=None):
        if name is not None and not isinstance(name, str):  # Keras 3 order: add_weight(shape, ...)
            name, shape = None, name
        if shape is None:
            shape = ()   # Keras 3: a scalar (Layer.add_weight's default too)
        name = name or f"variable_{len(layer._params)}"
        shape = tuple(shape)
        if len(shape) > _MAX_RANK or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and 0 <= d < _MAX_DIM
                for d in shape):
            raise ValueError(f"layer '{layer.name}': weight {name!r} would have shape {shape}")
        if real:
            size = math.prod(shape)
            if size > _STAND_IN_BUDGET[0]:
                raise ValueError(f"layer '{layer.name}': weight {name!r} of shape {shape} is larger than "
                                 "the weights the file holds")
            _STAND_IN_BUDGET[0] -= size
            value = kernels.zeros(shape)
        else:
            value = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, (0,) * len(shape))
        layer._params.append(Param(name, value, None, None, trainable))
        return value

    layer.add_weight = add_weight
    for value in list(vars(layer).values()):
        if isinstance(value, Layer) and value is not layer:
            _without_storage(value, real)


_BUILD_ERRORS = (TypeError, ValueError, KeyError, AttributeError, NotImplementedError,
                 IndexError, OverflowError, ZeroDivisionError, RecursionError)


def _check_architecture(inner, weights):
    """Build the model of ``inner`` without storage (see _without_storage) and compare every
    layer's weight shapes with the arrays the file declares, before anything real is built."""
    # a dataset the file holds under several paths (a Keras SpectralNormalization's kernel) counts
    # once per path: the budget is what the file really stores
    _STAND_IN_BUDGET[0] = sum(math.prod(h.shape) * (1 + len(getattr(h, "aliases", ()))) for h in weights)
    try:
        _compare_weight_shapes(_stand_in_model(inner), weights)
    finally:
        _STAND_IN_BUDGET[0] = 0


def _stand_in_model(inner):
    """The model of a checked config (``_check_layer_classes``), its weights without storage."""
    try:
        if "__subclass__" in inner:  # the user's own class: built for real (its code, not the file's)
            model = _build_subclassed(inner)
            inner["__built__"] = model
        elif "__class_name__" in inner:  # a graph model: built by its own from_config, layers storage-less
            cls = MODEL_CLASSES[inner["__class_name__"]]
            cfg = {k: v for k, v in inner.items() if k != "__class_name__"}
            model = cls.from_config(dict(cfg, name=cfg.get("name") or "stand_in"), prepare_layer=_without_storage)
        else:
            # (a nested model entry too, by its own from_config)
            model = MODEL_CLASSES["Sequential"].from_config(dict(inner, name=inner.get("name") or "stand_in"),
                                                            prepare_layer=_without_storage)
    except _BUILD_ERRORS as exc:
        raise _BadConfig(f"config.json does not describe a valid corenn model: "
                   f"{type(exc).__name__}: {exc}") from None
    return model


def _compare_weight_shapes(model, weights, layers=None, shapes_of=None):
    """Every layer's weight shapes (in ``model._layers_by_first_call()`` order, or ``layers``'
    order; ``shapes_of(layer)`` for the shapes a file lists) against the file's arrays (objects
    with ``shape`` and ``member``, in the same order)."""
    layers = model._layers_by_first_call() if layers is None else layers
    shapes_of = shapes_of or (lambda layer: [w.shape for w in layer.weights])
    expected = [(layer, [tuple(s) for s in shapes_of(layer)]) for layer in layers]
    pos = 0
    for i, (layer, shapes) in enumerate(expected):
        got = [h.shape for h in weights[pos:pos + len(shapes)]]
        if got != shapes:
            members = ", ".join(h.member for h in weights[pos:pos + len(shapes)]) or "none"
            raise _BadConfig(f"config.json: layer {i} '{layer.name}' ({type(layer).__name__}) builds "
                       f"weights of shapes {shapes}, but the file holds {got} ({members}); the "
                       f"config does not match the weights")
        pos += len(shapes)
    if pos != len(weights):
        raise _BadConfig(f"config.json builds {pos} weight arrays, but the file holds {len(weights)}")


# ---- the compile config: every hyper-parameter checked before anything is built ----------------

_OPTIONAL = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "warmup_target", "loss_scale_factor")
_SCHEDULE_RANGES = {"initial_learning_rate": _NONNEG, "end_learning_rate": _NONNEG,
                    "warmup_target": _NONNEG, "decay_rate": _NONNEG, "alpha": _UNIT,
                    "decay_steps": _POSITIVE, "warmup_steps": _NONNEG}
_FLAGS = ("amsgrad", "nesterov", "centered", "staircase", "cycle", "use_ema",
          "relative_step")


def _check_hyperparameters(config, ranges, owner):
    for key, value in config.items():
        if key in _FLAGS and not isinstance(value, bool):
            raise _BadConfig(f"{owner}: {key} = {value!r} is not true/false")
        if key not in ranges or (value is None and key in _OPTIONAL):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _BadConfig(f"{owner}: {key} = {str(value)[:80]} is not a number")
        if not math.isfinite(value) or not _IN_RANGE[ranges[key]](value):
            raise _BadConfig(f"{owner}: {key} = {value} is out of range (must be in {ranges[key]})")


def _check_optimizer_config(spec):
    """compile.json's optimizer: a known class and every hyper-parameter finite and in range
    (learning_rate >= 0, 0 <= beta < 1, epsilon > 0, momentum in [0, 1], rho in [0, 1), ...)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise _BadConfig("compile.json: 'optimizer' is not a {\"class_name\", \"config\"} object")
    owner = f"compile.json: optimizer {spec['class_name'][:40]}"
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        raise _BadConfig(f"{owner}: 'config' is not a JSON object")
    lr = config.get("learning_rate")
    ranges = dict(_OPTIMIZER_RANGES)
    if isinstance(lr, dict):  # a schedule
        ranges.pop("learning_rate")
        sched = lr.get("config") or {}
        if not isinstance(sched, dict):
            raise _BadConfig(f"{owner}: learning_rate schedule 'config' is not a JSON object")
        sched_owner = f"{owner}: learning_rate schedule {str(lr.get('class_name'))[:40]}"
        _check_hyperparameters(sched, _SCHEDULE_RANGES, sched_owner)
        values = sched.get("values", [])
        if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values):
            raise _BadConfig(f"{sched_owner}: values must be learning rates >= 0")
    _check_hyperparameters(config, ranges, owner)


def _compile_args(compile_cfg):
    """compile.json as compile() arguments: objects built (they allocate nothing), not applied."""
    from . import losses, metrics, optimizers
    if not isinstance(compile_cfg, dict):
        raise _BadConfig("compile.json is not a valid compile config: expected a JSON object")
    _check_optimizer_config(compile_cfg.get("optimizer"))  # first: its errors name the optimizer
    _check_json_values(compile_cfg, "compile.json")
    try:
        optimizer = optimizers.deserialize(compile_cfg["optimizer"])
        loss = _nested_specs(compile_cfg["loss"], losses.deserialize)
        specs = compile_cfg.get("metrics") or []
        if not isinstance(specs, (list, dict)):
            raise TypeError("'metrics' must be a list or a dict")
        specs = _nested_specs(specs, metrics._to_metric)
        weighted = compile_cfg.get("weighted_metrics")
        if weighted is not None and not isinstance(weighted, (list, dict)):
            raise TypeError("'weighted_metrics' must be a list or a dict")
        weighted = _nested_specs(weighted, metrics._to_metric)
        loss_weights = compile_cfg.get("loss_weights")
    except _BUILD_ERRORS as exc:
        raise _BadConfig(f"compile.json is not a valid compile config: "
                   f"{type(exc).__name__}: {exc}") from None
    args = {"optimizer": optimizer, "loss": loss, "metrics": specs, "loss_weights": loss_weights}
    if weighted:
        args["weighted_metrics"] = weighted
    return args


def _nested_specs(obj, build):
    """compile.json's loss / metrics: strings stay names, {class_name, config} objects are built,
    lists and dicts (per output) are walked."""
    if isinstance(obj, str) or obj is None:
        return obj
    if isinstance(obj, list):
        return [_nested_specs(v, build) for v in obj]
    if isinstance(obj, dict) and "class_name" not in obj:
        return {k: _nested_specs(v, build) for k, v in obj.items()}
    return build(obj)


# ---- building -----------------------------------------------------------------------------------

def _old_int8_order(headers, names):
    """Files written before int8 Dense / EinsumDense layers took Keras 3's weight order list
    one layer's [kernel, bias, kernel_scale]; now [bias, kernel, kernel_scale] (metadata.json
    names each array's layer and weight, so such a run is recognized and reordered)."""
    headers = list(headers)
    for i in range(len(headers) - 2):
        run = names[i:i + 3]
        if all(n is not None for n in run) and run[0][0] == run[1][0] == run[2][0] \
                and [n[1] for n in run] == ["kernel", "bias", "kernel_scale"]:
            headers[i], headers[i + 1] = headers[i + 1], headers[i]
    return headers


def _set_weights_by_layer(model, reader):
    """Read each layer's arrays and hand them over, one layer at a time (peak memory: the
    model plus its largest layer)."""
    pos = 0
    for layer in model._layers_by_first_call():
        n = len(layer.weights)
        layer.set_weights([reader.archive.read_array(h) for h in reader.weights[pos:pos + n]])
        pos += n


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
    except _BUILD_ERRORS as exc:
        raise ValueError(f"{path}: the optimizer state does not fit the model: {exc}") from None


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True, options=None):
    """See _load_model; ``custom_objects`` {name: class} names the custom layers and subclassed
    models the file may use (or register them with register_keras_serializable). Keras' (and
    TF-Keras 2's) parameter order: ``load_model(path, {"Custom": Custom})`` passes custom
    objects. A directory is a model written with ``zipped=False`` or to a name without an
    extension. ``options``: TF-Keras 2's tf.saved_model.LoadOptions (which device reads; corenn
    reads on the host, so it changes nothing)."""
    from .saved_model import LoadOptions, check_options
    check_options(options, LoadOptions, "load_model")
    path = filepath
    _SCOPE.append(dict(custom_objects or {}))
    try:
        if os.path.isdir(os.fspath(path)):   # written with save(path, zipped=False)
            import shutil
            import tempfile
            staging = tempfile.mkdtemp(prefix="corenn-model-dir-")
            try:
                return _load_model(_zip_model_dir(os.fspath(path), staging), compile)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return _load_model(path, compile)
    finally:
        _SCOPE.pop()


def _load_model(path, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights and (``compile=True``)
    the compiled optimizer with its state, loss and metrics. Never unpickles or executes code
    from the file. Everything is checked before anything is allocated: the archive and every
    header, then the architecture (built without storage, its weight shapes compared with the
    file's) and the compile config (hyper-parameters finite and in range); the model is built
    only then. A bad file raises ValueError naming the file and the problem."""
    path = os.fspath(path)
    if path.lower().endswith(_HDF5) or _is_keras_archive(path):   # files that Keras wrote
        from . import saving_keras
        if path.lower().endswith(_HDF5):
            return saving_keras.load_legacy_h5(path, compile)
        return saving_keras.load_keras_archive(path, compile)
    with open(path, "rb") as f:
        with _reading(path, "corenn model file"):
            reader = _ModelReader(f)
            _check_json_values(reader.config, "config.json")
            inner = _check_layer_classes(reader.config)
            _check_architecture(inner, reader.weights)
            args = None
            if compile and reader.compile is not None:
                args = _compile_args(reader.compile)
        model = _build_model(inner, path)
        with _reading(path, "corenn model file"):
            _set_weights_by_layer(model, reader)
            _check_layer_indices(model, reader)
        _load_layer_stores(model, reader, path)
        if args is not None:
            try:
                model.compile(**args)
            except _BUILD_ERRORS as exc:
                raise ValueError(f"{path}: compile.json is not a valid compile config: "
                                 f"{type(exc).__name__}: {exc}") from None
            with _reading(path, "corenn model file"):
                _load_optimizer_state(model, reader)
    if type(model).__name__ == "SavedFeatureSpace":   # FeatureSpace.save's file: the FeatureSpace
        from .utils.feature_space import FeatureSpace, SavedFeatureSpace
        if isinstance(model, SavedFeatureSpace):
            return FeatureSpace._from_saved(model)
    return model


def _build_model(inner, path):
    try:
        if "__built__" in inner:
            return inner["__built__"]
        if "__class_name__" in inner:
            cls = MODEL_CLASSES[inner["__class_name__"]]
            return cls.from_config({k: v for k, v in inner.items() if k != "__class_name__"})
        return MODEL_CLASSES["Sequential"].from_config(inner)
    except _BUILD_ERRORS as exc:
        raise ValueError(f"{path}: config.json does not describe a valid corenn model: "
                         f"{type(exc).__name__}: {exc}") from None


def _check_layer_indices(model, reader):
    for index in list(reader.stores) + list(reader.assets):
        if index >= len(model._layers_by_first_call()):
            raise _Bad(f"store/assets of layer {index}, but the model has {len(model._layers_by_first_call())} layers")


def _load_layer_stores(model, reader, path):
    """Hand each layer its store (load_own_variables) and its asset files (load_assets), as
    Keras 3 does after the weights: a layer's own code, on what the file holds for it."""
    import tempfile
    for index, headers in sorted(reader.stores.items()):
        layer = model._layers_by_first_call()[index]
        with _reading(path, "corenn model file"):
            store = {key: reader.archive.read_array(h) for key, h in headers.items()}
        layer.load_own_variables(store)
    for index, names in sorted(reader.assets.items()):
        layer = model._layers_by_first_call()[index]
        with tempfile.TemporaryDirectory(prefix="corenn-assets-") as d:
            for name in names:
                rel = name.split("/", 2)[2]
                target = os.path.join(d, *rel.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with _reading(path, "corenn model file"):
                    data = reader.archive.read_bytes(name, _MAX_JSON_BYTES)
                with open(target, "wb") as f:
                    f.write(data)
            layer.load_assets(d)


def _load_optimizer_state(model, reader):
    """Read the file's optimizer state straight into the freshly built optimizer's tensors."""
    if reader.optimizer is None:
        return
    opt = model.optimizer
    state = [reader.optimizer[k] for k in range(len(reader.optimizer) - 1)]
    if state:
        opt.build(model.trainable_weights)
        variables = opt._state_variables
        expected = [tuple(t.shape) for t in variables]
        if expected != [h.shape for h in state]:
            raise _Bad(f"the optimizer state does not fit the model: {type(opt).__name__} has "
                       f"variables of shapes {expected[:6]}, the file holds "
                       f"{[h.shape for h in state][:6]}")
        for header, tensor in zip(state, variables):
            reader.archive.read_array(header, out=np.asarray(tensor))
    iterations = int(reader.archive.read_array(reader.optimizer["iterations"]))
    if iterations < 0:
        raise _Bad(f"optimizer/iterations.npy: negative step count {iterations}")
    opt.iterations = iterations


def restore_training_state(model, path) -> dict | None:
    """Load a model file's weights and optimizer state into an existing, compiled ``model`` of
    the same architecture (BackupAndRestore); returns the file's training state. The model is
    left untouched when the file is bad."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        with _reading(path, "corenn model file"):
            reader = _ModelReader(f)
        _check_weight_shapes(model, [h.shape for h in reader.weights], path, "restore")
        with _reading(path, "corenn model file"):
            weights = reader.read_weights()
            store = reader.read_optimizer() if model.compiled else None
    model.set_weights(weights)
    _restore_optimizer(model, store, path)
    return reader.training_state
