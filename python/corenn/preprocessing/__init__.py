"""``keras.preprocessing`` as scripts import it: ``keras.preprocessing.sequence.pad_sequences``
(the same function as ``corenn.utils.pad_sequences``)."""
from . import image, sequence, text
from .image import ImageDataGenerator
from ..utils.dataset_utils import (image_dataset_from_directory, text_dataset_from_directory,
                                   timeseries_dataset_from_array)

__all__ = ["image", "ImageDataGenerator", "sequence", "text", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
