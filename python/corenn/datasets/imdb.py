"""IMDB movie reviews: 50,000 reviews as sequences of word indices, labelled by sentiment.

Read from Keras' imdb.npz (four arrays: x_train and x_test, object arrays of lists of ints;
y_train and y_test, int labels 0/1) without unpickling it, see _object_lists.py.
"""
import numpy as np

from . import _loader, _npz, _text

__all__ = ["load_data", "get_word_index"]

# The sha256 digests are those Keras' own loaders verify (file_hash in keras/src/datasets/);
# for the word index Keras publishes only an md5.
SPEC = _loader.DatasetSpec(
    name="imdb", mirrors=[_text.KERAS_MIRROR],
    checksums={"imdb.npz": (
        "sha256:69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",)},
    system_dirs=["/usr/share/datasets/imdb"],
    install_hint=f"download imdb.npz from {_text.KERAS_MIRROR}",
    files=("imdb.npz",))
WORD_INDEX_SPEC = _loader.DatasetSpec(
    name="imdb", mirrors=[_text.KERAS_MIRROR],
    checksums={"imdb_word_index.json": ("md5:bfafd718b763782e994055a2d397834f",)},
    system_dirs=["/usr/share/datasets/imdb"],
    install_hint=f"download imdb_word_index.json from {_text.KERAS_MIRROR}",
    files=("imdb_word_index.json",))


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, download=True):
    """Load IMDB as keras.datasets.imdb.load_data does (same arguments, same results).

    Args:
        path: the .npz file, a directory holding imdb.npz, or a bare file name looked up in
            $CORENN_DATA, ~/.cache/corenn/datasets/imdb and /usr/share/datasets/imdb before
            it is downloaded into the cache (checksum verified).
        num_words: keep the indices below this (the most frequent words); others become
            oov_char. None: all (but see _text.py for Keras' treatment of the largest index).
        skip_top: indices below this (the most frequent words) also become oov_char.
        maxlen: keep only the sequences shorter than this (after start_char is added).
        seed: seed of the shuffle (np.random.RandomState).
        start_char: put in front of every sequence; None for nothing.
        oov_char: replaces the words num_words and skip_top cut; None drops them.
        index_from: added to every stored word index.
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): x 1-d object arrays of lists of ints, y int
        label arrays.
    """
    _text.check_options("imdb.load_data", num_words, skip_top, maxlen, start_char, oov_char,
                        index_from)
    npz = _loader.locate_file(SPEC, path, download)
    arrays = _npz.read_npz(npz, {"x_train": _npz.OBJECT_LISTS, "y_train": _npz.NUMERIC,
                                 "x_test": _npz.OBJECT_LISTS, "y_test": _npz.NUMERIC})
    rng = np.random.RandomState(seed)
    splits = []
    for part in ("train", "test"):   # one generator, train drawn first: Keras' order
        x, y = arrays["x_" + part], arrays["y_" + part]
        _text.check_labels(npz, x, y, "x_" + part)
        x, y = _text.shuffled(rng, x, y)
        x, y = _text.encode(x, y, start_char, index_from, maxlen)
        if maxlen and not x:
            raise ValueError(f"imdb.load_data: no {part} sequence is shorter than "
                             f"maxlen={maxlen}; increase maxlen")
        splits.append((x, y))
    (x_train, y_train), (x_test, y_test) = splits
    # The vocabulary cut is decided over train and test together, as Keras does.
    xs = _text.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    n = len(x_train)
    return ((_text.object_array(xs[:n]), y_train), (_text.object_array(xs[n:]), y_test))


def get_word_index(path="imdb_word_index.json", download=True):
    """The {word: index} dict of IMDB (index 1 is the most frequent word; add index_from to
    match load_data's sequences). `path` is looked up as in load_data."""
    return _text.read_word_index(_loader.locate_file(WORD_INDEX_SPEC, path, download))
