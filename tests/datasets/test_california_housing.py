"""keras.datasets.california_housing: Keras' shuffle and split of small / large, found offline in
$CORENN_DATA or the cache like the other datasets, downloaded with its checksum verified, and
bad files named."""
import hashlib
import os

import numpy as np
import pytest
from dataset_fixtures import no_data_dirs, serve  # noqa: F401  (pytest fixtures)

from corenn import keras
from corenn.datasets import california_housing


def _expected(x, y, version, test_split, seed):
    if version == "small":
        x, y = x[:600], y[:600]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    n = int(len(x) * (1 - test_split))
    return (x[order][:n], y[order][:n]), (x[order][n:], y[order][n:])


@pytest.mark.parametrize("version, test_split, seed", [("large", 0.2, 113), ("small", 0.5, 1), ("large", 0.0, 3)])
def test_split_and_shuffle_as_keras(no_data_dirs, version, test_split, seed):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(700, 8)), rng.uniform(1e4, 5e5, 700)
    path = no_data_dirs / "california_housing.npz"
    np.savez(path, x=x, y=y)
    got = california_housing.load_data(version, str(path), test_split, seed)
    want = _expected(x, y, version, test_split, seed)
    for g, w in zip(got[0] + got[1], want[0] + want[1]):
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, w)
    assert keras.datasets.california_housing is california_housing


def test_found_offline_in_corenn_data_and_downloaded_with_its_checksum(no_data_dirs, serve, monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=30)
    with pytest.raises(FileNotFoundError, match="california_housing"):
        california_housing.load_data(download=False)
    env = no_data_dirs / "env" / "california_housing"
    env.mkdir(parents=True)
    np.savez(env / "california_housing.npz", x=x, y=y)
    monkeypatch.setenv("CORENN_DATA", str(no_data_dirs / "env"))
    (xtr, _), _ = california_housing.load_data(download=False)
    np.testing.assert_array_equal(xtr, _expected(x, y, "large", 0.2, 113)[0][0])
    monkeypatch.delenv("CORENN_DATA")
    served = no_data_dirs / "served"
    served.mkdir()
    np.savez(served / "california_housing.npz", x=x, y=y)
    monkeypatch.setattr(california_housing.SPEC, "mirrors", [serve(served)])
    with pytest.raises(ValueError, match="checksum mismatch"):
        california_housing.load_data()
    sha = hashlib.sha256((served / "california_housing.npz").read_bytes()).hexdigest()
    monkeypatch.setattr(california_housing.SPEC, "checksums", {"california_housing.npz": ("sha256:" + sha,)})
    (_, ytr), _ = california_housing.load_data()
    np.testing.assert_array_equal(ytr, _expected(x, y, "large", 0.2, 113)[0][1])
    cache = no_data_dirs / "cache" / "corenn" / "datasets" / "california_housing"
    assert os.listdir(cache) == ["california_housing.npz"]


def test_bad_files_and_arguments_named(no_data_dirs):
    path = no_data_dirs / "california_housing.npz"
    np.savez(path, x=np.zeros((4, 8)), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"california_housing.npz: expected x of shape"):
        california_housing.load_data(path=str(path))
    with pytest.raises(ValueError, match="version must be"):
        california_housing.load_data("medium", str(path))
    with pytest.raises(ValueError, match="test_split must be in"):
        california_housing.load_data(path=str(path), test_split=1.0)
