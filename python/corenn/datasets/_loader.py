"""Finding, downloading and checking the MNIST-format datasets.

Where a loader looks, in order (the first directory holding all four files wins):
    1. the `path=` argument (a directory, or one holding a `<name>/` subdirectory)
    2. $CORENN_DATA, and $CORENN_DATA/<name>/
    3. the cache, ~/.cache/corenn/datasets/<name>/ ($XDG_CACHE_HOME is honoured)
    4. system packages, e.g. Debian's dataset-fashion-mnist in /usr/share/datasets/<name>/
    5. a download from the dataset's mirrors into the cache, checksum verified
Each file may be gzip-compressed (`*.gz`) or raw (same name without `.gz`).
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

from ._idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

_CHUNK = 1 << 20
_TIMEOUT_S = 60


class DatasetSpec:
    """What a loader needs to know about one dataset.

    Args:
        name: directory name ('fashion-mnist').
        mirrors: base URLs, tried in order; each serves the four FILES.
        checksums: file name -> tuple of accepted digests, each 'md5:<hex>' or
            'sha256:<hex>' over the downloaded bytes, or 'content-sha256:<hex>' over the
            decompressed bytes (independent of how the file was gzip-compressed).
        system_dirs: directories where OS packages install the files.
        install_hint: how to get the files without a network.
        num_classes: labels must be below this.
    """

    def __init__(self, name, mirrors, checksums, system_dirs, install_hint, num_classes=10):
        self.name = name
        self.mirrors = list(mirrors)
        self.checksums = dict(checksums)
        self.system_dirs = list(system_dirs)
        self.install_hint = install_hint
        self.num_classes = num_classes


def cache_dir(name):
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "corenn", "datasets", name)


def _find_file(directory, gz_name):
    for candidate in (gz_name, gz_name[:-3]):
        full = os.path.join(directory, candidate)
        if os.path.isfile(full):
            return full
    return None


def _complete_dir(directory):
    """The four file paths if `directory` holds all of them, else None."""
    if not directory or not os.path.isdir(directory):
        return None
    found = [_find_file(directory, f) for f in FILES]
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
    """Paths of the four files, downloading them into the cache if nowhere else."""
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        for d in _with_subdir(path, spec.name):
            found = _complete_dir(d)
            if found:
                return found
        missing = [f for f in FILES if not _find_file(path, f)]
        raise FileNotFoundError(
            f"{spec.name}: path={path!r} does not hold the dataset files; missing "
            f"{missing} (each may be .gz or uncompressed), also looked in "
            f"{os.path.join(path, spec.name)!r}")
    searched = []
    for _, d in _candidates(spec):
        found = _complete_dir(d)
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
        + f"Fix: {spec.install_hint}, or put {', '.join(FILES)} (gzipped or not) in "
        f"{cache_dir(spec.name)} or in a directory named by $CORENN_DATA or path=.")


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
        # Rename only once verified: a crash never leaves a half file under the real name.
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download_all(spec, base_url, directory):
    """Download the four files from `base_url` into `directory`; return their paths."""
    os.makedirs(directory, exist_ok=True)
    print(f"corenn: downloading {spec.name} from {base_url} into {directory}", file=sys.stderr)
    paths = []
    for name in FILES:
        target = os.path.join(directory, name)
        if not os.path.isfile(target):
            _download_one(base_url.rstrip("/") + "/" + name, target, spec.checksums.get(name))
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
