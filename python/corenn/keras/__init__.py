"""corenn.keras: corenn's API under Keras' names, so ``tf.keras.layers.Dense`` resolves after
``import corenn as tf`` and ``from corenn import keras`` reads like ``import keras``."""
from .. import (activations, callbacks, constraints, datasets, initializers, layers, losses, metrics, models, ops,
                optimizers, preprocessing, random, regularizers, utils)
from .. import saving
from .. import mixed_precision
from ..models import Input, Model, Sequential
from . import backend
from ..variables import KerasVariable as Variable   # keras.Variable(initializer, shape, ...)
from . import config   # Keras 3's settings (backend's float/format ones, and its own)
from .. import applications   # after backend: the applications read image_data_format from it
from .. import tree
from ..layers import InputSpec, Layer   # keras.Layer, keras.InputSpec: Keras 3's top-level names
from ..models.graph import KerasTensor
from . import dtype_policies
from . import distribution   # keras.distribution: DataParallel over corenn.distributed's ranks
from . import quantizers
from .quantizers import Quantizer
from . import export   # ExportArchive refused by name (SavedModel); model.export(format="onnx")
from .dtype_policies import DTypePolicy, FloatDTypePolicy
from ..initializers import Initializer
from ..losses import Loss
from ..metrics import Metric
from ..optimizers import Optimizer
from ..regularizers import Regularizer

__all__ = ["Input", "Model", "Sequential", "activations", "callbacks", "constraints", "datasets", "initializers",
           "layers", "losses", "metrics", "models", "ops", "optimizers", "preprocessing", "random", "regularizers", "utils", "saving",
           "backend", "config", "mixed_precision", "tree", "Layer", "InputSpec", "KerasTensor", "applications",
           "dtype_policies", "distribution", "quantizers", "Quantizer", "export", "DTypePolicy", "FloatDTypePolicy",
           "Initializer", "Loss", "Metric", "Optimizer", "Regularizer"]

# `from corenn.keras.layers import Dense` as TensorFlow scripts write `from tensorflow.keras.layers
# import Dense`: the submodules are importable under this package's name too.
import sys as _sys  # noqa: E402

for _name in __all__:
    if isinstance(globals()[_name], type(_sys)):
        _sys.modules.setdefault(f"{__name__}.{_name}", globals()[_name])
_sys.modules.setdefault(f"{__name__}.preprocessing.sequence", preprocessing.sequence)
_sys.modules.setdefault(f"{__name__}.preprocessing.image", preprocessing.image)
_sys.modules.setdefault(f"{__name__}.preprocessing.text", preprocessing.text)
_sys.modules.setdefault(f"{__name__}.utils.np_utils", utils)   # keras.utils.np_utils.to_categorical (Keras 2)
# `from keras.applications.mobilenet_v2 import preprocess_input`, as scripts write it
for _name in applications.__all__:
    if isinstance(getattr(applications, _name), type(_sys)):
        _sys.modules.setdefault(f"{__name__}.applications.{_name}", getattr(applications, _name))

# tf.keras 2's keras.experimental: the premade models and the sidecar evaluator (Keras 3 has none)
import types as _types  # noqa: E402
from ..models.premade import LinearModel as _LinearModel, WideDeepModel as _WideDeepModel  # noqa: E402
experimental = _types.SimpleNamespace(LinearModel=_LinearModel, WideDeepModel=_WideDeepModel,
                                      SidecarEvaluator=utils.SidecarEvaluator)

from .. import visualization  # noqa: E402  keras.visualization (boxes, masks, galleries)
_sys.modules.setdefault(f"{__name__}.visualization", visualization)
