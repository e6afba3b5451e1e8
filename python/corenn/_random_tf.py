"""More of ``tf.random``: the stateless draws (truncated normal, categorical, gamma, Poisson,
binomial), ``poisson``, ``fold_in``, ``create_rng_state``, ``Algorithm``, the global
Generator, and the candidate samplers (uniform, fixed unigram, learned unigram, all).

As the existing stateless functions (random.py): a seed pair always gives the same draw, but the
values are NumPy's, not TensorFlow's Philox stream."""
from __future__ import annotations

import enum

import numpy as np

from .kernels import Tensor
from .random import (Generator, _distinct_draws, _out, _rng, _shape, get_global_generator, set_global_generator,
                     stateless_rng)

__all__ = ["stateless_truncated_normal", "stateless_parameterized_truncated_normal", "stateless_categorical",
           "stateless_gamma", "stateless_poisson", "stateless_binomial", "poisson", "fold_in", "create_rng_state",
           "Algorithm", "uniform_candidate_sampler",
           "fixed_unigram_candidate_sampler", "learned_unigram_candidate_sampler", "all_candidate_sampler",
           "experimental"]


class Algorithm(enum.IntEnum):
    PHILOX = 1
    THREEFRY = 2
    AUTO_SELECT = 3


def _truncated(rng, dims, lo, hi):
    """Standard normals restricted to [lo, hi] (broadcast to dims) by redrawing the rejects."""
    lo, hi = np.broadcast_to(lo, dims).astype(np.float64), np.broadcast_to(hi, dims).astype(np.float64)
    out = rng.standard_normal(dims)
    bad = (out < lo) | (out > hi)
    for _ in range(1000):
        if not bad.any():
            break
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = (out < lo) | (out > hi)
    if bad.any():     # a narrow interval far in a tail: uniform inside it instead
        out[bad] = rng.uniform(lo[bad], hi[bad])
    return out


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", alg="auto_select", name=None):
    """Normals of ``mean`` / ``stddev`` within two standard deviations (the rest redrawn)."""
    dims = _shape(shape, "stateless_truncated_normal")
    z = _truncated(stateless_rng(seed, "stateless_truncated_normal"), dims, -2.0, 2.0)
    return _out(np.asarray(mean) + np.asarray(stddev) * z, dtype)


def stateless_parameterized_truncated_normal(shape, seed, means=0.0, stddevs=1.0, minvals=-2.0, maxvals=2.0,
                                             name=None):
    dims = _shape(shape, "stateless_parameterized_truncated_normal")
    m, s = np.asarray(means, np.float64), np.asarray(stddevs, np.float64)
    z = _truncated(stateless_rng(seed, "stateless_parameterized_truncated_normal"), dims,
                   (np.asarray(minvals) - m) / s, (np.asarray(maxvals) - m) / s)
    return _out(m + s * z)


def stateless_categorical(logits, num_samples, seed, dtype="int64", name=None):
    """(batch, num_samples) class indices drawn from softmax(logits) of each row."""
    lg = np.asarray(logits, np.float64)
    if lg.ndim != 2:
        raise ValueError(f"tf.random.stateless_categorical: logits must be (batch, classes), got shape {lg.shape}")
    p = np.exp(lg - lg.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = stateless_rng(seed, "stateless_categorical").random((lg.shape[0], int(num_samples)))
    idx = np.array([np.searchsorted(cdf[b], u[b], side="right") for b in range(lg.shape[0])]).reshape(u.shape)
    return _out(np.minimum(idx, lg.shape[1] - 1), str(dtype))


def _with_params(op, shape, *params):
    dims = _shape(shape, op)
    try:
        for p in params:
            np.broadcast_to(np.asarray(p), dims)
    except ValueError:
        raise ValueError(f"tf.random.{op}: parameters of shapes {[np.shape(p) for p in params]} do not broadcast to "
                         f"shape {dims}") from None
    return dims


def stateless_gamma(shape, seed, alpha, beta=None, dtype="float32", name=None):
    """Gamma(alpha, rate beta) draws of ``shape`` (alpha, beta broadcast against it)."""
    dims = _with_params("stateless_gamma", shape, alpha, 1.0 if beta is None else beta)
    g = stateless_rng(seed, "stateless_gamma").standard_gamma(np.broadcast_to(np.asarray(alpha, np.float64), dims))
    return _out(g / (1.0 if beta is None else np.asarray(beta, np.float64)), dtype)


def stateless_poisson(shape, seed, lam, dtype="int32", name=None):
    dims = _with_params("stateless_poisson", shape, lam)
    return _out(stateless_rng(seed, "stateless_poisson").poisson(np.broadcast_to(np.asarray(lam, np.float64), dims)),
                str(dtype))


def stateless_binomial(shape, seed, counts, probs, output_dtype="int32", name=None):
    dims = _with_params("stateless_binomial", shape, counts, probs)
    c = np.broadcast_to(np.asarray(counts), dims).astype(np.int64)
    p = np.broadcast_to(np.asarray(probs, np.float64), dims)
    return _out(stateless_rng(seed, "stateless_binomial").binomial(c, p), str(output_dtype))


def poisson(shape, lam, dtype="float32", seed=None, name=None):
    """Poisson draws of shape ``shape + lam.shape`` (TensorFlow's layout)."""
    lam = np.asarray(lam, np.float64)
    dims = _shape(shape, "poisson") + lam.shape
    return _out(_rng(seed, "poisson").poisson(np.broadcast_to(lam, dims)), str(dtype))


def fold_in(seed, data, alg="auto_select"):
    """A new stateless seed (2,) int64 from a seed pair and an integer, deterministically."""
    pair = np.asarray(seed).reshape(-1)
    if pair.shape != (2,) or pair.dtype.kind not in "iu":
        raise ValueError(f"tf.random.fold_in: seed must be a pair of integers, got {np.asarray(seed)!r}"[:200])
    rng = np.random.default_rng([int(v) & 0xFFFFFFFFFFFFFFFF for v in pair] + [int(data) & 0xFFFFFFFFFFFFFFFF, 0xF01D])
    return _out(rng.integers(0, 2 ** 63 - 1, 2), "int64")


def create_rng_state(seed, alg):
    """The int64 state of a counter-based generator for ``seed``: 3 words for Philox, 2 for
    ThreeFry (the seed in the first word)."""
    a = {"philox": 1, "threefry": 2, "auto_select": 3}.get(str(alg).lower(), alg)
    n = 2 if int(a) == 2 else 3
    state = np.zeros(n, np.int64)
    state[0] = np.int64(np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF).astype(np.int64))
    return state


# -- candidate samplers ----------------------------------------------------------------------------

def _sample(op, true_classes, num_true, num_sampled, unique, range_max, probs, seed):
    """(sampled (num_sampled,) int64, true_expected (batch, num_true), sampled_expected) for
    classes drawn from ``probs`` (range_max,): with replacement, or distinct by rejection; the
    expected counts as TensorFlow defines them (n p, or 1 - (1 - p)^tries when unique)."""
    true = np.asarray(true_classes).astype(np.int64)
    if true.ndim != 2 or true.shape[1] != int(num_true):
        raise ValueError(f"tf.random.{op}: true_classes must have shape (batch, num_true={num_true}), got {true.shape}")
    n, r = int(num_sampled), int(range_max)
    if r <= 0 or n < 0 or (unique and n > int(np.count_nonzero(probs))):
        raise ValueError(f"tf.random.{op}: need range_max > 0 and 0 <= num_sampled"
                         f"{' <= the classes that can be drawn' if unique else ''}, got num_sampled={n}, range_max={r}")
    rng = _rng(seed, op)
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]

    def draw(m):
        return np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), r - 1).astype(np.int64)
    if unique:
        sampled, tries = _distinct_draws(draw, n)

        def expected(c):
            return -np.expm1(tries * np.log1p(-np.minimum(probs[c], 1 - 1e-12)))
    else:
        sampled = draw(n)

        def expected(c):
            return probs[c] * n
    if true.size and (true.min() < 0 or true.max() >= r):
        raise ValueError(f"tf.random.{op}: true_classes must lie in [0, {r})")
    return Tensor.from_numpy(sampled), _out(expected(true)), _out(expected(sampled))


def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """Classes drawn uniformly from [0, range_max)."""
    return _sample("uniform_candidate_sampler", true_classes, num_true, num_sampled, unique, range_max,
                   np.full(int(range_max), 1.0 / int(range_max)), seed)


def fixed_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, vocab_file="",
                                    distortion=1.0, num_reserved_ids=0, num_shards=1, shard=0, unigrams=(),
                                    seed=None, name=None):
    """Classes drawn with probability proportional to unigrams ** distortion (the first
    num_reserved_ids classes never drawn); ``unigrams`` a list of counts (vocab_file: one count
    per line, the last comma-separated field)."""
    counts = list(unigrams)
    if vocab_file:
        with open(vocab_file) as fh:
            counts = [float(line.strip().split(",")[-1]) for line in fh if line.strip()]
    counts = np.asarray(counts, np.float64)
    r = int(range_max)
    if counts.size + int(num_reserved_ids) != r:
        raise ValueError(f"tf.random.fixed_unigram_candidate_sampler: num_reserved_ids + len(unigrams) must equal "
                         f"range_max={r}, got {int(num_reserved_ids)} + {counts.size}")
    w = np.concatenate([np.zeros(int(num_reserved_ids)), counts ** float(distortion)])
    return _sample("fixed_unigram_candidate_sampler", true_classes, num_true, num_sampled, unique, r,
                   w / w.sum(), seed)


def learned_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None,
                                      name=None):
    """Classes drawn by the unigram counts of the true classes seen so far in this process (plus
    one for every class, so each can be drawn), updated with this call's true classes first."""
    r = int(range_max)
    counts = _LEARNED.setdefault(r, np.ones(r))
    true = np.asarray(true_classes).astype(np.int64).reshape(-1)
    if true.size and 0 <= true.min() and true.max() < r:
        np.add.at(counts, true, 1.0)
    return _sample("learned_unigram_candidate_sampler", true_classes, num_true, num_sampled, unique, r,
                   counts / counts.sum(), seed)


_LEARNED = {}


def all_candidate_sampler(true_classes, num_true, num_sampled, unique, seed=None, name=None):
    """Every class 0..num_sampled-1, each with expected count 1."""
    true = np.asarray(true_classes).astype(np.int64)
    if true.ndim != 2 or true.shape[1] != int(num_true):
        raise ValueError(f"tf.random.all_candidate_sampler: true_classes must have shape (batch, num_true={num_true}), "
                         f"got {true.shape}")
    n = int(num_sampled)
    return (Tensor.from_numpy(np.arange(n, dtype=np.int64)), _out(np.ones(true.shape)), _out(np.ones(n)))


class experimental:
    """``tf.random.experimental``: the stateless seed helpers and the Generator."""
    Generator = Generator
    Algorithm = Algorithm
    create_rng_state = staticmethod(create_rng_state)
    get_global_generator = staticmethod(get_global_generator)
    set_global_generator = staticmethod(set_global_generator)
    stateless_fold_in = staticmethod(fold_in)

    @staticmethod
    def stateless_split(seed, num=2, alg="auto_select"):
        from .random import split
        return split(seed, num)

    @staticmethod
    def index_shuffle(index, seed, max_index):
        """A seeded permutation of [0, max_index] applied to ``index``."""
        perm = stateless_rng(np.asarray(seed).reshape(-1)[:2], "index_shuffle").permutation(int(max_index) + 1)
        return _out(perm[np.asarray(index).astype(np.int64)], "int64")

