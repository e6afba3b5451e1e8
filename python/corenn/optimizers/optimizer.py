"""Optimizer: the Keras 3 optimizer API over corenn's fused update kernels.

Every step is one C++ call over all parameters (``corenn.kernels.<name>_update``): gradient clipping,
decoupled weight decay and the optimizer's rule happen in a single pass over memory. Weights are
``corenn.Tensor`` objects (a layer's weights) updated in place; optimizer state lives in Tensors
created by ``build`` (zeros, or a constant for Adagrad).

float64 variables (a float64 ``Variable`` in a GradientTape loop) are stepped in float64, as
Keras 3 does: their state is float64 and each optimizer's ``_update_wide`` (NumPy, the same rule)
updates them, while the float32 variables of the same step still take the fused kernel
(``_update_by_dtype``; ARCHITECTURE.md, "Optimizers on float64 variables").

Per step, as in Keras 3 (keras/src/optimizers/base_optimizer.py):
    lr = learning_rate            (or learning_rate(iterations) for a schedule)
    g  = clip(g)                  clipvalue: elementwise; clipnorm: g * c / max(||g||, c) per
                                  variable; global_clipnorm: the same with the norm of all grads
    w -= w * weight_decay * lr    when weight_decay is set (not for exclude_from_weight_decay's variables)
    w, state = rule(w, g, state)  the subclass
    iterations += 1
"""
from __future__ import annotations

import inspect
import math
import re
import warnings

import numpy as np

from .. import kernels
from ..layers.base import snake_case, unique_name
from . import schedules

Tensor = kernels.Tensor

# Keras 3's step options every optimizer takes (Optimizer.__init__ says what each does).
_KERAS_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                   "loss_scale_factor": None, "gradient_accumulation_steps": None}


# The valid range of every hyper-parameter, checked when an optimizer is made (as torch.optim
# does; a NaN or out-of-range value would otherwise surface as NaN weights steps later) and, by
# corenn.saving, in a stored config before anything is built.
NONNEG, UNIT, UNIT_OPEN, POSITIVE, NONPOS = "[0, inf)", "[0, 1]", "[0, 1)", "(0, inf)", "(-inf, 0]"
IN_RANGE = {NONNEG: lambda v: v >= 0, UNIT: lambda v: 0 <= v <= 1,
            UNIT_OPEN: lambda v: 0 <= v < 1, POSITIVE: lambda v: v > 0, NONPOS: lambda v: v <= 0}
HYPERPARAMETER_RANGES = {"ema_momentum": UNIT, "loss_scale_factor": POSITIVE,
                         "learning_rate": NONNEG, "beta_1": UNIT_OPEN, "beta_2": UNIT_OPEN,
                         "epsilon": POSITIVE, "momentum": UNIT, "rho": UNIT_OPEN,
                         "initial_accumulator_value": NONNEG, "weight_decay": NONNEG,
                         "clipnorm": NONNEG, "clipvalue": NONNEG, "global_clipnorm": NONNEG,
                         "learning_rate_power": NONPOS, "l1_regularization_strength": NONNEG,
                         "l2_regularization_strength": NONNEG,
                         "l2_shrinkage_regularization_strength": NONNEG, "beta": NONNEG,
                         "beta_2_decay": NONPOS, "epsilon_1": NONNEG, "epsilon_2": NONNEG,
                         "clip_threshold": POSITIVE}


def check_hyperparameter(owner, name, value, optional=False):
    """``value`` as a float, or ValueError / TypeError naming ``owner`` and ``name`` when it is
    not a finite number in HYPERPARAMETER_RANGES[name]; None passes when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{owner}: {name} must be a number{' or None' if optional else ''}, got {value!r}")
    value, allowed = float(value), HYPERPARAMETER_RANGES[name]
    if not math.isfinite(value) or not IN_RANGE[allowed](value):
        raise ValueError(f"{owner}: {name} = {value} is out of range (must be a finite number in {allowed})")
    return value


def _positive_int_or_none(owner, name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int or None, got {value!r}")
    return int(value)


class LearningRate(float):
    """The rate an optimizer's ``learning_rate`` returns: a Python float (arithmetic, formatting,
    comparisons as before) with what scripts call on Keras 3's learning-rate variable:
    ``numpy()``, ``value``, ``dtype`` and ``assign(v)`` (sets the optimizer's rate, as
    ``optimizer.learning_rate = v`` does)."""

    __slots__ = ("_optimizer",)
    dtype = "float32"

    def __new__(cls, value, optimizer):
        self = super().__new__(cls, value)
        self._optimizer = optimizer
        return self

    def numpy(self):
        return np.float32(self)

    @property
    def value(self):
        return float(self)

    def assign(self, value):
        self._optimizer.learning_rate = float(np.asarray(value))
        return self._optimizer.learning_rate

    # Keras 3's variable attributes ('adam/learning_rate', a scalar, not trained)
    shape, trainable = (), False
    name = "learning_rate"

    @property
    def path(self):
        return f"{self._optimizer._path_prefix}/learning_rate"

    def __reduce__(self):   # pickles / deep-copies as the plain number it is
        return (float, (float(self),))


class Optimizer:
    """Base class of corenn optimizers (Keras 3 API).

    Args:
        learning_rate: a float, a ``LearningRateSchedule``, or a callable evaluated before every
            step: called with the step count (``iterations``) if it takes an argument, without
            arguments otherwise (Keras calls zero-argument callables).
        weight_decay: decoupled weight decay; ``w -= w * weight_decay * lr`` before each update.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of clipnorm, clipvalue, global_clipnorm may be set (as in Keras).
        use_ema, ema_momentum: keep an exponential moving average of the variables, updated
            after every step (avg = m avg + (1 - m) var, avg = var at the first step);
            ``finalize_variable_values`` copies it into the variables, which ``fit`` does after its
            last epoch, and callbacks.SwapEMAWeights swaps it in for evaluation.
        ema_overwrite_frequency: with use_ema, copy the average into the variables every this
            many steps.
        loss_scale_factor: ``scale_loss(loss)`` multiplies the loss by it and ``apply`` divides
            the gradients by it (``fit`` computes unscaled gradients and skips both).
        gradient_accumulation_steps: n > 1 sums the gradients of n calls and updates the
            variables with their mean on every n-th call; ``iterations`` counts the updates
            (calls // n), and the updates' step count (Adam's bias correction, a schedule) is
            that count, as in Keras 3.
        name: the optimizer's name.

    Subclasses declare ``_slots`` (state names in build order) and implement ``_update``.
    """

    _slots: tuple = ()
    _slot_init: float = 0.0  # initial value of every state tensor
    _wide = None             # build: the indices of the float64 variables (None: there are none)

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        owner = type(self).__name__
        if "lr" in kwargs:   # tf.keras 2's name, still in many scripts
            warnings.warn(f"{owner}: `lr` is deprecated, use `learning_rate`", DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", None)
        if decay:   # tf.keras 2's legacy per-step decay: lr / (1 + decay * iterations)
            if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
                raise ValueError(f"{owner}: decay= cannot be combined with a learning-rate schedule")
            learning_rate = schedules.InverseTimeDecay(float(learning_rate), 1, float(decay))
        for key in kwargs:
            if key not in _KERAS_DEFAULTS:
                raise ValueError(f"{owner}: argument(s) not recognized: {key!r}")
        options = {**_KERAS_DEFAULTS, **kwargs}
        self.use_ema = bool(options["use_ema"])
        self.ema_momentum = check_hyperparameter(owner, "ema_momentum", options["ema_momentum"])
        self.ema_overwrite_frequency = _positive_int_or_none(owner, "ema_overwrite_frequency",
                                                             options["ema_overwrite_frequency"])
        self.loss_scale_factor = check_hyperparameter(owner, "loss_scale_factor", options["loss_scale_factor"],
                                                      optional=True)
        self.gradient_accumulation_steps = _positive_int_or_none(owner, "gradient_accumulation_steps",
                                                                 options["gradient_accumulation_steps"])
        if self.gradient_accumulation_steps is not None and self.gradient_accumulation_steps < 2:
            raise ValueError(f"{owner}: gradient_accumulation_steps must be an int >= 2 (or None), got "
                             f"{self.gradient_accumulation_steps}")
        if self.loss_scale_factor is not None:
            self.__dict__["_scales_loss"] = True   # fit hands unscaled gradients to apply_unscaled
        self._ema = None           # the moving averages (use_ema), one per variable
        self._accumulated = None   # the summed gradients (gradient_accumulation_steps)
        self.weight_decay = check_hyperparameter(owner, "weight_decay", weight_decay, optional=True)
        self.clipnorm = check_hyperparameter(owner, "clipnorm", clipnorm, optional=True)
        self.clipvalue = check_hyperparameter(owner, "clipvalue", clipvalue, optional=True)
        self.global_clipnorm = check_hyperparameter(owner, "global_clipnorm", global_clipnorm, optional=True)
        set_clips = [k for k in ("clipnorm", "clipvalue", "global_clipnorm") if getattr(self, k)]
        if len(set_clips) > 1:
            raise ValueError(f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` "
                             f"can be set, got {', '.join(set_clips)}")
        self.name = name or type(self).__name__.lower()
        # the first part of its variables' paths: Keras' own name ('adam', 'adam_w', 'rm_sprop',
        # 'sgd_1' for the second SGD), which corenn's ``name`` (kept for configs) is not
        cls = type(self).__name__
        self._path_prefix = unique_name(snake_case(cls)) if name in (None, cls, cls.lower()) else name
        self.learning_rate = learning_rate
        self._iterations = 0
        self._vars = None         # the variables passed to build, by identity
        self._var_tensors = None  # the same as Tensors (NumPy arrays wrapped without a copy)
        self._constrained = []    # (index, constraint) of the variables that have one (build)
        self._state = {}          # slot name -> list of Tensors, one per variable

    # ---- learning rate and step count --------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The rate the next step uses (a schedule is evaluated at ``iterations``).

        Settable to a float, a schedule or a callable; as in Keras, an optimizer created with a
        ``LearningRateSchedule`` refuses a plain number (TypeError). The value is a float that
        also answers as Keras 3's learning-rate variable: ``.numpy()``, ``.assign(v)``.
        """
        return LearningRate(self._current_learning_rate(), self)

    @learning_rate.setter
    def learning_rate(self, value):
        owner = type(self).__name__
        if isinstance(value, schedules.LearningRateSchedule):
            self._lr_takes_step = True
        elif callable(value):
            self._lr_takes_step = _takes_argument(value)
        else:
            if isinstance(getattr(self, "_learning_rate", None), schedules.LearningRateSchedule):
                raise TypeError(f"{owner}: this optimizer was created with a LearningRateSchedule "
                                f"as its learning_rate, so the rate is not settable to a number; "
                                f"create it with a float learning_rate instead")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"{owner}: learning_rate must be a float, a LearningRateSchedule "
                                f"or a callable, got {value!r}")
            value = check_hyperparameter(owner, "learning_rate", value)
        self._learning_rate = value

    @property
    def lr(self):
        """tf.keras 2's name of ``learning_rate`` (``K.set_value(model.optimizer.lr, 1e-4)``)."""
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = value

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if callable(lr):
            lr = lr(self._update_count()) if self._lr_takes_step else lr()
        return float(lr)

    def _update_count(self) -> int:
        """Updates applied so far: the calls, or with gradient accumulation the calls // n (the
        step count an update uses, as Keras 3's ``iterations``)."""
        n = self.gradient_accumulation_steps
        return self._iterations // n if n else self._iterations

    @property
    def iterations(self) -> int:
        """Number of updates applied so far (settable, e.g. when restoring a checkpoint); an int
        that also has Keras' variable reading ``optimizer.iterations.numpy()``."""
        return StepCount(self._update_count(), self)

    @iterations.setter
    def iterations(self, value):
        value = int(value)
        if value < 0:
            raise ValueError(f"{type(self).__name__}: iterations must be >= 0, got {value}")
        self._iterations = value * (self.gradient_accumulation_steps or 1)

    # ---- state -------------------------------------------------------------------------------

    @property
    def built(self) -> bool:
        return self._vars is not None

    def _active_slots(self):
        """The state slots the current options use, in build order."""
        return self._slots

    def build(self, var_list):
        """Create the state tensors for ``var_list`` (one per variable and slot)."""
        var_list = list(var_list)
        tensors = [v if isinstance(v, Tensor) else kernels.as_tensor(v, self.name, f"var_list[{i}]")
                   for i, v in enumerate(var_list)]
        wide = self._wide_indices(tensors)
        state = {}
        for slot in self._active_slots():
            state[slot] = [self._slot_tensor(slot, t) for t in tensors]
        self._vars, self._var_tensors, self._state = var_list, tensors, state
        # float64 variables step in NumPy float64 (``_update_wide``), the others in the fused
        # float32 kernel; the split is decided here once, so a float32-only step pays one check
        self._wide = frozenset(wide) if wide else None
        # Keras 3 builds these with the slots, in the variable's dtype: the averages start at the
        # variables, the sums at 0
        self._ema = [np.array(t, _numpy_dtype(t)) for t in tensors] if self.use_ema else None
        self._accumulated = [np.zeros(tuple(t.shape), _numpy_dtype(t)) for t in tensors] \
            if self.gradient_accumulation_steps is not None else None
        self._slots_built = self._active_slots()   # apply rebuilds when the options change them
        self._no_decay = self._decay_exclusions(var_list)   # exclude_from_weight_decay, by index
        # the variables with a constraint (keras.constraints), by index: projected after updates
        self._constrained = [(i, t.__dict__["constraint"]) for i, t in enumerate(tensors)
                             if t.__dict__.get("constraint") is not None]

    # Optimizers whose ``_update`` is NumPy over every variable (Muon, ScheduleFreeAdamW) keep a
    # float64 variable's arithmetic float64 themselves; the others split the step by dtype.
    _steps_in_numpy = False

    def _wide_indices(self, tensors):
        """The indices of the float64 variables; a float16 / bfloat16 variable is refused (the
        fused kernels are float32 and nothing here rounds a float32 step back to 16 bits)."""
        wide = []
        for i, t in enumerate(tensors):
            dtype = str(t.dtype)
            if dtype == "float32":
                continue
            if dtype == "float64":
                if str(t.device) != "cpu":
                    raise ValueError(f"{type(self).__name__}: variable {i} ({_describe(t)}) is float64 on "
                                     f"{t.device}; float64 variables are updated in NumPy, on the CPU only")
                wide.append(i)
            elif dtype in ("float16", "bfloat16"):
                raise TypeError(f"{type(self).__name__}: variable {i} ({_describe(t)}) is {dtype}; corenn "
                                f"optimizers update float32 and float64 variables only (keep {dtype} for the "
                                f"compute dtype, as mixed_precision does, with float32 variables)")
        return wide

    def _slot_tensor(self, slot, var):
        """The state tensor of ``slot`` for the variable ``var``: its shape and dtype (float64
        for a float64 variable, as Keras makes slots), filled with ``_slot_init`` (Adafactor's
        factored moments have other shapes)."""
        state = kernels.zeros(var.shape, _state_dtype(var), var.device)
        if self._slot_init:
            state.fill_(self._slot_init)
        return state

    @property
    def _state_variables(self) -> list:
        """The state arrays, in Keras 3's build order (stable; what files store): the moving
        averages (use_ema), the gradient sums (gradient_accumulation_steps), then the slots."""
        return self._extra_variables() + [t for slot in self._active_slots() for t in self._state.get(slot, [])]

    @property
    def variables(self) -> list:
        """Keras 3's list: ``iterations`` and (for a plain-number rate) ``learning_rate``, then
        the state (``_state_variables``), each with Keras' ``path`` and ``name``
        ('adam/iteration', 'adam/learning_rate', 'adam/dense_kernel_momentum': the weight's
        path with '/' made '_', then the slot). The counters are read when the list is made;
        the state arrays are the optimizer's own (writing into them changes the state)."""
        head = [self.iterations]
        if not callable(self._learning_rate):
            head.append(self.learning_rate)
        return head + self._named_state()

    def _named_state(self):
        """The state arrays as Tensors (NumPy state wrapped without a copy) named as Keras names
        its optimizer variables."""
        labels = {}
        refs = self._var_tensors or []
        for slot, arrays in self._state.items():
            for a, ref in zip(arrays, refs):
                labels[id(a)] = (_singular(slot), ref)
        for attr, label in (("_ema", "average"), ("_accumulated", "gradient_accumulator"),
                            ("_momentums", "momentum"), ("_velocities", "velocity")):
            for a, ref in zip(self.__dict__.get(attr) or (), refs):
                labels.setdefault(id(a), (label, ref))
        out = []
        for i, a in enumerate(self._state_variables):
            label, ref = labels.get(id(a), ("variable", None))
            t = a if isinstance(a, Tensor) else Tensor.from_numpy(a)
            d = getattr(ref, "__dict__", None) or {}
            stem = str(d.get("path") or d.get("name") or f"variable_{i}").replace("/", "_").replace(":", "_")
            name = f"{stem}_{label}"
            t.__dict__.update(name=name, path=f"{self._path_prefix}/{name}", trainable=False)
            out.append(t)
        return out

    def _extra_variables(self) -> list:
        """The state every optimizer has before its own slots (a subclass that orders its
        slots itself starts its ``variables`` with these, so saving keeps them)."""
        return list(self.__dict__.get("_ema") or []) + list(self.__dict__.get("_accumulated") or [])

    def save_own_variables(self, store: dict) -> None:
        """Write ``iterations`` and the state tensors (as NumPy copies) into ``store``."""
        store["iterations"] = np.asarray(self._iterations, dtype=np.int64)
        for i, t in enumerate(self._state_variables):
            store[str(i)] = np.array(t, copy=True)

    def load_own_variables(self, store: dict) -> None:
        """Inverse of ``save_own_variables``; the optimizer must be built for the same model."""
        variables = self._state_variables
        if not self.built:
            raise ValueError(f"{self.name}: call build(model.trainable_weights) before loading "
                             f"optimizer variables")
        n = len([k for k in store if k != "iterations"])
        if n != len(variables):
            raise ValueError(f"{self.name}: the store holds {n} optimizer variables but this "
                             f"optimizer has {len(variables)}")
        for i, t in enumerate(variables):
            target = np.asarray(t)
            value = np.asarray(store[str(i)], dtype=target.dtype)   # each state keeps its dtype
            if value.shape != tuple(t.shape):
                raise ValueError(f"{self.name}: variable {i} has shape {tuple(t.shape)} but the "
                                 f"stored value has shape {value.shape}")
            target[...] = value
        if "iterations" in store:   # the call count, as saved (Keras' own variable too)
            calls = int(np.asarray(store["iterations"]))
            if calls < 0:
                raise ValueError(f"{type(self).__name__}: iterations must be >= 0, got {calls}")
            self._iterations = calls

    # ---- applying gradients ------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs; returns ``iterations`` after the step."""
        pairs = grads_and_vars if type(grads_and_vars) is list else list(grads_and_vars)
        # unpacking each pair raises on a malformed one, as a loop over them would
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` (Keras 3), or ``loss`` when no factor is set."""
        if self.loss_scale_factor is None:
            return loss
        from .. import ops
        return ops.multiply(loss, np.float32(self.loss_scale_factor))

    def apply(self, grads, trainable_variables=None):
        """One update of ``trainable_variables`` (in place) with ``grads``.

        Without ``trainable_variables`` the variables of the last ``build`` are used. Gradients
        may be Tensors or float NumPy arrays; a ``None`` gradient leaves its variable untouched.
        With ``loss_scale_factor`` the gradients (of a ``scale_loss``-scaled loss) are divided by
        it first. Returns ``iterations`` after the step.
        """
        if self.loss_scale_factor is not None:
            inv = 1.0 / self.loss_scale_factor
            grads = [None if g is None else _unscaled(g, inv) for g in grads]
        return self.apply_unscaled(grads, trainable_variables)

    def apply_unscaled(self, grads, trainable_variables=None):
        """``apply`` for gradients of the unscaled loss (what ``fit`` computes)."""
        if type(grads) is not list:
            grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(f"{self.name}: apply() without trainable_variables needs a built "
                                 f"optimizer; pass the variables or call build() first")
            variables = self._vars
        else:
            variables = trainable_variables if type(trainable_variables) is list else list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"{self.name}: got {len(grads)} gradients for {len(variables)} "
                             f"variables; pass one gradient per variable")
        if not self._same_vars(variables) or self.__dict__.get("_slots_built") != self._active_slots():
            self.build(variables)
        if not grads:   # a model without trainable weights: nothing to update (Keras 3)
            self._iterations += 1
            return
        converted = None   # the usual step: every gradient a Tensor, none missing
        wide = self._wide
        if wide is not None:   # float64 variables among them: gradients cast to each variable's dtype
            converted = self._gradients_by_dtype(grads)
        else:
            for g in grads:
                if type(g) is not Tensor:
                    converted = [g if isinstance(g, Tensor) or g is None else _as_float32(g) for g in grads]
                    break
        if self.gradient_accumulation_steps is not None:
            grads = self._accumulate(converted if converted is not None else grads)
            if grads is None:   # not an update step: the gradients were added to the sums
                self._after_step()
                return self._iterations
            converted = grads
        if wide is not None and not self._steps_in_numpy:
            self._update_by_dtype(converted)
        else:
            self._update_fused(converted, grads)
        if self.__dict__.get("_constrained"):   # Keras: variable.assign(constraint(variable)) after the update
            from .. import constraints
            updated = None if converted is None else {i for i, g in enumerate(converted) if g is not None}
            for i, c in self._constrained:
                if updated is None or i in updated:
                    constraints.apply(self._var_tensors[i], c)
        if self.use_ema or self.gradient_accumulation_steps is not None:
            self._after_step()
            return self._iterations
        self._iterations += 1
        return self._iterations

    def _update_fused(self, converted, grads):
        """The step of float32 variables (or of every variable of a NumPy-stepped optimizer):
        ``_update`` over those with a gradient."""
        params, state = self._var_tensors, self._state
        if converted is not None:
            keep = [i for i, g in enumerate(converted) if g is not None]
            if not keep:
                raise ValueError(f"{self.name}: no gradients provided for any variable")
            grads = converted
            if len(keep) != len(grads):
                params = [params[i] for i in keep]
                state = {k: [v[i] for i in keep] for k, v in state.items()}
                grads = [grads[i] for i in keep]
        no_decay = self.__dict__.get("_no_decay")
        if no_decay and self.weight_decay:
            # (it decays before the kernel runs, so the gradients are made float32 first)
            self._update_sparing(no_decay, None if converted is None else keep, params,
                                 _float32_tensors(grads) or grads, state)
        else:
            lr = self._current_learning_rate()
            try:
                self._update(params, grads, state, lr)
            except TypeError:
                # a float64 (or float16) Tensor gradient of a float32 variable: Keras casts it to
                # the variable's dtype. Found only when the kernel refuses it (its entry checks
                # every list before writing anything), so the usual step checks no dtypes.
                recast = _float32_tensors(grads)
                if recast is None:
                    raise
                self._update(params, recast, state, lr)

    def _gradients_by_dtype(self, grads):
        """Each gradient in its variable's dtype (Keras casts a gradient to the variable's):
        float64 NumPy for a float64 variable, a float32 Tensor or array for the others."""
        wide = self._wide
        out = []
        for i, g in enumerate(grads):
            if g is None:
                out.append(None)
            elif i in wide:
                out.append(np.asarray(g.numpy() if isinstance(g, Tensor) and str(g.device) != "cpu" else g,
                                      np.float64))
            elif isinstance(g, Tensor) and str(g.dtype) == "float32":
                out.append(g)
            else:
                out.append(_as_float32(g.numpy() if isinstance(g, Tensor) else g))
        return out

    def _update_by_dtype(self, grads):
        """The step of a variable list with float64 variables: the float32 ones through the fused
        kernel (``_update``), the float64 ones through the subclass's NumPy float64 form of the
        same rule (``_update_wide``), after clipping and decay done here in float64. A
        global_clipnorm's norm is that of all the step's gradients, both dtypes together: the
        factor is computed once, applied to the float32 gradients before the kernel (which then
        clips nothing) and to the float64 ones here."""
        keep = [i for i, g in enumerate(grads) if g is not None]
        if not keep:
            raise ValueError(f"{self.name}: no gradients provided for any variable")
        wide_set = self._wide
        narrow = [i for i in keep if i not in wide_set]
        wide = [i for i in keep if i in wide_set]
        lr = self._current_learning_rate()
        wide_grads = [np.asarray(grads[i]) for i in wide]   # float64 (_gradients_by_dtype)
        if self.clipvalue:
            wide_grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in wide_grads]
        if self.clipnorm:
            wide_grads = [g * (self.clipnorm / max(math.sqrt(float(np.sum(g * g))), self.clipnorm))
                          for g in wide_grads]
        scale = None
        if self.global_clipnorm:
            total = sum(float(np.sum(np.square(np.asarray(grads[i]), dtype=np.float64))) for i in narrow)
            total += sum(float(np.sum(g * g)) for g in wide_grads)
            scale = self.global_clipnorm / max(math.sqrt(total), self.global_clipnorm)
            wide_grads = [g * scale for g in wide_grads]
        if narrow:
            params = [self._var_tensors[i] for i in narrow]
            state = {k: [v[i] for i in narrow] for k, v in self._state.items()}
            narrow_grads = [grads[i] for i in narrow]
            saved = self.global_clipnorm
            if scale is not None:   # clipped here with the norm of all gradients: the kernel clips nothing
                narrow_grads = [_as_float32(np.asarray(g, np.float32) * np.float32(scale)) for g in narrow_grads]
                self.global_clipnorm = None
            try:
                no_decay = self._no_decay
                if no_decay and self.weight_decay:
                    self._update_sparing(no_decay, narrow, params, narrow_grads, state)
                else:
                    self._update(params, narrow_grads, state, lr)
            finally:
                self.global_clipnorm = saved
        if wide:
            params = [np.asarray(self._var_tensors[i]) for i in wide]
            if self.weight_decay:   # w -= w * weight_decay * lr, in float64
                no_decay = self._no_decay or ()
                factor = self.weight_decay * lr
                for i, w in zip(wide, params):
                    if i not in no_decay:
                        w -= w * factor
            state = {k: [np.asarray(v[i]) for i in wide] for k, v in self._state.items()}
            self._update_wide(params, wide_grads, state, lr)

    def _update_wide(self, params, grads, state, lr):
        """The rule of ``_update`` in float64 NumPy, in place on ``params`` and ``state`` (float64
        arrays, clipping and decay done): how float64 variables step."""
        raise NotImplementedError(f"{type(self).__name__} has no float64 update (_update_wide)")

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Keras 3: leave out of the weight decay the variables in ``var_list`` and those whose
        name matches one of the regular expressions in ``var_names`` (``re.search`` on the
        variable's name: "bias" matches every Dense bias). Call it before the first update."""
        if self.built:
            raise ValueError(f"{self.name}: exclude_from_weight_decay() can only be configured before the "
                             f"optimizer is built (before its first update)")
        self._decay_excluded_ids = {id(v) for v in (var_list or ())}
        names = sorted(set(var_names or ()))
        self._decay_excluded_pattern = re.compile("|".join(names)) if names else None

    def _decay_exclusions(self, var_list):
        """The indices in ``var_list`` that exclude_from_weight_decay leaves out of the decay."""
        ids = self.__dict__.get("_decay_excluded_ids") or set()
        pattern = self.__dict__.get("_decay_excluded_pattern")
        return {i for i, v in enumerate(var_list)
                if id(v) in ids or (pattern is not None and pattern.search(str(getattr(v, "name", "") or "")))}

    def _update_sparing(self, no_decay, keep, params, grads, state):
        """The update with some variables left out of the decay: the decay (w -= w * wd * lr, which
        the fused kernels do before the rule) is applied here to the others, then the kernels run
        with no decay."""
        lr = self._current_learning_rate()
        factor = np.float32(self.weight_decay * lr)
        for i in (range(len(self._var_tensors)) if keep is None else keep):
            if i not in no_decay:
                w = np.asarray(self._var_tensors[i])
                w -= w * factor
        saved = self.weight_decay
        self.weight_decay = None
        try:
            self._update(params, grads, state, lr)
        finally:
            self.weight_decay = saved

    def _accumulate(self, grads):
        """gradient_accumulation_steps: add ``grads`` to the sums; on every n-th call return the
        mean gradients (sums reset), else None."""
        for acc, g in zip(self._accumulated, grads):
            if g is not None:
                acc += np.asarray(g, acc.dtype)
        n = self.gradient_accumulation_steps
        if (self._iterations + 1) % n:
            return None
        means = [Tensor.from_numpy(acc / acc.dtype.type(n)) for acc in self._accumulated]
        for acc in self._accumulated:
            acc.fill(0.0)
        return means

    def _after_step(self):
        """The moving averages (use_ema), their periodic copy into the variables, the step count."""
        if self.use_ema:
            current = [np.asarray(t) for t in self._var_tensors]
            momentum = self.ema_momentum if self._iterations != 0 else 0.0
            for avg, v in zip(self._ema, current):
                m = avg.dtype.type(momentum)   # a float64 average in float64
                avg *= m
                avg += (avg.dtype.type(1.0) - m) * v
            freq = self.ema_overwrite_frequency
            if freq and (self._iterations + 1) % freq == 0:
                for avg, v in zip(self._ema, current):
                    v[...] = avg
        self._iterations += 1

    @property
    def ema_variables(self):
        """The moving averages of the variables (use_ema), as NumPy arrays; [] before a step."""
        return list(self._ema or [])

    def finalize_variable_values(self, var_list):
        """With use_ema, copy the moving averages into ``var_list`` (the variables this optimizer
        updates, in the same order); otherwise nothing. ``fit`` calls it after its last epoch."""
        if not self.use_ema or not self._ema:
            return
        var_list = list(var_list)
        if len(var_list) != len(self._ema):
            raise ValueError(f"{self.name}: finalize_variable_values got {len(var_list)} variables, but the "
                             f"moving averages are of {len(self._ema)}")
        for v, avg in zip(var_list, self._ema):
            np.asarray(v)[...] = avg

    def _same_vars(self, variables) -> bool:
        built = self._vars
        if built is None or len(built) != len(variables):
            return False
        for a, b in zip(built, variables):
            if a is not b:
                return False
        return True

    def _common_kwargs(self, lr: float) -> dict:
        """Keyword arguments every fused update takes."""
        return dict(lr=lr, weight_decay=self.weight_decay or 0.0, clipnorm=self.clipnorm or 0.0,
                    clipvalue=self.clipvalue or 0.0, global_clipnorm=self.global_clipnorm or 0.0)

    def _clip_kwargs(self) -> dict:
        """The clipping and weight-decay keywords of the bound update entries (kernels._*_update),
        as the floats those take (0 when off)."""
        return dict(weight_decay=float(self.weight_decay or 0.0), clipnorm=float(self.clipnorm or 0.0),
                    clipvalue=float(self.clipvalue or 0.0),
                    global_clipnorm=float(self.global_clipnorm or 0.0))

    def _update(self, params, grads, state, lr):
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # ---- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                  "clipvalue": self.clipvalue}
        config.update(use_ema=self.use_ema, ema_momentum=self.ema_momentum,
                      ema_overwrite_frequency=self.ema_overwrite_frequency,
                      loss_scale_factor=self.loss_scale_factor,
                      gradient_accumulation_steps=self.gradient_accumulation_steps)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g}>"


def _takes_argument(fn) -> bool:
    """Whether ``fn`` can be called with one positional argument (the step)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in params)


def _numpy_dtype(var):
    """The NumPy dtype of an optimizer array kept for ``var`` (moving average, gradient sum)."""
    return np.float64 if str(var.dtype) == "float64" else np.float32


def _state_dtype(var):
    """The dtype of a slot of ``var``: float64 for a float64 variable (Keras makes slots in the
    variable's dtype), float32 otherwise."""
    return "float64" if str(var.dtype) == "float64" else "float32"


def _describe(var):
    d = getattr(var, "__dict__", None) or {}
    name = d.get("path") or d.get("name")
    return f"{name!r}, shape {tuple(var.shape)}" if name else f"shape {tuple(var.shape)}"


def _unscaled(g, inv):
    """A gradient of a loss scaled by loss_scale_factor, divided back: a float64 one in float64,
    any other as before in float32."""
    a = np.asarray(g.numpy() if isinstance(g, Tensor) and str(g.device) != "cpu" else g)
    if a.dtype == np.float64:
        return a * inv
    return _as_float32(np.asarray(a, np.float32) * np.float32(inv))


def _float32_tensors(grads):
    """``grads`` with each float Tensor of another dtype (float64, float16) made a float32 array,
    or None when there is none."""
    out, changed = list(grads), False
    for i, g in enumerate(out):
        if isinstance(g, Tensor) and str(g.dtype) in ("float64", "float16", "bfloat16"):
            out[i] = _as_float32(g.numpy() if str(g.device) != "cpu" else np.asarray(g))
            changed = True
    return out if changed else None


def _as_float32(g):
    """NumPy gradients: float arrays become contiguous float32 (Keras casts to the variable's
    dtype); anything else goes to the kernel as is, which names the bad dtype."""
    g = np.asarray(g)
    if g.dtype.kind == "f":   # (not ascontiguousarray: it makes a 0-d gradient 1-d)
        return np.asarray(g, dtype=np.float32, order="C")
    return g


class StepCount(int):
    """An optimizer's step count: a plain int with what scripts use of Keras 3's variable
    ``optimizer.iterations``: ``numpy()``, ``value``, ``assign(n)`` (sets the optimizer's
    count), ``path`` ('adam/iteration'), ``name``, ``shape``, ``dtype``."""

    shape, trainable, dtype = (), False, "int32"
    name = "iteration"

    def __new__(cls, value, optimizer=None):
        self = super().__new__(cls, value)
        self._optimizer = optimizer
        return self

    def numpy(self):
        return np.int64(self)

    @property
    def value(self):
        return int(self)

    @property
    def path(self):
        prefix = getattr(self._optimizer, "_path_prefix", None)
        return "iteration" if prefix is None else f"{prefix}/iteration"

    def assign(self, value):
        if self._optimizer is None:
            raise ValueError("iterations.assign: this step count belongs to no optimizer")
        self._optimizer.iterations = int(np.asarray(value))
        return self._optimizer.iterations

    def assign_add(self, value):
        return self.assign(int(self._optimizer.iterations) + int(np.asarray(value)))

    def __reduce__(self):   # pickles / deep-copies as the plain number it is
        return (int, (int(self),))


def _singular(slot):
    """Keras' name of a slot ('momentums' -> 'momentum', 'velocities' -> 'velocity')."""
    if slot.endswith("ies"):
        return slot[:-3] + "y"
    return slot[:-1] if slot.endswith("s") else slot
