"""``tf.train.Example`` and friends in protobuf's wire format, with no protobuf dependency.

The messages (tensorflow/core/example/{example,feature}.proto):

    Example   { Features features = 1; }
    SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }
    FeatureLists { map<string, FeatureList> feature_list = 1; }    FeatureList { repeated Feature feature = 1; }
    Features  { map<string, Feature> feature = 1; }      entry: { string key = 1; Feature value = 2; }
    Feature   { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed]; }     Int64List { repeated int64 value = 1 [packed]; }

Wire format: each field is a varint key (number << 3 | wire type) then its value: type 0 a varint,
1 eight bytes, 2 a varint length and that many bytes, 5 four bytes. Packed repeated numbers are
one length-delimited field; a parser must also accept them unpacked, which this one does. Every
length is checked against what is left of the buffer, so a corrupt message is a clear
ValueError, never a large allocation. Unknown fields are skipped, as protobuf does.
"""
from __future__ import annotations


import numpy as np


def _bad(what):
    return ValueError(f"tf.train.Example: cannot parse the message: {what}")


# -- the wire format ---------------------------------------------------------------------------

def _varint(v):
    v &= (1 << 64) - 1          # negative int64 as its two's complement (10 bytes), as protobuf
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _read_varint(buf, pos, end):
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _bad("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fields(buf, pos=0, end=None):
    """(number, wire type, value) of each field in buf[pos:end]; value is an int for types 0,
    1, 5 and a (start, stop) span for type 2."""
    end = len(buf) if end is None else end
    while pos < end:
        key, pos = _read_varint(buf, pos, end)
        number, wtype = key >> 3, key & 7
        if wtype == 0:
            value, pos = _read_varint(buf, pos, end)
        elif wtype == 1 or wtype == 5:
            size = 8 if wtype == 1 else 4
            if end - pos < size:
                raise _bad("truncated fixed-width field")
            value = (pos, pos + size)
            pos += size
        elif wtype == 2:
            size, pos = _read_varint(buf, pos, end)
            if size > end - pos:
                raise _bad(f"a field claims {size} bytes; only {end - pos} remain")
            value = (pos, pos + size)
            pos += size
        else:
            raise _bad(f"unsupported wire type {wtype} (field {number})")
        yield number, wtype, value


# -- the messages ------------------------------------------------------------------------------

class _Message:
    """The protobuf message methods programs call on any of these (``feature.SerializeToString()``
    in the TFRecord tutorial): the wire bytes are the class's ``_encode``, parsing its ``_decode``."""

    def SerializeToString(self, deterministic=None):
        return self._encode()

    def ParseFromString(self, data):
        buf = memoryview(bytes(data))
        self.__dict__.update(type(self)._decode(buf, 0, len(buf)).__dict__)
        return len(buf)

    @classmethod
    def FromString(cls, data):
        out = cls()
        out.ParseFromString(data)
        return out

    def ByteSize(self):
        return len(self._encode())

    def __str__(self):
        return "".join(line + "\n" for line in self._text_lines())


class _List(_Message):
    _kind = None

    def _text_lines(self):
        return [f"value: {_text_value(self._kind, v)}" for v in self.value]

    def __init__(self, value=()):
        self.value = list(value)

    def __eq__(self, other):
        return type(self) is type(other) and self.value == other.value

    def __repr__(self):
        return f"{type(self).__name__}(value={self.value!r})"


def _bytes_value(v):
    """One BytesList value: bytes as given, str as UTF-8; a 0-d array (a tf.data element of a
    fixed-width bytes array) or a tensor by its item, without NumPy's NUL padding."""
    if isinstance(v, np.ndarray):
        if v.size != 1:
            raise TypeError(f"tf.train.BytesList: a value must be one string, got an array of shape {v.shape}")
        v = v.reshape(-1)[0]
    elif not isinstance(v, (bytes, str)) and hasattr(v, "numpy"):
        return _bytes_value(np.asarray(v.numpy(), dtype=object))
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise TypeError(f"tf.train.BytesList: expected bytes or str values, got {type(v).__name__}")


class BytesList(_List):
    """``tf.train.BytesList(value=[b'...', ...])`` (str values are stored as UTF-8)."""

    _kind = "bytes_list"

    def __init__(self, value=()):
        super().__init__(_bytes_value(v) for v in np.asarray(value, dtype=object).reshape(-1))

    def _encode(self):
        return b"".join(_field(1, v) for v in self.value)

    @classmethod
    def _decode(cls, buf, start, stop):
        out = cls()
        out.value = [bytes(buf[v[0]:v[1]]) for n, t, v in _fields(buf, start, stop) if n == 1 and t == 2]
        return out


class FloatList(_List):
    """``tf.train.FloatList(value=[...])``: float32 values."""

    _kind = "float_list"

    def __init__(self, value=()):
        super().__init__(float(v) for v in np.asarray(value, np.float32).reshape(-1))

    def _encode(self):
        return _field(1, np.asarray(self.value, "<f4").tobytes()) if self.value else b""

    @classmethod
    def _decode(cls, buf, start, stop):
        parts = []
        for n, t, v in _fields(buf, start, stop):
            if n != 1:
                continue
            if t == 2:
                if (v[1] - v[0]) % 4:
                    raise _bad("a packed float list is not a multiple of 4 bytes")
                parts.append(np.frombuffer(buf[v[0]:v[1]], "<f4"))
            elif t == 5:
                parts.append(np.frombuffer(buf[v[0]:v[1]], "<f4"))
        out = cls()
        out.value = [float(x) for p in parts for x in p]
        return out


class Int64List(_List):
    """``tf.train.Int64List(value=[...])``: int64 values."""

    _kind = "int64_list"

    def __init__(self, value=()):
        super().__init__(int(v) for v in np.asarray(value, np.int64).reshape(-1))

    def _encode(self):
        return _field(1, b"".join(_varint(v) for v in self.value)) if self.value else b""

    @classmethod
    def _decode(cls, buf, start, stop):
        vals = []
        for n, t, v in _fields(buf, start, stop):
            if n != 1:
                continue
            if t == 0:
                vals.append(v)
            elif t == 2:
                pos = v[0]
                while pos < v[1]:
                    x, pos = _read_varint(buf, pos, v[1])
                    vals.append(x)
        out = cls()
        out.value = [x - (1 << 64) if x >= 1 << 63 else x for x in vals]
        return out


_KINDS = (("bytes_list", BytesList, 1), ("float_list", FloatList, 2), ("int64_list", Int64List, 3))


class Feature(_Message):
    """``tf.train.Feature(bytes_list=... | float_list=... | int64_list=...)``: one of the three;
    ``print(feature)`` is protobuf's text format, as TensorFlow prints it."""

    def _text_lines(self):
        if not self._kind:
            return []
        return [f"{self._kind} {{"] + ["  " + line for line in self._list._text_lines()] + ["}"]

    def __init__(self, bytes_list=None, float_list=None, int64_list=None):
        given = [(k, v) for k, v in (("bytes_list", bytes_list), ("float_list", float_list),
                                     ("int64_list", int64_list)) if v is not None]
        if len(given) > 1:
            raise ValueError("tf.train.Feature: give one of bytes_list, float_list, int64_list")
        self._kind, self._list = given[0] if given else (None, None)

    def WhichOneof(self, name="kind"):
        return self._kind

    def HasField(self, name):
        return self._kind == name

    def __getattr__(self, name):
        for kind, cls, _ in _KINDS:
            if name == kind:
                return self._list if self._kind == kind else cls()
        raise AttributeError(name)

    def __eq__(self, other):
        return isinstance(other, Feature) and (self._kind, self._list) == (other._kind, other._list)

    def __repr__(self):
        return f"Feature({self._kind}={self._list!r})" if self._kind else "Feature()"

    def _encode(self):
        for kind, _, number in _KINDS:
            if self._kind == kind:
                return _field(number, self._list._encode())
        return b""

    @classmethod
    def _decode(cls, buf, start, stop):
        out = cls()
        for n, t, v in _fields(buf, start, stop):
            if t == 2 and 1 <= n <= 3:      # the last one set wins, as in protobuf's oneof
                kind, lcls, _ = _KINDS[n - 1]
                out._kind, out._list = kind, lcls._decode(buf, *v)
        return out


class Features(_Message):
    """``tf.train.Features(feature={name: Feature})``."""

    def _text_lines(self):
        return [line[2:] for line in _text(self).splitlines()[1:-1]]   # without the "features {" wrapper

    def __init__(self, feature=None):
        self.feature = dict(feature or {})
        for k, v in self.feature.items():
            if not isinstance(v, Feature):
                raise TypeError(f"tf.train.Features: feature {k!r} must be a tf.train.Feature, got {type(v).__name__}")

    def __eq__(self, other):
        return isinstance(other, Features) and self.feature == other.feature

    def __repr__(self):
        return f"Features(feature={self.feature!r})"

    def _encode(self):
        return _encode_map(self.feature)

    @classmethod
    def _decode(cls, buf, start, stop):
        return cls(_decode_map(buf, start, stop, Feature, "feature"))


def _encode_map(entries):
    """A protobuf ``map<string, Message>`` field 1: one (key = 1, value = 2) entry per item."""
    return b"".join(_field(1, _field(1, k.encode("utf-8")) + _field(2, v._encode())) for k, v in entries.items())


def _decode_map(buf, start, stop, value_cls, what):
    """The entries of a ``map<string, value_cls>`` field 1 in buf[start:stop] (a missing value is
    the message's default, as protobuf has it)."""
    out = {}
    for n, t, v in _fields(buf, start, stop):
        if n != 1 or t != 2:
            continue
        key, value = b"", value_cls()
        for en, et, ev in _fields(buf, *v):
            if en == 1 and et == 2:
                key = bytes(buf[ev[0]:ev[1]])
            elif en == 2 and et == 2:
                value = value_cls._decode(buf, *ev)
        try:
            out[key.decode("utf-8")] = value
        except UnicodeDecodeError:
            raise _bad(f"a {what} name is not UTF-8") from None
    return out


def _text_bytes(b):
    """Protobuf text format's quoting of bytes: printable ASCII as is, the rest as octal escapes."""
    out = []
    for ch in b:
        if ch in (0x22, 0x27, 0x5C):
            out.append("\\" + chr(ch))
        elif ch == 0x0A:
            out.append("\\n")
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:
            out.append(f"\\{ch:03o}")
    return '"' + "".join(out) + '"'


def _text_value(kind, v):
    if kind == "bytes_list":
        return _text_bytes(v)
    if kind == "float_list":
        if not np.isfinite(v):
            return "nan" if v != v else ("inf" if v > 0 else "-inf")
        text = str(np.float32(v))
        return text[:-2] if text.endswith(".0") else text     # protobuf prints 3.0 as 3
    return str(v)


def _text(features):
    """``print(example)``: protobuf's text format, as TensorFlow prints an Example."""
    lines = ["features {"]
    for key, f in features.feature.items():
        lines += ["  feature {", f"    key: {_text_bytes(key.encode('utf-8'))}", "    value {"]
        if f.WhichOneof("kind"):
            kind = f.WhichOneof("kind")
            lines.append(f"      {kind} {{")
            lines += [f"        value: {_text_value(kind, v)}" for v in getattr(f, kind).value]
            lines.append("      }")
        lines += ["    }", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


class Example(_Message):
    """``tf.train.Example(features=tf.train.Features(...))``; ``SerializeToString()`` gives the
    protobuf bytes TensorFlow writes, ``Example.FromString(b)`` reads them (_Message's methods
    around this class's ``_encode`` and ``ParseFromString``)."""

    def __init__(self, features=None):
        self.features = features if features is not None else Features()

    def _encode(self):
        body = self.features._encode()
        return _field(1, body) if self.features.feature else b""

    def ParseFromString(self, data):
        buf = memoryview(bytes(data))
        self.features = Features()
        for n, t, v in _fields(buf):
            if n == 1 and t == 2:
                parsed = Features._decode(buf, *v)
                self.features.feature.update(parsed.feature)   # repeated message fields merge
        return len(buf)

    def __eq__(self, other):
        return isinstance(other, Example) and self.features == other.features

    def __repr__(self):
        return f"Example(features={self.features!r})"

    def __str__(self):
        return _text(self.features) if self.features.feature else ""


class FeatureList(_Message):
    """``tf.train.FeatureList(feature=[Feature, ...])``: one Feature per time step."""

    def _text_lines(self):
        out = []
        for f in self.feature:
            out += ["feature {"] + ["  " + line for line in f._text_lines()] + ["}"]
        return out

    def __init__(self, feature=()):
        self.feature = list(feature)

    def __eq__(self, other):
        return isinstance(other, FeatureList) and self.feature == other.feature

    def __repr__(self):
        return f"FeatureList(feature={self.feature!r})"

    def _encode(self):
        return b"".join(_field(1, f._encode()) for f in self.feature)

    @classmethod
    def _decode(cls, buf, start, stop):
        return cls([Feature._decode(buf, *v) for n, t, v in _fields(buf, start, stop) if n == 1 and t == 2])


class FeatureLists(_Message):
    """``tf.train.FeatureLists(feature_list={name: FeatureList})``."""

    def _text_lines(self):
        out = []
        for key, fl in self.feature_list.items():
            out += ["feature_list {", f"  key: {_text_bytes(key.encode('utf-8'))}", "  value {"]
            out += ["    " + line for line in fl._text_lines()] + ["  }", "}"]
        return out

    def __init__(self, feature_list=None):
        self.feature_list = dict(feature_list or {})

    def __eq__(self, other):
        return isinstance(other, FeatureLists) and self.feature_list == other.feature_list

    def __repr__(self):
        return f"FeatureLists(feature_list={self.feature_list!r})"

    def _encode(self):
        return _encode_map(self.feature_list)

    @classmethod
    def _decode(cls, buf, start, stop):
        return cls(_decode_map(buf, start, stop, FeatureList, "feature list"))


class SequenceExample(_Message):
    """``tf.train.SequenceExample(context=Features, feature_lists=FeatureLists)``."""

    def __init__(self, context=None, feature_lists=None):
        self.context = context if context is not None else Features()
        self.feature_lists = feature_lists if feature_lists is not None else FeatureLists()

    def _encode(self):
        out = b""
        if self.context.feature:
            out += _field(1, self.context._encode())
        if self.feature_lists.feature_list:
            out += _field(2, self.feature_lists._encode())
        return out

    def ParseFromString(self, data):
        buf = memoryview(bytes(data))
        self.context, self.feature_lists = Features(), FeatureLists()
        for n, t, v in _fields(buf):
            if n == 1 and t == 2:
                self.context.feature.update(Features._decode(buf, *v).feature)
            elif n == 2 and t == 2:
                self.feature_lists.feature_list.update(FeatureLists._decode(buf, *v).feature_list)
        return len(buf)

    def __eq__(self, other):
        return isinstance(other, SequenceExample) and (self.context, self.feature_lists) == \
            (other.context, other.feature_lists)

    def __repr__(self):
        return f"SequenceExample(context={self.context!r}, feature_lists={self.feature_lists!r})"

    __str__ = __repr__   # (no text format of its own; _Message's needs _text_lines)
