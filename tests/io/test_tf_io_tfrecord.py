"""TFRecord files and tf.train.Example: files TensorFlow 2.21 wrote (tests/io/fixtures), round
trips, parse_single_example / parse_example, and corrupted files."""
import gzip
import os
import struct

import numpy as np
import pytest

import corenn as tf
from corenn.io import _tfrecord

FIX = os.path.join(os.path.dirname(__file__), "fixtures")
SPEC = {"name": tf.io.FixedLenFeature([], tf.string),
        "scores": tf.io.FixedLenFeature([3], tf.float32),
        "ids": tf.io.FixedLenFeature([3], tf.int64),
        "tags": tf.io.VarLenFeature(tf.string),
        "missing": tf.io.FixedLenFeature([2], tf.int64, default_value=[5, 6]),
        "seq": tf.io.FixedLenSequenceFeature([], tf.float32, allow_missing=True)}


def test_crc32c_known_values():
    # RFC 3720 B.4 test vectors
    assert _tfrecord.crc32c(b"\x00" * 32) == 0x8A9136AA
    assert _tfrecord.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert _tfrecord.crc32c(bytes(range(32))) == 0x46DD794E
    assert _tfrecord.crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("size", [4095, 4096, 4097, 9973, 65536 + 3])
def test_crc32c_of_long_data_matches_the_byte_loop(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert _tfrecord.crc32c(data) == _tfrecord._register(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert _tfrecord.crc32c(data[1000:], _tfrecord.crc32c(data[:1000])) == _tfrecord.crc32c(data)


def test_long_record_round_trip_and_damage(tmp_path):
    path = str(tmp_path / "long.tfrecord")
    big = np.random.default_rng(1).integers(0, 256, 50000, dtype=np.uint8).tobytes()
    raw = bytearray(_write(path, [b"a", big]))
    assert list(tf.data.TFRecordDataset(path).as_numpy_iterator()) == [b"a", big]
    raw[17 + 12 + 30000] ^= 1          # a byte in the middle of the long record
    _put(path, bytes(raw))
    with pytest.raises(tf.errors.DataLossError, match="offset 17.*data's CRC"):
        list(tf.data.TFRecordDataset(path))


@pytest.mark.parametrize("fname, compression", [("examples.tfrecord", None), ("examples.gz.tfrecord", "GZIP")])
def test_reads_tensorflow_files(fname, compression):
    records = list(tf.data.TFRecordDataset(os.path.join(FIX, fname), compression_type=compression))
    assert len(records) == 3
    ex = [tf.train.Example.FromString(r.numpy() if hasattr(r, "numpy") else r.item()) for r in records]
    f0 = ex[0].features.feature
    assert f0["name"].bytes_list.value == [b"cat"]
    assert f0["tags"].bytes_list.value == [b"a", b"bc"]
    np.testing.assert_array_equal(f0["scores"].float_list.value, [0.5, -1.25, 3.0])
    assert f0["ids"].int64_list.value == [1, -2, 2 ** 40]
    assert ex[2].features.feature["ids"].int64_list.value == [-(2 ** 63), 2 ** 63 - 1, 0]
    assert "tags" not in ex[2].features.feature
    assert ex[1].features.feature["tags"].WhichOneof("kind") == "bytes_list"


def test_parse_single_example_in_a_pipeline():
    ds = tf.data.TFRecordDataset([os.path.join(FIX, "examples.tfrecord")])
    first = next(iter(ds))
    p = tf.io.parse_single_example(first, SPEC)
    assert p["name"].numpy() == b"cat"
    np.testing.assert_array_equal(np.asarray(p["scores"]), np.float32([0.5, -1.25, 3.0]))
    assert np.asarray(p["ids"]).dtype == np.int64 and np.asarray(p["ids"]).tolist() == [1, -2, 2 ** 40]
    assert np.asarray(p["missing"]).tolist() == [5, 6]
    assert p["tags"].values.tolist() == [b"a", b"bc"] and p["tags"].shape == (2,)
    assert np.asarray(p["seq"]).shape == (0,)
    spec = {k: SPEC[k] for k in ("scores", "ids", "name")}
    parsed = ds.map(lambda r: tf.io.parse_single_example(r, spec)).map(lambda d: (d["scores"], d["ids"]))
    got = list(parsed.batch(3).as_numpy_iterator())
    assert got[0][0].shape == (3, 3) and got[0][1][2].tolist() == [-(2 ** 63), 2 ** 63 - 1, 0]


def test_parse_example_batch():
    records = list(tf.data.TFRecordDataset(os.path.join(FIX, "examples.tfrecord")).as_numpy_iterator())
    p = tf.io.parse_example(np.array(records, dtype=object), SPEC)
    assert np.asarray(p["scores"]).shape == (3, 3)
    assert p["name"].tolist() == [b"cat", b"dog", b"\x00\xffbin"]
    tags = p["tags"]
    assert tags.indices.tolist() == [[0, 0], [0, 1]] and tags.shape == (3, 2)
    assert np.asarray(p["missing"]).tolist() == [[5, 6]] * 3


def test_example_round_trip_and_tensorflow_layout(tmp_path):
    ex = tf.train.Example(features=tf.train.Features(feature={
        "b": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"xy", "é"])),
        "f": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5, -2.0])),
        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=[-1, 300])),
    }))
    data = ex.SerializeToString()
    assert tf.train.Example.FromString(data) == ex
    # the wire format by hand: field 1 (features) > field 1 (map entry) > key "b", value > bytes_list
    assert data[:2] == b"\x0a" + bytes([len(data) - 2])
    assert b"\x0a\x01b\x12" in data
    # -1 is a 10-byte varint (two's complement), packed with 300 (2 bytes) in one field of 12
    assert b"\x0a\x0c" + b"\xff" * 9 + b"\x01\xac\x02" in data
    assert tf.train.Example.FromString(data).features.feature["i"].int64_list.value == [-1, 300]
    path = str(tmp_path / "out.tfrecord")
    for options in (None, "ZLIB", tf.io.TFRecordOptions(compression_type="GZIP")):
        with tf.io.TFRecordWriter(path, options) as w:
            for k in range(3):
                w.write(data + bytes([k]) * k)
        kind = getattr(options, "compression_type", options)
        back = list(tf.data.TFRecordDataset(path, compression_type=kind).as_numpy_iterator())
        assert back == [data + bytes([k]) * k for k in range(3)]
    with gzip.open(path, "rb") as f:       # GZIP is a plain gzip stream
        assert struct.unpack("<Q", f.read(8))[0] == len(data)


def test_unpacked_repeated_fields_are_accepted():
    # Int64List{value: 3, value: 4} unpacked (field 1, varint) and a FloatList of fixed32 fields
    ints = b"\x08\x03\x08\x04"
    floats = b"\x0d" + struct.pack("<f", 2.5)
    feat_i, feat_f = b"\x1a" + bytes([len(ints)]) + ints, b"\x12" + bytes([len(floats)]) + floats

    def entry(k, v):
        body = b"\x0a\x01" + k + b"\x12" + bytes([len(v)]) + v
        return b"\x0a" + bytes([len(body)]) + body
    feats = entry(b"i", feat_i) + entry(b"f", feat_f)
    ex = tf.train.Example.FromString(b"\x0a" + bytes([len(feats)]) + feats)
    assert ex.features.feature["i"].int64_list.value == [3, 4]
    assert ex.features.feature["f"].float_list.value == [2.5]


def _put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _write(path, records):
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("where, message", [(0, "length's CRC"), (8, "length's CRC"), (14, "data's CRC"),
                                            (-1, "data's CRC")])
def test_corrupted_record_names_file_and_offset(tmp_path, where, message):
    path = str(tmp_path / "bad.tfrecord")
    raw = bytearray(_write(path, [b"hello world", b"second"]))
    pos = len(raw) - 1 if where == -1 else where
    raw[pos] ^= 0x40
    _put(path, bytes(raw))
    offset = 0 if where != -1 else 16 + 11
    with pytest.raises(tf.errors.DataLossError, match=f"bad.tfrecord: corrupted record at offset {offset}.*{message}"):
        list(tf.data.TFRecordDataset(path))


def test_truncated_and_huge_length_records(tmp_path):
    path = str(tmp_path / "t.tfrecord")
    raw = _write(path, [b"x" * 100])
    _put(path, raw[:50])
    with pytest.raises(tf.errors.DataLossError, match="truncated record at offset 0"):
        list(tf.data.TFRecordDataset(path))
    # a length of 2**60 with a valid CRC: read in bounded pieces, so no huge allocation
    head = struct.pack("<Q", 1 << 60)
    _put(path, head + struct.pack("<I", _tfrecord.masked_crc32c(head)) + b"abc")
    with pytest.raises(tf.errors.DataLossError, match="truncated"):
        list(tf.data.TFRecordDataset(path))
    with pytest.raises(ValueError, match="compression_type"):
        tf.data.TFRecordDataset(path, compression_type="LZ4")


def test_bad_example_and_spec_errors():
    with pytest.raises(ValueError, match="claims"):
        tf.train.Example.FromString(b"\x0a\x7f\x0a")
    data = tf.train.Example(features=tf.train.Features(feature={
        "f": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))})).SerializeToString()
    with pytest.raises(ValueError, match="'f' holds a float_list"):
        tf.io.parse_single_example(data, {"f": tf.io.FixedLenFeature([], tf.int64)})
    with pytest.raises(ValueError, match="needs 2"):
        tf.io.parse_single_example(data, {"f": tf.io.FixedLenFeature([2], tf.float32)})
    with pytest.raises(ValueError, match="no default_value"):
        tf.io.parse_single_example(data, {"g": tf.io.FixedLenFeature([], tf.float32)})


def test_data_experimental_tfrecord_writer_and_tutorial_loop(tmp_path):
    # the TFRecord tutorial: serialize examples in a dataset, write it, read and parse it back
    def serialize(i):
        return tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
            "t": tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(
                np.full((2,), i, np.float32))]))})).SerializeToString()
    ds = tf.data.Dataset.from_tensor_slices(np.array([serialize(i) for i in range(4)], dtype=object))
    path = str(tmp_path / "w.tfrecord")
    tf.data.experimental.TFRecordWriter(path).write(ds)
    raw = tf.data.TFRecordDataset([path])
    for raw_record in raw.take(1):
        example = tf.train.Example()
        example.ParseFromString(raw_record.numpy())
        assert example.features.feature["x"].int64_list.value == [0]
    spec = {"x": tf.io.FixedLenFeature([], tf.int64), "t": tf.io.FixedLenFeature([], tf.string)}
    parsed = raw.map(lambda r: tf.io.parse_single_example(r, spec)).map(
        lambda d: (d["x"], tf.io.parse_tensor(d["t"], out_type=tf.float32)))
    got = list(parsed.as_numpy_iterator())
    assert [int(x) for x, _ in got] == [0, 1, 2, 3] and got[3][1].tolist() == [3.0, 3.0]


def test_example_prints_in_protobuf_text_format():
    ex = tf.train.Example(features=tf.train.Features(feature={
        "b": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'xy"', b"\x00\xff"])),
        "f": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5, 0.1, 3.0]))}))
    # as TensorFlow 2.21 prints it (feature order aside: protobuf's map order is unspecified)
    assert str(ex) == ('features {\n  feature {\n    key: "b"\n    value {\n      bytes_list {\n'
                       '        value: "xy\\""\n        value: "\\000\\377"\n      }\n    }\n  }\n'
                       '  feature {\n    key: "f"\n    value {\n      float_list {\n        value: 1.5\n'
                       '        value: 0.1\n        value: 3\n      }\n    }\n  }\n}\n')


def test_sequence_example_written_by_tensorflow():
    record = next(iter(tf.data.TFRecordDataset(os.path.join(FIX, "sequence.tfrecord"))))
    context, seq = tf.io.parse_single_sequence_example(
        record,
        context_features={"id": tf.io.FixedLenFeature([], tf.int64),
                          "m": tf.io.FixedLenFeature([], tf.int64, default_value=1)},
        sequence_features={"tokens": tf.io.FixedLenSequenceFeature([2], tf.int64),
                           "words": tf.io.VarLenFeature(tf.string),
                           "none": tf.io.FixedLenSequenceFeature([], tf.float32, allow_missing=True)})
    # TensorFlow 2.21's answer on the same record
    assert int(np.asarray(context["id"])) == 42 and int(np.asarray(context["m"])) == 1
    assert np.asarray(seq["tokens"]).tolist() == [[3, 4], [5, 6], [7, 8]]
    assert seq["words"].indices.tolist() == [[0, 0], [2, 0], [2, 1]]
    assert seq["words"].values.tolist() == [b"a", b"b", b"c"] and seq["words"].shape == (3, 2)
    assert np.asarray(seq["none"]).shape == (0,)
    ex = tf.train.SequenceExample.FromString(record.numpy())
    assert tf.train.SequenceExample.FromString(ex.SerializeToString()) == ex
    assert len(ex.feature_lists.feature_list["words"].feature) == 3
    with pytest.raises(ValueError, match="step 0 of 'tokens' has 2 values"):
        tf.io.parse_single_sequence_example(record, sequence_features={
            "tokens": tf.io.FixedLenSequenceFeature([3], tf.int64)})
