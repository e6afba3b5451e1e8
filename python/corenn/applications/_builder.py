"""What every application shares: the argument checks, the input, the pooling head, the model and
its weights (Keras' files: the URL and hash Keras downloads, loaded in Keras' layer order)."""
import os

import numpy as np

from .. import layers
from ..keras import backend
from ..models import Model
from ..models.graph import KerasTensor
from ..layers.base import InputLayer
from . import imagenet_utils

WEIGHTS_ARG_HELP = ("None (random initialization), 'imagenet' (pre-training on ImageNet), or the "
                    "path to a weights file to load")


def check_weights(weights, include_top, classes, model):
    """Keras' checks of ``weights`` and ``classes`` before anything is built."""
    if not (weights in ("imagenet", None) or (isinstance(weights, (str, os.PathLike))
                                               and os.path.exists(weights))):
        raise ValueError(f"{model}: weights must be {WEIGHTS_ARG_HELP}; got weights={weights!r}"
                         + (" (no such file)" if isinstance(weights, (str, os.PathLike)) else ""))
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"{model}: with weights='imagenet' and include_top=True, classes must be 1000; "
                         f"got classes={classes}")
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"{model}: classes must be a positive integer; got {classes!r}")


def check_pooling(pooling, model):
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{model}: pooling must be None, 'avg' or 'max'; got pooling={pooling!r}")


def channel_axis():
    return 1 if backend.image_data_format() == "channels_first" else -1


def model_input(input_shape, input_tensor, model):
    """The model's input: a new ``keras.Input`` of ``input_shape``, or ``input_tensor`` when it is
    one (or any KerasTensor: the model then starts at the Inputs it comes from)."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not isinstance(input_tensor, KerasTensor):
        raise TypeError(f"{model}: input_tensor must be a keras.Input(...) or another layer's output "
                        f"(a KerasTensor); got {type(input_tensor).__name__}")
    # as in Keras, the tensor's own height and width win over the default input_shape
    if len(input_tensor.shape) != 4:
        raise ValueError(f"{model}: input_tensor must be a batch of images (rank 4); got shape "
                         f"{tuple(input_tensor.shape)}")
    return input_tensor


def check_tensor_matches(input_shape, input_tensor, model):
    """MobileNetV2 / V3's rule when both are given: the tensor's shape must be input_shape."""
    model_input(input_shape, input_tensor, model)
    want, got = tuple(input_shape), tuple(input_tensor.shape[1:])
    if len(want) != 3 or any(w is not None and g is not None and w != g for w, g in zip(want, got)):
        raise ValueError(f"{model}: input_tensor has shape {tuple(input_tensor.shape)}, which does not "
                         f"match input_shape={want}")


def source_inputs(tensor):
    """The keras.Input tensors ``tensor`` is computed from (Keras' get_source_inputs)."""
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        node = t.node
        if node is None or isinstance(node.layer, InputLayer):
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            continue
        stack.extend(reversed(node.inputs))
    return found


def pool(x, pooling, avg_name=None, max_name=None):
    """The include_top=False head: nothing, global average or global max pooling."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def load_weights(model, path):
    """Keras' HDF5 weights in the legacy layout of its published files (``layer_names`` and
    per-layer ``weight_names``), matched to the layers with weights in Keras' order, every shape
    checked before any array is read. Any other file (a Keras 3 ``.weights.h5``, corenn's own)
    goes to ``model.load_weights``."""
    path = os.fspath(path)
    if not path.endswith((".h5", ".hdf5")) or path.endswith(".weights.h5"):
        model.load_weights(path)
        return
    from .. import saving_keras as sk
    h5py = sk._h5py()
    with sk._reading_h5(path, "Keras HDF5 weights file"):
        h5 = h5py.File(path, "r")
    with h5, sk._reading_h5(path, "Keras HDF5 weights file"):
        if "layers" in h5 and "layer_names" not in h5.attrs:
            found = None   # Keras 3's layout under a plain .h5 name
        else:
            datasets = sk._check_h5_tree(h5py, h5)
            root = h5["model_weights"] if "model_weights" in h5 else h5
            found = [(name, ds) for name, ds in sk._legacy_weights(h5py, root, datasets).items() if ds]
            _assign_in_keras_order(model, found, path)
    if found is None:
        model.load_weights(path)


def _assign_in_keras_order(model, found, path):
    with_weights = [layer for layer in model.layers if layer.weights]   # Keras' order, as its files
    if len(found) != len(with_weights):
        raise ValueError(f"{model.name}: {path} holds weights for {len(found)} layers, the model has "
                         f"{len(with_weights)} layers with weights (a file for another architecture, "
                         "or for other include_top / alpha / classes?)")
    for layer, (name, datasets) in zip(with_weights, found):
        want = [tuple(w.shape) for w in layer.weights]
        got = [d.shape for d in datasets]
        if want != got:
            raise ValueError(f"{model.name}: {path}: layer '{layer.name}' ({type(layer).__name__}) has "
                             f"weights of shapes {want}, the file's layer '{name}' holds {got}")
    values = [[d.read() for d in datasets] for _, datasets in found]
    for layer, vals in zip(with_weights, values):
        layer.set_weights(vals)


def imagenet_file(file_name, origin, file_hash=None):
    """The local path of one of Keras' pretrained weight files (downloaded into
    ``~/.keras/models`` when missing, as Keras does)."""
    from ..utils.file_utils import get_file
    return get_file(file_name, origin, cache_subdir="models", file_hash=file_hash)


def finish(inputs, x, name, weights, imagenet_weights=None, input_tensor=None):
    """The functional model from ``inputs`` (or ``input_tensor``'s sources) to ``x``, with its
    weights: ``imagenet_weights()`` gives the path of the pretrained file (called only for
    weights='imagenet'), a path is loaded as it is."""
    if input_tensor is not None:
        inputs = source_inputs(input_tensor)
        inputs = inputs[0] if len(inputs) == 1 else inputs
    model = Model(inputs, x, name=name)
    if weights == "imagenet":
        if imagenet_weights is None:
            raise ValueError(f"{name}: no ImageNet weights are published for this configuration")
        load_weights(model, imagenet_weights())
    elif weights is not None:
        load_weights(model, weights)
    return model


__all__ = ["imagenet_utils"]


def keras_application_layer(keras_module, aliases=()):
    """Keras' applications define a few layers of their own (ConvNeXt's LayerScale,
    InceptionResNetV2's CustomScaleLayer), which its files name by class and module: corenn's
    equivalents are registered under the class name (model files find them, Keras' and corenn's)
    and written with Keras' module, so that Keras finds its own class."""
    from ..saving import CUSTOM_OBJECTS

    def register(cls):
        for name in (cls.__name__,) + tuple(aliases):   # aliases: the names TF-Keras 2 wrote
            CUSTOM_OBJECTS.setdefault(name, cls)
        cls._keras_module = keras_module
        return cls
    return register


class SampleDropout(layers.Layer):
    """Dropout of whole samples (Keras' ``Dropout(rate, noise_shape=(None, 1, 1, 1))``, the
    stochastic depth of EfficientNet's residual branches): in training each sample's branch is
    kept with probability 1 - rate and scaled by 1 / (1 - rate); at inference the identity."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"SampleDropout '{self.name}': rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        from .. import ops
        shape = (int(inputs.shape[0]),) + (1,) * (len(inputs.shape) - 1)
        keep = (self._rng.random(shape) >= self.rate).astype(np.float32) / (1.0 - self.rate)
        return ops.multiply(inputs, keep)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
