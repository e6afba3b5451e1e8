import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, fixed-seed NumPy generator per test: failures reproduce."""
    return np.random.default_rng(1234)
