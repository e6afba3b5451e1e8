"""Decode the pickle stream numpy stores for an object array of lists of ints, without pickle.

Keras' imdb.npz and reuters.npz hold ragged sequences as numpy *object* arrays; numpy can store
those only as a pickle stream inside the .npy member. `pickle.load` on such a stream would look
up and call whatever the stream names, so a tampered file could run code. This module reads
the same bytes with a strict, data-only decoder instead.

Why this is not unpickling: the decoder knows a fixed handful of pickle opcodes, those that
numpy's `ndarray.__reduce__` and the pickler emit for this one shape of data (found with
`pickletools.dis` on `np.save(..., allow_pickle=True)` of such an array, protocols 2 to 5, and the
protocol-2 strings a Python 2 writer emits). The three global names that header refers to
(numpy's `_reconstruct`, `ndarray`, `dtype`) are kept as inert tokens: nothing is imported,
no object is constructed from a name and nothing is called. A REDUCE or BUILD is accepted
only in the exact pattern numpy writes (`_reconstruct(ndarray, (0,), b'b')`,
`dtype('O8', False, True)`, then their states) and only checked, never performed. The only values
the decoder ever produces are ints, short strings and bytes, None/bools, tuples and lists; the
result is a list of lists of ints. Every other opcode, global name or pattern is a ValueError.

The stream as numpy writes it (protocol 4, memo opcodes left out):

    STACK_GLOBAL numpy._core.multiarray._reconstruct   (numpy.core.multiarray before numpy 2)
    STACK_GLOBAL numpy.ndarray, (0,), b'b'             -> REDUCE: an empty ndarray
    MARK 1, (N,), STACK_GLOBAL numpy.dtype, 'O8', False, True -> REDUCE: the object dtype
         MARK 3, '|', None, None, None, -1, -1, 63 TUPLE -> BUILD: the dtype's state
         False                                        (not Fortran order)
         EMPTY_LIST MARK [EMPTY_LIST MARK int int ... APPENDS] ... APPENDS   (the N rows)
    TUPLE -> BUILD: the array's state; STOP
"""
import math
import reprlib

__all__ = ["decode_object_lists"]

_MAX_TOKEN_BYTES = 256          # names and dtype strings are a few bytes; refuse big strings
_MAX_LONG_BYTES = 8             # LONG1 ints beyond 64 bits are no word index
_MAX_ROWS = 1 << 26             # far above IMDB's 25,000 and Reuters' 11,228 rows
# Besides the ints, numpy's stream holds one list per row plus the outer one, one memo entry
# per list, and a handful of header objects (names, tuples) nested at most 3 marks deep. These
# caps keep a hostile stream from turning each of its bytes into a new object (a 1-byte
# EMPTY_LIST is a 56-byte list): the decoder's memory stays a small multiple of the stream's.
_MAX_HEADER_OBJECTS = 64
_MAX_MARK_DEPTH = 16

# module, name -> the token the decoder keeps for it (the only globals a numpy header names).
_KNOWN_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "_reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "_reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
}


class _Global:
    """A known global name, kept as a token (never imported)."""
    __slots__ = ("token",)

    def __init__(self, token):
        self.token = token


class _EmptyArray:
    """What `_reconstruct(ndarray, (0,), b'b')` would return; BUILD fills in its state."""
    __slots__ = ("rows", "shape")

    def __init__(self):
        self.rows = self.shape = None


class _ObjectDType:
    """What `dtype('O8', False, True)` would return."""
    __slots__ = ()


def _is_false(v):
    return v is False or (type(v) is int and v == 0)


def _is_true(v):
    return v is True or (type(v) is int and v == 1)


def _reduce(func, args, fail):
    if not isinstance(func, _Global) or type(args) is not tuple:
        fail("REDUCE on something other than a known numpy name")
    if func.token == "_reconstruct":
        if (len(args) == 3 and isinstance(args[0], _Global) and args[0].token == "ndarray"
                and args[1] == (0,) and args[2] in (b"b", "b")):
            return _EmptyArray()
        fail(f"unexpected arguments to numpy's _reconstruct: {reprlib.repr(args)}")
    if func.token == "dtype":
        if (len(args) == 3 and args[0] in ("O8", "O4", b"O8", b"O4") and _is_false(args[1])
                and _is_true(args[2])):
            return _ObjectDType()
        fail(f"only the object dtype is expected here, got dtype{reprlib.repr(args)}")
    fail(f"numpy.{func.token} is not called in an object array's header")


def _build(obj, state, fail):
    if isinstance(obj, _ObjectDType):
        # (version, byte order '|', subarray, names, fields, elsize, alignment, flags)
        if (type(state) is not tuple or len(state) not in (8, 9) or state[1] not in ("|", b"|")
                or any(v is not None for v in state[2:5])):
            fail(f"unexpected object dtype state {reprlib.repr(state)}")
        return obj
    if isinstance(obj, _EmptyArray) and obj.rows is None:
        # (version, shape, dtype, is_fortran, the objects in order)
        if (type(state) is not tuple or len(state) != 5 or state[0] != 1
                or type(state[1]) is not tuple or not isinstance(state[2], _ObjectDType)
                or not _is_false(state[3]) or type(state[4]) is not list):
            fail("the array state is not (1, shape, object dtype, False, [rows])")
        if not all(type(d) is int and d >= 0 for d in state[1]):
            fail(f"bad array shape {reprlib.repr(state[1])}")
        obj.shape, obj.rows = state[1], state[4]
        return obj
    fail("BUILD on something other than numpy's empty array or object dtype")


def decode_object_lists(data, shape, label):
    """The rows of an object array of lists of ints, from the pickle bytes of its .npy member.

    Args:
        data: the bytes after the .npy header.
        shape: the shape the .npy header declares (the stream must agree).
        label: names the file and member in every error.

    Returns:
        A list of prod(shape) distinct lists of Python ints (rows shared in the stream are
        copied).
    """
    def fail(message):
        raise ValueError(f"{label}: not an object array of lists of ints: {message}")

    count = math.prod(shape)
    # Every row costs the stream at least one byte: a larger count is a lie, caught before
    # anything is allocated for it.
    if count > min(len(data), _MAX_ROWS):
        fail(f"the header declares {count} rows but the stream holds {len(data)} bytes")
    try:
        result = _run(data, count, fail)
    except (IndexError, RecursionError):
        fail("truncated pickle stream")
    except UnicodeDecodeError:
        fail("a name in the stream is not valid text")
    if not isinstance(result, _EmptyArray) or result.rows is None:
        fail("the stream does not hold a numpy array")
    if result.shape != tuple(shape):
        fail(f"the stream holds shape {result.shape}, the .npy header declares {tuple(shape)}")
    if len(result.rows) != count:
        fail(f"the stream holds {len(result.rows)} rows for shape {tuple(shape)}")
    # Each int costs the stream at least 2 bytes unless a row is shared through the memo;
    # this bound keeps shared rows from multiplying memory when they are copied below.
    budget = len(data) // 2
    rows, seen = result.rows, set()
    for i, row in enumerate(rows):
        if type(row) is not list:
            fail(f"row {i} is a {type(row).__name__}, not a list")
        budget -= len(row)
        if budget < 0:
            fail("the rows hold more ints than the stream can encode (shared rows?)")
        types = set(map(type, row))          # one pass in C; bool is not int here
        if types - {int}:
            fail(f"row {i} holds a {(types - {int}).pop().__name__}, not an int")
        if id(row) in seen:                  # a row the memo shares: the caller gets its own
            rows[i] = list(row)
        seen.add(id(row))
    return rows


def _run(data, count, fail):  # noqa: C901  (one opcode per branch reads best as one loop)
    """Interpret the opcodes; returns the single object left when STOP is reached."""
    stack, marks, memo = [], [], {}
    lists_left = count + 1                  # the rows and the outer list
    memo_left = count + 1 + _MAX_HEADER_OBJECTS
    header_left = _MAX_HEADER_OBJECTS       # tuples, names, bytes

    def spend_header(pos):
        nonlocal header_left
        header_left -= 1
        if header_left < 0:
            fail(f"more than {_MAX_HEADER_OBJECTS} names and tuples (byte {pos})")
    pos, end = 0, len(data)
    frombytes = int.from_bytes
    while True:
        op = data[pos]
        # The ints of the rows are almost all of the stream: a tight loop reads a run of them.
        if op == 0x4B or op == 0x4D or op == 0x4A:          # BININT1, BININT2, BININT
            push = stack.append
            while True:
                if op == 0x4B:
                    push(data[pos + 1])
                    pos += 2
                elif op == 0x4D:
                    push(data[pos + 1] | data[pos + 2] << 8)
                    pos += 3
                elif op == 0x4A:                            # signed 32-bit
                    if pos + 5 > end:
                        raise IndexError
                    push(frombytes(data[pos + 1:pos + 5], "little", signed=True))
                    pos += 5
                else:
                    break
                op = data[pos]
        if op == 0x8A:                                      # LONG1
            n = data[pos + 1]
            if n > _MAX_LONG_BYTES or pos + 2 + n > end:
                fail(f"a {n}-byte LONG1 integer at byte {pos}")
            stack.append(frombytes(data[pos + 2:pos + 2 + n], "little", signed=True))
            pos += 2 + n
        elif op == 0x28:                                    # (  MARK
            if len(marks) >= _MAX_MARK_DEPTH:
                fail(f"MARKs nested deeper than {_MAX_MARK_DEPTH} (byte {pos})")
            marks.append(len(stack))
            pos += 1
        elif op == 0x65:                                    # e  APPENDS
            if not marks:
                fail(f"APPENDS without MARK at byte {pos}")
            mark = marks.pop()
            if mark < 1 or type(stack[mark - 1]) is not list:
                fail(f"APPENDS to a non-list at byte {pos}")
            stack[mark - 1].extend(stack[mark:])
            del stack[mark:]
            pos += 1
        elif op == 0x5D:                                    # ]  EMPTY_LIST
            lists_left -= 1
            if lists_left < 0:
                fail(f"more lists than the {count} rows declared (byte {pos})")
            stack.append([])
            pos += 1
        elif op == 0x61:                                    # a  APPEND
            if len(stack) < 2 or type(stack[-2]) is not list:
                fail(f"APPEND to a non-list at byte {pos}")
            value = stack.pop()
            stack[-1].append(value)
            pos += 1
        elif op == 0x94:                                    # MEMOIZE
            if len(memo) >= memo_left:
                fail(f"more memo entries than the rows need (byte {pos})")
            memo[len(memo)] = stack[-1]
            pos += 1
        elif op in (0x71, 0x72):                            # q BINPUT, r LONG_BINPUT
            width = 1 if op == 0x71 else 4
            if pos + 1 + width > end:
                raise IndexError
            key = frombytes(data[pos + 1:pos + 1 + width], "little")
            if key not in memo and len(memo) >= memo_left:
                fail(f"more memo entries than the rows need (byte {pos})")
            memo[key] = stack[-1]
            pos += 1 + width
        elif op in (0x68, 0x6A):                            # h BINGET, j LONG_BINGET
            width = 1 if op == 0x68 else 4
            if pos + 1 + width > end:
                raise IndexError
            key = frombytes(data[pos + 1:pos + 1 + width], "little")
            if key not in memo:
                fail(f"memo entry {key} read before it is written (byte {pos})")
            stack.append(memo[key])
            pos += 1 + width
        elif op in (0x8C, 0x58, 0x55, 0x54, 0x43, 0x42):   # the string and bytes opcodes
            width = 1 if op in (0x8C, 0x55, 0x43) else 4
            if pos + 1 + width > end:
                raise IndexError
            n = frombytes(data[pos + 1:pos + 1 + width], "little")
            start = pos + 1 + width
            if n > _MAX_TOKEN_BYTES or start + n > end:
                fail(f"a {n}-byte string at byte {pos} (only short names are expected)")
            spend_header(pos)
            raw = data[start:start + n]
            if op in (0x43, 0x42):                          # C/B: bytes
                stack.append(raw)
            else:                                           # unicode (py3) or str (py2)
                stack.append(raw.decode("utf-8" if op in (0x8C, 0x58) else "latin-1",
                                        errors="strict"))
            pos = start + n
        elif op == 0x63:                                    # c  GLOBAL 'module\nname\n'
            first = data.find(b"\n", pos + 1, pos + 2 + _MAX_TOKEN_BYTES)
            second = data.find(b"\n", first + 1, first + 2 + _MAX_TOKEN_BYTES)
            if first < 0 or second < 0:
                fail(f"malformed GLOBAL at byte {pos}")
            spend_header(pos)
            stack.append(_known_global(data[pos + 1:first].decode("latin-1"),
                                       data[first + 1:second].decode("latin-1"), fail))
            pos = second + 1
        elif op == 0x93:                                    # STACK_GLOBAL
            if len(stack) < 2 or type(stack[-1]) is not str or type(stack[-2]) is not str:
                fail(f"STACK_GLOBAL without two names at byte {pos}")
            name, module = stack.pop(), stack.pop()
            stack.append(_known_global(module, name, fail))
            pos += 1
        elif op in (0x85, 0x86, 0x87):                      # TUPLE1, TUPLE2, TUPLE3
            spend_header(pos)
            n = op - 0x84
            if len(stack) - (marks[-1] if marks else 0) < n:
                fail(f"TUPLE{n} on a short stack at byte {pos}")
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
            pos += 1
        elif op == 0x74:                                    # t  TUPLE (from the MARK)
            spend_header(pos)
            if not marks:
                fail(f"TUPLE without MARK at byte {pos}")
            mark = marks.pop()
            items = tuple(stack[mark:])
            del stack[mark:]
            stack.append(items)
            pos += 1
        elif op == 0x29:                                    # )  EMPTY_TUPLE
            stack.append(())
            pos += 1
        elif op == 0x4E:                                    # N  NONE
            stack.append(None)
            pos += 1
        elif op in (0x88, 0x89):                            # NEWTRUE, NEWFALSE
            stack.append(op == 0x88)
            pos += 1
        elif op == 0x52:                                    # R  REDUCE: checked, not called
            if len(stack) < 2:
                fail(f"REDUCE on a short stack at byte {pos}")
            args = stack.pop()
            stack[-1] = _reduce(stack[-1], args, fail)
            pos += 1
        elif op == 0x62:                                    # b  BUILD: checked, not performed
            if len(stack) < 2:
                fail(f"BUILD on a short stack at byte {pos}")
            state = stack.pop()
            stack[-1] = _build(stack[-1], state, fail)
            pos += 1
        elif op == 0x80:                                    # PROTO
            if not 2 <= data[pos + 1] <= 5:
                fail(f"pickle protocol {data[pos + 1]} (numpy writes 2 to 5)")
            pos += 2
        elif op == 0x95:                                    # FRAME: a length hint only
            pos += 9
        elif op == 0x2E:                                    # .  STOP
            if len(stack) != 1 or marks:
                fail("the stream does not end with exactly one object")
            if pos + 1 != end:
                fail(f"{end - pos - 1} bytes after the end of the pickle stream")
            return stack[0]
        else:
            fail(f"pickle opcode 0x{op:02x} at byte {pos} is not one numpy writes for a list "
                 f"of ints")


def _known_global(module, name, fail):
    token = _KNOWN_GLOBALS.get((module, name))
    if token is None:
        fail(f"refusing the global name {module}.{name:.80} (only numpy's array header "
             f"names are accepted, as tokens)")
    return _Global(token)
