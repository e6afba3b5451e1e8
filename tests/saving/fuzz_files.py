"""Seeded mutations of corenn's two file formats (.keras model files, .npz weights files), and a
worker that loads each mutant and reports anything but ValueError or a clean load, with the
memory the loads took. Run by test_fuzz_files.py in a subprocess (so ru_maxrss is this
worker's alone):

    python fuzz_files.py <keras|npz> <count> <seed> <workdir>   -> one JSON line on stdout
"""
import io
import json
import os
import resource
import struct
import sys
import tracemalloc
import zipfile

import numpy as np

# ---- the originals: tiny models, so every load takes milliseconds ------------------------------


def originals(workdir):
    """(model file, weights file, a model to load weights into)."""
    import corenn
    from corenn import layers
    corenn.utils.set_random_seed(0)
    model = corenn.Sequential([layers.Input(shape=(6,)), layers.Dense(5, activation="relu"),
                               layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(np.ones((4, 6), np.float32), np.zeros((4, 3), np.float32), epochs=1, verbose=0)
    keras, npz = os.path.join(workdir, "orig.keras"), os.path.join(workdir, "orig.weights.npz")
    model.save(keras)
    model.save_weights(npz)
    return keras, npz, model


def read_members(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i), i.compress_type) for i in zf.infolist()]


def write_members(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, compress in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            zf.writestr(info, data)
    return buf.getvalue()


# ---- mutations ----------------------------------------------------------------------------------

JUNK = [10**7, 2**31, 2**63, 10**30, -1, 0, 1.5, -0.0, 1e308, float("inf"), float("-inf"),
        float("nan"), None, True, False, "", "x" * 50, "Dense", "os.system", [], [1, 2],
        [[[[[[[[1]]]]]]]], {}, {"class_name": "os.system", "config": {}},
        {"class_name": ["Dense"], "config": []}, {"a": {"b": {"c": [None]}}}]


def json_paths(obj, prefix=()):
    """Every (path) into a JSON document, containers included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from json_paths(v, prefix + (i,))


def edit_json(doc, rng):
    """Replace one value (or delete one key, or add one) somewhere in ``doc``."""
    paths = list(json_paths(doc))
    path = paths[int(rng.integers(len(paths)))]
    if not path:
        return JUNK[int(rng.integers(len(JUNK)))]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    op = rng.random()
    if op < 0.1 and isinstance(parent, dict):
        del parent[path[-1]]
    elif op < 0.15 and isinstance(parent, dict):
        parent["evil_" + str(int(rng.integers(100)))] = JUNK[int(rng.integers(len(JUNK)))]
    else:
        parent[path[-1]] = JUNK[int(rng.integers(len(JUNK)))]
    return doc


def targeted_config_edit(doc, rng):
    """The fuzzer's known-bad edits: huge / negative / float / list / null units, wrong class
    names, nested junk in a layer."""
    layer = doc["config"]["layers"][int(rng.integers(len(doc["config"]["layers"])))]
    choice = int(rng.integers(4))
    if choice == 0:
        layer["config"]["units"] = [10**7, 2**31, -3, 0, 2.5, [4], None, "5", True][int(rng.integers(9))]
    elif choice == 1:
        layer["class_name"] = ["Lambda", "Layer", "Sequential", "InputLayer", None, ["Dense"], 7,
                               "TimeDistributed"][int(rng.integers(8))]
    elif choice == 2:
        layer["config"]["kernel_initializer"] = JUNK[int(rng.integers(len(JUNK)))]
    else:
        doc["config"]["input_shape"] = [[6], [10**7], [2**31], [-1], [None], None, "6", [6, 6]][int(rng.integers(8))]
    return doc


def targeted_compile_edit(doc, rng):
    cfg = doc["optimizer"]["config"]
    key = ["beta_1", "beta_2", "epsilon", "learning_rate", "amsgrad", "clipnorm"][int(rng.integers(6))]
    cfg[key] = [3.5, float("inf"), float("nan"), -1.0, 1.0, 0.0, "0.5", None, [0.9], 2**40][int(rng.integers(10))]
    return doc


def edit_npy(data, rng):
    """An edited .npy header: dtype, order, shape, version or header length."""
    header_len = struct.unpack("<H", data[8:10])[0]
    header, body = data[10:10 + header_len].decode("latin1"), data[10 + header_len:]
    choice = int(rng.integers(6))
    if choice == 0:
        header = header.replace("'<f4'", ["'|O'", "'<f8'", "'>f4'", "'<i8'", "'V4'"][int(rng.integers(5))])
        header = header.replace("'<i8'", "'|O'")
    elif choice == 1:
        header = header.replace("False", "True")
    elif choice == 2:
        dims = ["(1000000000, 1000000000)", "(2147483648,)", "()", "(0,)", "(5)", "(-1,)",
                "(99999999999999999999,)", "(1,)"][int(rng.integers(8))]
        start, end = header.index("'shape': ") + 9, header.index(")", header.index("'shape': ")) + 1
        header = header[:start] + dims + header[end:]
    elif choice == 3:
        return data[:6] + bytes([int(rng.integers(4)), 0]) + data[8:]
    elif choice == 4:
        return data[:8] + struct.pack("<H", int(rng.integers(65536))) + data[10:]
    else:
        header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
        body = b"\x80\x04cposix\nsystem\n."
    raw = header.encode("latin1")
    return data[:8] + struct.pack("<H", len(raw)) + raw + body


def declared_size_bomb(raw, rng):
    """Set one member's declared uncompressed (and maybe compressed) size to something huge in
    both its local and central headers: the 'declares 1 GiB from 1 KB' zip bomb."""
    huge = [2**30, 2**32 - 1, 2**31, 10**9][int(rng.integers(4))]
    out = bytearray(raw)
    centrals = [i for i in range(len(out) - 4) if out[i:i + 4] == b"PK\x01\x02"]
    if not centrals:
        return bytes(out)
    c = centrals[int(rng.integers(len(centrals)))]
    local = struct.unpack("<I", out[c + 42:c + 46])[0]
    fields = [24] + ([20] if rng.random() < 0.5 else [])       # uncompressed (+ compressed)
    for off in fields:
        struct.pack_into("<I", out, c + off, huge)
        if local + 30 <= len(out):
            struct.pack_into("<I", out, local + off - 2, huge)   # local header: 2 bytes earlier
    return bytes(out)


def deflate_bombs(members):
    """For the first three members, the file with that member replaced by 16 MiB of spaces
    deflated to ~16 KiB (~1000x): built once, before the memory baseline is taken."""
    bombs = []
    for victim in range(min(3, len(members))):
        bombed = list(members)
        bombed[victim] = (members[victim][0], b" " * (16 << 20), zipfile.ZIP_DEFLATED)
        bombs.append(write_members(bombed))
    return bombs


def mutate(raw, members, bombs, rng, kind):
    """One mutant of the original file ``raw`` (its members: ``members``) and what was done."""
    op = int(rng.integers(9))
    if op == 0:
        out = bytearray(raw)
        for _ in range(int(rng.integers(1, 5))):
            pos = int(rng.integers(len(out)))
            out[pos] ^= 1 << int(rng.integers(8))
        return bytes(out), "bit flips"
    if op == 1:
        out = bytearray(raw)
        pos, n = int(rng.integers(len(out))), int(rng.integers(1, 9))
        value = [0, 0xFF, 0x7F, 0x80][int(rng.integers(4))] if rng.random() < 0.5 else None
        for i in range(pos, min(pos + n, len(out))):
            out[i] = int(rng.integers(256)) if value is None else value
        return bytes(out), "byte overwrite"
    if op == 2:
        return raw[:int(rng.integers(len(raw)))], "truncation"
    if op == 3:
        return declared_size_bomb(raw, rng), "declared-size zip bomb"
    if op == 4:
        return bombs[int(rng.integers(len(bombs)))], "deflate zip bomb"
    members = [list(m) for m in members]
    jsons = [m for m in members if m[0].endswith(".json") or m[0].startswith("__corenn")]
    arrays = [m for m in members if m[0].endswith(".npy") and not m[0].startswith("__corenn")]
    if op == 5:
        m = arrays[int(rng.integers(len(arrays)))]
        m[1] = edit_npy(m[1], rng)
        return write_members(members), f"npy header edit {m[0]}"
    m = jsons[int(rng.integers(len(jsons)))]
    doc = load_doc(m, kind)
    if op == 6 and m[0] == "config.json":
        doc = targeted_config_edit(doc, rng)
    elif op == 6 and m[0] == "compile.json":
        doc = targeted_compile_edit(doc, rng)
    else:
        doc = edit_json(doc, rng)
    store_doc(m, doc, kind)
    if op == 8:  # also drop or add a member
        if rng.random() < 0.5 and len(members) > 1:
            members.pop(int(rng.integers(len(members))))
        else:
            members.append(["payload.pkl", b"\x80\x04K\x01.", zipfile.ZIP_STORED])
    return write_members(members), f"JSON edit {m[0]}"


def load_doc(member, kind):
    data = member[1]
    if kind == "npz":  # the manifest: a uint8 .npy
        header_len = struct.unpack("<H", data[8:10])[0]
        data = data[10 + header_len:]
    return json.loads(data)


def store_doc(member, doc, kind):
    text = json.dumps(doc).encode()
    if kind == "npz":
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.frombuffer(text, np.uint8), version=(1, 0))
        text = buf.getvalue()
    member[1] = text


# ---- the worker ---------------------------------------------------------------------------------

def main(kind, count, seed, workdir):
    import corenn
    from corenn.models import load_model
    keras, npz, model = originals(workdir)
    original = keras if kind == "keras" else npz
    raw = open(original, "rb").read()
    members = read_members(original)
    bombs = deflate_bombs(members)
    declared = sum(m.nbytes for m in model.get_weights()) * (3 if kind == "keras" else 1)
    load = (lambda p: load_model(p)) if kind == "keras" else (lambda p: model.load_weights(p))
    target = os.path.join(workdir, "mutant." + ("keras" if kind == "keras" else "weights.npz"))
    for _ in range(3):  # warm up: imports, first-call allocations
        load(original)
    rng = np.random.default_rng(seed)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    problems, outcomes, max_traced = [], {"ValueError": 0, "loaded": 0}, 0
    for i in range(count):
        data, what = mutate(raw, members, bombs, rng, kind)
        with open(target, "wb") as f:
            f.write(data)
        traced = i % 4 == 0  # tracemalloc triples a load's time: every 4th; ru_maxrss sees all
        if traced:
            tracemalloc.start()
        try:
            load(target)
            outcomes["loaded"] += 1
        except ValueError as exc:
            outcomes["ValueError"] += 1
            if "mutant" not in str(exc):
                problems.append(f"#{i} {what}: ValueError does not name the file: {exc}")
        except Exception as exc:  # noqa: BLE001 - exactly what this test looks for
            problems.append(f"#{i} {what}: {type(exc).__name__}: {str(exc)[:300]}")
        if traced:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            max_traced = max(max_traced, peak)
            if peak > 2 * max(len(data), declared) + (2 << 20):
                problems.append(f"#{i} {what}: a load of a {len(data)}-byte file allocated "
                                f"{peak} bytes")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    print(json.dumps({"problems": problems[:40], "n_problems": len(problems), "outcomes": outcomes,
                      "rss_growth": grown, "max_traced": max_traced, "file_size": len(raw),
                      "declared": declared}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
