"""IDX reading, search order and download, on tiny synthetic files."""
import functools
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from corenn.datasets import fashion_mnist, mnist
from corenn.datasets._idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from corenn.datasets._loader import FILES


def idx_bytes(array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else (0x0800 | array.ndim)
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return head + array.tobytes()


def make_set(rng, n_train=6, n_test=4):
    return {
        FILES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        FILES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        FILES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        FILES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_set(directory, arrays, compress=True):
    os.makedirs(directory, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            with gzip.open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(directory, name[:-3]), "wb") as f:
                f.write(data)
    return directory


def check_loaded(result, arrays):
    (xtr, ytr), (xte, yte) = result
    for got, name in ((xtr, FILES[0]), (ytr, FILES[1]), (xte, FILES[2]), (yte, FILES[3])):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])
    assert xtr.flags.writeable


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No env dirs, an empty cache, no system dirs, no network mirrors."""
    monkeypatch.delenv("CORENN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for spec in (fashion_mnist.SPEC, mnist.SPEC):
        monkeypatch.setattr(spec, "system_dirs", [str(tmp_path / "system" / spec.name)])
        monkeypatch.setattr(spec, "mirrors", [])
    return tmp_path


# -- the IDX reader ----------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_path_argument_gz_and_raw(isolated, rng, compress):
    arrays = make_set(rng)
    d = write_set(str(isolated / "data"), arrays, compress)
    check_loaded(fashion_mnist.load_data(path=d), arrays)
    check_loaded(mnist.load_data(path=d), arrays)


def test_read_idx_other_dtypes_and_byte_order(tmp_path):
    values = (np.arange(6).reshape(2, 3) - 3).astype(">i4")
    head = (0x0C02).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    p = tmp_path / "x.idx"
    p.write_bytes(head + values.tobytes())
    out = read_idx(p)
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize("data, expected, match", [
    (b"\x00\x00", None, "only 2 bytes"),
    (idx_bytes(np.zeros(3)), IMAGES_MAGIC, "wrong magic number 0x00000801, expected 0x00000803"),
    (b"\x12\x34\x08\x01" + b"\x00" * 8, None, "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", IMAGES_MAGIC, "truncated header"),
    (idx_bytes(np.zeros((2, 28, 28)))[:-5], IMAGES_MAGIC, "data truncated"),
    (idx_bytes(np.zeros(4)) + b"\x00", LABELS_MAGIC, "trailing bytes"),
])
def test_read_idx_rejects_bad_files(tmp_path, data, expected, match):
    p = tmp_path / "bad-ubyte"
    p.write_bytes(data)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(p, expected)
    assert str(p) in str(info.value)


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((50, 28, 28))))
    p = tmp_path / "t.gz"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(p, IMAGES_MAGIC)


def test_mismatched_counts_and_label_range(isolated, rng):
    arrays = make_set(rng)
    arrays[FILES[1]] = arrays[FILES[1]][:5]
    d = write_set(str(isolated / "a"), arrays)
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        fashion_mnist.load_data(path=d)
    arrays = make_set(rng)
    arrays[FILES[3]][0] = 10
    d = write_set(str(isolated / "b"), arrays)
    with pytest.raises(ValueError, match="label 10 out of range"):
        fashion_mnist.load_data(path=d)


def test_swapped_files_rejected(isolated, rng):
    arrays = make_set(rng)
    arrays[FILES[0]], arrays[FILES[1]] = arrays[FILES[1]], arrays[FILES[0]]
    d = write_set(str(isolated / "s"), arrays)
    with pytest.raises(ValueError, match="wrong magic number"):
        fashion_mnist.load_data(path=d)


# -- where the loader looks --------------------------------------------------------------

def test_path_argument_missing_files(isolated):
    with pytest.raises(FileNotFoundError, match="does not hold the dataset files"):
        fashion_mnist.load_data(path=str(isolated))


@pytest.mark.parametrize("subdir", [True, False])
def test_corenn_data_env(isolated, rng, monkeypatch, subdir):
    arrays = make_set(rng)
    root = isolated / "env"
    write_set(str(root / "fashion-mnist" if subdir else root), arrays, compress=not subdir)
    monkeypatch.setenv("CORENN_DATA", str(root))
    check_loaded(fashion_mnist.load_data(), arrays)


def test_search_order_env_before_cache_before_system(isolated, rng, monkeypatch):
    env_set, cache_set, sys_set = make_set(rng), make_set(rng), make_set(rng)
    write_set(str(isolated / "system" / "fashion-mnist"), sys_set)
    check_loaded(fashion_mnist.load_data(), sys_set)
    write_set(str(isolated / "cache" / "corenn" / "datasets" / "fashion-mnist"), cache_set)
    check_loaded(fashion_mnist.load_data(), cache_set)
    write_set(str(isolated / "env"), env_set)
    monkeypatch.setenv("CORENN_DATA", str(isolated / "env"))
    check_loaded(fashion_mnist.load_data(), env_set)


def test_incomplete_directory_is_skipped(isolated, rng):
    arrays = make_set(rng)
    cache = isolated / "cache" / "corenn" / "datasets" / "fashion-mnist"
    write_set(str(cache), {FILES[0]: arrays[FILES[0]]})
    write_set(str(isolated / "system" / "fashion-mnist"), arrays)
    check_loaded(fashion_mnist.load_data(), arrays)


def test_nothing_found_says_what_to_install(isolated):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        fashion_mnist.load_data()
    assert "CORENN_DATA" in str(info.value)
    with pytest.raises(FileNotFoundError, match="mnist not found"):
        mnist.load_data(download=False)


# -- download ------------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path, rng):
    """A local HTTP server serving a synthetic gzipped set; yields (base_url, arrays, dir)."""
    arrays = make_set(rng)
    served = write_set(str(tmp_path / "served"), arrays)
    handler = functools.partial(_QuietHandler, directory=served)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", arrays, served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _checksums(directory, algo):
    out = {}
    for name in FILES:
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        if algo == "content-sha256":
            out[name] = ("md5:" + "0" * 32, "content-sha256:" +
                         hashlib.sha256(gzip.decompress(data)).hexdigest())
        else:
            out[name] = (f"{algo}:" + hashlib.new(algo, data).hexdigest(),)
    return out


@pytest.mark.parametrize("algo", ["md5", "sha256", "content-sha256"])
def test_download_into_cache(isolated, mirror, monkeypatch, algo):
    base, arrays, served = mirror
    monkeypatch.setattr(fashion_mnist.SPEC, "mirrors", ["http://127.0.0.1:9/", base])
    monkeypatch.setattr(fashion_mnist.SPEC, "checksums", _checksums(served, algo))
    check_loaded(fashion_mnist.load_data(), arrays)
    cache = isolated / "cache" / "corenn" / "datasets" / "fashion-mnist"
    assert sorted(os.listdir(cache)) == sorted(FILES)  # no temp files left behind
    # Second call uses the cache, even with the mirror gone.
    monkeypatch.setattr(fashion_mnist.SPEC, "mirrors", [])
    check_loaded(fashion_mnist.load_data(), arrays)


def test_download_checksum_mismatch(isolated, mirror, monkeypatch):
    base, _, served = mirror
    bad = _checksums(served, "md5")
    bad[FILES[2]] = ("md5:" + "f" * 32,)
    monkeypatch.setattr(mnist.SPEC, "mirrors", [base])
    monkeypatch.setattr(mnist.SPEC, "checksums", bad)
    with pytest.raises(ValueError, match="checksum mismatch"):
        mnist.load_data()
    cache = isolated / "cache" / "corenn" / "datasets" / "mnist"
    assert FILES[2] not in os.listdir(cache)
    assert not [f for f in os.listdir(cache) if f.startswith(".download")]


def test_download_unreachable_mirror(isolated, monkeypatch):
    monkeypatch.setattr(fashion_mnist.SPEC, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(FileNotFoundError, match="Download failed.*127.0.0.1:9"):
        fashion_mnist.load_data()


def test_download_refuses_unknown_checksum(isolated, mirror, monkeypatch):
    base, _, _ = mirror
    monkeypatch.setattr(mnist.SPEC, "mirrors", [base])
    monkeypatch.setattr(mnist.SPEC, "checksums", {})
    with pytest.raises(ValueError, match="no checksum known"):
        mnist.load_data()
