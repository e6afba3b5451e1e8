"""``keras.preprocessing.sequence``: padding variable-length sequences."""
from ..utils.sequence import pad_sequences

__all__ = ["pad_sequences"]
