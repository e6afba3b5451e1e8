"""Utilities: reproducibility, progress bars, label encoding, sequence padding, training plots."""
from .file_utils import get_file, hash_file, validate_file
from .data import array_to_img, img_to_array, load_img, normalize, save_img, to_categorical
from .dataset_utils import (image_dataset_from_directory, split_dataset, text_dataset_from_directory,
                            timeseries_dataset_from_array)
from .py_dataset import PyDataset, Sequence
from .model_plot import plot_model
from .plotting import plot_history
from .progbar import Progbar
from .random import get_generator, next_seed, set_random_seed
from .sequence import pad_sequences

__all__ = ["PyDataset", "Sequence", "image_dataset_from_directory", "split_dataset", "text_dataset_from_directory",
           "timeseries_dataset_from_array", "Progbar", "get_generator", "next_seed", "normalize", "pad_sequences", "plot_history", "plot_model",
           "set_random_seed", "to_categorical", "img_to_array", "load_img", "array_to_img", "save_img",
           "FeatureSpace", "get_file", "hash_file", "validate_file"]


def __getattr__(name):
    # FeatureSpace builds layers: imported on first use, as corenn.layers itself imports utils
    if name == "FeatureSpace":
        from .feature_space import FeatureSpace
        return FeatureSpace
    raise AttributeError(f"module 'corenn.utils' has no attribute {name!r}")
