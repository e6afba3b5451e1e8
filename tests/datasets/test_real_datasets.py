"""The real files, where this machine has them ($CORENN_DATA, the cache, /usr/share/datasets);
never downloaded here. Each test skips, saying which file to put where, when its file is absent.
The expected numbers are the published ones (and those Keras' loaders give)."""
import numpy as np
import pytest

from corenn.datasets import boston_housing, cifar10, cifar100, imdb, reuters


def load_or_skip(loader, *args, **kwargs):
    try:
        return loader(*args, download=False, **kwargs)
    except FileNotFoundError as exc:
        pytest.skip(f"real data not on this machine: {str(exc).splitlines()[0]}")


def test_real_cifar10():
    (xtr, ytr), (xte, yte) = load_or_skip(cifar10.load_data)
    assert xtr.shape == (50000, 32, 32, 3) and xte.shape == (10000, 32, 32, 3)
    assert ytr.shape == (50000, 1) and yte.shape == (10000, 1)
    assert np.all(np.bincount(ytr[:, 0], minlength=10) == 5000)
    assert np.all(np.bincount(yte[:, 0], minlength=10) == 1000)
    assert xtr.max() == 255 and 100 < xtr.mean() < 140


@pytest.mark.parametrize("label_mode, classes", [("fine", 100), ("coarse", 20)])
def test_real_cifar100(label_mode, classes):
    (xtr, ytr), (xte, yte) = load_or_skip(cifar100.load_data, label_mode)
    assert xtr.shape == (50000, 32, 32, 3) and yte.shape == (10000, 1)
    assert np.all(np.bincount(ytr[:, 0], minlength=classes) == 50000 // classes)
    assert np.all(np.bincount(yte[:, 0], minlength=classes) == 10000 // classes)


def test_real_imdb():
    (xtr, ytr), (xte, yte) = load_or_skip(imdb.load_data, num_words=10000)
    assert len(xtr) == len(ytr) == 25000 and len(xte) == len(yte) == 25000
    assert np.bincount(ytr).tolist() == [12500, 12500]
    assert all(row[0] == 1 for row in xtr[:100])                   # start_char
    assert max(max(row) for row in xtr) == 9999                    # num_words cut
    word_index = load_or_skip(imdb.get_word_index)
    assert word_index["the"] == 1 and len(word_index) == 88584


def test_real_reuters():
    (xtr, ytr), (xte, yte) = load_or_skip(reuters.load_data)
    assert len(xtr) == 8982 and len(xte) == 2246
    assert ytr.max() == 45 and len(reuters.get_label_names()) == 46


def test_real_boston_housing():
    (xtr, ytr), (xte, yte) = load_or_skip(boston_housing.load_data)
    assert xtr.shape == (404, 13) and xte.shape == (102, 13)
    assert ytr.shape == (404,) and 5 <= ytr.min() and ytr.max() <= 50
