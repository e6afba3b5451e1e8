"""Reading CIFAR-10 and CIFAR-100 from their official *binary* archives (never the pickled ones).

A binary batch file is a sequence of fixed-size records: the label byte(s) (CIFAR-10: the
class; CIFAR-100: the coarse class then the fine class), then 3072 pixel bytes, the 32x32 red
plane, then green, then blue, each row-major. The archive is read with tarfile member by member
(nothing is extracted): only the expected member names are read, each must be a regular file
whose size is an exact multiple of the record size, and anything else is a ValueError naming
the archive.
"""
import os
import tarfile
import zlib

import numpy as np

__all__ = ["read_archive"]

PIXELS = 3 * 32 * 32
_MAX_RECORDS = 1 << 20          # per member; the official members hold 10,000 and 50,000


def read_archive(path, member_names, label_bytes):
    """The records of `member_names` (in that order) from the tar archive at `path`.

    Returns:
        A list, one (images uint8 (n, 32, 32, 3), labels uint8 (n, label_bytes)) per member.
    """
    path = os.fspath(path)
    record = label_bytes + PIXELS
    wanted = set(member_names)
    found = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:          # one pass, in archive order; others are skipped
                if member.name not in wanted:
                    continue
                if member.name in found:
                    raise ValueError(f"{path}: member {member.name!r} appears twice")
                if not member.isreg():
                    raise ValueError(f"{path}: member {member.name!r} is not a regular file")
                if member.size % record or member.size > _MAX_RECORDS * record:
                    raise ValueError(
                        f"{path}: member {member.name!r} holds {member.size} bytes, not a "
                        f"whole number of {record}-byte records (truncated or not a CIFAR "
                        f"batch?)" if member.size % record else
                        f"{path}: member {member.name!r} holds more than {_MAX_RECORDS} records")
                data = tar.extractfile(member).read(member.size)
                if len(data) != member.size:
                    raise ValueError(f"{path}: member {member.name!r} is truncated "
                                     f"({len(data)} of {member.size} bytes)")
                found[member.name] = data
            # Read to the end, so that a damaged or cut-off compressed stream is noticed
            # (its checksum and length sit at the very end) even when every member read well.
            while tar.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a valid CIFAR archive: corrupt or truncated "
                         f"({type(exc).__name__}: {exc})") from None
    missing = [name for name in member_names if name not in found]
    if missing:
        raise ValueError(f"{path}: not a CIFAR binary archive of the expected kind: missing "
                         f"{missing}")
    return [_records(found.pop(name), record, label_bytes) for name in member_names]


def _records(data, record, label_bytes):
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    labels = rows[:, :label_bytes].copy()
    # channel planes (n, 3, 32, 32) -> channels-last (n, 32, 32, 3), a contiguous copy
    images = np.ascontiguousarray(rows[:, label_bytes:].reshape(-1, 3, 32, 32)
                                  .transpose(0, 2, 3, 1))
    return images, labels
