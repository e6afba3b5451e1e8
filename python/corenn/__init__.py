"""corenn: a small, fast deep-learning framework with a Keras-style API.

The math runs in a compiled C++ core (corenn._C); this package is a thin layer on top.
"""
from . import kernels
from . import ops  # Keras 3 op names on Tensors; also installs the Tensor operators
from . import _tensor_numpy  # noqa: F401  NumPy ufuncs and methods on Tensors
from .kernels import Tensor, TensorShape, get_num_threads, set_num_threads
from . import activations, constraints, initializers, regularizers, losses, metrics
from . import utils, callbacks, datasets, optimizers
from . import layers, models
from . import cuda
from . import data  # tf.data's Dataset: `tf.data.Dataset` after `import corenn as tf`
from .data import TensorSpec
from .models import Model, Sequential, Input
from . import autodiff
from .autodiff import GradientTape, convert as _convert

newaxis = None


class _ConcreteFunction:
    """What ``f.get_concrete_function(*args)`` returns: corenn runs ``f`` eagerly, so this is ``f``
    itself with the example arguments' specs recorded (``structured_input_signature``)."""

    def __init__(self, func, args, kwargs):
        self.python_function = func
        spec = lambda a: (tuple(a.shape), str(a.dtype)) if hasattr(a, "shape") and hasattr(a, "dtype") else a
        self.structured_input_signature = (tuple(spec(a) for a in args), {k: spec(v) for k, v in kwargs.items()})

    def __call__(self, *args, **kwargs):
        return self.python_function(*args, **kwargs)

    def __repr__(self):
        return f"ConcreteFunction({getattr(self.python_function, '__name__', 'f')}, inputs={self.structured_input_signature})"


def function(func=None, **kwargs):
    """``@corenn.function`` / ``@tf.function(...)``: accepted so TensorFlow scripts run; the
    function runs eagerly (corenn has no graph capture; its layers are fused kernels already),
    given TensorFlow's ``get_concrete_function`` (an eager callable of the same arguments; for a
    plain function, not a method) and ``python_function``.

    ``tf.gradients``, which TensorFlow 2 runs only in a graph, works in it: a function whose
    code calls ``tf.gradients`` runs its body on a graph tape (autodiff.run_as_graph, which
    records every float computation; NumPy float arguments become Tensors, as TensorFlow makes
    them graph tensors); one that reaches tf.gradients through a layer or model it calls (a
    Lambda computing an input gradient) stops there the first time (nothing after that point ran)
    and runs again, from then on, as a graph. Side effects before that point (a print, a
    metric update) therefore happen twice on that first call."""
    if func is None:
        return lambda f: function(f, **kwargs)
    if not callable(func):
        return func
    func = _graph_function(func)
    try:
        if not hasattr(func, "get_concrete_function"):
            def get_concrete_function(*args, **kw):
                return _ConcreteFunction(func, args, kw)
            func.get_concrete_function = get_concrete_function
            func.python_function = func.__wrapped__
    except (AttributeError, TypeError):   # a callable without a __dict__ (a builtin): as is
        pass
    return func


def _graph_function(func):
    """``func`` wrapped to run as a graph when tf.gradients needs one (``function``)."""
    import functools
    import numpy as np
    from . import autodiff, config

    state = {"graph": autodiff.calls_graph_gradients(func)}

    def as_tensor(v):   # TensorFlow makes a NumPy argument a tensor of the graph
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return kernels.Tensor.from_numpy(np.asarray(v, dtype=np.float32, order="C"))
        return v

    def as_graph(args, kw):
        with autodiff.run_as_graph():
            return func(*[as_tensor(a) for a in args], **{k: as_tensor(v) for k, v in kw.items()})

    try:
        def run(*args, **kw):
            if autodiff.graph_tape() is not None:   # inside a graph already: it records this too
                return func(*args, **kw)
            if state["graph"]:
                return as_graph(args, kw)
            try:
                return func(*args, **kw)
            except autodiff.GraphGradientsOutsideGraph:
                state["graph"] = True
            return as_graph(args, kw)

        @functools.wraps(func)
        def graph_function(*args, **kw):
            # counted so what TensorFlow does only to graphs (Grappler's debug_stripper) applies
            depth = config._TF_FUNCTION_DEPTH
            depth[0] += 1
            try:
                return run(*args, **kw)
            finally:
                depth[0] -= 1
    except (AttributeError, TypeError):
        return func
    return graph_function


# TensorFlow's names for the tensor ops Keras guides write as tf.* (``import corenn as tf``):
# the corenn.ops functions themselves, so the GradientTape records them
from .ops import (concatenate as concat, matmul, max as reduce_max, mean as reduce_mean,  # noqa: E402
                  min as reduce_min, ones, shape, stack, sum as reduce_sum, zeros)
from . import random  # noqa: E402  (tf.random.normal / uniform)
from . import signal  # noqa: E402  (tf.signal.stft / frame / hann_window)

from . import keras  # noqa: E402  (the Keras names, so `tf.keras.X` works after `import corenn as tf`)
from .keras import backend  # noqa: E402  (keras.backend.epsilon() after `import corenn as keras`)
# Keras 3's other top-level modules, for `import corenn as keras` (keras.quantizers.AbsMaxQuantizer,
# keras.dtype_policies.DTypePolicy, keras.distribution.DataParallel, keras.export.ExportArchive)
from .keras import distribution, dtype_policies, export, quantizers  # noqa: E402
from . import applications  # noqa: E402  (keras.applications.MobileNetV2 after `import corenn as keras`)
from . import onnx  # noqa: E402  (corenn.onnx.export; imports the onnx package only when called)


def show_config(print_out=True):
    """Print (and return as a dict) what corenn's CPU kernels run on: the CPU model, the
    instruction-set features cpuid found (AVX / AVX-512 counted only where the OS saves their
    registers), the chosen ISA and why (auto, CORENN_ISA, set_isa, or a fallback note), the
    thread count, the GEMM micro-tile and block sizes of each ISA this CPU can run, and per op of
    the dispatch table which CPU kernel runs and why (plus whether a CUDA kernel exists)."""
    from . import _C
    print = _builtins.print   # this module's `print` is tf.print
    cfg = _C.cpu_config()
    cfg["dispatch"] = _C.dispatch_table()
    if print_out:
        print(f"corenn {__version__}")
        print(f"  cpu:      {cfg['cpu'] or 'unknown'}")
        print(f"  features: {' '.join(cfg['features']) or '-'}")
        print(f"  isa:      {cfg['isa']} ({cfg['isa_reason']})")
        print(f"  threads:  {cfg['threads']}")
        for name, g in cfg["gemm"].items():
            mark = "*" if name == cfg["isa"] else " "
            narrow = f" (N <= 16: {g['narrow'][0]}x{g['narrow'][1]})" if g.get("narrow") else ""
            print(f"  gemm {name:6s}{mark} tile {g['mr']}x{g['nr']}{narrow}, "
                  f"MC {g['mc']}, KC {g['kc']}, NC {g['nc']}")
        print("  kernels (op: the CPU kernel that runs, why; the slots registered):")
        width = max((len(op) for op in cfg["dispatch"]), default=0)
        for op in sorted(cfg["dispatch"]):
            row = cfg["dispatch"][op]
            slots = [s for s in ("cpu_ref", "avx2", "avx512", "cuda") if row[s]]
            print(f"    {op:{width}s} {row['chosen'] or '-':8s} {row['reason']}; "
                  f"has {', '.join(slots)}")
    return cfg


__version__ = "0.1.0"

# TensorFlow's names on `tf` (tf.constant, tf.reduce_mean, tf.float32, tf.nn, tf.math, tf.strings,
# ...), so tutorials written for `import tensorflow as tf` run after `import corenn as tf`.
import builtins as _builtins  # noqa: E402
from . import config, debugging, distribute, dtypes, image, linalg, lookup, math, nn, ragged, sparse, strings  # noqa: E402
from .debugging import errors  # noqa: E402  (tf.errors.InvalidArgumentError)
from .sparse import SparseTensor  # noqa: E402
from .variables import UnconnectedGradients, Variable  # noqa: E402  (tf.Variable)
from .module import Module  # noqa: E402  (tf.Module)
from . import ops_image as _ops_image  # noqa: E402
ops.image = _ops_image   # keras.ops.image (Keras 3's image ops)
from .dtypes import (DType, as_dtype, bool, complex64, complex128, double, float16, float32, float64,  # noqa: E402,A004
                     half, int8, int16, int32, int64, string, uint8, uint16, uint32, uint64)
from ._tf_api import *  # noqa: E402,F401,F403
from ._tf_api import __all__ as _tf_names  # noqa: E402
from . import random  # noqa: E402  (keras.random, plus tf.random.set_seed)

# TensorFlow 2's trigonometry, scatter / slice ops, control flow (tf.cond, tf.while_loop, tf.map_fn,
# tf.scan, tf.TensorArray), eager no-op scopes; tf.train (Checkpoint, CheckpointManager), tf.summary
# (TensorBoard event files) and tf.saved_model (a clear error naming corenn's formats)
from ._tf_control import *  # noqa: E402,F401,F403
from ._tf_control import __all__ as _tf_control_names  # noqa: E402
from ._tf_more import *  # noqa: E402,F401,F403  (Assert, space_to_batch, dynamic_stitch, IndexedSlices ...)
from ._tf_more import __all__ as _tf_more_names  # noqa: E402
from ._tf_small import *  # noqa: E402,F401,F403  (reverse_sequence, unravel_index, fftnd ...)
from ._tf_lookup import bitwise, sets  # noqa: E402  (tf.sets, tf.bitwise; tf.lookup is lookup.py)
from ._tf_small import __all__ as _tf_small_names  # noqa: E402
from ._tf_small import tf_tuple as tuple  # noqa: E402,A001  (tf.tuple; not in __all__, as tf.range)
from . import train, summary, saved_model  # noqa: E402
from . import experimental  # noqa: E402  (tf.experimental.numpy)
from . import io  # noqa: E402  (tf.io: files, image codecs, TFRecord, tf.train.Example parsing)
from . import audio  # noqa: E402  (tf.audio: decode_wav / encode_wav)
for _name in ("decode_png", "decode_jpeg", "decode_bmp", "decode_gif", "decode_image", "encode_png", "encode_jpeg",
              "is_jpeg", "decode_and_crop_jpeg"):
    setattr(image, _name, getattr(io, _name))   # TensorFlow's tf.image aliases of the tf.io codecs
del _name


class version:
    """``tf.version.VERSION``."""
    VERSION = __version__


from ._tf_compat import autograph, executing_eagerly, get_logger, sysconfig, test  # noqa: E402
from . import _tf_compat as compat  # noqa: E402  (tf.compat.v1.logging.set_verbosity, ...; v2 set below)

__all__ = ["Model", "Input", "backend", "GradientTape", "function", "convert_to_tensor", "newaxis", "keras",
           "autodiff", "ops", "Sequential", "models", "layers", "losses", "metrics", "optimizers", "activations",
           "initializers", "constraints", "regularizers", "callbacks", "utils", "datasets", "data", "TensorSpec", "Tensor", "TensorShape", "kernels", "cuda",
           "set_num_threads", "get_num_threads", "show_config", "__version__", "version", "config", "dtypes", "linalg", "math",
           "nn", "image", "debugging", "errors", "distribute", "ragged", "lookup", "signal", "sparse", "SparseTensor", "Variable", "UnconnectedGradients", "Module", "strings", "random", "DType", "as_dtype", "double", "complex64", "complex128", "float16", "float32",
           "float64", "half", "int8", "int16", "int32", "int64", "string", "uint8", "uint16", "uint32",
           "uint64"] + [n for n in _tf_names if n not in ("newaxis", "convert_to_tensor")
                        # tf.range, tf.print, tf.bool ... stay attributes: `from corenn import *`
                        # must not shadow Python's builtins
                        and n not in dir(_builtins)]
__all__ += ["train", "summary", "saved_model", "io", "audio", "compat", "test", "autograph", "sysconfig",
            "executing_eagerly", "get_logger"] + [n for n in _tf_control_names if n not in dir(_builtins)]
__all__ += [n for n in _tf_more_names + _tf_small_names if n not in __all__] + ["lookup", "sets", "bitwise"]
__all__ += [n for n in ("distribution", "dtype_policies", "export", "quantizers") if n not in __all__]

# Last: the public ops of every op namespace record a graph node when called on KerasTensors
# (``x = ops.expand_dims(inputs, -1)`` while a functional model is built; layers/op_layer.py).
import sys as _sys  # noqa: E402
from .layers.op_layer import make_symbolic_aware as _make_symbolic_aware  # noqa: E402

for _module, _prefix in ((ops, "ops"), (ops.nn, "ops.nn"), (ops.numpy, "ops.numpy"), (ops.math, "ops.math"),
                         (ops.linalg, "ops.linalg"), (ops.core, "ops.core"), (ops.image, "ops.image"),
                         (_sys.modules[__name__], "tf"), (math, "tf.math"), (nn, "tf.nn"), (linalg, "tf.linalg"),
                         (image, "tf.image"), (signal, "tf.signal"), (math.special, "tf.math.special")):
    _make_symbolic_aware(_module, _prefix)
compat.v2 = _sys.modules[__name__]   # tf.compat.v2 is TensorFlow 2's API: corenn itself
compat.v1.keras = keras   # tf.compat.v1.keras.experimental.LinearModel (the canned-Estimator migration guide)
del _module, _prefix, _sys
