"""What IMDB and Reuters share: Keras' sequence options, word-index JSON, object arrays.

The options mean exactly what they mean in keras.datasets.imdb / reuters:
    shuffle   np.random.RandomState(seed) permutes the samples (IMDB: train, then test, with
              the same generator; Reuters: all samples before the split)
    start_char / index_from
              every stored index w becomes w + index_from, and start_char (unless None) is
              put in front of each sequence
    maxlen    keeps only sequences *shorter* than maxlen (Keras' remove_long_seq); 0 or None
              keeps all
    num_words / skip_top / oov_char
              an index w is kept when skip_top <= w < num_words, otherwise replaced by oov_char
              (or dropped when oov_char is None). When num_words is None or 0 it becomes the
              largest index in the data, so, as in Keras, that one index is out of range too.
"""
import json
import os

import numpy as np

__all__ = ["check_options", "check_labels", "shuffled", "encode", "limit_vocabulary", "object_array",
           "read_word_index", "KERAS_MIRROR"]

KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_MAX_JSON_BYTES = 64 << 20      # imdb_word_index.json is 1.6 MB


def check_options(op, num_words, skip_top, maxlen, start_char, oov_char, index_from,
                  test_split=None):
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    for name, value, optional in (("num_words", num_words, True), ("skip_top", skip_top, False),
                                  ("maxlen", maxlen, True), ("start_char", start_char, True),
                                  ("oov_char", oov_char, True), ("index_from", index_from, False)):
        if not ((optional and value is None) or (is_int(value) and value >= 0)):
            raise ValueError(f"{op}: {name} must be a non-negative int"
                             f"{' or None' if optional else ''}, got {value!r}")
    if test_split is not None and not (isinstance(test_split, (int, float))
                                       and 0 <= test_split < 1):
        raise ValueError(f"{op}: test_split must be in [0, 1), got {test_split!r}")


def check_labels(path, sequences, labels, name):
    if labels.ndim != 1 or len(labels) != len(sequences):
        raise ValueError(f"{path}: {len(sequences)} sequences in {name} but labels of shape "
                         f"{labels.shape}")


def shuffled(rng, sequences, labels):
    """The samples in the order rng.shuffle gives their indices (as Keras draws it)."""
    indices = np.arange(len(sequences))
    rng.shuffle(indices)
    return [sequences[i] for i in indices], labels[indices]


def encode(sequences, labels, start_char, index_from, maxlen):
    """Shift the indices, put start_char in front, drop sequences not shorter than maxlen."""
    prefix = [] if start_char is None else [start_char]
    out = [prefix + [w + index_from for w in seq] for seq in sequences]
    if maxlen:
        keep = [i for i, seq in enumerate(out) if len(seq) < maxlen]
        out, labels = [out[i] for i in keep], labels[keep]
    return out, labels


def limit_vocabulary(sequences, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max((max(seq) for seq in sequences if seq), default=0)
    if oov_char is None:
        return [[w for w in seq if skip_top <= w < num_words] for seq in sequences]
    return [[w if skip_top <= w < num_words else oov_char for w in seq] for seq in sequences]


def object_array(sequences):
    """A 1-d object array of lists (np.array would make a 2-d array of equal-length lists)."""
    out = np.empty(len(sequences), dtype=object)
    for i, seq in enumerate(sequences):
        out[i] = seq
    return out


def read_word_index(path):
    """The {word: index} dict of a word-index JSON file, checked."""
    path = os.fspath(path)
    if os.path.getsize(path) > _MAX_JSON_BYTES:
        raise ValueError(f"{path}: word index file too large ({os.path.getsize(path)} bytes)")
    try:
        with open(path, "rb") as f:
            index = json.loads(f.read().decode("utf-8"))
    except (ValueError, RecursionError) as exc:     # UnicodeDecodeError, JSONDecodeError
        raise ValueError(f"{path}: not a valid word index JSON file ({exc})") from None
    if not isinstance(index, dict) or not all(
            type(v) is int and v >= 0 for v in index.values()):
        raise ValueError(f"{path}: a word index must be a JSON object mapping words to "
                         f"non-negative integers")
    return index
