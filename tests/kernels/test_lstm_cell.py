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
