"""Property tests: what corenn writes it reads back (PNG, Example protos, TFRecord framing), and
random damage to a PNG or a TFRecord file is a clear error, never a crash or a silent success
with different data."""
import numpy as np
from hypothesis import given, settings, strategies as st

import corenn as tf
from corenn.io import _png, _tfrecord

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.sampled_from([1, 2, 3, 4]), seed=st.integers(0, 2 ** 16))
def test_png_round_trip(h, w, c, seed):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    assert np.array_equal(tf.io.decode_png(tf.io.encode_png(img)), img)


@SETTINGS
@given(seed=st.integers(0, 2 ** 16), cut=st.integers(0, 400), flip=st.integers(0, 400))
def test_damaged_png_is_an_error_or_the_same_image(seed, cut, flip):
    img = np.random.default_rng(seed).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    data = bytearray(_png.encode(img))
    if flip < len(data):
        data[flip] ^= 0x10
    data = bytes(data[:len(data) - cut % len(data)]) if cut else bytes(data)
    try:
        out = _png.decode(data)
    except ValueError as exc:
        assert "decode_png" in str(exc)
    else:      # only damage the CRCs do not cover (none here) could pass: the image must be intact
        assert np.array_equal(out, img)


values = st.one_of(
    st.lists(st.binary(max_size=12), max_size=4).map(lambda v: ("bytes", v)),
    st.lists(st.floats(width=32, allow_nan=False), max_size=4).map(lambda v: ("float", v)),
    st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), max_size=4).map(lambda v: ("int64", v)))


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=4))
def test_example_round_trip(features):
    lists = {"bytes": tf.train.BytesList, "float": tf.train.FloatList, "int64": tf.train.Int64List}
    ex = tf.train.Example(features=tf.train.Features(feature={
        k: tf.train.Feature(**{f"{kind}_list": lists[kind](value=v)}) for k, (kind, v) in features.items()}))
    back = tf.train.Example.FromString(ex.SerializeToString())
    assert back == ex
    for k, (kind, v) in features.items():
        assert getattr(back.features.feature[k], f"{kind}_list").value == list(v)


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=5), st.integers(0, 10 ** 6))
def test_tfrecord_round_trip_and_damage(tmp_path_factory, records, where):
    path = str(tmp_path_factory.mktemp("rec") / "r.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
    assert list(_tfrecord.read_records(path)) == records
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if not data:
        return
    data[where % len(data)] ^= 0x01
    with open(path, "wb") as f:
        f.write(bytes(data))
    try:
        got = list(_tfrecord.read_records(path))
    except tf.errors.DataLossError as exc:
        assert "r.tfrecord" in str(exc) and "offset" in str(exc)
    else:
        raise AssertionError(f"a flipped bit went unnoticed: {got!r}")
