"""IMDB, Reuters and Boston housing from tiny .npz files in Keras' exact formats, built here."""
import hashlib
import json
import os

import numpy as np
import pytest
from dataset_fixtures import no_data_dirs, serve  # noqa: F401  (pytest fixtures)

from corenn.datasets import boston_housing, imdb, reuters


def object_array(rows):
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = list(row)
    return out


def random_rows(rng, n, vocabulary=30, max_len=12):
    return [[int(w) for w in rng.integers(1, vocabulary, rng.integers(1, max_len))]
            for _ in range(n)]


def write_imdb(path, rng, n_train=40, n_test=30):
    # np.savez with object arrays pickles them: the very format Keras ships imdb.npz in.
    np.savez_compressed(path, x_train=object_array(random_rows(rng, n_train)),
                        y_train=rng.integers(0, 2, n_train), x_test=object_array(
                            random_rows(rng, n_test)), y_test=rng.integers(0, 2, n_test))
    return str(path)


def write_reuters(path, rng, n=50):
    np.savez_compressed(path, x=object_array(random_rows(rng, n)), y=rng.integers(0, 46, n))
    return str(path)


# -- an independent, straightforward reading of Keras' documented semantics --------------------
# (np.load with allow_pickle=True is fine here: the test made these files itself.)

def reference_transform(xs, labels, num_words, skip_top, maxlen, start_char, oov_char,
                        index_from):
    out_x, out_y = [], []
    for seq, label in zip(xs, labels):
        seq = [w + index_from for w in seq]
        if start_char is not None:
            seq = [start_char] + seq
        if maxlen and len(seq) >= maxlen:          # Keras keeps sequences *shorter* than maxlen
            continue
        out_x.append(seq)
        out_y.append(label)
    return out_x, out_y


def reference_vocabulary(xs, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max(max(seq) for seq in xs)
    out = []
    for seq in xs:
        kept = []
        for w in seq:
            if skip_top <= w < num_words:
                kept.append(w)
            elif oov_char is not None:
                kept.append(oov_char)
        out.append(kept)
    return out


def reference_imdb(path, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
                   oov_char=2, index_from=3):
    with np.load(path, allow_pickle=True) as f:
        parts = [(f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])]
    rng = np.random.RandomState(seed)
    done = []
    for x, y in parts:
        order = np.arange(len(x))
        rng.shuffle(order)
        done.append(reference_transform([list(x[i]) for i in order], list(y[order]), num_words,
                                        skip_top, maxlen, start_char, oov_char, index_from))
    xs = reference_vocabulary(done[0][0] + done[1][0], num_words, skip_top, oov_char)
    n = len(done[0][0])
    return (xs[:n], done[0][1]), (xs[n:], done[1][1])


def reference_reuters(path, num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
                      start_char=1, oov_char=2, index_from=3):
    with np.load(path, allow_pickle=True) as f:
        x, y = f["x"], f["y"]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    xs, ys = reference_transform([list(x[i]) for i in order], list(y[order]), num_words,
                                 skip_top, maxlen, start_char, oov_char, index_from)
    xs = reference_vocabulary(xs, num_words, skip_top, oov_char)
    n = int(len(xs) * (1 - test_split))
    return (xs[:n], ys[:n]), (xs[n:], ys[n:])


def check_same(got, want):
    for (gx, gy), (wx, wy) in zip(got, want):
        assert isinstance(gx, np.ndarray) and gx.dtype == object and gx.ndim == 1
        assert all(type(row) is list for row in gx)
        assert [list(row) for row in gx] == wx
        assert gy.dtype == np.int64
        np.testing.assert_array_equal(gy, np.asarray(wy, dtype=np.int64))


OPTIONS = [
    {},
    {"num_words": 12},
    {"num_words": 12, "skip_top": 6},
    {"skip_top": 5, "oov_char": None},
    {"maxlen": 8},
    {"maxlen": 8, "num_words": 20, "skip_top": 2, "seed": 7},
    {"start_char": None},
    {"start_char": None, "index_from": 0, "oov_char": 0, "num_words": 9},
    {"index_from": 10, "start_char": 4, "oov_char": 5, "num_words": 25},
    {"seed": 0, "maxlen": 0},
]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_imdb_matches_keras_semantics(no_data_dirs, rng, options):
    path = write_imdb(no_data_dirs / "imdb.npz", rng)
    check_same(imdb.load_data(path=path, **options), reference_imdb(path, **options))


@pytest.mark.parametrize("options", OPTIONS + [{"test_split": 0.5}, {"test_split": 0}],
                         ids=str)
def test_reuters_matches_keras_semantics(no_data_dirs, rng, options):
    path = write_reuters(no_data_dirs / "reuters.npz", rng)
    check_same(reuters.load_data(path=path, **options), reference_reuters(path, **options))


def test_defaults_by_hand(no_data_dirs):
    # Two reviews; defaults: start_char 1, index_from 3, the largest index becomes oov 2.
    path = no_data_dirs / "imdb.npz"
    np.savez(path, x_train=object_array([[1, 2], [5]]), y_train=np.array([0, 1]),
             x_test=object_array([[4, 4]]), y_test=np.array([1]))
    (x_train, y_train), (x_test, _) = imdb.load_data(path=str(path), seed=3)
    order = np.arange(2)
    np.random.RandomState(3).shuffle(order)
    expected = {0: [1, 4, 5], 1: [1, 2]}        # 5 + 3 = 8 is the largest index: oov
    assert [list(r) for r in x_train] == [expected[i] for i in order]
    assert list(x_test[0]) == [1, 7, 7]
    np.testing.assert_array_equal(y_train, np.array([0, 1])[order])


def test_maxlen_too_small_and_bad_options(no_data_dirs, rng):
    path = write_imdb(no_data_dirs / "imdb.npz", rng)
    with pytest.raises(ValueError, match="no train sequence is shorter than maxlen=2"):
        imdb.load_data(path=path, maxlen=2)
    with pytest.raises(ValueError, match="num_words must be a non-negative int or None"):
        imdb.load_data(path=path, num_words=-1)
    with pytest.raises(ValueError, match="skip_top must be a non-negative int, got 1.5"):
        imdb.load_data(path=path, skip_top=1.5)
    rpath = write_reuters(no_data_dirs / "reuters.npz", rng)
    with pytest.raises(ValueError, match=r"test_split must be in \[0, 1\), got 1"):
        reuters.load_data(path=rpath, test_split=1)
    with pytest.raises(ValueError, match="no sequence is shorter than maxlen=1"):
        reuters.load_data(path=rpath, maxlen=1)


def test_bad_files_named(no_data_dirs, rng):
    path = no_data_dirs / "imdb.npz"
    np.savez(path, x_train=object_array([[1], [2]]), y_train=np.array([0]),
             x_test=object_array([[1]]), y_test=np.array([0]))
    with pytest.raises(ValueError, match=r"imdb.npz: 2 sequences in x_train but labels of "
                                         r"shape \(1,\)"):
        imdb.load_data(path=str(path))
    np.savez(path, x_train=np.zeros((2, 3)), y_train=np.array([0, 1]),
             x_test=object_array([[1]]), y_test=np.array([0]))
    with pytest.raises(ValueError, match=r"imdb.npz \(x_train.npy\): expected a 1-d object"):
        imdb.load_data(path=str(path))
    good = write_reuters(no_data_dirs / "r.npz", rng)
    with open(good, "rb") as f:
        data = f.read()
    cut = no_data_dirs / "cut.npz"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz: not a valid .npz file"):
        reuters.load_data(path=str(cut))
    np.savez(no_data_dirs / "missing.npz", x=object_array([[1]]))
    with pytest.raises(ValueError, match="missing.npz: no member 'y.npy'"):
        reuters.load_data(path=str(no_data_dirs / "missing.npz"))


def test_path_meanings(no_data_dirs, rng, monkeypatch):
    cache = no_data_dirs / "cache" / "corenn" / "datasets" / "imdb"
    cache.mkdir(parents=True)
    write_imdb(cache / "imdb.npz", rng)
    write_imdb(cache / "other.npz", rng, n_train=3, n_test=2)
    # The default bare name and another bare name are looked up in the data directories,
    # never in the current directory (as Keras looks in ~/.keras/datasets).
    monkeypatch.chdir(no_data_dirs)
    write_imdb(no_data_dirs / "other.npz", rng, n_train=5, n_test=2)
    assert len(imdb.load_data()[0][0]) == 40
    assert len(imdb.load_data(path="other.npz")[0][0]) == 3
    assert len(imdb.load_data(path="./other.npz")[0][0]) == 5     # a file path is the file
    assert len(imdb.load_data(path=str(cache))[0][0]) == 40       # a directory is searched
    with pytest.raises(FileNotFoundError, match="(?s)imdb not found.*missing.npz"):
        imdb.load_data(path="missing.npz", download=False)
    empty = no_data_dirs / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"does not hold the dataset files; missing "
                                                r"\['imdb.npz'\], also looked in"):
        imdb.load_data(path=str(empty))


def test_word_index_and_label_names(no_data_dirs, monkeypatch):
    env = no_data_dirs / "env"
    (env / "reuters").mkdir(parents=True)
    (env / "imdb_word_index.json").write_text(json.dumps({"the": 1, "and": 2}))
    (env / "reuters" / "reuters_word_index.json").write_text(json.dumps({"said": 3}))
    monkeypatch.setenv("CORENN_DATA", str(env))
    assert imdb.get_word_index() == {"the": 1, "and": 2}
    assert reuters.get_word_index() == {"said": 3}
    names = reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[45] == "lead"
    (env / "imdb_word_index.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="imdb_word_index.json: a word index must be"):
        imdb.get_word_index()
    (env / "imdb_word_index.json").write_text('{"the": 1,')
    with pytest.raises(ValueError, match="imdb_word_index.json: not a valid word index"):
        imdb.get_word_index()


def test_downloads_verified(no_data_dirs, rng, serve, monkeypatch):
    served = no_data_dirs / "served"
    served.mkdir()
    write_imdb(served / "imdb.npz", rng)
    (served / "imdb_word_index.json").write_text(json.dumps({"movie": 1}))
    base = serve(served)
    npz_sha = hashlib.sha256((served / "imdb.npz").read_bytes()).hexdigest()
    json_md5 = hashlib.md5((served / "imdb_word_index.json").read_bytes()).hexdigest()
    monkeypatch.setattr(imdb.WORD_INDEX_SPEC, "mirrors", [base])
    monkeypatch.setattr(imdb.WORD_INDEX_SPEC, "checksums",
                        {"imdb_word_index.json": ("md5:" + json_md5,)})
    assert imdb.get_word_index() == {"movie": 1}
    monkeypatch.setattr(imdb.SPEC, "mirrors", [base])
    monkeypatch.setattr(imdb.SPEC, "checksums", {"imdb.npz": ("sha256:" + "0" * 64,)})
    with pytest.raises(ValueError, match="checksum mismatch"):
        imdb.load_data()
    monkeypatch.setattr(imdb.SPEC, "checksums", {"imdb.npz": ("sha256:" + npz_sha,)})
    # A bare name other than imdb.npz downloads the official file under that name.
    check_same(imdb.load_data(path="mine.npz"), reference_imdb(str(served / "imdb.npz")))
    cache = no_data_dirs / "cache" / "corenn" / "datasets" / "imdb"
    assert sorted(os.listdir(cache)) == ["imdb_word_index.json", "mine.npz"]


# -- Boston housing ---------------------------------------------------------------------------

@pytest.mark.parametrize("test_split, seed", [(0.2, 113), (0.5, 1), (0.0, 3)])
def test_boston_housing(no_data_dirs, rng, test_split, seed):
    x, y = rng.normal(size=(21, 13)), rng.normal(size=21)
    path = no_data_dirs / "boston_housing.npz"
    np.savez(path, x=x, y=y)
    (xtr, ytr), (xte, yte) = boston_housing.load_data(str(path), test_split, seed)
    order = np.arange(21)
    np.random.RandomState(seed).shuffle(order)
    n = int(21 * (1 - test_split))
    for got, want in ((xtr, x[order][:n]), (ytr, y[order][:n]), (xte, x[order][n:]),
                      (yte, y[order][n:])):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)


def test_boston_housing_rejects_bad_files(no_data_dirs):
    path = no_data_dirs / "boston_housing.npz"
    np.savez(path, x=np.zeros((4, 13)), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"boston_housing.npz: expected x of shape .*\(4, 13\) "
                                         r"and \(3,\)"):
        boston_housing.load_data(str(path))
    np.savez(path, x=object_array([[1.0]]), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"\(x.npy\): expected a plain integer or float array"):
        boston_housing.load_data(str(path))
    with pytest.raises(ValueError, match="test_split must be in"):
        boston_housing.load_data(str(path), test_split=-0.1)
