"""The oracle of the graph-model tests: the small models they build, re-implemented in float64
NumPy (forward and loss only), finite differences over their parameters, and the same in
PyTorch autograd when it is installed.

Nothing here calls corenn: a test builds a corenn model, copies its weights out with
get_weights(), and compares the model's loss and gradients with what these functions compute
from those arrays.
"""
from __future__ import annotations

import numpy as np

from reference import f64, numerical_grad


def softmax(z):
    z = f64(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    None: lambda z: z,
    "linear": lambda z: z,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "softmax": softmax,
}


def dense(x, w, b, activation=None):
    """Keras Dense: activation(x @ kernel + bias), kernel (in, out)."""
    return ACTIVATIONS[activation](f64(x) @ f64(w) + f64(b))


def mse(y, p):
    """Keras 'mse': mean over the last axis, then over the batch (= the mean of all entries)."""
    return float(np.mean((f64(p) - f64(y)) ** 2))


def sparse_categorical_crossentropy(y, probs):
    """Keras 'sparse_categorical_crossentropy' of probabilities (softmax outputs), batch mean."""
    probs = f64(probs)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    return float(-np.mean(np.log(probs[np.arange(len(y)), y])))


def fd_grads(loss_of, params, eps=1e-6):
    """Central finite differences of the scalar ``loss_of(list of float64 arrays)`` with respect
    to each array of ``params``."""
    params = [f64(p).copy() for p in params]
    grads = []
    for i in range(len(params)):
        def f(v, i=i):
            ps = list(params)
            ps[i] = v
            return loss_of(ps)
        grads.append(numerical_grad(f, params[i], eps))
    return grads


def assert_grads_close(got, want, rtol=1e-4, atol=2e-6, names=None):
    """corenn's float32 gradients against a float64 oracle, one array at a time."""
    got, want = list(got), list(want)
    assert len(got) == len(want), f"{len(got)} gradients, expected {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        name = names[k] if names else f"gradient {k}"
        g = np.asarray(g, dtype=np.float64)
        assert g.shape == np.shape(w), f"{name}: shape {g.shape}, expected {np.shape(w)}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)


def torch_grads(loss_of, params):
    """Gradients of ``loss_of(list of float64 torch tensors)`` by torch autograd (import torch
    first: callers skip when it is missing)."""
    import torch
    ts = [torch.tensor(f64(p), requires_grad=True) for p in params]
    loss = loss_of(ts)
    loss.backward()
    return float(loss.detach()), [t.grad.numpy() for t in ts]


def arrays(grads):
    """corenn gradient Tensors as NumPy copies (the layers reuse their buffers)."""
    return [np.array(g, copy=True) for g in grads]
