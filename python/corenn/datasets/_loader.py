"""Finding, downloading and checking dataset files.

A dataset is a fixed set of files (MNIST's four IDX files, CIFAR's one archive, IMDB's .npz).
Where a loader looks, in order (the first directory holding all of them wins):
    1. the `path=` argument (a directory, or one holding a `<name>/` subdirectory)
    2. $CORENN_DATA, and $CORENN_DATA/<name>/
    3. the cache, ~/.cache/corenn/datasets/<name>/ ($XDG_CACHE_HOME is honoured)
    4. system packages, e.g. Debian's dataset-fashion-mnist in /usr/share/datasets/<name>/
    5. a download from the dataset's mirrors into the cache, checksum verified
A `*.gz` file may also be found raw (same name without `.gz`).
"""
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request

import numpy as np

from ..saving import atomic_write
from ._idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

_CHUNK = 1 << 20
_TIMEOUT_S = 60


class DatasetSpec:
    """What a loader needs to know about one dataset.

    Args:
        name: directory name ('fashion-mnist').
        mirrors: base URLs, tried in order; each serves all the files.
        checksums: file name -> tuple of accepted digests, each 'md5:<hex>' or
            'sha256:<hex>' over the downloaded bytes, or 'content-sha256:<hex>' over the
            decompressed bytes (independent of how the file was gzip-compressed).
        system_dirs: directories where OS packages install the files.
        install_hint: how to get the files without a network.
        num_classes: labels must be below this.
        files: the file names that make up the dataset (default: the four MNIST IDX files).
        remote_names: local file name -> its name on the mirrors, where they differ.
    """

    def __init__(self, name, mirrors, checksums, system_dirs, install_hint, num_classes=10,
                 files=FILES, remote_names=None):
        self.name = name
        self.files = tuple(files)
        self.remote_names = dict(remote_names or {})
        self.mirrors = list(mirrors)
        self.checksums = dict(checksums)
        self.system_dirs = list(system_dirs)
        self.install_hint = install_hint
        self.num_classes = num_classes


def cache_dir(name):
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "corenn", "datasets", name)


def _find_file(directory, name):
    candidates = (name, name[:-3]) if name.endswith(".gz") else (name,)
    for candidate in candidates:
        full = os.path.join(directory, candidate)
        if os.path.isfile(full):
            return full
    return None


def _complete_dir(directory, files):
    """The paths of all `files` if `directory` holds all of them, else None."""
    if not directory or not os.path.isdir(directory):
        return None
    found = [_find_file(directory, f) for f in files]
    return found if all(found) else None


def _with_subdir(directory, name):
    return [os.path.join(directory, name), directory]


def _candidates(spec):
    dirs = []
    env = os.environ.get("CORENN_DATA")
    if env:
        dirs += [("$CORENN_DATA", d) for d in _with_subdir(os.path.expanduser(env), spec.name)]
    dirs.append(("cache", cache_dir(spec.name)))
    dirs += [("system", d) for d in spec.system_dirs]
    return dirs


def locate(spec, path=None, download=True):
    """Paths of the dataset's files, downloading them into the cache if nowhere else."""
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        for d in _with_subdir(path, spec.name):
            found = _complete_dir(d, spec.files)
            if found:
                return found
        missing = [f for f in spec.files if not _find_file(path, f)]
        gz_note = " (each may be .gz or uncompressed)" if any(
            f.endswith(".gz") for f in missing) else ""
        raise FileNotFoundError(
            f"{spec.name}: path={path!r} does not hold the dataset files; missing "
            f"{missing}{gz_note}, also looked in {os.path.join(path, spec.name)!r}")
    searched = []
    for _, d in _candidates(spec):
        found = _complete_dir(d, spec.files)
        if found:
            return found
        searched.append(d)
    errors = []
    if download:
        for base in spec.mirrors:
            try:
                return download_all(spec, base, cache_dir(spec.name))
            except (OSError, urllib.error.URLError, ValueError) as exc:
                errors.append(f"{base}: {exc}")
    # A checksum failure is a data problem, not a missing file: report it as such.
    error_type = ValueError if any("checksum" in e for e in errors) else FileNotFoundError
    raise error_type(
        f"{spec.name} not found. Looked in: {', '.join(searched)}.\n"
        + (f"Download failed: {'; '.join(errors)}\n" if errors else "")
        + f"Fix: {spec.install_hint}, or put {', '.join(spec.files)} in "
        f"{cache_dir(spec.name)} or in a directory named by $CORENN_DATA or path=.")


def locate_file(spec, path=None, download=True):
    """The path of a one-file dataset (CIFAR's archive, IMDB's .npz) as Keras' `path=` means it.

    `path` may be None (the dataset's own file name), an existing file (used as it is), a
    directory (searched like locate's path=), or a bare file name, which is looked up in the
    data directories and the cache, as Keras looks it up in ~/.keras/datasets (write
    './name' for a file in the current directory).
    """
    (own_name,) = spec.files
    if path is None:
        return locate(spec, None, download)[0]
    path = os.path.expanduser(os.fspath(path))
    if os.path.isdir(path):
        return locate(spec, path, download)[0]
    if os.path.basename(path) != path or path == "":
        if os.path.isfile(path):
            return path
        raise FileNotFoundError(f"{spec.name}: path={path!r} is neither a file nor a directory")
    renamed = DatasetSpec(spec.name, spec.mirrors, spec.checksums, spec.system_dirs,
                          spec.install_hint, spec.num_classes, files=(path,),
                          remote_names={path: spec.remote_names.get(own_name, own_name)})
    return locate(renamed, None, download)[0]


def _digests(path):
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            md5.update(chunk)
            sha.update(chunk)
    out = {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}
    try:
        content = hashlib.sha256()
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                content.update(chunk)
        out["content-sha256"] = content.hexdigest()
    except (OSError, EOFError):
        out["content-sha256"] = out["sha256"]  # not gzip: the content is the file
    return out


def verify_checksum(path, accepted, label):
    """Raise ValueError unless the file at `path` matches one of the `accepted` digests."""
    if not accepted:
        raise ValueError(f"{label}: no checksum known; refusing to trust a download")
    digests = _digests(path)
    for entry in accepted:
        algo, _, hexdigest = entry.partition(":")
        if digests.get(algo) == hexdigest.lower():
            return
    raise ValueError(f"{label}: checksum mismatch (got md5 {digests['md5']}, "
                     f"expected one of {list(accepted)})")


def _download_one(url, target, accepted):
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as r:
            shutil.copyfileobj(r, out, _CHUNK)
        verify_checksum(tmp, accepted, url)
        # Only a verified file reaches the real name, written atomically (a crash never leaves
        # a half file there) with the umask's mode (mkstemp's private 0600 would not).
        with open(tmp, "rb") as verified:
            atomic_write(target, lambda out: shutil.copyfileobj(verified, out, _CHUNK))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download_all(spec, base_url, directory):
    """Download the dataset's files from `base_url` into `directory`; return their paths."""
    os.makedirs(directory, exist_ok=True)
    print(f"corenn: downloading {spec.name} from {base_url} into {directory}", file=sys.stderr)
    paths = []
    for name in spec.files:
        target = os.path.join(directory, name)
        remote = spec.remote_names.get(name, name)
        if not os.path.isfile(target):
            _download_one(base_url.rstrip("/") + "/" + remote, target,
                          spec.checksums.get(remote))
        paths.append(target)
    return paths


def load(spec, path=None, download=True):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays, checked for consistency."""
    train_x, train_y, test_x, test_y = locate(spec, path, download)
    out = []
    for images_path, labels_path in ((train_x, train_y), (test_x, test_y)):
        x = read_idx(images_path, IMAGES_MAGIC)
        y = read_idx(labels_path, LABELS_MAGIC)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{spec.name}: {images_path} holds {x.shape[0]} images but "
                             f"{labels_path} holds {y.shape[0]} labels")
        if y.size and int(y.max()) >= spec.num_classes:
            raise ValueError(f"{labels_path}: label {int(y.max())} out of range for "
                             f"{spec.num_classes} classes")
        out.append((x.astype(np.uint8, copy=False), y.astype(np.uint8, copy=False)))
    return tuple(out)
