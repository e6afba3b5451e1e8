"""``tf.io.gfile``: TensorFlow's file API over the local file system (Python's os / shutil).

A missing file is ``tf.errors.NotFoundError`` (a FileNotFoundError), an existing target that
must not be overwritten ``tf.errors.AlreadyExistsError`` (a FileExistsError). ``GFile`` is
Python's file object with TensorFlow's method names (``size``, ``read(n=-1)``); text modes read
and write ``str``, binary modes bytes.
"""
from __future__ import annotations

import glob as _glob
import os
import shutil

from ..debugging import AlreadyExistsError, NotFoundError
from ._bytes import as_path

__all__ = ["exists", "glob", "listdir", "isdir", "makedirs", "mkdir", "remove", "rmtree", "rename", "copy",
           "stat", "walk", "GFile", "Open", "join", "get_matching_files"]


def _path(p, op):
    return as_path(p, f"gfile.{op}")


def _missing(path, op):
    return NotFoundError(f"tf.io.gfile.{op}: {path}: no such file or directory")


def exists(path):
    return os.path.exists(_path(path, "exists"))


def isdir(path):
    return os.path.isdir(_path(path, "isdir"))


def join(path, *paths):
    return os.path.join(_path(path, "join"), *(_path(p, "join") for p in paths))


def glob(pattern):
    """The paths matching ``pattern`` (a glob, or a list of them), sorted."""
    patterns = [pattern] if isinstance(pattern, (str, bytes, os.PathLike)) else list(pattern)
    return sorted({m for p in patterns for m in _glob.glob(_path(p, "glob"))})


get_matching_files = glob


def listdir(path):
    """The entries of the directory ``path`` (sub-directory names without a trailing slash)."""
    path = _path(path, "listdir")
    if not os.path.isdir(path):
        raise _missing(path, "listdir")
    return sorted(os.listdir(path))


def makedirs(path):
    os.makedirs(_path(path, "makedirs"), exist_ok=True)


def mkdir(path):
    path = _path(path, "mkdir")
    try:
        os.mkdir(path)
    except FileExistsError:
        raise AlreadyExistsError(f"tf.io.gfile.mkdir: {path} already exists") from None
    except FileNotFoundError:
        raise _missing(os.path.dirname(path), "mkdir") from None


def remove(path):
    path = _path(path, "remove")
    try:
        os.remove(path)
    except FileNotFoundError:
        raise _missing(path, "remove") from None


def rmtree(path):
    path = _path(path, "rmtree")
    if not os.path.exists(path):
        raise _missing(path, "rmtree")
    shutil.rmtree(path)


def _target(dst, overwrite, op):
    if os.path.exists(dst) and not overwrite:
        raise AlreadyExistsError(f"tf.io.gfile.{op}: {dst} exists (pass overwrite=True to replace it)")


def rename(src, dst, overwrite=False):
    src, dst = _path(src, "rename"), _path(dst, "rename")
    if not os.path.exists(src):
        raise _missing(src, "rename")
    _target(dst, overwrite, "rename")
    os.replace(src, dst)


def copy(src, dst, overwrite=False):
    src, dst = _path(src, "copy"), _path(dst, "copy")
    if not os.path.isfile(src):
        raise _missing(src, "copy")
    _target(dst, overwrite, "copy")
    shutil.copyfile(src, dst)


class FileStatistics:
    """``stat``'s answer: ``length`` (bytes), ``mtime_nsecs``, ``is_directory``."""

    def __init__(self, length, mtime_nsecs, is_directory):
        self.length, self.mtime_nsecs, self.is_directory = length, mtime_nsecs, is_directory

    def __repr__(self):
        return f"FileStatistics(length={self.length}, mtime_nsecs={self.mtime_nsecs}, is_directory={self.is_directory})"


def stat(path):
    path = _path(path, "stat")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _missing(path, "stat") from None
    return FileStatistics(st.st_size, st.st_mtime_ns, os.path.isdir(path))


def walk(top, topdown=True, onerror=None):
    """(directory, sub-directory names, file names) for each directory under ``top``."""
    yield from os.walk(_path(top, "walk"), topdown=topdown, onerror=onerror)


class GFile:
    """``tf.io.gfile.GFile(name, mode='r')``: a file object; use it as a context manager."""

    def __init__(self, name, mode="r"):
        self.name, self.mode = _path(name, "GFile"), mode
        if mode.replace("b", "").replace("+", "") not in ("r", "w", "a", "x"):
            raise ValueError(f"tf.io.gfile.GFile: mode must be 'r', 'w', 'a' (with 'b' for bytes), got {mode!r}")
        try:
            self._f = open(self.name, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""}))
        except FileNotFoundError:
            raise _missing(self.name, "GFile") from None

    def read(self, n=-1):
        return self._f.read(n)

    def size(self):
        self._f.flush()
        return os.fstat(self._f.fileno()).st_size

    def __getattr__(self, name):    # write, readline, readlines, seek, tell, flush, close, closed ...
        return getattr(self.__dict__["_f"], name) if "_f" in self.__dict__ else object.__getattribute__(self, name)

    def __iter__(self):
        return iter(self._f)

    def __next__(self):
        return next(self._f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


Open = GFile
