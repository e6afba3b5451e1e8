"""tf.io files and gfile, decode_raw, serialize_tensor / parse_tensor, decode_csv, base64."""
import os
import stat

import numpy as np
import pytest

import corenn as tf


def test_read_write_file(tmp_path):
    path = str(tmp_path / "sub" / "a.bin")
    tf.io.write_file(path, b"\x00\x01binary\xff")
    data = tf.io.read_file(path)
    assert data.numpy() == b"\x00\x01binary\xff" and data.shape == ()
    tf.io.write_file(path, "text é")
    assert tf.io.read_file(path).numpy() == "text é".encode()
    old = os.umask(0o027)
    try:
        tf.io.write_file(str(tmp_path / "m.bin"), b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.bin").st_mode) == 0o640
    assert [p for p in os.listdir(tmp_path / "sub") if p.startswith(".tmp")] == []
    with pytest.raises(tf.errors.NotFoundError, match="no-such"):
        tf.io.read_file(str(tmp_path / "no-such"))


def test_read_file_inside_dataset_map(tmp_path):
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_bytes(b"v" * (i + 1))
    ds = tf.data.Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False).map(tf.io.read_file)
    assert list(ds.as_numpy_iterator()) == [b"v", b"vv", b"vvv"]
    ds = tf.data.Dataset.from_tensor_slices([str(tmp_path / "f0.txt")]).map(
        lambda p: tf.io.decode_raw(tf.io.read_file(p), tf.uint8))
    assert next(iter(ds.as_numpy_iterator())).tolist() == [ord("v")]


def test_matching_files_and_tf_image_aliases(tmp_path):
    for n in ("b.png", "a.png", "c.txt"):
        (tmp_path / n).write_bytes(b"")
    got = tf.io.matching_files(str(tmp_path / "*.png"))
    assert [os.path.basename(p) for p in got.tolist()] == [b"a.png", b"b.png"]
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(tf.image.decode_png(tf.image.encode_png(img)), img)
    assert np.array_equal(tf.image.decode_image(tf.io.encode_png(img), channels=3), img)


def test_write_file_inside_dataset_map(tmp_path):
    names = np.array([str(tmp_path / f"out{i}.bin").encode() for i in range(3)], dtype=object)
    ds = tf.data.Dataset.from_tensor_slices((names, np.arange(3, dtype=np.int32)))

    def write(path, i):
        tf.io.write_file(path, tf.io.serialize_tensor(np.full((2,), i, np.int32)))
        return path
    written = list(ds.map(write).as_numpy_iterator())
    assert written == names.tolist()
    back = [np.asarray(tf.io.parse_tensor(tf.io.read_file(p), tf.int32)).tolist() for p in written]
    assert back == [[0, 0], [1, 1], [2, 2]]


def test_gfile(tmp_path):
    g = tf.io.gfile
    d = str(tmp_path / "a" / "b")
    g.makedirs(d)
    assert g.isdir(d) and g.exists(d)
    with g.GFile(os.path.join(d, "x.txt"), "w") as f:
        f.write("line1\nline2\n")
    with g.GFile(os.path.join(d, "x.txt")) as f:
        assert f.readline() == "line1\n" and f.readlines() == ["line2\n"]
    with g.GFile(os.path.join(d, "x.txt"), "rb") as f:
        assert f.read() == b"line1\nline2\n" and f.size() == 12
    assert g.stat(os.path.join(d, "x.txt")).length == 12
    assert g.listdir(str(tmp_path / "a")) == ["b"]
    assert g.glob(str(tmp_path / "a" / "*" / "*.txt")) == [os.path.join(d, "x.txt")]
    g.copy(os.path.join(d, "x.txt"), os.path.join(d, "y.txt"))
    with pytest.raises(tf.errors.AlreadyExistsError):
        g.copy(os.path.join(d, "x.txt"), os.path.join(d, "y.txt"))
    g.rename(os.path.join(d, "y.txt"), os.path.join(d, "z.txt"))
    assert sorted(g.listdir(d)) == ["x.txt", "z.txt"]
    g.remove(os.path.join(d, "z.txt"))
    with pytest.raises(tf.errors.NotFoundError):
        g.remove(os.path.join(d, "z.txt"))
    with pytest.raises(tf.errors.NotFoundError):
        g.GFile(os.path.join(d, "nope"))
    g.mkdir(str(tmp_path / "c"))
    with pytest.raises(tf.errors.AlreadyExistsError):
        g.mkdir(str(tmp_path / "c"))
    g.rmtree(str(tmp_path / "a"))
    assert not g.exists(str(tmp_path / "a"))


def test_decode_raw():
    data = np.array([1, -2, 300], "<i4").tobytes()
    assert np.asarray(tf.io.decode_raw(data, tf.int32)).tolist() == [1, -2, 300]
    assert np.asarray(tf.io.decode_raw(np.array([1.5], ">f4").tobytes(), tf.float32,
                                       little_endian=False)).tolist() == [1.5]
    two = tf.io.decode_raw(np.array([b"\x01\x02", b"\x03\x04"], dtype=object), tf.uint8)
    assert two.dtype == np.uint8 and two.tolist() == [[1, 2], [3, 4]]
    assert tf.io.decode_raw(b"\x01", tf.uint8, fixed_length=3).tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="not a multiple"):
        tf.io.decode_raw(b"abc", tf.int32)
    with pytest.raises(ValueError, match="different lengths"):
        tf.io.decode_raw(np.array([b"ab", b"c"], dtype=object), tf.uint8)


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.float32).reshape(2, 3), np.int64(-5),
                                   np.array([[1, 2]], np.uint8), np.array([b"a", b"", b"\xff"], dtype=object)])
def test_serialize_parse_tensor_round_trip(value):
    dtype = tf.string if value.dtype == object else str(value.dtype)
    back = tf.io.parse_tensor(tf.io.serialize_tensor(value), dtype)
    b = np.asarray(back, dtype=object if value.dtype == object else None)
    assert b.shape == np.shape(value) and b.tolist() == np.asarray(value).tolist()


def test_parse_tensor_rejects_bad_bytes():
    s = tf.io.serialize_tensor(np.zeros((2, 2), np.float32)).numpy()
    with pytest.raises(TypeError, match="float32"):
        tf.io.parse_tensor(s, tf.int32)
    with pytest.raises(ValueError, match="needs 16 bytes"):
        tf.io.parse_tensor(s[:-1], tf.float32)
    huge = s[:s.index(b"float32") + 8] + np.array([1 << 40, 1 << 40], "<u8").tobytes()
    with pytest.raises(ValueError, match="needs"):
        tf.io.parse_tensor(huge, tf.float32)
    with pytest.raises(ValueError, match="bad header"):
        tf.io.parse_tensor(b"pickle", tf.float32)


def test_decode_csv():
    recs = np.array([b"1,2.5,ab", b",,", b'3,"4",c d'], dtype=object)
    a, b, c = tf.io.decode_csv(recs, record_defaults=[[0], [9.0], ["z"]])
    assert np.asarray(a).tolist() == [1, 0, 3] and np.asarray(a).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(b), np.float32([2.5, 9.0, 4.0]))
    assert c.tolist() == [b"ab", b"z", b"c d"]
    x, y = tf.io.decode_csv("5|6", [tf.constant([], tf.int64), tf.float32], field_delim="|")
    assert np.asarray(x).dtype == np.int64 and int(np.asarray(x)) == 5 and float(np.asarray(y)) == 6.0
    with pytest.raises(ValueError, match="required"):
        tf.io.decode_csv(",1", [tf.float32, [0]])
    with pytest.raises(ValueError, match="expect 2 fields but have 3"):
        tf.io.decode_csv("1,2,3", [[0], [0]])
    with pytest.raises(ValueError, match="not a valid"):
        tf.io.decode_csv("x", [[0]])


def test_base64_is_web_safe():
    raw = b"\xfb\xff\xbf?"
    enc = tf.io.encode_base64(raw)
    assert enc.numpy() == b"-_-_Pw"                 # TensorFlow: web-safe, no padding
    assert tf.io.encode_base64(raw, pad=True).numpy() == b"-_-_Pw=="
    assert tf.io.decode_base64(enc).numpy() == raw
    assert tf.io.decode_base64(b"-_-_Pw==").numpy() == raw
    arr = tf.io.encode_base64(np.array([b"a", b"bc"], dtype=object))
    assert arr.tolist() == [b"YQ", b"YmM"]
    with pytest.raises(ValueError, match="invalid"):
        tf.io.decode_base64(b"ab+/")
