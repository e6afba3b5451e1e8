"""Boston housing prices: 506 samples of 13 attributes, targets in thousands of dollars.

Keras' warning holds here too: one attribute ("B") encodes an assumption about race; use the
set to illustrate that problem, not to model prices. Read from Keras' boston_housing.npz (two
plain float arrays x (506, 13) and y (506,)); no pickle is involved.
"""
import numpy as np

from . import _loader, _npz, _text

__all__ = ["load_data"]

# The sha256 Keras' own loader verifies.
SPEC = _loader.DatasetSpec(
    name="boston_housing", mirrors=[_text.KERAS_MIRROR],
    checksums={"boston_housing.npz": (
        "sha256:f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",)},
    system_dirs=["/usr/share/datasets/boston_housing"],
    install_hint=f"download boston_housing.npz from {_text.KERAS_MIRROR}",
    files=("boston_housing.npz",))


def load_data(path="boston_housing.npz", test_split=0.2, seed=113, download=True):
    """Load Boston housing as keras.datasets.boston_housing.load_data does.

    Args:
        path: as in imdb.load_data (the file, a directory holding it, or a bare file name).
        test_split: the fraction of the shuffled samples kept for the test set, in [0, 1).
        seed: seed of the shuffle (np.random.RandomState).
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): float arrays (n, 13) and (n,).
    """
    if not (isinstance(test_split, (int, float)) and 0 <= test_split < 1):
        raise ValueError(f"boston_housing.load_data: test_split must be in [0, 1), got "
                         f"{test_split!r}")
    npz = _loader.locate_file(SPEC, path, download)
    arrays = _npz.read_npz(npz, {"x": _npz.NUMERIC, "y": _npz.NUMERIC})
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{npz}: expected x of shape (n, features) and y of shape (n,), got "
                         f"{x.shape} and {y.shape}")
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    n = int(len(x) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])
