"""``tf.keras.layers.experimental.preprocessing``: the preprocessing layers under their TF 2.3-2.5
path (the classes of ``corenn.layers``)."""
# Absolute imports: this module is also imported as corenn.keras.layers.experimental.preprocessing
# (corenn.keras.layers is corenn.layers under a second name), where relative ones would miss.
from corenn.layers import (CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup,
                           Normalization, RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
                           RandomHeight, RandomRotation, RandomTranslation, RandomWidth, RandomZoom,
                           Rescaling, Resizing,
                           StringLookup, TextVectorization)

__all__ = ["CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation",
           "RandomTranslation", "RandomZoom", "Resizing", "Normalization", "Rescaling", "CategoryEncoding",
           "Hashing", "IntegerLookup", "StringLookup", "TextVectorization", "Discretization",
           "RandomHeight", "RandomWidth"]
