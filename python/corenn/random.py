"""``keras.random``: random tensors (Keras 3's names and arguments).

Every function draws from a NumPy generator: with ``seed=None`` corenn's process-wide one (so
``keras.utils.set_random_seed`` makes a run reproducible), with an int a generator of that seed
(the same draw each call, as Keras' stateless int seeds), or with a ``SeedGenerator`` its own
stream. The results are float32 (int32 for ``randint``) Tensors, constants to a GradientTape.
"""
import sys

import numpy as np

from .kernels import Tensor
from .utils.random import get_generator

__all__ = ["set_seed", "SeedGenerator", "Generator", "get_global_generator", "set_global_generator", "split", "stateless_uniform", "stateless_normal",
           "normal", "uniform", "truncated_normal", "randint", "categorical",
           "shuffle", "dropout", "gamma", "beta", "binomial", "log_uniform_candidate_sampler"]


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
    # (np.array, not np.ascontiguousarray: a draw of shape [] stays 0-d, as TensorFlow's). The
    # dtype policy's TypeError (float64 draws are not made as float32 behind the caller's back)
    # names the drawing function: tf.random.uniform(..., dtype=tf.float64) -> "random.uniform".
    from .dtypes import storage_dtype
    store = storage_dtype(dtype or "float32", f"random.{sys._getframe(1).f_code.co_name}")
    return Tensor.from_numpy(np.array(a, dtype=store, order="C"))


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
    return _out(a, a.dtype if a.dtype.kind in "iu" or a.dtype in (np.float64, np.float16) else "float32")


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs * keep / (1 - rate), keep ~ Bernoulli(1 - rate) drawn at ``noise_shape`` (None
    entries take the input's size, as Keras) and broadcast; differentiable (a GradientTape sees
    the multiply, so dx = dy * keep / (1 - rate))."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"keras.random.dropout: rate must be in [0, 1), got {rate}")
    from . import ops
    x = inputs if isinstance(inputs, Tensor) else _out(np.asarray(inputs, np.float32))
    shape = tuple(x.shape)
    if noise_shape is not None:
        dims = tuple(noise_shape)
        if len(dims) != len(shape):
            raise ValueError(f"keras.random.dropout: noise_shape {noise_shape} needs one entry per axis of "
                             f"inputs {shape}")
        shape = tuple(s if d is None else int(d) for d, s in zip(dims, x.shape))
    keep = _rng(seed, "dropout").random(shape) >= rate
    return ops.multiply(x, _out(keep / np.float32(1.0 - rate)))


def gamma(shape, alpha, dtype=None, seed=None, beta=None):
    """Gamma(alpha, rate beta) draws. A float ``alpha`` (Keras 3) gives ``shape``; an array ``alpha``
    or ``beta`` (``tf.random.gamma``) gives one draw per parameter: ``shape + alpha.shape``."""
    alpha = np.asarray(alpha, np.float64)
    rate = np.asarray(1.0 if beta is None else beta, np.float64)
    params = np.broadcast_shapes(alpha.shape, rate.shape)
    dims = _shape(shape, "gamma") + params
    return _out(_rng(seed, "gamma").gamma(np.broadcast_to(alpha, dims), 1.0 / np.broadcast_to(rate, dims)), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002 - Keras' names
    return _out(_rng(seed, "beta").beta(alpha, beta, _shape(shape, "beta")), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    return _out(_rng(seed, "binomial").binomial(counts, probabilities, _shape(shape, "binomial")), dtype)


# -- TensorFlow's stateless draws and Generator ---------------------------------------------------
# A stateless seed is a pair of integers; the same pair gives the same draw (the values are
# NumPy's, not TensorFlow's Philox stream: scripts rely on the determinism, not on the numbers).

def stateless_rng(seed, op):
    """The generator of a stateless seed: a pair of ints (a list, array or Tensor of shape (2,))."""
    pair = np.asarray(seed).reshape(-1)
    if pair.shape != (2,) or pair.dtype.kind not in "iu":
        raise ValueError(f"tf.random.{op}: seed must be a pair of integers (shape (2,)), got {np.asarray(seed)!r}"[:200])
    return np.random.default_rng([int(v) & 0xFFFFFFFFFFFFFFFF for v in pair])


def split(seed, num=2, alg="auto_select"):
    """``tf.random.split``: ``num`` new stateless seeds (num, 2) int64 from one."""
    return _out(stateless_rng(seed, "split").integers(0, 2 ** 63 - 1, (int(num), 2)), "int64")


def stateless_uniform(shape, seed, minval=0.0, maxval=None, dtype="float32", alg="auto_select"):
    rng, dims = stateless_rng(seed, "stateless_uniform"), _shape(shape, "stateless_uniform")
    if np.dtype(str(dtype)).kind in "iu":
        if maxval is None:
            raise ValueError("tf.random.stateless_uniform: integer draws need maxval")
        return _out(rng.integers(int(minval), int(maxval), dims), str(dtype))
    return _out(rng.uniform(minval, 1.0 if maxval is None else maxval, dims), dtype)


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", alg="auto_select"):
    return _out(stateless_rng(seed, "stateless_normal").normal(mean, stddev, _shape(shape, "stateless_normal")), dtype)


class Generator:
    """``tf.random.Generator``: a stream of draws of its own; ``make_seeds`` gives stateless
    seeds for the ``stateless_*`` functions (the data-augmentation tutorial's pattern)."""

    def __init__(self, seed=None, alg=None):
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_seed(cls, seed, alg=None):
        return cls(int(seed) & 0xFFFFFFFFFFFFFFFF, alg)

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        return cls(None, alg)

    def reset_from_seed(self, seed):
        self._rng = np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)

    def make_seeds(self, count=1):
        """(2, count) int64: column i is one stateless seed."""
        return _out(self._rng.integers(0, 2 ** 63 - 1, (2, int(count))), "int64")

    def normal(self, shape, mean=0.0, stddev=1.0, dtype="float32"):
        return _out(self._rng.normal(mean, stddev, _shape(shape, "Generator.normal")), dtype)

    def uniform(self, shape, minval=0.0, maxval=None, dtype="float32"):
        dims = _shape(shape, "Generator.uniform")
        if np.dtype(str(dtype)).kind in "iu":
            return _out(self._rng.integers(int(minval), int(maxval), dims), str(dtype))
        return _out(self._rng.uniform(minval, 1.0 if maxval is None else maxval, dims), dtype)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype="float32"):
        """Normal draws within two standard deviations of the mean (redrawn outside)."""
        dims = _shape(shape, "Generator.truncated_normal")
        z = self._rng.standard_normal(dims)
        bad = np.abs(z) > 2.0
        while bad.any():
            z[bad] = self._rng.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2.0
        return _out(mean + stddev * z, dtype)

    def split(self, count=1):
        return [Generator(self._rng.integers(0, 2 ** 63 - 1)) for _ in range(int(count))]


class _GlobalGenerator(Generator):
    """tf.random's global generator: it draws from corenn's process-wide generator (so
    ``tf.random.set_seed`` makes it reproducible, as it does every other draw) until
    ``reset_from_seed`` gives it a stream of its own."""

    def __init__(self):
        self.__dict__["_own"] = None

    @property
    def _rng(self):
        own = self.__dict__["_own"]
        return own if own is not None else get_generator()

    @_rng.setter
    def _rng(self, value):
        self.__dict__["_own"] = value


_GLOBAL_GENERATOR = [None]


def get_global_generator():
    """``tf.random.get_global_generator()``: the process's Generator (made on first use)."""
    if _GLOBAL_GENERATOR[0] is None:
        _GLOBAL_GENERATOR[0] = _GlobalGenerator()
    return _GLOBAL_GENERATOR[0]


def set_global_generator(generator):
    """``tf.random.set_global_generator(g)``: ``g`` is returned by get_global_generator from now on."""
    if not isinstance(generator, Generator):
        raise TypeError(f"tf.random.set_global_generator: expected a tf.random.Generator, got "
                        f"{type(generator).__name__}")
    _GLOBAL_GENERATOR[0] = generator


def _distinct_draws(draw, n):
    """``n`` distinct classes by rejection from ``draw(m)`` (m classes at a time), in the order
    first drawn, and the number of draws it took (the candidate samplers' ``unique=True``)."""
    picked, seen, tries = [], set(), 0
    while len(picked) < n:
        for c in draw(max(n - len(picked), 1)):
            tries += 1
            if c not in seen:
                seen.add(c)
                picked.append(c)
                if len(picked) == n:
                    break
    return np.array(picked, np.int64), tries


def _log_uniform_prob(classes, range_max):
    # Zipf-like: P(k) = log((k + 2) / (k + 1)) / log(range_max + 1), for k in [0, range_max)
    k = np.asarray(classes, np.float64)
    return np.log1p(1.0 / (k + 1.0)) / np.log(range_max + 1.0)


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """``tf.random.log_uniform_candidate_sampler`` (word2vec's negative sampling): ``num_sampled``
    class ids drawn from the log-uniform (Zipf) distribution over [0, range_max) — without
    repetition when ``unique`` — and the expected counts of the true and the sampled classes
    under that sampling. Returns (sampled_candidates int64 (num_sampled,), true_expected_count
    float32 (batch, num_true), sampled_expected_count float32 (num_sampled,))."""
    op = "log_uniform_candidate_sampler"
    true = np.asarray(true_classes).astype(np.int64)
    if true.ndim != 2 or true.shape[1] != int(num_true):
        raise ValueError(f"tf.random.{op}: true_classes must have shape (batch, num_true={num_true}), "
                         f"got {true.shape}")
    n, r = int(num_sampled), int(range_max)
    if r <= 0 or n < 0 or (unique and n > r):
        raise ValueError(f"tf.random.{op}: need range_max > 0 and 0 <= num_sampled"
                         f"{' <= range_max' if unique else ''}, got num_sampled={n}, range_max={r}")
    rng = _rng(seed, op)

    def draw(m):   # inverse CDF: floor(exp(u * log(range_max + 1))) - 1
        return np.clip((np.exp(rng.random(m) * np.log(r + 1.0)) - 1.0).astype(np.int64), 0, r - 1)

    if unique:
        sampled, tries = _distinct_draws(draw, n)

        def expected(c):   # P(c drawn at least once in `tries` draws)
            return -np.expm1(tries * np.log1p(-_log_uniform_prob(c, r)))
    else:
        sampled = draw(n)

        def expected(c):
            return _log_uniform_prob(c, r) * n
    return (Tensor.from_numpy(sampled), _out(expected(true)), _out(expected(sampled)))


# TensorFlow's other stateless draws, poisson, fold_in, the global Generator, candidate samplers
from ._random_tf import *  # noqa: E402,F401,F403
from ._random_tf import __all__ as _tf_more  # noqa: E402

__all__ += _tf_more
