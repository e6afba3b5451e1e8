"""Weight initializers (Keras semantics and names).

An initializer fills a freshly allocated weight: ``init(shape)`` returns a float32 NumPy array,
``init.fill(tensor)`` writes into a CPU Tensor through a zero-copy NumPy view. Random draws come
from the run-wide generator ``corenn.utils.random.get_generator()`` (so ``set_random_seed``
makes initialization reproducible) unless the initializer has its own ``seed``.

Fans follow Keras: a (in, out) kernel has fan_in = in, fan_out = out; a convolution kernel
(KH, KW, Cin, Cout) multiplies both by the receptive field KH*KW.

Variance scaling with n = fan_in, fan_out or their mean:
    uniform:           U(-l, l), l = sqrt(3 * scale / n)
    truncated_normal:  N(0, s) cut at 2s, s = sqrt(scale / n) / 0.87962566103423978
    untruncated_normal N(0, sqrt(scale / n))
Glorot: scale 1, fan_avg.  He: scale 2, fan_in.  Lecun: scale 1, fan_in.
"""
from __future__ import annotations

import math

import numpy as np

from . import kernels

__all__ = ["Initializer", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
           "HeNormal", "LecunUniform", "LecunNormal", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "Zeros", "Ones", "Constant", "Orthogonal", "compute_fans", "get",
           "serialize", "deserialize", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
           "lecun_uniform", "lecun_normal", "random_normal", "random_uniform", "truncated_normal",
           "zeros", "ones", "constant", "orthogonal", "variance_scaling", "Identity", "IdentityInitializer",
           "identity", "OrthogonalInitializer", "STFT", "STFTInitializer", "stft"]

# std of a unit normal truncated to [-2, 2]: dividing by it restores the requested variance
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight: with ``input_axes`` and ``output_axes`` (Keras 3.15: an
    EinsumDense kernel names them) the products of those axes' sizes; otherwise a (in, out)
    kernel's sizes, a convolution kernel's channels times its receptive field."""
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement ``_generate(shape, rng)`` -> float64/32 array."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        from .utils.random import get_generator
        return get_generator()

    def __call__(self, shape, dtype=None):
        if dtype not in (None, "float32", np.float32):
            raise TypeError(f"{type(self).__name__}: only float32 weights are supported, got {dtype!r}")
        shape = tuple(int(d) for d in shape)
        return np.ascontiguousarray(self._generate(shape, self._rng()), dtype=np.float32).reshape(shape)

    def fill(self, tensor):
        """Write initial values into ``tensor`` in place (CPU) and return it."""
        view = np.asarray(tensor)
        view[...] = self(view.shape)
        return tensor

    def _generate(self, shape, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _truncated_normal(rng, shape, stddev, mean=0.0):
    """Normal samples redrawn until within 2 standard deviations (as Keras/TF do)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return mean + stddev * out


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        # the kernel axes that are input / output units (Keras 3.15; EinsumDense sets them)
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode = float(scale), mode
        self.distribution = "truncated_normal" if distribution == "normal" else distribution

    def _generate(self, shape, rng):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * rng.standard_normal(shape)
        return _truncated_normal(rng, shape, math.sqrt(variance) / _TRUNCATED_STD)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, **self._axes_config()}

    def _axes_config(self):
        """input_axes / output_axes, in the config only when set (Keras writes them as null)."""
        return {k: v for k, v in (("input_axes", self.input_axes), ("output_axes", self.output_axes))
                if v is not None}

    def with_axes(self, input_axes, output_axes):
        """This initializer for a kernel whose input / output unit axes are given (Keras 3.15's
        EinsumDense build): a copy with those axes, unless it already has its own."""
        if self.input_axes is not None and self.output_axes is not None:
            return self
        import copy
        out = copy.copy(self)
        out.input_axes, out.output_axes = list(input_axes), list(output_axes)
        return out


def _variance_scaling(name, scale, mode, distribution, doc):
    class _Init(VarianceScaling):
        __doc__ = doc

        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, **self._axes_config()}

    _Init.__name__ = _Init.__qualname__ = name
    return _Init


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform",
                                  "U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras' default kernel init.")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                                 "Truncated N(0, sqrt(2 / (fan_in + fan_out)) / .8796...).")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform",
                              "U(-l, l), l = sqrt(6 / fan_in).")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal",
                             "Truncated N(0, sqrt(2 / fan_in) / .8796...).")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform",
                                 "U(-l, l), l = sqrt(3 / fan_in).")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal",
                                "Truncated N(0, sqrt(1 / fan_in) / .8796...).")


class RandomNormal(Initializer):
    """N(mean, stddev); Keras defaults mean 0, stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def _generate(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev) redrawn outside mean +- 2 stddev."""

    def _generate(self, shape, rng):
        return _truncated_normal(rng, shape, self.stddev, self.mean)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras defaults -0.05, 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def _generate(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class Constant(Initializer):
    """Every entry ``value``: a number, or an array that broadcasts to the weight's shape (as
    tf.keras takes, e.g. the output bias log(pos / neg) of the imbalanced-data tutorial)."""

    def __init__(self, value=0.0):
        super().__init__(None)
        a = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"Constant: value must be finite, got {value!r}")
        self.value = float(a) if a.ndim == 0 else a

    def _generate(self, shape, rng):
        if isinstance(self.value, float):
            return np.full(shape, self.value)
        try:
            return np.broadcast_to(self.value, shape).copy()
        except ValueError:
            raise ValueError(f"Constant: a value of shape {self.value.shape} does not broadcast to "
                             f"the weight's shape {tuple(shape)}") from None

    def _rng(self):  # deterministic: never consumes the run-wide generator
        return None

    def get_config(self):
        return {"value": self.value if isinstance(self.value, float) else self.value.tolist()}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class Orthogonal(Initializer):
    """gain * Q from the QR decomposition of a normal matrix (sign-fixed so Q is unique).

    The weight is viewed as (prod(shape[:-1]), shape[-1]); rows or columns are orthonormal,
    whichever are fewer.
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def _generate(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the weight needs at least 2 dimensions, got shape {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """gain times the identity matrix, for a 2-D weight (Keras 3's IdentityInitializer; a
    non-square weight gets ones on its main diagonal)."""

    def __init__(self, gain=1.0):
        super().__init__(None)
        self.gain = float(gain)

    def _generate(self, shape, rng):
        if len(shape) != 2:
            raise ValueError(f"Identity: the weight must be 2-D, got shape {tuple(shape)}")
        return self.gain * np.eye(shape[0], shape[1])

    def _rng(self):  # deterministic: never consumes the run-wide generator
        return None

    def get_config(self):
        return {"gain": self.gain}


IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal   # Keras 3's long alias


# scipy.signal.get_window's cosine-sum windows by name (coefficients of cos(2 pi k m / (M - 1)))
_COSINE_WINDOWS = {"hann": (0.5, 0.5), "hanning": (0.5, 0.5), "hamming": (0.54, 0.46),
                   "blackman": (0.42, 0.5, 0.08), "boxcar": (1.0,), "rectangular": (1.0,), "ones": (1.0,)}


def get_window(window, length, periodic=False):
    """A window of ``length`` samples by name, as scipy.signal.get_window(window, length,
    fftbins=periodic): symmetric, or periodic (the symmetric window of length + 1 without its
    last sample). Names: hann, hamming, blackman, boxcar (rectangular), bartlett (triang's
    zero-ended form); corenn has no SciPy, so other names raise."""
    name = str(window).lower()
    if name not in _COSINE_WINDOWS and name not in ("bartlett", "triang"):
        raise ValueError(f"window {window!r} is not supported: corenn knows "
                         f"{', '.join(sorted(list(_COSINE_WINDOWS) + ['bartlett', 'triang']))}; pass the "
                         "window's values as an array for any other")
    if length == 1:
        return np.ones(1)
    m = length + 1 if periodic else length
    k = np.arange(m, dtype=np.float64)
    if name == "bartlett":
        w = 1.0 - np.abs(2.0 * k / (m - 1) - 1.0)
    elif name == "triang":
        n = np.arange(1, (m + 1) // 2 + 1, dtype=np.float64)
        half = 2 * n / (m + 1) if m % 2 else (2 * n - 1) / m
        w = np.concatenate([half, half[::-1][m % 2:]])
    else:
        w = sum(((-1) ** i) * c * np.cos(2 * np.pi * i * k / (m - 1))
                for i, c in enumerate(_COSINE_WINDOWS[name]))
    return w[:length]


class STFT(Initializer):
    """Conv1D kernels (frame_length, 1, F) of a short-time Fourier transform (Keras 3.15's
    STFTInitializer, used by layers.STFTSpectrogram): kernel[t, 0, f] = cos(-2 pi t f / n)
    ("real") or sin(-2 pi t f / n) ("imag") with n = 2 (F - 1), times the window and divided by
    its L2 norm (scaling "density") or L1 norm ("spectrum").

    Args:
        side: "real" or "imag".
        window: a window name (``get_window``), an array of frame_length values, or None.
        scaling: "density", "spectrum" or None.
        periodic: a periodic window (the DFT-even form) rather than a symmetric one.
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        super().__init__(None)
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: side should be 'real' or 'imag', not {side!r}")
        if isinstance(window, str):
            get_window(window, 1)
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(f"STFT: scaling must be None, 'density' or 'spectrum', got {scaling!r}")
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, bool(periodic)

    def _rng(self):  # deterministic: never consumes the run-wide generator
        return None

    def _generate(self, shape, rng):
        if len(shape) != 3:
            raise ValueError(f"STFT: the kernel must be (frame_length, channels, bins), got shape {tuple(shape)}")
        frame_length, _, bins = shape
        n = 2 * (bins - 1)
        t = np.arange(frame_length, dtype=np.float64)[:, None, None]
        f = np.arange(bins, dtype=np.float64)[None, None, :]
        angle = -2.0 * np.pi * t * f / n if n else np.zeros((frame_length, 1, bins))
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is not None:
            win = (get_window(self.window, frame_length, self.periodic) if isinstance(self.window, str)
                   else np.asarray(self.window, np.float64))
            if win.shape != (frame_length,):
                raise ValueError(f"STFT: the window must have frame_length={frame_length} values, got shape "
                                 f"{win.shape}")
            scale = 1.0
            if self.scaling == "density":
                scale = np.sqrt(np.sum(win ** 2))
            elif self.scaling == "spectrum":
                scale = np.sum(np.abs(win))
            kernel = kernel * win[:, None, None] / scale
        return np.broadcast_to(kernel, shape)

    def get_config(self):
        window = self.window if self.window is None or isinstance(self.window, str) else \
            np.asarray(self.window).tolist()
        return {"side": self.side, "window": window, "periodic": self.periodic, "scaling": self.scaling}


STFTInitializer = stft = STFT

# Keras' lower-case names are the classes themselves: initializers.glorot_uniform(seed=1) is an
# initializer, initializers.he_normal()(shape) its values.
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
zeros, ones, constant, orthogonal = Zeros, Ones, Constant, Orthogonal
variance_scaling = VarianceScaling
identity = Identity

_BY_NAME = {
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "random_normal": RandomNormal, "normal": RandomNormal, "random_uniform": RandomUniform,
    "uniform": RandomUniform, "truncated_normal": TruncatedNormal, "zeros": Zeros, "zero": Zeros,
    "ones": Ones, "one": Ones, "constant": Constant, "orthogonal": Orthogonal,
    "variance_scaling": VarianceScaling, "identity": Identity, "stft": STFT,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def get(identifier) -> Initializer:
    """Resolve a name ('glorot_uniform'), class name, config dict, class or instance; None is
    GlorotUniform, Keras' default for a float weight."""
    if isinstance(identifier, Initializer):
        return identifier
    if identifier is None:
        # Keras' add_weight default for a float weight (Dense(bias_initializer=None), as the
        # imbalanced-data tutorial's make_model passes it)
        return GlorotUniform()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"initializers.get: unknown initializer {identifier!r}; "
                             f"expected one of {', '.join(sorted(_BY_NAME))}")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"]) or _BY_NAME.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"initializers.get: unknown initializer class {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        # Keras 3 takes any callable(shape, dtype=...) as an initializer: the TF basics guide
        # passes Dense(kernel_initializer=tf.random.normal)
        return _FunctionInitializer(identifier)
    raise TypeError(f"initializers.get: cannot interpret {identifier!r} as an initializer")


class _FunctionInitializer(Initializer):
    """A plain function used as an initializer, called as Keras 3 calls one: fn(shape,
    dtype="float32"). Its result must have the weight's shape."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def _rng(self):   # the function draws from its own source (tf.random's generator)
        return None

    def _generate(self, shape, rng):
        value = np.asarray(self.fn(shape, dtype="float32"))
        if value.shape != tuple(shape):
            raise ValueError(f"initializer function {getattr(self.fn, '__name__', self.fn)!r} returned shape "
                             f"{value.shape} for a weight of shape {tuple(shape)}")
        return value

    def get_config(self):
        return {}


def serialize(initializer) -> dict:
    init = get(initializer)
    return {"class_name": type(init).__name__, "config": init.get_config()}


deserialize = get
