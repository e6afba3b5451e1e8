"""Sweep 30 of "a Keras / tf.keras program runs after changing only its imports": the API
behaviours the new tests/programs needed, each checked against TensorFlow 2.21's values."""
import os

import numpy as np

import corenn as tf


def test_strings_split_of_one_string_is_a_1d_string_tensor():
    # TF 2.21: tf.strings.split("a/b/c", "/") is tf.Tensor([b'a' b'b' b'c'], shape=(3,)), so the
    # Pneumonia page's str(tf.strings.split(path, os.path.sep)[-1].numpy())[2:-1] is the last
    # path component (it raised AttributeError on a Python list)
    path = os.path.join("chest_xray", "train", "NORMAL")
    parts = tf.strings.split(path, os.path.sep)
    assert parts.shape == (3,) and parts.numpy().tolist() == [b"chest_xray", b"train", b"NORMAL"]
    assert str(parts[-1].numpy())[2:-1] == "NORMAL"
    assert bool(parts[-2] == "train") and not bool(parts[-1] == "PNEUMONIA")
    # a string Tensor the same; whitespace splitting and maxsplit as str.split / TF
    assert tf.strings.split(tf.constant("a b  c"), maxsplit=1).numpy().tolist() == [b"a", b"b  c"]
    assert tf.strings.split(tf.constant("a b  c")).numpy().tolist() == [b"a", b"b", b"c"]
    assert tf.strings.split("", "/").numpy().tolist() == [b""]


def test_strings_split_inside_dataset_map_labels_from_paths():
    files = ["d/train/PNEUMONIA/x1.jpeg", "d/train/NORMAL/x2.jpeg", "d/val/PNEUMONIA/x3.jpeg"]
    ds = tf.data.Dataset.from_tensor_slices(files).map(lambda p: tf.strings.split(p, "/")[-2] == "PNEUMONIA")
    assert [bool(np.asarray(v)) for v in ds] == [True, False, True]


def test_strings_split_of_a_batch_stays_ragged():
    r = tf.strings.split(tf.constant(["a/b/c", "d/e"]), "/")
    assert r.shape == (2, None) and r.to_list() == [[b"a", b"b", b"c"], [b"d", b"e"]]
