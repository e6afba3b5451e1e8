"""save_weights / load_weights: round trip, atomic writes, corrupt and hostile files."""
import os
import pickle
import zipfile

import numpy as np
import pytest

import corenn
from corenn import layers, saving


def make_model(seed=0):
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([layers.Input(shape=(6,)), layers.Dense(5, activation="relu"),
                               layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_round_trip_restores_predictions(tmp_path):
    a, b = make_model(0), make_model(1)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    path = tmp_path / "m.weights.npz"
    a.save_weights(path)
    assert not np.allclose(a.predict(x), b.predict(x))
    b.load_weights(path)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.weights.npz"]  # no temp files left


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    model = make_model()
    path = tmp_path / "m.weights.npz"
    model.save_weights(path)
    before = path.read_bytes()

    def exploding_savez(f, **arrays):
        f.write(b"partial")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(saving.np, "savez", exploding_savez)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.weights.npz"]


def test_shape_mismatch_is_reported(tmp_path):
    path = tmp_path / "m.weights.npz"
    make_model().save_weights(path)
    other = corenn.Sequential([layers.Input(shape=(6,)), layers.Dense(4), layers.Dense(3)])
    with pytest.raises(ValueError, match="shapes"):
        other.load_weights(path)


def test_truncated_file_raises_clearly(tmp_path):
    path = tmp_path / "m.weights.npz"
    make_model().save_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        make_model().load_weights(path)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_planted_pickle_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.weights.npz"
    make_model().save_weights(path)
    # Replace one weight array with a pickled object array carrying a payload.
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    victim = next(n for n in entries if not n.startswith("__corenn"))
    with zipfile.ZipFile(path, "w") as z:
        for name, content in entries.items():
            if name == victim:
                content = b"\x93NUMPY" + b"\x01\x00" + b"x" * 10 + pickle.dumps(Boom())
            z.writestr(name, content)
    with pytest.raises(ValueError):
        make_model().load_weights(path)
    assert not (tmp_path / "PWNED").exists()


def test_file_without_manifest_is_rejected(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a corenn weights file"):
        make_model().load_weights(path)
