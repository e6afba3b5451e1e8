"""Muon and ScheduleFreeAdamW: Keras 3.15's two newest optimizers.

Neither has a fused C++ update kernel yet: the elementwise steps run in NumPy on the variables'
buffers, in place, in the variable's dtype as Keras computes them (float32, or float64 for a
float64 variable, whose state is float64 too), and Muon's matrix products go through corenn's
GEMM (``ops.matmul``; NumPy's for a float64 variable). Clipping and decoupled weight decay happen first, as
in every corenn optimizer (optimizer.py's module docstring).

Muon (Jordan et al. 2024; the Moonlight scaling of Liu et al., arXiv 2502.16982), per 2-D
variable W (n, m) that is not excluded:
    M = momentum M + g                       (the "momentum" slot)
    G = g + momentum M  if nesterov else M
    O = NS5(G): X = G / (||G||_F + 1e-7) (transposed when n > m), then ns_steps times
        A = X X^T,  X = a X + (b A + c A A) X
    W -= lr * sqrt(max(n, m)) * rms_rate * O (rms_rate None: no scaling)
Every other variable (rank != 2, a path containing "embedding" when exclude_embeddings, a
path matching a regular expression of exclude_layers) takes an Adam step with
lr * adam_lr_ratio:  m += (g - m)(1 - b1),  v += (g^2 - v)(1 - b2),
    W -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon).
Weight decay: weight_decay for the Muon variables, adam_weight_decay for the Adam ones.

ScheduleFreeAdamW (Defazio et al., "The Road Less Scheduled", 2024): the variable holds
y = (1 - b1) z + b1 x; the "momentum" slot is z (starting at the variable), "velocity" v:
    lr_t = lr * min(t / warmup_steps, 1)     (warmup_steps > 0)
    v += (g^2 - v)(1 - b2);  z -= lr_t g / (sqrt(v / (1 - b2^t)) + epsilon)
    x = (y - (1 - b1) z_old) / b1;  x = (1 - 1/t) x + z / t;  y = (1 - b1) z + b1 x
x is recovered from the old z, as Keras' source writes it (momentum_old) and its JAX backend
computes; Keras' torch backend reads z after its in-place update there instead, which differs
from the second step on.
"""
from __future__ import annotations

import re

import numpy as np

from .optimizer import Optimizer, _numpy_dtype, check_hyperparameter

__all__ = ["Muon", "ScheduleFreeAdamW"]


class _NumpyStep(Optimizer):
    """The parts of a NumPy-level optimizer: clipping (Keras 3's rules) and decoupled decay."""

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        raise NotImplementedError(f"{type(self).__name__}: exclude_from_weight_decay is not supported (its decay "
                                  f"is part of its own step; Muon's exclude_layers picks the Adam-stepped "
                                  f"variables)")

    # ``variables`` lists the state as Keras' optimizer creates it (each variable's slots in turn),
    # so a Keras file's optimizer state reads one to one (saving_keras)
    _variables_in_keras_order = True
    _steps_in_numpy = True   # a float64 variable steps in float64 here, no split (Optimizer.apply_unscaled)

    def _clipped(self, grads, params):
        """The gradients in their variables' dtypes (float32, or float64 for a float64
        variable), clipped; a global norm is over all of them together."""
        gs = [np.asarray(g, np.float64 if np.asarray(p).dtype == np.float64 else np.float32)
              for g, p in zip(grads, params)]
        if self.clipvalue:
            gs = [np.clip(g, -self.clipvalue, self.clipvalue) for g in gs]
        if self.clipnorm:
            out = []
            for g in gs:
                norm = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                out.append(g * g.dtype.type(self.clipnorm / max(norm, self.clipnorm)))
            gs = out
        if self.global_clipnorm:
            norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in gs)))
            gs = [g * g.dtype.type(self.global_clipnorm / max(norm, self.global_clipnorm)) for g in gs]
        return gs

    @staticmethod
    def _decay(w, decay, lr):
        if decay:
            f = w.dtype.type   # float32 constants for a float32 variable, float64 for a float64 one
            w -= w * f(decay) * f(lr)


class Muon(_NumpyStep):
    """Keras 3.15's Muon: momentum orthogonalized by a Newton-Schulz iteration for 2-D weights,
    AdamW for the rest (module docstring for the math).

    Args:
        learning_rate (0.001), adam_beta_1 (0.9), adam_beta_2 (0.999), adam_weight_decay (0.004),
        epsilon (1e-7), weight_decay (0.004), exclude_layers (regular expressions matched against
        a variable's path, "layer/weight"), exclude_embeddings (True), muon_a, muon_b, muon_c (the
        quintic's coefficients), adam_lr_ratio (1), momentum (0.95), ns_steps (5), nesterov
        (True), rms_rate (0.2, or None), and the options every optimizer takes.
    """

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004,
                 epsilon=1e-7, weight_decay=0.004, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, exclude_layers=None, exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750,
                 muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name or "muon", **kwargs)
        owner = "Muon"
        self.adam_beta_1 = check_hyperparameter(owner, "beta_1", adam_beta_1)
        self.adam_beta_2 = check_hyperparameter(owner, "beta_2", adam_beta_2)
        self.adam_weight_decay = check_hyperparameter(owner, "weight_decay", adam_weight_decay, optional=True)
        self.epsilon = check_hyperparameter(owner, "epsilon", epsilon)
        self.momentum = check_hyperparameter(owner, "momentum", momentum)
        self.muon_a, self.muon_b, self.muon_c = float(muon_a), float(muon_b), float(muon_c)
        self.adam_lr_ratio = float(adam_lr_ratio)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, (int, np.integer)) or ns_steps < 0:
            raise ValueError(f"Muon: ns_steps must be a non-negative int, got {ns_steps!r}")
        self.ns_steps = int(ns_steps)
        self.nesterov = bool(nesterov)
        self.rms_rate = None if rms_rate is None else float(rms_rate)
        self.exclude_embeddings = bool(exclude_embeddings)
        self.exclude_layers = list(exclude_layers or [])

    def _uses_adam(self, var):
        if len(var.shape) != 2:
            return True
        path = str(getattr(var, "path", None) or getattr(var, "name", None) or "")
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(k, path) for k in self.exclude_layers)

    def build(self, var_list):
        super().build(var_list)
        self._adam = [self._uses_adam(t) for t in self._var_tensors]
        self._momentums = [np.zeros(tuple(t.shape), _numpy_dtype(t)) for t in self._var_tensors]
        self._velocities = [np.zeros(tuple(t.shape), _numpy_dtype(t)) if a else None for t, a in
                            zip(self._var_tensors, self._adam)]

    @property
    def _state_variables(self):
        """Keras' order: each variable's momentum, then its velocity where it takes Adam steps."""
        if not self.built:
            return []
        out = self._extra_variables()
        for m, v in zip(self._momentums, self._velocities):
            out += [m] if v is None else [m, v]
        return out

    def _newton_schulz(self, g):
        from .. import ops
        f = g.dtype.type
        # corenn's GEMM takes NumPy arrays as float32 data: a float64 variable's products are NumPy's
        matmul = np.matmul if g.dtype == np.float64 else (lambda p, q: np.asarray(ops.matmul(p, q)))
        tall = g.shape[0] > g.shape[1]
        x = g.T if tall else g
        x = np.ascontiguousarray(x / f(np.linalg.norm(x) + 1e-7), g.dtype)
        a, b, c = f(self.muon_a), f(self.muon_b), f(self.muon_c)
        for _ in range(self.ns_steps):
            gram = matmul(x, np.ascontiguousarray(x.T))
            poly = b * gram + c * matmul(gram, gram)
            x = a * x + matmul(poly, x)
        return x.T if tall else x

    def _update(self, params, grads, state, lr):
        index = {id(t): i for i, t in enumerate(self._var_tensors)}
        t = self._update_count() + 1
        grads = self._clipped(grads, params)
        for p, g in zip(params, grads):
            i = index[id(p)]
            w = np.asarray(p)
            f = w.dtype.type   # the variable's precision for every constant
            m, v = self._momentums[i], self._velocities[i]
            if v is not None:
                self._decay(w, self.adam_weight_decay, lr)
                b1, b2 = self.adam_beta_1, self.adam_beta_2
                alpha = f(lr * self.adam_lr_ratio * np.sqrt(1 - b2 ** t) / (1 - b1 ** t))
                m += (g - m) * f(1 - b1)
                v += (g * g - v) * f(1 - b2)
                w -= m * alpha / (np.sqrt(v) + f(self.epsilon))
                continue
            self._decay(w, self.weight_decay, lr)
            m *= f(self.momentum)
            m += g
            direction = g + f(self.momentum) * m if self.nesterov else m
            update = self._newton_schulz(direction) * f(lr)
            if self.rms_rate is not None:
                update *= f(np.sqrt(max(update.shape[0], update.shape[1])) * self.rms_rate)
            w -= update

    def get_config(self):
        cfg = super().get_config()
        cfg.update(adam_beta_1=self.adam_beta_1, adam_beta_2=self.adam_beta_2, epsilon=self.epsilon,
                   exclude_layers=self.exclude_layers, muon_a=self.muon_a, muon_b=self.muon_b, muon_c=self.muon_c,
                   adam_lr_ratio=self.adam_lr_ratio, momentum=self.momentum, ns_steps=self.ns_steps,
                   nesterov=self.nesterov, exclude_embeddings=self.exclude_embeddings,
                   adam_weight_decay=self.adam_weight_decay, rms_rate=self.rms_rate)
        return cfg


class ScheduleFreeAdamW(_NumpyStep):
    """Keras 3.15's ScheduleFreeAdamW: AdamW without a learning-rate schedule, the variable an
    interpolation of a fast iterate z and its running average x (module docstring for the math).

    Args:
        learning_rate (0.0025), beta_1 (0.9), beta_2 (0.999), epsilon (1e-8), warmup_steps (0: a
        linear warm-up of the rate over that many steps), weight_decay, and the options every
        optimizer takes.
    """

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name or "schedule_free_adam_w", **kwargs)
        owner = "ScheduleFreeAdamW"
        self.beta_1 = check_hyperparameter(owner, "beta_1", beta_1)
        self.beta_2 = check_hyperparameter(owner, "beta_2", beta_2)
        self.epsilon = check_hyperparameter(owner, "epsilon", epsilon)
        if self.beta_1 == 0:
            raise ValueError("ScheduleFreeAdamW: beta_1 must be in (0, 1): x is recovered by dividing by it")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, np.integer)) or warmup_steps < 0:
            raise ValueError(f"ScheduleFreeAdamW: warmup_steps must be a non-negative int, got {warmup_steps!r}")
        self.warmup_steps = int(warmup_steps)

    def build(self, var_list):
        super().build(var_list)
        self._momentums = [np.array(t, _numpy_dtype(t)) for t in self._var_tensors]   # z starts at the variable
        self._velocities = [np.zeros(tuple(t.shape), _numpy_dtype(t)) for t in self._var_tensors]

    @property
    def _state_variables(self):
        """Keras' order: each variable's z ("momentum") then v ("velocity")."""
        if not self.built:
            return []
        return self._extra_variables() + [a for pair in zip(self._momentums, self._velocities) for a in pair]

    def _update(self, params, grads, state, lr):
        index = {id(t): i for i, t in enumerate(self._var_tensors)}
        t = self._update_count() + 1
        decay_lr = lr   # Keras decays with the rate before the warm-up factor
        if self.warmup_steps > 0:
            lr = lr * min(t / self.warmup_steps, 1.0)
        grads = self._clipped(grads, params)
        for p, g in zip(params, grads):
            i = index[id(p)]
            y = np.asarray(p)
            f = y.dtype.type   # the variable's precision for every constant
            b1, b2 = f(self.beta_1), f(self.beta_2)
            self._decay(y, self.weight_decay, decay_lr)
            z, v = self._momentums[i], self._velocities[i]
            z_old = z.copy()
            v += (g * g - v) * (f(1) - b2)
            z -= f(lr) * g / (np.sqrt(v / f(1 - self.beta_2 ** t)) + f(self.epsilon))
            weight = f(1.0 / t)
            x = (y - (f(1) - b1) * z_old) / b1
            x = (f(1) - weight) * x + weight * z
            y[...] = (f(1) - b1) * z + b1 * x

    def get_config(self):
        cfg = super().get_config()
        cfg.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, warmup_steps=self.warmup_steps)
        return cfg
