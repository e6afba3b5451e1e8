"""California housing (the 1990 census, Pace & Barry 1997): 20,640 block groups of 8 attributes
(longitude, latitude, median age, rooms, bedrooms, population, households, median income),
targets the median house value in dollars. Read from Keras' california_housing.npz (two plain
float arrays x (20640, 8) and y (20640,)); no pickle is involved. Found like every corenn dataset
(``path``, $CORENN_DATA, the cache, then Keras' mirror with its checksum: datasets/_loader.py).
"""
import numpy as np

from . import _loader, _npz, _text

__all__ = ["load_data"]

# The sha256 Keras' own loader verifies.
SPEC = _loader.DatasetSpec(
    name="california_housing", mirrors=[_text.KERAS_MIRROR],
    checksums={"california_housing.npz": (
        "sha256:1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f",)},
    system_dirs=["/usr/share/datasets/california_housing"],
    install_hint=f"download california_housing.npz from {_text.KERAS_MIRROR}",
    files=("california_housing.npz",))

_SMALL = 600   # Keras' "small" version: the first 600 samples, before the shuffle


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113, download=True):
    """Load California housing as keras.datasets.california_housing.load_data does.

    Args:
        version: "large" (all 20,640 samples) or "small" (the first 600).
        path: as in imdb.load_data (the file, a directory holding it, or a bare file name).
        test_split: the fraction of the shuffled samples kept for the test set, in [0, 1).
        seed: seed of the shuffle (np.random.RandomState).
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): float arrays (n, 8) and (n,).
    """
    if not (isinstance(test_split, (int, float)) and 0 <= test_split < 1):
        raise ValueError(f"california_housing.load_data: test_split must be in [0, 1), got {test_split!r}")
    if version not in ("small", "large"):
        raise ValueError(f"california_housing.load_data: version must be 'small' or 'large', got {version!r}")
    npz = _loader.locate_file(SPEC, path, download)
    arrays = _npz.read_npz(npz, {"x": _npz.NUMERIC, "y": _npz.NUMERIC})
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{npz}: expected x of shape (n, features) and y of shape (n,), got "
                         f"{x.shape} and {y.shape}")
    if version == "small":
        x, y = x[:_SMALL], y[:_SMALL]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    n = int(len(x) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])
