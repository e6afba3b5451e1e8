"""More of ``tf.strings``: to_hash_bucket_strong (SipHash-2-4 keyed by two 64-bit words, as
TensorFlow), format (TensorFlow's tensor summaries), ngrams, the unicode family (decode /
encode / transcode / split with offsets / script) and unsorted_segment_join. Strings are
corenn's (str, object arrays of str; ragged results are ``RaggedTensor`` rows)."""
from __future__ import annotations

import bisect
import unicodedata

import numpy as np

from .strings import RaggedTensor, _map, _text, as_string_array, is_string_array, from_bytes, to_bytes, wrap

__all__ = ["to_hash_bucket_strong", "format", "ngrams", "unicode_decode", "unicode_decode_with_offsets",
           "unicode_encode", "unicode_transcode", "unicode_split_with_offsets", "unicode_script",
           "unsorted_segment_join", "siphash24"]

_M64 = 0xFFFFFFFFFFFFFFFF


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 (Aumasson & Bernstein, 2012) of ``data`` under the key (k0, k1), the two
    little-endian 64-bit halves of the 128-bit key; a 64-bit unsigned int."""
    k0, k1 = k0 & _M64, k1 & _M64
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(n):
        v0, v1, v2, v3 = v
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        v[:] = [v0, v1, v2, v3]

    n = len(data)
    tail = n - n % 8
    for i in range(0, tail, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    m = int.from_bytes(data[tail:], "little") | ((n & 0xFF) << 56)
    v[3] ^= m
    rounds(2)
    v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def to_hash_bucket_strong(input, num_buckets, key, name=None):  # noqa: A002
    """SipHash-2-4 of each string's UTF-8 bytes under ``key`` (two ints) modulo ``num_buckets``
    (int64): TensorFlow's buckets."""
    n = int(num_buckets)
    k = [int(v) for v in np.asarray(key).reshape(-1)] if not isinstance(key, (list, tuple)) else [int(v) for v in key]
    if n < 1:
        raise ValueError(f"tf.strings.to_hash_bucket_strong: num_buckets must be >= 1, got {num_buckets}")
    if len(k) != 2:
        raise ValueError(f"tf.strings.to_hash_bucket_strong: key must be a list of two integers, got {key!r}")
    out = _map(lambda s: siphash24(k[0], k[1], to_bytes(s)) % n, input, "to_hash_bucket_strong")
    return np.int64(out) if isinstance(out, int) else np.asarray(out).astype(np.int64)


# -- format -------------------------------------------------------------------------------------------

def _num_text(v, double):
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        short, long_ = (15, 17) if double else (6, 9)
        cast = float if double else np.float32
        text = "%.*g" % (short, v)
        return text if cast(float(text)) == cast(v) or not np.isfinite(v) else "%.*g" % (long_, v)
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bytes):
        return f'"{v.decode("utf-8", "replace")}"'
    return str(v)


def _summarize(a, summarize, double, depth=0):
    if not isinstance(a, np.ndarray):
        return _num_text(a, double)
    if a.ndim == 0:
        return _num_text(a[()], double)
    n = a.shape[0]
    if summarize >= 0 and n > 2 * summarize:
        head, tail, cut = list(range(summarize)), list(range(n - summarize, n)), True
    else:
        head, tail, cut = list(range(n)), [], False
    parts = [_summarize(a[i], summarize, double, depth + 1) for i in head]
    if cut:
        parts.append("...")
    parts += [_summarize(a[i], summarize, double, depth + 1) for i in tail]
    sep = " " if a.ndim == 1 else "\n" * (a.ndim - 1) + " " * (depth + 1)
    return "[" + sep.join(parts) + "]"


def format(template, inputs, placeholder="{}", summarize=3, name=None):  # noqa: A001 - TensorFlow's name
    """``template`` with each ``placeholder`` replaced by the next input printed as TensorFlow
    prints tensors (at most ``summarize`` leading and trailing entries per axis; -1: all)."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    pieces = str(template).split(placeholder)
    if len(pieces) - 1 != len(items):
        raise ValueError(f"tf.strings.format: {len(pieces) - 1} placeholders in the template for {len(items)} inputs")
    out = [pieces[0]]
    for x, rest in zip(items, pieces[1:]):
        if is_string_array(x):
            a = as_string_array(x, "format")
            double = False
        else:
            a = np.asarray(x)
            double = a.dtype == np.float64 and not isinstance(x, (float, list, tuple)) and type(x).__name__ != "Tensor"
            if a.dtype == np.float64 and not double:
                a = a.astype(np.float32)
        out.append(_summarize(a, int(summarize), double) + rest)
    return wrap("".join(out))


# -- ngrams -----------------------------------------------------------------------------------------

def _rows_of(data, op):
    """(rows as lists of str, dense: whether data was a dense (..., n) array)."""
    if isinstance(data, np.ndarray) and data.dtype == object and data.ndim == 1 and data.size \
            and all(isinstance(r, (list, tuple, np.ndarray)) for r in data):
        return [[_text(t, op) for t in np.asarray(r, dtype=object).reshape(-1)] for r in data], False
    if isinstance(data, (list, tuple)) and data and all(isinstance(r, (list, tuple)) for r in data) \
            and len({len(r) for r in data}) > 1:
        return [[_text(t, op) for t in r] for r in data], False
    a = as_string_array(data, op)
    if a.ndim == 0:
        raise ValueError(f"tf.strings.{op}: data must have at least one axis")
    return [list(r) for r in a.reshape(-1, a.shape[-1])], a.shape[:-1]


def ngrams(data, ngram_width, separator=" ", pad_values=None, padding_width=None, preserve_short_sequences=False,
           name=None):
    """The ngrams of each row's tokens joined by ``separator``, for each width of ``ngram_width``
    (an int or a tuple, in that order). ``pad_values`` (a string or a (left, right) pair) pads
    each row by ``padding_width`` (default width - 1) tokens; ``preserve_short_sequences`` makes
    a row shorter than a width one ngram of itself. Dense input gives a dense array when every
    row has the same count; otherwise a RaggedTensor of rows."""
    widths = [int(ngram_width)] if np.ndim(ngram_width) == 0 else [int(w) for w in ngram_width]
    if any(w < 1 for w in widths):
        raise ValueError(f"tf.strings.ngrams: ngram_width must be >= 1, got {ngram_width!r}")
    if pad_values is None:
        left = right = None
    elif isinstance(pad_values, (str, bytes)):
        left = right = _text(pad_values, "ngrams")
    else:
        left, right = (_text(p, "ngrams") for p in pad_values)
    rows, dense_shape = _rows_of(data, "ngrams")
    out_rows = []
    for toks in rows:
        grams = []
        for w in widths:
            pw = (w - 1 if padding_width is None else min(int(padding_width), w - 1)) if left is not None else 0
            seq = [left] * pw + toks + [right] * pw
            count = len(seq) - w + 1
            if count > 0:
                grams += [separator.join(seq[i:i + w]) for i in range(count)]
            elif preserve_short_sequences and toks:
                grams.append(separator.join(seq))
        out_rows.append(grams)
    if dense_shape is not False and len({len(r) for r in out_rows}) <= 1:
        width = len(out_rows[0]) if out_rows else 0
        arr = np.empty((len(out_rows), width), dtype=object)
        for i, r in enumerate(out_rows):
            arr[i, :] = r
        return wrap(arr.reshape(tuple(dense_shape) + (width,)))
    rag = np.empty(len(out_rows), dtype=object)
    for i, r in enumerate(out_rows):
        rag[i] = r
    return rag.view(RaggedTensor)


# -- unicode ------------------------------------------------------------------------------------------

_ENC = {"UTF-8": "utf-8", "UTF-16-BE": "utf-16-be", "UTF-32-BE": "utf-32-be", "US-ASCII": "ascii",
        "ISO-8859-1": "latin-1"}


# ICU's spellings of the same converters (TensorFlow hands the name to ICU, which ignores case,
# '-', '_' and spaces: the unicode tutorial writes 'UTF8')
_ENC_ALIASES = {"UTF8": "utf-8", "UTF16BE": "utf-16-be", "UTF16LE": "utf-16-le", "UTF32BE": "utf-32-be",
                "UTF32LE": "utf-32-le", "USASCII": "ascii", "ASCII": "ascii", "ISO88591": "latin-1",
                "LATIN1": "latin-1"}


def _codec(op, enc):
    name = _ENC.get(str(enc).upper())
    if name is None:
        name = _ENC_ALIASES.get("".join(ch for ch in str(enc).upper() if ch not in "-_ "))
        if name in ("utf-16-le", "utf-32-le") and op == "unicode_encode":
            name = None   # TensorFlow's unicode_encode writes UTF-8, UTF-16-BE or UTF-32-BE only
    if name is None:
        raise ValueError(f"tf.strings.{op}: encoding must be one of {sorted(_ENC)}, got {enc!r}")
    return name


def _bytes_of(v, op):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return to_bytes(v)
    raise TypeError(f"tf.strings.{op}: expected strings, got {type(v).__name__}")


def _decode_one(raw, codec, errors, replacement_char, replace_control):
    """(code points, byte offsets) of one string; malformed bytes follow ``errors``
    ('replace': one replacement per bad byte, 'ignore': skipped, 'strict': ValueError)."""
    cps, offs = [], []
    if codec == "utf-8":
        i = 0
        while i < len(raw):
            for size in (1, 2, 3, 4):
                try:
                    ch = raw[i:i + size].decode("utf-8")
                    break
                except UnicodeDecodeError:
                    ch = None
            if ch is None or len(ch) != 1:
                if errors == "strict":
                    raise ValueError(f"tf.strings.unicode_decode: invalid UTF-8 at byte {i} of {raw!r}"[:200])
                if errors == "replace":
                    cps.append(int(replacement_char))
                    offs.append(i)
                i += 1
                continue
            cp = ord(ch)
            if replace_control and unicodedata.category(ch) == "Cc":
                cp = int(replacement_char)
            cps.append(cp)
            offs.append(i)
            i += size
        return cps, offs
    text = raw.decode(codec, errors="strict" if errors == "strict" else errors)
    width = {"utf-16-be": None, "utf-16-le": None, "utf-32-be": 4, "utf-32-le": 4, "ascii": 1, "latin-1": 1}[codec]
    pos = 0
    for ch in text:
        cps.append(ord(ch))
        offs.append(pos)
        pos += width if width else len(ch.encode("utf-16-be"))
    return cps, offs


def _decode(op, input, input_encoding, errors, replacement_char, replace_control_characters, with_offsets):  # noqa: A002
    codec = _codec(op, input_encoding)
    if errors not in ("replace", "ignore", "strict"):
        raise ValueError(f"tf.strings.{op}: errors must be 'replace', 'ignore' or 'strict', got {errors!r}")
    from ._tf_api import constant
    if isinstance(input, (str, bytes)) or (isinstance(input, np.ndarray) and input.ndim == 0):
        v = input[()] if isinstance(input, np.ndarray) else input
        cps, offs = _decode_one(_bytes_of(v, op), codec, errors, replacement_char, replace_control_characters)
        out = constant(np.array(cps, np.int32), dtype="int32")
        return (out, constant(np.array(offs, np.int64), dtype="int64")) if with_offsets else out
    flat = np.asarray(input, dtype=object)
    rows_c, rows_o = np.empty(flat.size, object), np.empty(flat.size, object)
    for i, v in enumerate(flat.reshape(-1)):
        c, o = _decode_one(_bytes_of(v, op), codec, errors, replacement_char, replace_control_characters)
        rows_c[i], rows_o[i] = np.array(c, np.int32), np.array(o, np.int64)
    rc, ro = rows_c.view(RaggedTensor), rows_o.view(RaggedTensor)
    return (rc, ro) if with_offsets else rc


def unicode_decode(input, input_encoding, errors="replace", replacement_char=65533,  # noqa: A002
                   replace_control_characters=False, name=None):
    """The code points (int32) of each string: a 1-D Tensor for one string, a RaggedTensor of
    rows for a 1-D batch."""
    return _decode("unicode_decode", input, input_encoding, errors, replacement_char, replace_control_characters,
                   False)


def unicode_decode_with_offsets(input, input_encoding, errors="replace", replacement_char=65533,  # noqa: A002
                                replace_control_characters=False, name=None):
    """(code points, the byte offset where each starts)."""
    return _decode("unicode_decode_with_offsets", input, input_encoding, errors, replacement_char,
                   replace_control_characters, True)


def unicode_split_with_offsets(input, input_encoding, errors="replace", replacement_char=65533,  # noqa: A002
                               name=None):
    """(the characters of each string, their byte offsets)."""
    cps, offs = _decode("unicode_split_with_offsets", input, input_encoding, errors, replacement_char, False, True)
    if not isinstance(cps, RaggedTensor):
        return wrap(np.array([chr(c) for c in np.asarray(cps)], dtype=object)), offs
    chars = np.empty(len(cps), object)
    for i, r in enumerate(np.asarray(cps)):
        chars[i] = [chr(int(c)) for c in r]
    return chars.view(RaggedTensor), offs


def _encode_one(cps, codec, errors, replacement_char):
    chars = []
    for c in cps:
        c = int(c)
        if 0 <= c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF:
            chars.append(chr(c))
        elif errors == "replace":
            chars.append(chr(int(replacement_char)))
        elif errors == "strict":
            raise ValueError(f"tf.strings.unicode_encode: invalid code point {c}")
    text = "".join(chars)
    if codec == "utf-8":
        return text
    # other encodings are bytes held as a string element (to_bytes gives them back exactly), so
    # the result is a string tensor like any other, as TensorFlow's
    return from_bytes(text.encode(codec, errors="replace" if errors != "strict" else "strict"))


def unicode_encode(input, output_encoding, errors="replace", replacement_char=65533, name=None):  # noqa: A002
    """Strings from code points: one string from a 1-D sequence, one per row of a 2-D array or
    RaggedTensor; ``numpy()`` gives the encoded bytes (other encodings than UTF-8 are held as their
    bytes, see ``strings.from_bytes``)."""
    codec = _codec("unicode_encode", output_encoding)
    if isinstance(input, np.ndarray) and input.dtype == object and input.ndim == 1:
        rows = list(np.asarray(input))   # the stored rows (a RaggedTensor's iteration converts them)
    else:
        a = np.asarray(input)
        if a.ndim <= 1:
            one = _encode_one(a.reshape(-1), codec, errors, replacement_char)
            return wrap(one)
        rows = list(a.reshape(-1, a.shape[-1]))
    out = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):
        if isinstance(r, RaggedTensor):   # two ragged levels: a row of code-point rows
            out[i] = np.asarray(unicode_encode(r, output_encoding, errors, replacement_char))
            continue
        out[i] = _encode_one(np.asarray(r).reshape(-1), codec, errors, replacement_char)
    if any(isinstance(r, RaggedTensor) for r in rows):
        return out.view(RaggedTensor)
    return wrap(out)


def unicode_transcode(input, input_encoding, output_encoding, errors="replace", replacement_char=65533,  # noqa: A002
                      replace_control_characters=False, name=None):
    """Each string decoded from ``input_encoding`` and encoded in ``output_encoding``."""
    cin, cout = _codec("unicode_transcode", input_encoding), _codec("unicode_transcode", output_encoding)

    def one(v):
        cps, _ = _decode_one(_bytes_of(v, "unicode_transcode"), cin, errors, replacement_char,
                             replace_control_characters)
        return _encode_one(cps, cout, errors, replacement_char)
    if isinstance(input, (str, bytes)):
        return wrap(one(input))
    a = np.asarray(input, dtype=object)
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = one(a[idx])
    return wrap(out)


# ICU script codes (UScriptCode) of the major scripts, by code point range; other letters are
# Unknown (103) here; punctuation, digits, symbols and spaces are Common (0); combining marks
# are Inherited (1).
_SCRIPT_RANGES = [
    (0x0041, 0x024F, 25), (0x0250, 0x02AF, 25), (0x1D00, 0x1DBF, 25), (0x1E00, 0x1EFF, 25), (0x2C60, 0x2C7F, 25),
    (0xA720, 0xA7FF, 25), (0xFF21, 0xFF5A, 25),
    (0x0370, 0x03FF, 14), (0x1F00, 0x1FFF, 14), (0x0400, 0x052F, 8), (0x1C80, 0x1C8F, 8), (0x2DE0, 0x2DFF, 8),
    (0xA640, 0xA69F, 8), (0x0530, 0x058F, 3), (0x0590, 0x05FF, 19), (0x0600, 0x06FF, 2), (0x0750, 0x077F, 2),
    (0x08A0, 0x08FF, 2), (0xFB50, 0xFDFF, 2), (0xFE70, 0xFEFF, 2), (0x0700, 0x074F, 34), (0x0780, 0x07BF, 37),
    (0x0900, 0x097F, 10), (0x0980, 0x09FF, 4), (0x0A00, 0x0A7F, 16), (0x0A80, 0x0AFF, 15), (0x0B00, 0x0B7F, 31),
    (0x0B80, 0x0BFF, 35), (0x0C00, 0x0C7F, 36), (0x0C80, 0x0CFF, 21), (0x0D00, 0x0D7F, 26), (0x0D80, 0x0DFF, 33),
    (0x0E00, 0x0E7F, 38), (0x0E80, 0x0EFF, 24), (0x0F00, 0x0FFF, 39), (0x1000, 0x109F, 28), (0x10A0, 0x10FF, 12),
    (0x1100, 0x11FF, 18), (0x1200, 0x139F, 11), (0x13A0, 0x13FF, 6), (0x1680, 0x169F, 29), (0x16A0, 0x16FF, 32),
    (0x1780, 0x17FF, 23), (0x1800, 0x18AF, 27), (0x3040, 0x309F, 20), (0x30A0, 0x30FF, 22), (0x31F0, 0x31FF, 22),
    (0xFF66, 0xFF9D, 22), (0x3100, 0x312F, 5), (0x31A0, 0x31BF, 5), (0x3130, 0x318F, 18), (0xAC00, 0xD7AF, 18),
    (0x2E80, 0x2FDF, 17), (0x3005, 0x3005, 17), (0x3007, 0x3007, 17), (0x3021, 0x3029, 17), (0x3038, 0x303B, 17),
    (0x3400, 0x4DBF, 17), (0x4E00, 0x9FFF, 17), (0xF900, 0xFAFF, 17), (0x20000, 0x3134F, 17),
]
_SCRIPT_RANGES.sort()
_STARTS = [r[0] for r in _SCRIPT_RANGES]


def _script(cp):
    if not 0 <= cp <= 0x10FFFF:
        return -1
    ch = chr(cp)
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me"):
        return 1
    if cat == "Cn":
        return 103
    if cp in (0x30FC, 0xFF70):          # the prolonged sound mark: shared by kana, so Common
        return 0
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and cp <= _SCRIPT_RANGES[i][1] and (cat[0] in "LM" or cat == "Nl"):
        return _SCRIPT_RANGES[i][2]
    return 0 if cat[0] not in "LM" else 103


def unicode_script(input, name=None):  # noqa: A002
    """The ICU script code (int32) of each code point: Latin 25, Cyrillic 8, Greek 14, Han 17,
    Arabic 2, Hebrew 19, Hiragana 20, Katakana 22, Hangul 18, Devanagari 10, Thai 38, ...;
    Common 0 (digits, punctuation, symbols), Inherited 1 (combining marks), Unknown 103,
    -1 outside Unicode. Scripts are assigned by Unicode block for the major scripts (letters of
    rarer scripts are Unknown here)."""
    from ._tf_api import constant
    if isinstance(input, RaggedTensor):   # code points of a batch of strings: one row each
        return RaggedTensor._from_rows([np.vectorize(_script, otypes=[np.int32])(np.asarray(r, np.int64))
                                        if len(r) else np.zeros(0, np.int32) for r in np.asarray(input)])
    a = np.asarray(input).astype(np.int64)
    return constant(np.vectorize(_script, otypes=[np.int32])(a) if a.size else a.astype(np.int32), dtype="int32")


def unsorted_segment_join(inputs, segment_ids, num_segments, separator="", name=None):
    """The strings of each segment joined in their order along axis 0 ('' for an empty one)."""
    a = as_string_array(inputs, "unsorted_segment_join")
    ids = np.asarray(segment_ids).astype(np.int64)
    n = int(num_segments)
    if a.shape[:ids.ndim] != ids.shape:
        raise ValueError(f"tf.strings.unsorted_segment_join: segment_ids of shape {ids.shape} must be a prefix of "
                         f"the inputs' shape {a.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"tf.strings.unsorted_segment_join: segment ids must lie in [0, {n})")
    rows = a.reshape((ids.size,) + a.shape[ids.ndim:])
    out = np.empty((n,) + a.shape[ids.ndim:], dtype=object)
    for idx in np.ndindex(out.shape[1:]):
        for s in range(n):
            out[(s,) + idx] = separator.join(rows[(k,) + idx] for k in np.flatnonzero(ids.reshape(-1) == s))
    return wrap(out)
