"""``keras.random``: random tensors (Keras 3's names and arguments).

Every function draws from a NumPy generator: with ``seed=None`` corenn's process-wide one (so
``keras.utils.set_random_seed`` makes a run reproducible), with an int a generator of that seed
(the same draw each call, as Keras' stateless int seeds), or with a ``SeedGenerator`` its own
stream. The results are float32 (int32 for ``randint``) Tensors, constants to a GradientTape.
"""
import numpy as np

from .kernels import Tensor
from .utils.random import get_generator

__all__ = ["set_seed", "SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "categorical",
           "shuffle", "dropout", "gamma", "beta", "binomial"]


class SeedGenerator:
    """A stream of random draws of its own (``keras.random.SeedGenerator(seed)``)."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"SeedGenerator: seed must be a non-negative int or None, got {seed!r}")
        self.name = name
        self.generator = np.random.default_rng(None if seed is None else int(seed))


def _rng(seed, op):
    if seed is None:
        return get_generator()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"keras.random.{op}: seed must be None, a non-negative int or a SeedGenerator, "
                         f"got {seed!r}")
    return np.random.default_rng(int(seed))


def _shape(shape, op):
    try:
        dims = tuple(int(d) for d in (shape if hasattr(shape, "__len__") else (shape,)))
    except (TypeError, ValueError):
        raise ValueError(f"keras.random.{op}: shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"keras.random.{op}: negative dimension in shape {dims}")
    return dims


def _out(a, dtype="float32"):
    return Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.dtype(dtype or "float32")))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _out(_rng(seed, "normal").normal(mean, stddev, _shape(shape, "normal")), dtype)


def set_seed(seed):
    """``tf.random.set_seed``: seed corenn's process-wide generator (initializers, dropout,
    shuffling, the draws here), as ``keras.utils.set_random_seed`` does."""
    from .utils.random import set_random_seed
    set_random_seed(seed)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    if maxval is None:   # tf.random.uniform's default for float draws
        maxval = 1.0
    if not minval < maxval:
        raise ValueError(f"keras.random.uniform: minval ({minval}) must be < maxval ({maxval})")
    return _out(_rng(seed, "uniform").uniform(minval, maxval, _shape(shape, "uniform")), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws more than 2 standard deviations from the mean are drawn again."""
    rng, dims = _rng(seed, "truncated_normal"), _shape(shape, "truncated_normal")
    z = rng.standard_normal(dims)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return _out(mean + stddev * z, dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    if not minval < maxval:
        raise ValueError(f"keras.random.randint: minval ({minval}) must be < maxval ({maxval})")
    return _out(_rng(seed, "randint").integers(minval, maxval, _shape(shape, "randint")), dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes)."""
    z = np.asarray(logits, np.float64)
    if z.ndim != 2:
        raise ValueError(f"keras.random.categorical: logits must be (batch, classes), got shape {z.shape}")
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    rng = _rng(seed, "categorical")
    return _out(np.stack([rng.choice(z.shape[1], size=int(num_samples), p=row) for row in p]), dtype)


def shuffle(x, axis=0, seed=None):
    a = np.array(x, copy=True)
    _rng(seed, "shuffle").shuffle(np.moveaxis(a, axis, 0))
    return _out(a, a.dtype if a.dtype.kind in "iu" else "float32")


def dropout(inputs, rate, noise_shape=None, seed=None):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"keras.random.dropout: rate must be in [0, 1), got {rate}")
    a = np.asarray(inputs, np.float32)
    keep = _rng(seed, "dropout").random(a.shape if noise_shape is None else noise_shape) >= rate
    return _out(a * keep / (1.0 - rate))


def gamma(shape, alpha, dtype=None, seed=None):
    return _out(_rng(seed, "gamma").gamma(alpha, 1.0, _shape(shape, "gamma")), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002 - Keras' names
    return _out(_rng(seed, "beta").beta(alpha, beta, _shape(shape, "beta")), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    return _out(_rng(seed, "binomial").binomial(counts, probabilities, _shape(shape, "binomial")), dtype)
