"""lstm_cell_forward / lstm_cell_backward (ConvLSTM2D's gate math over rows) on every ISA against
the float64 LSTM step of tests/reference.py, and their errors."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


def _step(z, c_prev, act, ract):
    a, r = ref._RNN_ACTS[act][0], ref._RNN_ACTS[ract][0]
    u = z.shape[1] // 4
    i, f, g, o = r(z[:, :u]), r(z[:, u:2 * u]), a(z[:, 2 * u:3 * u]), r(z[:, 3 * u:])
    c = f * c_prev + i * g
    return np.concatenate([i, f, g, o], axis=1), c, o * a(c)


@pytest.mark.parametrize("act,ract", [("tanh", "sigmoid"), ("relu", "sigmoid"), ("tanh", "linear")])
@pytest.mark.parametrize("units", [1, 5, 17])
def test_forward_and_backward_match_the_reference(act, ract, units, isa, rng):
    rows = 7
    z = rng.normal(size=(rows, 4 * units))
    c_prev = rng.normal(size=(rows, units))
    dh, dc_in = rng.normal(size=(rows, units)), rng.normal(size=(rows, units))
    for prev in (c_prev, None):
        gates = kernels.as_tensor(z.astype(np.float32))
        c, h = kernels.lstm_cell_forward(gates, None if prev is None else prev.astype(np.float32),
                                         activation=act, recurrent_activation=ract)
        want_g, want_c, want_h = _step(z, np.zeros_like(c_prev) if prev is None else prev, act, ract)
        np.testing.assert_allclose(np.asarray(gates), want_g, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(c), want_c, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(h), want_h, rtol=1e-5, atol=1e-5)
        dc = kernels.as_tensor(dc_in.astype(np.float32))
        dz = kernels.lstm_cell_backward(gates, c, None if prev is None else prev.astype(np.float32),
                                        dh.astype(np.float32), dc, activation=act, recurrent_activation=ract)
        base = np.zeros_like(c_prev) if prev is None else prev

        def loss(zz, cp):
            _, cc, hh = _step(zz, cp, act, ract)
            return float((hh * dh).sum() + (cc * dc_in).sum())
        np.testing.assert_allclose(np.asarray(dz), ref.numerical_grad(lambda v: loss(v, base), z),
                                   rtol=1e-3, atol=1e-4)
        if prev is None and act == "relu":
            continue   # c = i * relu(zg) is exactly 0 where zg < 0: a kink finite differences halve
        np.testing.assert_allclose(np.asarray(dc), ref.numerical_grad(lambda v: loss(z, v), base),
                                   rtol=1e-3, atol=1e-4)


def test_bad_inputs_name_the_op_and_shapes():
    z = np.zeros((3, 8), np.float32)
    with pytest.raises(ValueError, match=r"lstm_cell_forward: z must have shape \(rows, 4 \* units\)"):
        kernels.lstm_cell_forward(np.zeros((3, 6), np.float32), None)
    with pytest.raises(ValueError, match=r"lstm_cell_forward.*c_prev"):
        kernels.lstm_cell_forward(z, np.zeros((3, 3), np.float32))
    with pytest.raises(NotImplementedError, match=r"lstm_cell_forward: activation 'gelu' is not supported"):
        kernels.lstm_cell_forward(z, None, activation="gelu")
    with pytest.raises(ValueError, match=r"lstm_cell_backward.*dh"):
        kernels.lstm_cell_backward(z, np.zeros((3, 2), np.float32), None, np.zeros((2, 2), np.float32),
                                   np.zeros((3, 2), np.float32))
    with pytest.raises((TypeError, ValueError), match=r"lstm_cell_forward.*float32"):
        kernels.lstm_cell_forward(np.zeros((3, 8), np.int32), None)


def test_gate_math_accuracy_range_and_nan(isa):
    """The default cells' sigmoid and tanh (simd/vec_math.h fast_sigmoid / fast_tanh: a rational
    tanh, no exp or divide) over a dense sweep of inputs: within 4e-7 of float64 absolutely,
    sigmoid in [0, 1] and tanh in [-1, 1] even at +-1e30 and +-inf (exactly 0 / +-1 there), and a
    NaN input stays NaN. With c_prev = 0 the gates are z activated and c = i g, h = o tanh(c)."""
    xs = np.concatenate([np.linspace(-30, 30, 48001), np.geomspace(1e-30, 1e-3, 64),
                         -np.geomspace(1e-30, 1e-3, 64)]).astype(np.float32)
    u = xs.size
    z = np.tile(xs, 4)[None, :]
    gates = kernels.as_tensor(z.copy())
    c, h = kernels.lstm_cell_forward(gates, None)
    g = np.asarray(gates)[0]
    x64 = xs.astype(np.float64)
    sig, th = 1.0 / (1.0 + np.exp(-x64)), np.tanh(x64)
    np.testing.assert_allclose(g[:u], sig, rtol=0, atol=4e-7)
    np.testing.assert_allclose(g[2 * u:3 * u], th, rtol=0, atol=4e-7)
    small = np.abs(x64) < 1e-3   # tanh stays relatively accurate near 0
    np.testing.assert_allclose(g[2 * u:3 * u][small], th[small], rtol=1e-6, atol=0)
    want_c = g[:u].astype(np.float64) * g[2 * u:3 * u]
    np.testing.assert_allclose(np.asarray(c)[0], want_c, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(h)[0], g[3 * u:] * np.tanh(want_c), rtol=0, atol=4e-7)
    assert g[:u].min() >= 0.0 and g[:u].max() <= 1.0
    assert g[2 * u:3 * u].min() >= -1.0 and g[2 * u:3 * u].max() <= 1.0
    edge = np.array([1e30, -1e30, np.inf, -np.inf, np.nan], np.float32)
    ze = kernels.as_tensor(np.tile(edge, 4)[None, :].copy())
    kernels.lstm_cell_forward(ze, None)
    ge = np.asarray(ze)[0]
    np.testing.assert_array_equal(ge[:5], [1.0, 0.0, 1.0, 0.0, np.nan])
    np.testing.assert_array_equal(ge[10:15], [1.0, -1.0, 1.0, -1.0, np.nan])
