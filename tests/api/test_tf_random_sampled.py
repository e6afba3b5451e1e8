"""tf.random additions (stateless truncated normal / categorical / gamma / Poisson / binomial,
poisson, fold_in, create_rng_state, the global Generator, candidate samplers) and tf.nn's
sampled losses (nce_loss, sampled_softmax_loss, compute_accidental_hits).

Draws are checked for determinism, support and moments (large samples, loose bounds); the
losses against a NumPy float64 reference and its central-difference gradient.
"""
import numpy as np
import pytest

import corenn as tf

R = tf.random


def test_stateless_draws_are_deterministic_and_have_the_right_law():
    a = np.asarray(R.stateless_truncated_normal([20000], [1, 2], mean=3.0, stddev=2.0))
    np.testing.assert_array_equal(a, np.asarray(R.stateless_truncated_normal([20000], [1, 2], mean=3.0, stddev=2.0)))
    assert not np.array_equal(a, np.asarray(R.stateless_truncated_normal([20000], [1, 3], mean=3.0, stddev=2.0)))
    assert a.min() >= -1.0 and a.max() <= 7.0 and abs(a.mean() - 3.0) < 0.05
    # the std of a standard normal truncated to [-2, 2] is 0.8796
    assert abs(a.std() / 2.0 - 0.8796) < 0.02
    p = R.stateless_parameterized_truncated_normal([5000], [4, 5], means=0.0, stddevs=1.0, minvals=0.5, maxvals=1.0)
    assert np.asarray(p).min() >= 0.5 and np.asarray(p).max() <= 1.0
    logits = np.log(np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]]))
    c = np.asarray(R.stateless_categorical(logits, 20000, [3, 4]))
    assert c.shape == (2, 20000) and c.dtype == np.int64
    np.testing.assert_allclose(np.bincount(c[0], minlength=3) / 20000, [0.2, 0.3, 0.5], atol=0.02)
    np.testing.assert_allclose(np.bincount(c[1], minlength=3) / 20000, [0.9, 0.05, 0.05], atol=0.02)
    g = np.asarray(R.stateless_gamma([20000, 2], [5, 6], alpha=[2.0, 5.0], beta=[1.0, 2.0]))
    np.testing.assert_allclose(g.mean(axis=0), [2.0, 2.5], rtol=0.05)
    po = np.asarray(R.stateless_poisson([20000], [7, 8], lam=4.0))
    assert po.dtype == np.int32 and abs(po.mean() - 4.0) < 0.1
    bi = np.asarray(R.stateless_binomial([20000], [9, 9], counts=10, probs=0.3))
    assert bi.min() >= 0 and bi.max() <= 10 and abs(bi.mean() - 3.0) < 0.1
    with pytest.raises(ValueError, match="stateless_gamma"):
        R.stateless_gamma([3], [1, 2], alpha=[1.0, 2.0])


def test_poisson_fold_in_rng_state_and_global_generator():
    assert tuple(R.poisson([4], [1.0, 5.0]).shape) == (4, 2)
    s1, s2 = np.asarray(R.fold_in([1, 2], 3)), np.asarray(R.fold_in([1, 2], 4))
    np.testing.assert_array_equal(s1, np.asarray(R.fold_in([1, 2], 3)))
    assert s1.shape == (2,) and not np.array_equal(s1, s2)
    assert list(R.create_rng_state(5, "philox")) == [5, 0, 0] and len(R.create_rng_state(5, "threefry")) == 2
    assert int(R.Algorithm.PHILOX) == 1
    g = R.Generator.from_seed(7)
    R.set_global_generator(g)
    assert R.get_global_generator() is g
    with pytest.raises(TypeError):
        R.set_global_generator(3)
    assert len(np.asarray(R.experimental.stateless_split([1, 2], 3))) == 3


def test_candidate_samplers():
    true = np.array([[1], [2]])
    s, te, se = R.uniform_candidate_sampler(true, 1, 5, True, 10, seed=3)
    s = np.asarray(s)
    assert len(set(s.tolist())) == 5 and s.min() >= 0 and s.max() < 10
    np.testing.assert_allclose(np.asarray(te), np.full((2, 1), np.asarray(se)[0]))
    s, te, se = R.uniform_candidate_sampler(true, 1, 4, False, 10, seed=3)
    np.testing.assert_allclose(np.asarray(se), 0.4, rtol=1e-6)            # n p = 4 / 10
    s, te, se = R.fixed_unigram_candidate_sampler(true, 1, 200, False, 6, unigrams=[1, 2, 3, 4], num_reserved_ids=2,
                                                  seed=1)
    assert np.asarray(s).min() >= 2
    np.testing.assert_allclose(np.asarray(te).ravel(), [0.0, 200 * 0.1], rtol=1e-6)
    s, te, se = R.all_candidate_sampler(true, 1, 4, True)
    np.testing.assert_array_equal(np.asarray(s), [0, 1, 2, 3])
    s, _, _ = R.learned_unigram_candidate_sampler(true, 1, 3, True, 8, seed=2)
    assert len(set(np.asarray(s).tolist())) == 3
    s, _, _ = tf.nn.uniform_candidate_sampler(true, 1, 2, True, 5, seed=0)
    assert np.asarray(s).shape == (2,)


def _ref_logits(w, b, lab, x, sampled, te, se, remove_hits):
    true_logits = np.einsum("bd,btd->bt", x, w[lab]) + b[lab] - np.log(te)
    s_logits = x @ w[sampled].T + b[sampled] - np.log(se)
    if remove_hits:
        s_logits = s_logits + np.where((lab[:, :, None] == sampled[None, None, :]).any(1), np.finfo(np.float32).min, 0)
    targets = np.concatenate([np.full(lab.shape, 1.0 / lab.shape[1]), np.zeros((lab.shape[0], sampled.size))], 1)
    return np.concatenate([true_logits, s_logits], 1), targets


def ref_nce(w, b, lab, x, sv, remove_hits=False):
    z, t = _ref_logits(w, b, lab, x, *sv, remove_hits)
    return np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), axis=1)


def ref_sampled_softmax(w, b, lab, x, sv, remove_hits=True):
    z, t = _ref_logits(w, b, lab, x, *sv, remove_hits)
    m = z.max(1, keepdims=True)
    return -np.sum(t * (z - m - np.log(np.exp(z - m).sum(1, keepdims=True))), axis=1)


@pytest.mark.parametrize("loss,ref,hits", [(tf.nn.nce_loss, ref_nce, False), (tf.nn.nce_loss, ref_nce, True),
                                           (tf.nn.sampled_softmax_loss, ref_sampled_softmax, True),
                                           (tf.nn.sampled_softmax_loss, ref_sampled_softmax, False)])
def test_sampled_losses_match_reference_and_gradients(loss, ref, hits):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((10, 4))
    b = rng.standard_normal(10)
    x = rng.standard_normal((3, 4))
    lab = np.array([[1, 2], [4, 5], [7, 9]])
    sv = (np.array([2, 4, 8]), np.full((3, 2), 0.2), np.array([0.3, 0.2, 0.25]))
    want = ref(w, b, lab, x, sv, hits)
    wv, bv, xv = (tf.Variable(a.astype(np.float32)) for a in (w, b, x))
    with tf.GradientTape() as tape:
        got = loss(wv, bv, lab, xv, 3, 10, num_true=2, sampled_values=sv, remove_accidental_hits=hits)
        total = tf.reduce_sum(got)
    gw, gb, gx = (np.asarray(g, np.float64) for g in tape.gradient(total, [wv, bv, xv]))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    params = [w, b, x]
    for k, g in ((2, gx), (0, gw), (1, gb)):
        num = np.zeros_like(params[k])
        for i in np.ndindex(params[k].shape):
            plus, minus = [p.copy() for p in params], [p.copy() for p in params]
            plus[k][i] += 1e-6
            minus[k][i] -= 1e-6
            num[i] = (ref(plus[0], plus[1], lab, plus[2], sv, hits).sum()
                      - ref(minus[0], minus[1], lab, minus[2], sv, hits).sum()) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-5)


def test_default_sampler_and_accidental_hits():
    rng = np.random.default_rng(1)
    w, b, x = rng.standard_normal((50, 3)), rng.standard_normal(50), rng.standard_normal((4, 3))
    out = tf.nn.sampled_softmax_loss(w, b, [[1], [2], [3], [4]], x, 5, 50)
    assert tuple(out.shape) == (4,) and np.all(np.isfinite(np.asarray(out)))
    rows, ids, weights = tf.nn.compute_accidental_hits([[1, 2], [4, 5]], [2, 4, 9], 2)
    np.testing.assert_array_equal(np.asarray(rows), [0, 1])
    np.testing.assert_array_equal(np.asarray(ids), [0, 1])
    assert np.all(np.asarray(weights) == np.finfo(np.float32).min)
