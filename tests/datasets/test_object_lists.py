"""The data-only decoder of numpy's pickled object arrays of int lists (IMDB, Reuters .npz)."""
import io
import os
import pickle
import struct
import warnings
import zipfile

import numpy as np
import pytest

from corenn.datasets import _npz
from corenn.datasets._npz import NUMERIC, OBJECT_LISTS, read_npz
from corenn.datasets._object_lists import decode_object_lists

ROWS = [[1, 14, 22, 16], [], [5], [255, 256, 65535, 65536, 2**31 - 1, -2**31, -1, 0],
        [2**40, -2**50, 2**63 - 1], [7, 7]]


def object_array(rows):
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = list(row)
    return out


def npy_bytes(array):
    """The .npy bytes numpy writes (allow_pickle=True: the format Keras ships)."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def pickle_part(npy):
    hlen = int.from_bytes(npy[8:10], "little")
    return npy[10 + hlen:]


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_pickler_protocols(protocol):
    rows = ROWS + [list(range(i, i + 3)) for i in range(2000)]   # > 1000 rows: batched APPENDS
    stream = pickle.dumps(object_array(rows), protocol=protocol)
    got = decode_object_lists(stream, (len(rows),), "t")
    assert got == rows
    assert all(type(v) is int for row in got for v in row)


def test_npz_written_by_numpy(tmp_path):
    path = tmp_path / "d.npz"
    equal_rows = [[1, 2], [3, 4]]          # equal lengths: still a 1-d array of lists
    np.savez_compressed(path, x=object_array(ROWS), e=object_array(equal_rows),
                        y=np.arange(6, dtype=np.int64), f=np.ones((2, 3), ">f4"))
    got = read_npz(path, {"x": OBJECT_LISTS, "e": OBJECT_LISTS, "y": NUMERIC, "f": NUMERIC})
    assert got["x"] == ROWS and got["e"] == equal_rows
    np.testing.assert_array_equal(got["y"], np.arange(6))
    assert got["f"].dtype == np.float32 and got["f"].dtype.isnative and got["f"].shape == (2, 3)


def py2_stream(rows):
    """A stream as Python 2's cPickle writes it (protocol 2: GLOBAL text names, str as
    SHORT_BINSTRING, BINPUT memo, ints 0/1 as dtype flags), built opcode by opcode."""
    body = b"".join(b"]q\x0e(" + b"".join(b"K" + bytes([v]) for v in row) + b"e" if row
                    else b"]q\x0e" for row in rows)
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01"
            b"K\x00\x85q\x02U\x01bq\x03\x87q\x04Rq\x05(K\x01" + b"K" + bytes([len(rows)])
            + b"\x85q\x06cnumpy\ndtype\nq\x07U\x02O8q\x08K\x00K\x01\x87q\tRq\n"
            b"(K\x03U\x01|q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tq\x0cb\x89]q\r("
            + body + b"etq\x0fb.")


def test_python2_protocol2_stream():
    rows = [[1, 2, 3], [], [200]]
    stream = py2_stream(rows)
    assert decode_object_lists(stream, (3,), "t") == rows
    # The hand-built stream is what pickle itself reads as that array (test-only oracle).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # numpy.core is numpy._core now
        array = pickle.loads(stream, encoding="latin1")
    assert array.dtype == object and [list(r) for r in array] == rows


class Gadget:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_execution_gadget_refused(tmp_path):
    marker = tmp_path / "pwned"
    array = object_array([[1]])
    array[0] = Gadget(marker)
    with pytest.raises(ValueError, match=r"t: .*refusing the global name (posix|nt)\.system"):
        decode_object_lists(pickle_part(npy_bytes(array)), (1,), "t")
    assert not marker.exists()


def _with(rows_value):
    array = np.empty(1, dtype=object)
    array[0] = rows_value
    return pickle_part(npy_bytes(array))


@pytest.mark.parametrize("value, match", [
    ({"a": 1}, "opcode 0x7d"),                       # EMPTY_DICT
    (["word"], "holds a str, not an int"),
    ([1.5], "opcode 0x47"),                          # BINFLOAT
    ([[1, 2]], "more lists than the 1 rows declared"),
    ((1, 2), "row 0 is a tuple, not a list"),
    ([np.int64(3)], "refusing the global name numpy._core.multiarray.scalar"),
    ([True], "holds a bool, not an int"),
    ([2**70], "9-byte LONG1"),
    ([None], "holds a NoneType"),
])
def test_rows_other_than_int_lists_rejected(value, match):
    with pytest.raises(ValueError, match=match):
        decode_object_lists(_with(value), (1,), "t")


def test_every_truncation_is_a_value_error():
    stream = pickle.dumps(object_array([[1, 300, 70000], [2**40], []]), protocol=4)
    for cut in range(len(stream)):
        with pytest.raises(ValueError, match="t: not an object array"):
            decode_object_lists(stream[:cut], (3,), "t")
    with pytest.raises(ValueError, match="bytes after the end"):
        decode_object_lists(stream + b"\x00", (3,), "t")


def test_random_corruption_never_escapes_as_another_error():
    rows = [[i, i * 300, i * 70000] for i in range(20)]
    stream = pickle.dumps(object_array(rows), protocol=4)
    rng = np.random.default_rng(5)
    outcomes = set()
    for _ in range(400):
        mutated = bytearray(stream)
        for pos in rng.integers(0, len(stream), rng.integers(1, 4)):
            mutated[pos] = rng.integers(0, 256)
        try:
            got = decode_object_lists(bytes(mutated), (20,), "t")
        except ValueError:
            outcomes.add("rejected")
            continue
        assert len(got) == 20 and all(type(v) is int for row in got for v in row)
        outcomes.add("decoded")
    assert "rejected" in outcomes


def test_shape_and_count_checks():
    stream = pickle.dumps(object_array([[1], [2]]), protocol=4)
    with pytest.raises(ValueError, match="declares 1000000000 rows"):
        decode_object_lists(stream, (10**9,), "t")
    with pytest.raises(ValueError, match=r"shape \(2,\), the .npy header declares \(3,\)"):
        decode_object_lists(stream, (3,), "t")
    with pytest.raises(ValueError, match="does not hold a numpy array"):
        decode_object_lists(pickle.dumps([[1], [2]], protocol=4), (2,), "t")


def shared_row_stream(length, copies):
    """A protocol-4 stream of one row of `length` ints (memoized as entry 0) followed by
    `copies` memo references to it, built opcode by opcode."""
    row = b"](" + b"K\x07" * length + b"e\x94"
    return (b"\x80\x04\x8c\x16numpy._core.multiarray\x8c\x0c_reconstruct\x93"
            b"\x8c\x05numpy\x8c\x07ndarray\x93K\x00\x85C\x01b\x87R"
            b"(K\x01" + b"J" + struct.pack("<i", copies + 1) + b"\x85"
            b"\x8c\x05numpy\x8c\x05dtype\x93\x8c\x02O8\x89\x88\x87R"
            b"(K\x03\x8c\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89"
            b"](" + row + b"h\x00" * copies + b"etb.")


def test_shared_rows_are_copied_but_cannot_multiply_memory():
    rows = decode_object_lists(shared_row_stream(3, 2), (3,), "t")
    assert rows == [[7, 7, 7]] * 3
    rows[0].append(1)                                 # each row is the caller's own list
    assert rows[1] == [7, 7, 7] and rows[2] == [7, 7, 7]
    # 5000 references to a 300-int row: 2 bytes each in the stream, 1.5 million ints once
    # copied. The decoder refuses instead of copying.
    with pytest.raises(ValueError, match="more ints than the stream can encode"):
        decode_object_lists(shared_row_stream(300, 5000), (5001,), "t")


def _zip_with(tmp_path, members, compression=zipfile.ZIP_DEFLATED):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_npz_member_and_header_checks(tmp_path, monkeypatch):
    good_x = npy_bytes(object_array([[1, 2]]))
    good_y = npy_bytes(np.arange(1))
    with pytest.raises(ValueError, match="no member 'y.npy'"):
        read_npz(_zip_with(tmp_path, {"x.npy": good_x}), {"x": OBJECT_LISTS, "y": NUMERIC})
    with pytest.raises(ValueError, match=r"y.npy\): holds 7 data bytes"):
        read_npz(_zip_with(tmp_path, {"y.npy": good_y[:-1]}), {"y": NUMERIC})
    with pytest.raises(ValueError, match="plain integer or float array, got dtype '|O'"):
        read_npz(_zip_with(tmp_path, {"y.npy": good_x}), {"y": NUMERIC})
    with pytest.raises(ValueError, match="1-d object array of sequences, got dtype '<i8'"):
        read_npz(_zip_with(tmp_path, {"x.npy": good_y}), {"x": OBJECT_LISTS})
    with pytest.raises(ValueError, match="bad magic"):
        read_npz(_zip_with(tmp_path, {"y.npy": b"hello world"}), {"y": NUMERIC})
    bomb = npy_bytes(np.zeros(2_000_000, np.uint8))           # deflates ~1000x
    with monkeypatch.context() as m:
        m.setattr(_npz, "_RATIO_FREE_BYTES", 1 << 20)         # (the real threshold is 64 MiB)
        with pytest.raises(ValueError, match="zip bomb"):
            read_npz(_zip_with(tmp_path, {"y.npy": bomb}), {"y": NUMERIC})
    # Below the threshold a highly compressible member is fine: sorted labels deflate ~1000x.
    labels = np.repeat(np.arange(2, dtype=np.int64), 12500)
    got = read_npz(_zip_with(tmp_path, {"y.npy": npy_bytes(labels)}), {"y": NUMERIC})
    np.testing.assert_array_equal(got["y"], labels)
    # A header declaring 10^11 elements (same header length): refused before any allocation.
    lie = good_y.replace(b"(1,), }" + b" " * 11, b"(99999999999,), }" + b" ")
    assert len(lie) == len(good_y)
    with pytest.raises(ValueError, match=r"holds 8 data bytes, its header declares shape "
                                         r"\(99999999999,\)"):
        read_npz(_zip_with(tmp_path, {"y.npy": lie}), {"y": NUMERIC})


def test_corrupt_and_truncated_npz(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, x=object_array(ROWS))
    data = path.read_bytes()
    for cut in (0, 30, len(data) // 2, len(data) - 10):
        p = tmp_path / f"cut{cut}.npz"
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.npz"):
            read_npz(p, {"x": OBJECT_LISTS})
    flipped = bytearray(data)
    flipped[60] ^= 0x55                                       # inside the deflated member
    p = tmp_path / "flipped.npz"
    p.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="flipped.npz"):
        read_npz(p, {"x": OBJECT_LISTS})


def test_old_numpy_object_descr(tmp_path):
    """numpy before 1.9 wrote the object dtype as '|O8' in the .npy header."""
    npy = npy_bytes(object_array([[3, 4]]))
    old = npy.replace(b"'descr': '|O', ", b"'descr': '|O8',")
    assert len(old) == len(npy) and b"'|O8'" in old
    got = read_npz(_zip_with(tmp_path, {"x.npy": old}), {"x": OBJECT_LISTS})
    assert got["x"] == [[3, 4]]


PROTO4 = b"\x80\x04"


@pytest.mark.parametrize("stream, match", [
    (PROTO4 + b"]" * 10_000 + b".", "more lists than the 3 rows declared"),
    (PROTO4 + b"(" * 10_000 + b".", "MARKs nested deeper than 16"),
    (PROTO4 + b"K\x00" + b"\x85" * 10_000 + b".", "more than 64 names and tuples"),
    (PROTO4 + b"\x8c\x01a" * 10_000 + b".", "more than 64 names and tuples"),
    (PROTO4 + b"K\x00" + b"\x94" * 10_000 + b".", "more memo entries than the rows need"),
    (PROTO4 + b"\x8c\x02\xff\xfe.", "not valid text"),
])
def test_hostile_streams_cannot_make_an_object_per_byte(stream, match):
    """Each byte of these would become a new object (list, tuple, string, memo entry) in a
    pickle machine; the decoder stops at the small number numpy's stream needs."""
    with pytest.raises(ValueError, match=match):
        decode_object_lists(stream, (3,), "t")
