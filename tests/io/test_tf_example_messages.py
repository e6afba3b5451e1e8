"""The protobuf methods on every tf.train message (the TFRecord tutorial serializes a bare
Feature), their text format, BytesList values from tf.data elements, and tf.reshape of a binary
string (tf.py_function's serialized Example)."""
import numpy as np

import corenn as tf


def test_every_message_serializes_parses_and_prints():
    feature = tf.train.Feature(float_list=tf.train.FloatList(value=[np.exp(1)]))
    # TensorFlow 2.21: b'\x12\x06\n\x04T\xf8-@' (field 2, a packed float32)
    assert feature.SerializeToString() == b"\x12\x06\n\x04T\xf8-@"
    assert feature.ByteSize() == 8
    assert tf.train.Feature.FromString(feature.SerializeToString()) == feature
    ints = tf.train.Int64List(value=[1, -2, 3])
    assert tf.train.Int64List.FromString(ints.SerializeToString()).value == [1, -2, 3]
    parsed = tf.train.BytesList()
    assert parsed.ParseFromString(tf.train.BytesList(value=[b"a", b"bc"]).SerializeToString()) == 7
    assert parsed.value == [b"a", b"bc"]
    features = tf.train.Features(feature={"x": feature, "s": tf.train.Feature(bytes_list=parsed)})
    assert tf.train.Features.FromString(features.SerializeToString()) == features
    fl = tf.train.FeatureLists(feature_list={"t": tf.train.FeatureList(feature=[feature, feature])})
    assert tf.train.FeatureLists.FromString(fl.SerializeToString()) == fl
    # protobuf's text format, as print() shows it in TensorFlow
    assert str(tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"test_string"]))) == \
        'bytes_list {\n  value: "test_string"\n}\n'
    assert str(tf.train.Feature(int64_list=tf.train.Int64List(value=[True]))) == "int64_list {\n  value: 1\n}\n"
    assert str(features).startswith('feature {\n  key: "x"\n  value {\n    float_list {\n')


def test_bytes_list_takes_dataset_elements_without_padding():
    strings = np.array([b"cat", b"chicken"])
    elements = list(tf.data.Dataset.from_tensor_slices(strings))
    assert [tf.train.BytesList(value=[e]).value for e in elements] == [[b"cat"], [b"chicken"]]
    assert tf.train.BytesList(value=strings).value == [b"cat", b"chicken"]
    assert tf.train.BytesList(value=[tf.constant("naïve")]).value == ["naïve".encode("utf-8")]
    import pytest
    with pytest.raises(TypeError, match="BytesList"):
        tf.train.BytesList(value=[3.5])


def test_reshape_keeps_a_binary_string_as_bytes():
    record = tf.train.Example(features=tf.train.Features(feature={
        "f": tf.train.Feature(float_list=tf.train.FloatList(value=[0.27]))})).SerializeToString()
    binary = b"\n\x0f\xb8\xff" + record
    out = tf.reshape(binary, ())
    assert isinstance(out, bytes) and out == binary and out.numpy() == binary
    assert tf.reshape(binary, [1]).tolist() == [binary]

    def serialize(x):
        return tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(x)]))})).SerializeToString()

    ds = tf.data.Dataset.from_tensor_slices(np.array([0.27, 1.5], "float32")).map(
        lambda x: tf.reshape(tf.py_function(serialize, (x,), tf.string), ()))
    values = [tf.io.parse_single_example(r, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"] for r in ds]
    np.testing.assert_allclose(np.asarray(values, np.float32), [0.27, 1.5])
