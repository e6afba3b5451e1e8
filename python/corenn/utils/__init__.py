"""Utilities: reproducibility, progress bars, label encoding, sequence padding, training plots."""
import numpy as np

from . import bounding_boxes
from .file_utils import get_file, hash_file, validate_file
from .data import array_to_img, img_to_array, load_img, normalize, save_img, to_categorical
from .dataset_utils import (audio_dataset_from_directory, image_dataset_from_directory, split_dataset,
                            text_dataset_from_directory, timeseries_dataset_from_array)
from .py_dataset import PyDataset, Sequence
from .model_plot import plot_model
from .plotting import plot_history
from .progbar import (Progbar, disable_interactive_logging, enable_interactive_logging,
                      is_interactive_logging_enabled)
from .random import get_generator, next_seed, set_random_seed
from .sequence import pad_sequences
from .config import Config

__all__ = ["bounding_boxes", "PyDataset", "Sequence", "audio_dataset_from_directory", "image_dataset_from_directory", "split_dataset", "text_dataset_from_directory",
           "timeseries_dataset_from_array", "Progbar", "get_generator", "next_seed", "normalize", "pad_sequences", "plot_history", "plot_model",
           "set_random_seed", "to_categorical", "img_to_array", "load_img", "array_to_img", "save_img",
           "FeatureSpace", "get_file", "hash_file", "validate_file", "disable_interactive_logging",
           "enable_interactive_logging", "is_interactive_logging_enabled", "pack_x_y_sample_weight", "unpack_x_y_sample_weight",
           "register_keras_serializable", "serialize_keras_object", "deserialize_keras_object",
           "get_custom_objects", "custom_object_scope", "CustomObjectScope", "get_registered_name",
           "get_registered_object", "Config", "clear_session", "get_source_inputs", "is_keras_tensor",
           "standardize_dtype", "warmstart_embedding_matrix", "SidecarEvaluator"]

# keras.utils keeps the serialization helpers under these names too (they live in corenn.saving)
_FROM_SAVING = ("register_keras_serializable", "serialize_keras_object", "deserialize_keras_object",
                "get_custom_objects", "custom_object_scope", "CustomObjectScope", "get_registered_name",
                "get_registered_object")


def _vocabulary_list(vocabulary, what):
    """Terms as a list of str: from a list / array / string Tensor, or a vocabulary file path
    (one term a line)."""
    import os
    if isinstance(vocabulary, (str, bytes, os.PathLike)):
        with open(vocabulary, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]
    from ..strings import as_string_array
    try:
        terms = as_string_array(vocabulary, "warmstart_embedding_matrix").reshape(-1).tolist()
    except (TypeError, ValueError):
        terms = list(vocabulary)
    return [t.decode("utf-8") if isinstance(t, bytes) else t for t in terms]


def warmstart_embedding_matrix(base_vocabulary, new_vocabulary, base_embeddings,
                               new_embeddings_initializer="uniform"):
    """TF-Keras 2's ``keras.utils.warmstart_embedding_matrix`` (the TensorFlow tutorial
    "Warm-start embedding layer matrix"): the (len(new_vocabulary), dim) embedding matrix for a
    new vocabulary, whose rows for terms also in ``base_vocabulary`` are those terms' rows of
    ``base_embeddings`` and whose other rows are drawn from ``new_embeddings_initializer``
    (default "uniform": U(-0.05, 0.05)). A term listed twice in the base vocabulary takes its
    last row. Vocabularies: lists, arrays or string Tensors of terms, or vocabulary files."""
    from .. import initializers, kernels
    base = _vocabulary_list(base_vocabulary, "base_vocabulary")
    new = _vocabulary_list(new_vocabulary, "new_vocabulary")
    emb = np.asarray(base_embeddings, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(base):
        raise ValueError(f"warmstart_embedding_matrix: base_embeddings must be (len(base_vocabulary), dim) = "
                         f"({len(base)}, dim), got shape {emb.shape}")
    init = initializers.get(new_embeddings_initializer or "uniform")
    out = np.array(init(shape=(len(new), emb.shape[1])), dtype=np.float32)
    row_of = dict(zip(base, range(len(base))))
    for j, term in enumerate(new):
        i = row_of.get(term)
        if i is not None:
            out[j] = emb[i]
    return kernels.Tensor.from_numpy(out)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """(x,), (x, y) or (x, y, sample_weight), leaving out the trailing Nones (Keras)."""
    if y is None:
        return (x,) if not isinstance(x, (list, tuple)) else (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from a batch: a tuple of 1 to 3 items, or x alone (Keras)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"unpack_x_y_sample_weight: data must be x, (x,), (x, y) or (x, y, sample_weight), "
                     f"got a tuple of {len(data)} items")


def __getattr__(name):
    # FeatureSpace builds layers: imported on first use, as corenn.layers itself imports utils
    if name == "FeatureSpace":
        from .feature_space import FeatureSpace
        return FeatureSpace
    if name == "np_utils":   # Keras 2's keras.utils.np_utils.to_categorical: the same functions
        import sys
        return sys.modules[__name__]
    if name in _FROM_SAVING:
        from .. import saving
        return getattr(saving, name)
    raise AttributeError(f"module 'corenn.utils' has no attribute {name!r}")


# Keras 3.15's keras.utils names of backend functions (keras/backend.py; imported when called, since
# corenn.keras imports this package)
def clear_session(free_memory=True):
    """Reset the counters behind default layer and model names (keras.backend.clear_session)."""
    from ..keras.backend import clear_session as clear
    clear(free_memory)


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic KerasTensor (keras.Input or a layer called on one)."""
    from ..keras.backend import is_keras_tensor as check
    return check(x)


def standardize_dtype(dtype):
    """A dtype's canonical name ('float32', 'int64', ...), as Keras 3 spells it."""
    from ..keras.backend import standardize_dtype as standardize
    return standardize(dtype)


def get_source_inputs(tensor):
    """The input KerasTensors (keras.Input) that ``tensor`` is computed from, each once, in the
    order the walk back through the layer calls meets them; anything not symbolic is returned as
    it is (Keras 3)."""
    from ..models.graph import KerasTensor
    if not isinstance(tensor, KerasTensor):
        return tensor
    found, seen = [], set()

    def walk(t):
        node = getattr(t, "node", None)
        if node is None or not node.inputs:   # keras.Input's node has no inputs
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            return
        for parent in node.inputs:
            walk(parent)
    walk(tensor)
    return found


from .sidecar_evaluator import SidecarEvaluator  # noqa: E402  (tf.keras.utils.SidecarEvaluator, tf.keras 2)
