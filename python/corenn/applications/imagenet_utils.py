"""``keras.applications.imagenet_utils``: the input preprocessing modes of the ImageNet models,
the decoding of their 1000-class predictions, and the input-shape rules every application shares.
"""
import json
import warnings

import numpy as np

from .. import activations
from ..keras import backend

CLASS_INDEX = None
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

# the per-channel statistics the pretrained weights were trained with
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
TORCH_STD_RGB = (0.229, 0.224, 0.225)

_MODES = ("caffe", "tf", "torch")


def _data_format(data_format, op):
    if data_format is None:
        return backend.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"{op}: data_format must be 'channels_first' or 'channels_last', "
                         f"got {data_format!r}")
    return data_format


def _channel_shape(ndim, data_format):
    """The shape a per-channel vector broadcasts with against an image (batch) of rank ndim."""
    if data_format == "channels_first":
        return (3,) + (1,) * (ndim - 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)
    return (1,) * (ndim - 1) + (3,)


def _preprocess_numpy(x, data_format, mode):
    # Keras writes over a float input array (its documented behaviour; np.copy avoids it)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx())
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        x -= np.asarray(TORCH_MEAN_RGB, x.dtype).reshape(_channel_shape(x.ndim, data_format))
        x /= np.asarray(TORCH_STD_RGB, x.dtype).reshape(_channel_shape(x.ndim, data_format))
        return x
    # caffe: RGB -> BGR (a reversed view, as Keras takes it), then the BGR mean removed
    channel_axis = (0 if x.ndim == 3 else 1) if data_format == "channels_first" else x.ndim - 1
    index = [slice(None)] * x.ndim
    index[channel_axis] = slice(None, None, -1)
    x = x[tuple(index)]
    x -= np.asarray(CAFFE_MEAN_BGR, x.dtype).reshape(_channel_shape(x.ndim, data_format))
    return x


def _preprocess_symbolic(x, data_format, mode):
    """The same maps as layers on a KerasTensor (inside a functional model): KerasTensors take
    no arithmetic with numbers, Rescaling layers do it (no weights)."""
    from .. import layers, ops
    ndim = len(x.shape)
    shape = _channel_shape(ndim - 1, data_format) if ndim == 4 else (3,) if data_format == "channels_last" else (3, 1)
    if mode == "tf":
        return layers.Rescaling(1.0 / 127.5, offset=-1.0)(x)
    if mode == "torch":
        std = np.asarray(TORCH_STD_RGB, np.float64)
        scale = (1.0 / (255.0 * std)).reshape(shape)
        offset = (-np.asarray(TORCH_MEAN_RGB) / std).reshape(shape)
        return layers.Rescaling(scale.tolist(), offset=offset.tolist())(x)
    channel_axis = (1 if data_format == "channels_first" else ndim - 1)
    x = layers.Lambda(lambda t: ops.flip(t, axis=channel_axis))(x)
    offset = -np.asarray(CAFFE_MEAN_BGR, np.float64).reshape(shape)
    return layers.Rescaling(1.0, offset=offset.tolist())(x)


def _preprocess_tensor(x, data_format, mode):
    """An eager Tensor: the NumPy computation on a copy, returned as a Tensor."""
    from .. import ops
    return ops._to_tensor(_preprocess_numpy(np.array(x, dtype=np.float32), data_format, mode))


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scale a batch of RGB images with values in [0, 255] the way a pretrained model expects.

    mode: 'caffe' (RGB -> BGR, minus the ImageNet BGR mean, no scaling), 'tf' (to [-1, 1]) or
    'torch' (to [0, 1], minus the ImageNet mean, over its standard deviation, per channel).
    A float NumPy array is written over, as in Keras; other dtypes come back as float32.
    """
    if mode not in _MODES:
        raise ValueError(f"preprocess_input: mode must be one of 'caffe', 'tf' or 'torch', got {mode!r}")
    data_format = _data_format(data_format, "preprocess_input")
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    shape = tuple(x.shape)
    if mode != "tf" and (len(shape) < 3 or shape[0 if (data_format == "channels_first" and len(shape) == 3)
                                                  else (1 if data_format == "channels_first" else -1)] != 3):
        raise ValueError(f"preprocess_input: mode {mode!r} needs images with 3 channels "
                         f"({data_format}), got shape {shape}")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    from ..models.graph import KerasTensor
    if isinstance(x, KerasTensor):
        return _preprocess_symbolic(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _class_index():
    global CLASS_INDEX
    if CLASS_INDEX is None:
        from ..utils.file_utils import get_file
        path = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                        file_hash=CLASS_INDEX_HASH)
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        if not isinstance(index, dict) or any(str(i) not in index for i in range(1000)):
            raise ValueError(f"decode_predictions: {path} is not an ImageNet class index "
                             "(a JSON object mapping '0'..'999' to [wnid, name])")
        CLASS_INDEX = index
    return CLASS_INDEX


def decode_predictions(preds, top=5):
    """For each row of a (samples, 1000) prediction array, the ``top`` classes as
    ``(wordnet_id, class_name, score)`` tuples, highest score first. The class index is
    ``imagenet_class_index.json`` from Keras' cache (downloaded there when missing)."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("decode_predictions expects a batch of predictions (a 2D array of shape "
                         f"(samples, 1000)); got an array of shape {preds.shape}")
    index = _class_index()
    results = []
    for row in preds:
        best = np.argsort(row, kind="stable")[::-1][:top]
        results.append([tuple(index[str(int(i))]) + (row[i],) for i in best])
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """The model's input shape (channels included, no batch axis), checked as Keras checks it:
    the pretrained classifier needs the default size; 3 channels with ImageNet weights; each
    spatial size at least ``min_size``."""
    channels_first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn(f"This model usually expects 1 or 3 input channels; got input_shape "
                          f"{tuple(input_shape)} with {channels} channels.", stacklevel=3)
        default_shape = ((channels, default_size, default_size) if channels_first
                         else (default_size, default_size, channels))
    else:
        default_shape = (3, default_size, default_size) if channels_first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(f"With include_top=True and weights='imagenet', input_shape must be "
                             f"{default_shape}; got input_shape={tuple(input_shape)}")
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be a tuple of three integers; got {input_shape}")
        channels = input_shape[0] if channels_first else input_shape[-1]
        spatial = input_shape[1:] if channels_first else input_shape[:2]
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"With weights='imagenet' the input must have 3 channels; got "
                             f"input_shape={input_shape}")
        if any(s is not None and s < min_size for s in spatial):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; got "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(f"With include_top=True, input_shape must be static; got "
                         f"input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ((top, bottom), (left, right)) zero padding before a stride-2 'valid' convolution
    that reproduces TensorFlow's 'same' padding for the input's (even or odd) size."""
    channels_first = backend.image_data_format() == "channels_first"
    size = tuple(inputs.shape[2:4] if channels_first else inputs.shape[1:3])
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained classifiers were trained with softmax: only None or 'softmax' go with them."""
    if weights is None:
        return
    name = getattr(activations.get(classifier_activation), "name", None)
    if name not in ("softmax", "linear"):
        raise ValueError("Only None and 'softmax' are allowed as classifier_activation with "
                         f"pretrained weights; got classifier_activation={classifier_activation!r}")
