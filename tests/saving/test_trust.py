"""The trust issue's defects, one test each: kill -9 during saves, temp-file cleanup and
permissions, configs that would allocate before failing, out-of-range optimizer settings, and
weights files as strict as model files."""
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import corenn
from corenn import layers, saving
from corenn.models import load_model


def small_model(seed=0):
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([layers.Input(shape=(12,)), layers.Dense(7, activation="relu"),
                               layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 12), np.float32), np.zeros((4, 3), np.float32), verbose=0)
    return model


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def edit_json_member(path, member, fn):
    members = members_of(path)
    doc = json.loads(members[member])
    fn(doc)
    members[member] = json.dumps(doc).encode()
    write_zip(path, members)


def ours(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith(".tmp-"))


# ---- kill -9 in the middle of saves ------------------------------------------------------------

SAVER = r"""
import sys, time
import numpy as np
import corenn
from corenn import layers, saving
path, seed = sys.argv[1], int(sys.argv[2])
corenn.utils.set_random_seed(0)
model = corenn.Sequential([layers.Input(shape=(64,)), layers.Dense(256), layers.Dense(256),
                           layers.Dense(256), layers.Dense(10)])
real = saving._write_array
def slow_write(zf, member, array):  # stretch each save so most kills land inside one
    real(zf, member, array)
    time.sleep(0.003)
saving._write_array = slow_write
model.save(path)
print("ready", flush=True)
while True:
    model.save(path)
"""


def test_kill_9_during_saves_keeps_a_loadable_file_and_cleans_its_temps(tmp_path):
    path = tmp_path / "m.keras"
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    env = dict(os.environ, CORENN_NUM_THREADS="1", OMP_NUM_THREADS="1")
    rng = np.random.default_rng(7)
    left = []
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(round_)],
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(float(rng.uniform(0.0, 0.08)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        left.append(len(ours(tmp_path)))
        model = load_model(path)  # the previous file or the new one, never a torn one
        assert [w.shape for w in model.get_weights()][0] == (64, 256)
        # each saver's first save removed the temps of the savers killed before it
        assert left[-1] <= 1, ours(tmp_path)
    assert sum(left) >= 1  # some kill did land mid-save (else this test proves nothing)
    # a fresh process's next save leaves no temp file of ours behind
    subprocess.run([sys.executable, "-c", "import sys, corenn\n"
                    "corenn.models.load_model(sys.argv[1]).save(sys.argv[1])", str(path)],
                   check=True, env=env)
    assert ours(tmp_path) == []
    load_model(path)


def test_stale_temp_cleanup_touches_only_our_dead_writers_files(tmp_path):
    path = tmp_path / "m.keras"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tag = saving._host_tag()

    def temp(pid, target="m.keras", tag=tag):
        name = tmp_path / f".tmp-corenn-{tag}-{pid}-0123abcd-{target}"
        name.write_bytes(b"partial")
        return name.name

    removed = [temp(dead.pid)]
    old = temp(os.getppid(), target="m.keras")  # a live pid, but untouched for two days
    os.utime(tmp_path / old, (time.time() - 2 * 86400,) * 2)
    removed.append(old)
    kept = [temp(os.getpid()),                       # a live writer (this process)
            temp(dead.pid, target="other.keras"),    # another target
            temp(dead.pid, tag="ffffffff" if tag != "ffffffff" else "00000000"),  # other pid ns
            ".tmp-abc-m.keras", ".tmp-corenn-junk-m.keras"]  # not our naming pattern
    for name in kept[-2:]:
        (tmp_path / name).write_bytes(b"not ours")
    os.symlink(tmp_path / kept[0], tmp_path / f".tmp-corenn-{tag}-{dead.pid}-00000000-m.keras")
    kept.append(f".tmp-corenn-{tag}-{dead.pid}-00000000-m.keras")  # a symlink: never followed
    small_model().save(path)
    left = set(os.listdir(tmp_path))
    assert not left & set(removed)
    assert set(kept) <= left
    assert left == set(kept) | {"m.keras"}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_follow_the_umask(tmp_path, umask, mode):
    model = small_model()
    old = os.umask(umask)
    try:
        model.save(tmp_path / "m.keras")
        model.save_weights(tmp_path / "m.weights.npz")
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / "m.keras").st_mode & 0o777) == oct(mode)
    assert oct(os.stat(tmp_path / "m.weights.npz").st_mode & 0o777) == oct(mode)


def test_overwriting_keeps_the_files_mode(tmp_path):
    path = tmp_path / "m.keras"
    model = small_model()
    model.save(path)
    os.chmod(path, 0o600)  # the user made it private: a new save must not widen that
    old = os.umask(0o022)
    try:
        model.save(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o600


# ---- configs that would allocate before failing ---------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.keras"
    small_model().save(path)
    return path


@pytest.mark.parametrize("units, message", [
    (10**7, r"layer 0 'dense\w*' \(Dense\) builds weights of shapes \[\(12, 10000000\), "
            r"\(10000000,\)\], but the file holds \[\(12, 7\), \(7,\)\]"),
    (2**31, r"config\.layers\[0\]\.config\.units = 2147483648 is out of range"),
])
def test_huge_units_fail_before_allocating(saved, units, message):
    edit_json_member(saved, "config.json",
                     lambda c: c["config"]["layers"][0]["config"].update(units=units))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"m\.keras: config\.json: " + message):
            load_model(saved)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20  # (12, 10**7) float32 weights alone would be 480 MB


def test_a_wrapped_layer_class_is_checked_too(tmp_path):
    path = tmp_path / "m.keras"
    corenn.Sequential([layers.Input(shape=(4, 5)),
                       layers.TimeDistributed(layers.Dense(3))]).save(path)
    edit_json_member(path, "config.json", lambda c: c["config"]["layers"][0]["config"]["layer"]
                     .update(class_name="Layer"))
    with pytest.raises(ValueError, match=r"layer 0 \(TimeDistributed\) 'layer' has unknown class"):
        load_model(path)


@pytest.mark.parametrize("field, value", [
    ("beta_2", 3.5), ("beta_2", float("inf")), ("beta_2", float("nan")), ("beta_1", 1.0),
    ("epsilon", 0.0), ("learning_rate", -0.1), ("learning_rate", float("inf")),
    ("beta_2", "0.9"), ("amsgrad", 1), ("clipnorm", float("nan")),
])
def test_out_of_range_adam_settings_fail_at_load(saved, field, value):
    edit_json_member(saved, "compile.json",
                     lambda c: c["optimizer"]["config"].update({field: value}))
    with pytest.raises(ValueError, match=rf"m\.keras: compile\.json: optimizer Adam: {field} = "):
        load_model(saved)
    load_model(saved, compile=False)  # the architecture and weights are still readable


@pytest.mark.parametrize("optimizer, field, value", [
    (lambda: corenn.optimizers.SGD(momentum=0.5), "momentum", 1.5),
    (lambda: corenn.optimizers.RMSprop(), "rho", 1.0),
    (lambda: corenn.optimizers.Adagrad(), "initial_accumulator_value", -1.0),
    (lambda: corenn.optimizers.SGD(corenn.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
     "learning_rate schedule ExponentialDecay: initial_learning_rate", -1.0),
])
def test_other_optimizer_ranges(tmp_path, optimizer, field, value):
    path = tmp_path / "m.keras"
    model = small_model()
    model.compile(optimizer=optimizer(), loss="mse")
    model.save(path)
    key = field.rpartition(": ")[2]

    def edit(c):
        cfg = c["optimizer"]["config"]
        (cfg["learning_rate"]["config"] if "schedule" in field else cfg)[key] = value
    edit_json_member(path, "compile.json", edit)
    with pytest.raises(ValueError, match=rf"compile\.json: optimizer \w+: {field} = "):
        load_model(path)


def test_bad_optimizer_state_is_a_value_error(saved):
    members = members_of(saved)
    meta = json.loads(members["metadata.json"])
    entry = next(e for e in meta["arrays"] if e["member"] == "optimizer/iterations.npy")
    entry["shape"] = [3]
    import io
    buf = io.BytesIO()
    np.save(buf, np.arange(3, dtype=np.int64))
    members["optimizer/iterations.npy"] = buf.getvalue()
    members["metadata.json"] = json.dumps(meta).encode()
    write_zip(saved, members)
    with pytest.raises(ValueError, match=r"iterations\.npy must be an int64 scalar"):
        load_model(saved)


# ---- weights files: as strict as model files --------------------------------------------------

def test_weights_zip_bomb_is_refused_unread(tmp_path):
    model = small_model()
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    members = members_of(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)
        zf.writestr("bomb.npy", b"\0" * (64 << 20))  # ~64 KB on disk
    assert os.path.getsize(path) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"w\.weights\.npz.*bomb\.npy"):
            model.load_weights(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(names=[7, 8, 9, 10]), "'names' is not a list of distinct strings"),
    (lambda m: m.update(shapes=[[2**50], [7], [7, 3], [3]]), "'shapes'"),
    (lambda m: m.update(names={"a": 1}), "'names'"),
    (lambda m: m.update(format=["x"]), "unsupported weights format"),
    (lambda m: m.clear(), "unsupported weights format"),
])
def test_bad_manifest_is_a_value_error_and_the_model_is_untouched(tmp_path, edit, message):
    model = small_model()
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    members = members_of(path)
    raw = members["__corenn_manifest__.npy"]
    manifest = json.loads(raw[10 + int.from_bytes(raw[8:10], "little"):])
    edit(manifest)
    import io
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(manifest).encode(), np.uint8))
    members["__corenn_manifest__.npy"] = buf.getvalue()
    write_zip(path, members)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"w\.weights\.npz: not a valid corenn weights file: .*"
                                         + message):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
