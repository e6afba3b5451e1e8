"""Reuters newswires: 11,228 newswires as sequences of word indices, labelled by 46 topics.

Read from Keras' reuters.npz (x: an object array of lists of ints; y: int topic labels)
without unpickling it, see _object_lists.py.
"""
import numpy as np

from . import _loader, _npz, _text

__all__ = ["load_data", "get_word_index", "get_label_names"]

# The sha256 is the one Keras' own loader verifies; for the word index Keras publishes an md5.
SPEC = _loader.DatasetSpec(
    name="reuters", mirrors=[_text.KERAS_MIRROR],
    checksums={"reuters.npz": (
        "sha256:d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",)},
    system_dirs=["/usr/share/datasets/reuters"],
    install_hint=f"download reuters.npz from {_text.KERAS_MIRROR}",
    files=("reuters.npz",))
WORD_INDEX_SPEC = _loader.DatasetSpec(
    name="reuters", mirrors=[_text.KERAS_MIRROR],
    checksums={"reuters_word_index.json": ("md5:4d44cc38712099c9e383dc6e5f11a921",)},
    system_dirs=["/usr/share/datasets/reuters"],
    install_hint=f"download reuters_word_index.json from {_text.KERAS_MIRROR}",
    files=("reuters_word_index.json",))

# The topic of each label, in label order (Keras' get_label_names).
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3, download=True):
    """Load Reuters as keras.datasets.reuters.load_data does (same arguments, same results).

    The arguments are imdb.load_data's; in addition the samples are shuffled together and the
    last `test_split` of them (after maxlen's filter) are the test set.

    Returns:
        ((x_train, y_train), (x_test, y_test)): x 1-d object arrays of lists of ints, y int
        topic labels (see get_label_names).
    """
    _text.check_options("reuters.load_data", num_words, skip_top, maxlen, start_char, oov_char,
                        index_from, test_split)
    npz = _loader.locate_file(SPEC, path, download)
    arrays = _npz.read_npz(npz, {"x": _npz.OBJECT_LISTS, "y": _npz.NUMERIC})
    _text.check_labels(npz, arrays["x"], arrays["y"], "x")
    xs, labels = _text.shuffled(np.random.RandomState(seed), arrays["x"], arrays["y"])
    xs, labels = _text.encode(xs, labels, start_char, index_from, maxlen)
    if not xs:
        raise ValueError(f"reuters.load_data: no sequence is shorter than maxlen={maxlen}; "
                         f"increase maxlen")
    xs = _text.limit_vocabulary(xs, num_words, skip_top, oov_char)
    n = int(len(xs) * (1 - test_split))
    return ((_text.object_array(xs[:n]), labels[:n]), (_text.object_array(xs[n:]), labels[n:]))


def get_word_index(path="reuters_word_index.json", download=True):
    """The {word: index} dict of Reuters (add index_from to match load_data's sequences)."""
    return _text.read_word_index(_loader.locate_file(WORD_INDEX_SPEC, path, download))


def get_label_names():
    """The topic names, indexed by label."""
    return LABEL_NAMES
