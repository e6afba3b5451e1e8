"""Seeded mutations of the Keras fixtures (.keras archives, legacy .h5, .weights.h5) and a worker
that loads each mutant and reports anything but ValueError or a clean load. Run by
test_keras_fuzz.py in a subprocess, so a crash of the HDF5 C library is seen as a crash, not
as the end of the test run:

    python fuzz_keras_files.py <count> <seed> <workdir>   -> one JSON line on stdout
"""
import io
import json
import os
import sys
import warnings
import zipfile

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_fixtures")
ORIGINALS = ["mlp.keras", "gru.keras", "residual.keras", "bidirectional.keras", "trained.keras",
             "mlp.h5", "cnn.h5", "siamese.h5", "mlp.weights.h5", "gru.weights.h5", "ops_model.keras",
             "tf_ops.h5", "nested.keras", "tf_nested.h5", "compiled_rmsprop.keras", "tf_compiled_adam.h5"]
JUNK = [10**7, 2**31, 2**63, -1, 0, 1.5, 1e308, None, True, "", "x" * 50, "Dense", "Lambda",
        "os.system", [], [1, 2], [[[[[[1]]]]]], {}, {"class_name": "os.system", "config": {}},
        {"class_name": "__lambda__", "config": {"code": "AA=="}}]


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def archive(items):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def flip(data, rng, n):
    data = bytearray(data)
    for pos in rng.integers(0, len(data), size=n):
        data[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(data)


def json_values(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from json_values(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from json_values(v, path + (i,))


def edit_json(text, rng):
    obj = json.loads(text)
    paths = [p for p in json_values(obj) if p]
    path = paths[int(rng.integers(len(paths)))]
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = JUNK[int(rng.integers(len(JUNK)))]
    return json.dumps(obj).encode()


def mutate(name, data, rng):
    """One mutant of a fixture: (kind, bytes)."""
    choice = int(rng.integers(4))
    if choice == 0:
        return "flip", flip(data, rng, int(rng.integers(1, 9)))
    if choice == 1:
        return "truncate", data[:int(rng.integers(0, len(data)))]
    if name.endswith(".keras"):
        items = members(data)
        if choice == 2:   # damage inside model.weights.h5 with valid CRCs: the HDF5 parser sees it
            return "flip-h5-member", archive([(n, flip(d, rng, int(rng.integers(1, 9)))
                                               if n == "model.weights.h5" else d) for n, d in items])
        return "edit-config", archive([(n, edit_json(d, rng) if n == "config.json" else d)
                                       for n, d in items])
    return "flip-many", flip(data, rng, int(rng.integers(9, 64)))


def load(path, name):
    import corenn
    from corenn import layers
    if name.endswith(".weights.h5"):
        if name.startswith("mlp"):
            model = corenn.Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                                       layers.Dropout(0.2), layers.Dense(8, activation="tanh"),
                                       layers.Dense(4, activation="softmax")])
        else:
            model = corenn.Sequential([layers.Input((6, 3)), layers.GRU(5, return_sequences=True),
                                       layers.GRU(4, reset_after=False), layers.Dense(2)])
        model.load_weights(path)
    else:
        corenn.models.load_model(path)


def main(count, seed, workdir):
    rng = np.random.default_rng(seed)
    warnings.simplefilter("error")   # as the test suite: a warning is a bad outcome too
    originals = {}
    for name in ORIGINALS:
        with open(os.path.join(FIXTURES, name), "rb") as f:
            originals[name] = f.read()
    bad, outcomes = [], {"loaded": 0, "ValueError": 0, "uncompiled": 0}
    for i in range(count):
        name = ORIGINALS[i % len(ORIGINALS)]
        kind, data = mutate(name, originals[name], rng)
        path = os.path.join(workdir, f"mutant-{name}")
        with open(path, "wb") as f:
            f.write(data)
        try:
            load(path, name)
            outcomes["loaded"] += 1
        except ValueError:
            outcomes["ValueError"] += 1
        except UserWarning as warning:   # a compile config naming what corenn lacks: loaded uncompiled
            if "loaded uncompiled" not in str(warning) and "starts afresh" not in str(warning):
                bad.append(f"{i} {name} {kind}: UserWarning: {str(warning)[:200]}")
            outcomes["uncompiled"] += 1
        except Exception as exc:  # noqa: BLE001 - reporting is the point
            bad.append(f"{i} {name} {kind}: {type(exc).__name__}: {str(exc)[:200]}")
    print(json.dumps({"count": count, "outcomes": outcomes, "bad": bad}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
