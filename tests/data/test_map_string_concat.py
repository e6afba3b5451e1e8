"""Sweep 22: a tf.data map function joins a path and a string element with ``+`` (the CTC ASR
example's ``tf.io.read_file(wavs_path + wav_file + ".wav")``), TensorFlow's string add."""
import numpy as np

import corenn as tf


def test_map_string_element_plus_str_both_sides(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"alpha")
    (tmp_path / "b.txt").write_bytes(b"beta")
    prefix = str(tmp_path) + "/"
    ds = tf.data.Dataset.from_tensor_slices(["a", "b"])
    ds = ds.map(lambda name: tf.io.read_file(prefix + name + ".txt"))
    assert [bytes(np.asarray(x.numpy(), dtype=object).reshape(-1)[0]) if not isinstance(x.numpy(), bytes)
            else x.numpy() for x in ds] == [b"alpha", b"beta"]


def test_string_element_concatenation_values_and_numbers_unchanged():
    seen = []

    def fn(s, n):
        seen.append((("x/" + s + b"!").numpy(), (s + s).numpy(), (n + 1).numpy()))
        return n

    list(tf.data.Dataset.from_tensor_slices((["ab", "c"], [1, 2])).map(fn))
    assert seen[0][0] == b"x/ab!" and seen[1][0] == b"x/c!"
    assert seen[0][1] == b"abab"
    assert [s[2] for s in seen] == [2, 3]
