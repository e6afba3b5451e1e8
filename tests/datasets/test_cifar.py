"""CIFAR-10/100 from tiny archives in the official binary format, built here."""
import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading

import numpy as np
import pytest
from dataset_fixtures import no_data_dirs, serve  # noqa: F401  (pytest fixtures)

from corenn.datasets import cifar10, cifar100


def records(rng, n, label_columns):
    """(bytes of n records, labels (n, k), images in CHW planes (n, 3, 32, 32))."""
    labels = np.stack([rng.integers(0, limit, n, dtype=np.uint8) for limit in label_columns],
                      axis=1).reshape(n, len(label_columns))
    planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    # Written record by record, the way the format is specified: labels, then R, G, B planes.
    data = b"".join(labels[i].tobytes() + planes[i, 0].tobytes() + planes[i, 1].tobytes()
                    + planes[i, 2].tobytes() for i in range(n))
    return data, labels, planes


def make_tar(path, members, compression="gz", extra=()):
    mode = "w:" + compression if compression else "w"
    with tarfile.open(path, mode) as tar:
        for name, data in list(extra) + list(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def cifar10_archive(rng, path, sizes=(3, 2, 4, 1, 2), n_test=3, **kw):
    members, expected_x, expected_y = {}, [], []
    for name, n in zip(cifar10.TRAIN_MEMBERS + (cifar10.TEST_MEMBER,), sizes + (n_test,)):
        data, labels, planes = records(rng, n, [10])
        members[name] = data
        expected_x.append(planes.transpose(0, 2, 3, 1))
        expected_y.append(labels)
    path = make_tar(path, members, **kw)
    train = (np.concatenate(expected_x[:-1]), np.concatenate(expected_y[:-1]))
    return path, members, train, (expected_x[-1], expected_y[-1])


def cifar100_archive(rng, path, n_train=5, n_test=3, **kw):
    members, expected = {}, []
    for name, n in ((cifar100.TRAIN_MEMBER, n_train), (cifar100.TEST_MEMBER, n_test)):
        data, labels, planes = records(rng, n, [20, 100])
        members[name] = data
        expected.append((planes.transpose(0, 2, 3, 1), labels))
    return make_tar(path, members, **kw), members, expected


def check_pair(got, want_x, want_y):
    x, y = got
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert x.shape == want_x.shape and x.shape[1:] == (32, 32, 3)
    assert y.shape == (len(want_x), 1)
    assert x.flags.c_contiguous and x.flags.writeable
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)


@pytest.mark.parametrize("compression", ["gz", None])
def test_cifar10_layout_and_order(no_data_dirs, rng, compression):
    path, _, train, test = cifar10_archive(rng, no_data_dirs / "c10.tar.gz",
                                           compression=compression,
                                           extra=[("cifar-10-batches-bin/readme.html", b"x")])
    (xtr, ytr), (xte, yte) = cifar10.load_data(path=path)
    check_pair((xtr, ytr), *train)
    check_pair((xte, yte), *test)
    # One pixel by hand: record 0 of batch 1 holds R, G, B planes after its label byte.
    _, members, _, _ = cifar10_archive(np.random.default_rng(7), no_data_dirs / "again.tar.gz")
    raw = members[cifar10.TRAIN_MEMBERS[0]]
    row, col = 5, 17
    (x, _), _ = cifar10.load_data(path=str(no_data_dirs / "again.tar.gz"))
    assert list(x[0, row, col]) == [raw[1 + c * 1024 + row * 32 + col] for c in range(3)]


@pytest.mark.parametrize("label_mode, column", [("fine", 1), ("coarse", 0)])
def test_cifar100_label_modes(no_data_dirs, rng, label_mode, column):
    path, _, expected = cifar100_archive(rng, no_data_dirs / "c100.tar.gz")
    (xtr, ytr), (xte, yte) = cifar100.load_data(label_mode, path=path)
    check_pair((xtr, ytr), expected[0][0], expected[0][1][:, column:column + 1])
    check_pair((xte, yte), expected[1][0], expected[1][1][:, column:column + 1])
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse'"):
        cifar100.load_data("medium", path=path)


def test_search_order_directory_env_cache(no_data_dirs, rng, monkeypatch):
    cache = no_data_dirs / "cache" / "corenn" / "datasets" / "cifar-10"
    cache.mkdir(parents=True)
    _, _, cache_train, _ = cifar10_archive(rng, cache / cifar10.ARCHIVE)
    system = no_data_dirs / "system" / "cifar-10"
    system.mkdir(parents=True)
    cifar10_archive(rng, system / cifar10.ARCHIVE)
    (x, _), _ = cifar10.load_data()
    np.testing.assert_array_equal(x, cache_train[0])          # cache before system dirs
    env = no_data_dirs / "env" / "cifar-10"
    env.mkdir(parents=True)
    _, _, env_train, _ = cifar10_archive(rng, env / cifar10.ARCHIVE)
    monkeypatch.setenv("CORENN_DATA", str(no_data_dirs / "env"))
    (x, _), _ = cifar10.load_data()
    np.testing.assert_array_equal(x, env_train[0])            # $CORENN_DATA before the cache
    (x, _), _ = cifar10.load_data(path=str(cache))            # a directory as path=
    np.testing.assert_array_equal(x, cache_train[0])


def test_nothing_found_says_how_to_get_it(no_data_dirs):
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz") as info:
        cifar10.load_data()
    assert "CORENN_DATA" in str(info.value) and "binary version" in str(info.value)
    with pytest.raises(FileNotFoundError, match="neither a file nor a directory"):
        cifar100.load_data(path=str(no_data_dirs / "nowhere" / "x.tar.gz"))


def _bad_cifar10(rng, tmp_path, mutate):
    members = {name: records(rng, 2, [10])[0]
               for name in cifar10.TRAIN_MEMBERS + (cifar10.TEST_MEMBER,)}
    mutate(members)
    return make_tar(tmp_path / "bad.tar.gz", members)


@pytest.mark.parametrize("mutate, match", [
    (lambda m: m.__setitem__(cifar10.TEST_MEMBER, m[cifar10.TEST_MEMBER][:-1]),
     "not a whole number of 3073-byte records"),
    (lambda m: m.pop(cifar10.TRAIN_MEMBERS[3]), "missing .*data_batch_4.bin"),
    (lambda m: m.__setitem__(cifar10.TRAIN_MEMBERS[0], b"\x0a" + m[cifar10.TRAIN_MEMBERS[0]][1:]),
     "label 10 out of range for 10 classes"),
])
def test_bad_members(no_data_dirs, rng, mutate, match):
    path = _bad_cifar10(rng, no_data_dirs, mutate)
    with pytest.raises(ValueError, match=match) as info:
        cifar10.load_data(path=path)
    assert path in str(info.value)


def test_cifar100_bad_coarse_label_rejected_in_fine_mode(no_data_dirs, rng):
    data, _, _ = records(rng, 2, [20, 100])
    data = b"\x14" + data[1:]                       # coarse label 20 of 20 classes
    path = make_tar(no_data_dirs / "c.tar.gz", {cifar100.TRAIN_MEMBER: data,
                                                cifar100.TEST_MEMBER: data})
    with pytest.raises(ValueError, match="coarse label 20 out of range for 20 classes"):
        cifar100.load_data("fine", path=path)


def test_links_and_duplicates_rejected(no_data_dirs, rng):
    good = records(rng, 1, [10])[0]
    path = str(no_data_dirs / "link.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name in cifar10.TRAIN_MEMBERS + (cifar10.TEST_MEMBER,):
            info = tarfile.TarInfo(name)
            if name == cifar10.TEST_MEMBER:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(good)
                tar.addfile(info, io.BytesIO(good))
    with pytest.raises(ValueError, match="test_batch.bin' is not a regular file"):
        cifar10.load_data(path=path)
    members = {name: good for name in cifar10.TRAIN_MEMBERS + (cifar10.TEST_MEMBER,)}
    path = make_tar(no_data_dirs / "dup.tar.gz", members,
                    extra=[(cifar10.TEST_MEMBER, good)])
    with pytest.raises(ValueError, match="appears twice"):
        cifar10.load_data(path=path)


def test_truncated_and_corrupt_archives(no_data_dirs, rng):
    path, _, _, _ = cifar10_archive(rng, no_data_dirs / "full.tar.gz")
    with open(path, "rb") as f:
        data = f.read()
    for cut in (10, len(data) // 2, len(data) - 30):
        p = no_data_dirs / f"cut{cut}.tar.gz"
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="cut") as info:
            cifar10.load_data(path=str(p))
        assert "corrupt or truncated" in str(info.value) or "missing" in str(info.value)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    p = no_data_dirs / "flipped.tar.gz"
    p.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="flipped.tar.gz"):
        cifar10.load_data(path=str(p))
    p = no_data_dirs / "text.tar.gz"
    p.write_bytes(b"not an archive at all" * 100)
    with pytest.raises(ValueError, match="not a valid CIFAR archive"):
        cifar10.load_data(path=str(p))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_verified_into_cache_with_umask_mode(no_data_dirs, rng, monkeypatch):
    served = no_data_dirs / "served"
    served.mkdir()
    _, _, train, _ = cifar10_archive(rng, served / cifar10.ARCHIVE)
    digest = hashlib.sha256((served / cifar10.ARCHIVE).read_bytes()).hexdigest()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    old_umask = os.umask(0o027)
    try:
        monkeypatch.setattr(cifar10.SPEC, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        monkeypatch.setattr(cifar10.SPEC, "checksums", {cifar10.ARCHIVE: ("md5:" + "0" * 32,)})
        with pytest.raises(ValueError, match="checksum mismatch"):
            cifar10.load_data()
        cache = no_data_dirs / "cache" / "corenn" / "datasets" / "cifar-10"
        assert os.listdir(cache) == []                 # nothing unverified is kept
        monkeypatch.setattr(cifar10.SPEC, "checksums", {cifar10.ARCHIVE: ("sha256:" + digest,)})
        (x, _), _ = cifar10.load_data()
        np.testing.assert_array_equal(x, train[0])
        assert os.listdir(cache) == [cifar10.ARCHIVE]
        assert os.stat(cache / cifar10.ARCHIVE).st_mode & 0o777 == 0o640
    finally:
        os.umask(old_umask)
        server.shutdown()
        server.server_close()
        thread.join()
