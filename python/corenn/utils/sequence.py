"""Padding variable-length sequences into one array (``keras.utils.pad_sequences``)."""
import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or truncate) each sequence to ``maxlen`` steps, as Keras does.

    Args:
        sequences: a list of sequences (lists or arrays; each step a number or an array of the
            same shape in every sequence).
        maxlen: length of the result's time axis; default the longest sequence.
        dtype: dtype of the result.
        padding: 'pre' (pad at the start, the default) or 'post'.
        truncating: 'pre' (drop the first steps of a long sequence) or 'post' (the last).
        value: the padding value.

    Returns:
        An array of shape (len(sequences), maxlen) + step shape.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be a list of iterables, got "
                         f"{type(sequences).__name__}")
    lengths, step_shape = [], None
    for i, s in enumerate(sequences):
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; element {i} "
                             f"is {type(s).__name__} ({s!r})") from None
        if step_shape is None and len(s):
            step_shape = np.asarray(s).shape[1:]
    step_shape = step_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or int(maxlen) != maxlen or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative integer or None, got {maxlen!r}")
    maxlen = int(maxlen)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and isinstance(value, str):
        raise ValueError(f"pad_sequences: dtype {dtype} cannot hold the padding value {value!r}")
    out = np.full((len(lengths), maxlen) + step_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != step_shape:
            raise ValueError(f"pad_sequences: the steps of sequence {i} have shape {kept.shape[1:]}, "
                             f"those of the first non-empty sequence {step_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
