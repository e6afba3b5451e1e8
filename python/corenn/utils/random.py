"""One process-wide source of randomness.

Weight initialisation, dropout masks and shuffling all draw from the generator returned by
`get_generator()`, so `set_random_seed(s)` makes a whole run reproducible. C++ kernels that need
randomness (dropout) take a 64-bit seed from `next_seed()`: the kernel hashes (seed, index) with a
counter-based RNG, so the mask depends only on that seed, not on thread scheduling.

Unseeded, the generator starts from OS entropy, as NumPy's `default_rng()` does.
"""
import random as _py_random

import numpy as np

__all__ = ["set_random_seed", "get_generator", "next_seed"]

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Seed corenn's generator, Python's `random` and NumPy's legacy global state.

    Seeding the latter two as well (as Keras does) makes user code that calls `random.shuffle`
    or `np.random.rand` reproducible along with the framework.

    Args:
        seed: a non-negative int.
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"set_random_seed: seed must be >= 0, got {seed}")
    _generator = np.random.default_rng(seed)
    _py_random.seed(seed)
    # The legacy global state only accepts 32-bit seeds; fold larger ones in.
    np.random.seed(seed % (2**32))


def get_generator():
    """The process-wide `np.random.Generator` (replaced by each `set_random_seed` call)."""
    return _generator


def next_seed():
    """A fresh uint64 seed (as a Python int in [0, 2**64)) for a C++ kernel."""
    return int(_generator.integers(0, 2**64, dtype=np.uint64))
