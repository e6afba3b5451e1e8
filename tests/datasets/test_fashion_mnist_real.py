"""The real Fashion-MNIST from Debian's dataset-fashion-mnist (CI installs it)."""
import os

import numpy as np
import pytest

from corenn.datasets import fashion_mnist

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR),
                    reason="apt-get install dataset-fashion-mnist to run this test")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv("CORENN_DATA", raising=False)
    (xtr, ytr), (xte, yte) = fashion_mnist.load_data(path=DEBIAN_DIR)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in (xtr, ytr, xte, yte))
    assert ytr.min() == 0 and ytr.max() == 9 and yte.max() == 9
    # Fashion-MNIST is exactly balanced: 6000 train and 1000 test images per class.
    assert np.all(np.bincount(ytr, minlength=10) == 6000)
    assert np.all(np.bincount(yte, minlength=10) == 1000)
    assert 0 < xtr.mean() < 255 and xtr.max() == 255
