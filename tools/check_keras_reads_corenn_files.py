"""Check that real Keras loads the model files corenn writes in Keras' formats, with Keras' predictions.

Two steps, in two environments (the test suite never imports Keras):

    python tools/check_keras_reads_corenn_files.py write DIR     # with corenn: each Keras-made
        # fixture (tests/interop/keras_fixtures/*.keras) loaded by corenn and saved as DIR/<name>.h5
        # (TF-Keras 2's HDF5 model file) and DIR/<name>.keras (Keras 3's archive, save_format="keras3")
    KERAS_BACKEND=torch python tools/check_keras_reads_corenn_files.py check DIR         # Keras 3
    TF_USE_LEGACY_KERAS=1 python tools/check_keras_reads_corenn_files.py check DIR tf_keras   # TF-Keras 2

``check`` loads every DIR/*.h5 (and with Keras 3, DIR/*.keras) with ``load_model(path,
compile=False)`` and compares Keras' prediction with the fixture's expected one (Keras' own,
<name>.expected.npz). It prints one line
per file and exits 1 when one does not load or differs by more than 1e-5.
"""
import glob
import importlib
import os
import sys

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "interop", "keras_fixtures")


def expected(name):
    with np.load(os.path.join(FIXTURES, f"{name}.expected.npz"), allow_pickle=False) as data:
        return [data[k] for k in sorted(k for k in data.files if k.startswith("x"))], data["y"]


def write(out_dir):
    import corenn
    os.makedirs(out_dir, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.keras"))):
        name = os.path.basename(path)[:-len(".keras")]
        try:
            model = corenn.models.load_model(path)
        except ValueError as exc:   # the Lambda fixture is refused on purpose
            print(f"{name}: refused by corenn ({str(exc).split(': ')[-1][:80]})")
            continue
        for ext, save in ((".h5", lambda p: model.save(p)),
                          (".keras", lambda p: corenn.saving.save_model(model, p, save_format="keras3"))):
            try:
                save(os.path.join(out_dir, name + ext))
            except ValueError as exc:   # recorded ops, nested models; Keras 3-only options in .h5
                print(f"{name}{ext}: not written by corenn ({str(exc).split(': ')[-1][:80]})")
                continue
            print(f"{name}{ext}: written")


def check(out_dir, module):
    keras = importlib.import_module(module)
    failed = 0
    kinds = ("*.h5", "*.keras") if module == "keras" else ("*.h5",)   # TF-Keras 2 predates .keras
    for path in sorted(p for kind in kinds for p in glob.glob(os.path.join(out_dir, kind))):
        name = os.path.basename(path).rsplit(".", 1)[0]
        try:
            model = keras.models.load_model(path, compile=False)
            xs, y = expected(name)
            got = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
            got = np.asarray(next(iter(got.values())) if isinstance(got, dict) else got)   # y: the first output
            diff = float(np.max(np.abs(got - y) / (np.abs(y) + 1e-6)))
            ok = diff <= 1e-5
            print(f"{os.path.basename(path)}: {'ok' if ok else 'DIFFERS'} (max relative difference {diff:.2e})")
        except Exception as exc:   # noqa: BLE001 - report every failure, go on with the next file
            ok = False
            print(f"{os.path.basename(path)}: NOT LOADED: {type(exc).__name__}: {str(exc)[:300]}")
        failed += not ok
    print(f"{module} {keras.__version__}: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "keras"))
