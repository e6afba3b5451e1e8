"""``keras.utils.get_file``: a file from a URL, kept in Keras' cache (``~/.keras/<cache_subdir>``).

The applications' weight files and ImageNet class index come through here with the URLs and
hashes Keras uses, so a file Keras already downloaded (or one placed there by hand) is found and
checked, and a machine without network access gets an error that says where the file goes.
"""
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request

from ..saving import atomic_write

_CHUNK = 1 << 20
_TIMEOUT_S = 60


def keras_home():
    """Keras' cache root: ``$KERAS_HOME``, else ``~/.keras`` (as Keras resolves it)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _hash_algorithm(file_hash, hash_algorithm):
    if hash_algorithm not in ("auto", "md5", "sha256"):
        raise ValueError(f"get_file: hash_algorithm must be 'auto', 'md5' or 'sha256', got {hash_algorithm!r}")
    if hash_algorithm != "auto":
        return hash_algorithm
    # Keras' rule: a 64-hex-digit hash is SHA-256, anything else MD5
    return "sha256" if len(file_hash) == 64 else "md5"


def hash_file(path, algorithm="sha256", chunk_size=65535):
    """The hex digest of a file (``keras.utils`` name)."""
    h = hashlib.sha256() if algorithm in ("sha256", "auto") else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    """Whether the file's digest equals ``file_hash`` (``keras.utils`` name)."""
    algorithm = _hash_algorithm(file_hash, algorithm)
    return hash_file(fpath, algorithm, chunk_size) == str(file_hash).lower()


def _place_by_hand(origin, fpath, file_hash, algorithm):
    check = f" ({algorithm} {file_hash})" if file_hash else ""
    return (f"Without network access, download {origin} on another machine and copy it to "
            f"{fpath}{check}; set $KERAS_HOME to use another cache directory than "
            f"{keras_home()}.")


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """The local path of ``fname``, downloaded from ``origin`` when it is not in the cache.

    Looks in ``cache_dir/cache_subdir`` (``cache_dir`` defaults to ``$KERAS_HOME`` or
    ``~/.keras``; an absolute ``cache_subdir`` is used as it is). A cached file whose hash does not
    match ``file_hash`` is downloaded again. A download is verified against ``file_hash`` and then
    renamed into place, so the cache never holds a partial or unverified file. Archives are not
    unpacked (``extract`` / ``untar`` raise).
    """
    if origin is None:
        raise ValueError('get_file: please specify the "origin" argument (the URL to download from)')
    if extract or untar:
        raise NotImplementedError("get_file: extract/untar (unpacking archives) is not supported; "
                                  "unpack the downloaded file yourself")
    if fname is None:
        fname = os.path.basename(urllib.request.urlparse(origin).path)
        if not fname:
            raise ValueError(f"get_file: cannot take a file name from origin {origin!r}; pass fname")
    if os.path.basename(fname) != fname or fname in ("", ".", ".."):
        raise ValueError(f"get_file: fname must be a plain file name, got {fname!r}")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _hash_algorithm(file_hash, hash_algorithm) if file_hash else None

    root = os.path.expanduser(cache_dir) if cache_dir is not None else keras_home()
    datadir = cache_subdir if os.path.isabs(cache_subdir) else os.path.join(root, cache_subdir)
    fpath = os.path.join(datadir, fname)

    if os.path.exists(fpath) and not force_download:
        if file_hash is None or validate_file(fpath, file_hash, algorithm):
            return fpath
        print(f"corenn: {fpath} does not match the {algorithm} hash {file_hash}; downloading it "
              "again", file=sys.stderr)
    try:
        os.makedirs(datadir, exist_ok=True)
    except OSError as exc:
        raise OSError(f"get_file: cannot create the cache directory {datadir}: {exc}") from None

    print(f"corenn: downloading {origin} to {fpath}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=datadir)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(origin, timeout=_TIMEOUT_S) as r:
                shutil.copyfileobj(r, out, _CHUNK)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ConnectionError(f"get_file: could not download {origin}: {reason}. "
                                  + _place_by_hand(origin, fpath, file_hash, algorithm)) from None
        if file_hash is not None and not validate_file(tmp, file_hash, algorithm):
            raise ValueError(f"get_file: the file downloaded from {origin} does not match the "
                             f"expected {algorithm} hash {file_hash} (corrupt or changed download); "
                             "nothing was written to the cache")
        # the verified file reaches its name in one rename, with the umask's mode
        with open(tmp, "rb") as verified:
            atomic_write(fpath, lambda out: shutil.copyfileobj(verified, out, _CHUNK))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return fpath
