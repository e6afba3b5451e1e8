"""``keras.preprocessing`` as scripts import it: ``keras.preprocessing.sequence.pad_sequences``
(the same function as ``corenn.utils.pad_sequences``)."""
from . import sequence

__all__ = ["sequence"]
