"""ModelCheckpoint and BackupAndRestore: what is saved when, atomic writes, exact resumption."""
import os

import numpy as np
import pytest

import corenn
from corenn import callbacks, layers, saving
from corenn.models import load_model


def make_model(seed=0):
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([layers.Dense(8, activation="relu", input_shape=(5,)),
                               layers.Dropout(0.2), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=corenn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def dataset(n=40):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


class FeedLogs(callbacks.Callback):
    """Replaces the logs ModelCheckpoint sees with a scripted sequence (runs before it)."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def fit(model, cbs, epochs=3, **kwargs):
    x, y = dataset()
    return model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=cbs, **kwargs)


# ---- ModelCheckpoint ----------------------------------------------------------------------------

def test_every_epoch_with_formatted_names(tmp_path):
    model = make_model()
    x, y = dataset()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.keras"))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_data=(x, y), callbacks=[cb])
    names = sorted(os.listdir(tmp_path))
    assert [n[:5] for n in names] == ["m-01-", "m-02-", "m-03-"]
    assert all(n.endswith(".keras") for n in names)
    last = load_model(tmp_path / names[-1])
    np.testing.assert_array_equal(last.predict(x), model.predict(x))
    assert f"{model.history.history['val_loss'][-1]:.2f}" in names[-1]


def test_save_best_only_saves_on_improvement(tmp_path, capsys):
    model = make_model()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "{epoch}.keras"), monitor="val_loss",
                                   save_best_only=True, verbose=1)
    fit(model, [FeedLogs([1.0, 2.0, 0.5, 0.5, 0.7]), cb], epochs=5)
    assert sorted(os.listdir(tmp_path)) == ["1.keras", "3.keras"]
    assert cb.best == 0.5
    out = capsys.readouterr().out
    assert "val_loss improved from inf to 1.00000" in out and "did not improve from 0.50000" in out


def test_mode_max_and_weights_only(tmp_path):
    model = make_model()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "w{epoch}.npz"), monitor="val_accuracy",
                                   save_best_only=True, save_weights_only=True)
    assert cb.mode == "max"  # 'auto' picks max for accuracies
    fit(model, [FeedLogs([0.5, 0.7, 0.6, 0.9], key="val_accuracy"), cb], epochs=4)
    assert sorted(os.listdir(tmp_path)) == ["w1.npz", "w2.npz", "w4.npz"]
    clone = make_model(seed=3)
    clone.load_weights(tmp_path / "w4.npz")
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    min_cb = callbacks.ModelCheckpoint(str(tmp_path / "x{epoch}.npz"), monitor="loss", mode="min",
                                       save_best_only=True, save_weights_only=True,
                                       initial_value_threshold=0.3)
    fit(make_model(), [FeedLogs([0.4, 0.2, 0.25], key="loss"), min_cb], epochs=3)
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("x")) == ["x2.npz"]


def test_integer_save_freq_counts_batches(tmp_path):
    model = make_model()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.keras"), save_freq=2)
    fit(model, [cb], epochs=2)  # 3 batches per epoch: saves after batches 2, 4, 6
    assert sorted(os.listdir(tmp_path)) == ["e1-b2.keras", "e2-b1.keras", "e2-b3.keras"]


def test_bad_arguments_and_missing_keys(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("m.keras", save_freq=0)
    with pytest.raises(ValueError, match="mode"):
        callbacks.ModelCheckpoint("m.keras", mode="up")
    model = make_model()
    with pytest.raises(ValueError, match="cannot format filepath.*val_auc"):
        fit(model, [callbacks.ModelCheckpoint(str(tmp_path / "{val_auc:.2f}.keras"))], epochs=1)
    cb = callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor="val_loss", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="val_loss"):
        fit(model, [cb], epochs=1)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("weights_only", [False, True])
def test_checkpoint_killed_mid_write_keeps_the_previous_one(tmp_path, monkeypatch, weights_only):
    model = make_model()
    path = tmp_path / ("ckpt.npz" if weights_only else "ckpt.keras")
    cb = callbacks.ModelCheckpoint(str(path), save_weights_only=weights_only)
    fit(model, [cb], epochs=1)
    before = path.read_bytes()

    def die_halfway(f, *args, **kwargs):  # some bytes reach the temp file, then the "kill"
        f.write(before[: len(before) // 2])
        raise KeyboardInterrupt("killed while saving")

    if weights_only:
        monkeypatch.setattr(saving.np, "savez", die_halfway)
    else:
        monkeypatch.setattr(saving, "_write_array", lambda zf, member, array: die_halfway(
            zf.open(saving._zip_info(member, False), "w")))
    with pytest.raises(KeyboardInterrupt):
        fit(model, [cb], epochs=1)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left
    monkeypatch.undo()
    if weights_only:
        make_model().load_weights(path)
    else:
        load_model(path)


# ---- BackupAndRestore ---------------------------------------------------------------------------

class Interrupt(callbacks.Callback):
    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if epoch == self.epoch and self.batch is None:
            raise RuntimeError("interrupted")

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")


def run(backup_dir, interrupt=None, seed=0):
    model = make_model(seed)
    x, y = dataset()
    cbs = [callbacks.BackupAndRestore(backup_dir)] + ([interrupt] if interrupt else [])
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, validation_data=(x[:8], y[:8]),
                        callbacks=cbs)
    return model, history, cbs[0]


@pytest.mark.parametrize("where", [dict(epoch=2), dict(epoch=3, batch=1)], ids=["epoch", "mid-epoch"])
def test_interrupted_fit_resumes_with_identical_results(tmp_path, where):
    reference, ref_history, _ = run(tmp_path / "ref")
    assert not os.path.exists(tmp_path / "ref")  # deleted after a complete fit
    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        run(backup, Interrupt(**where))
    assert os.listdir(backup) == ["backup.keras"]
    # a fresh process: another seed, new model; the backup brings everything back
    model, history, cb = run(backup, seed=99)
    resumed = where["epoch"]
    assert cb.resumed_from_epoch == resumed
    assert history.epoch == list(range(resumed, 5))
    for key in ref_history.history:
        assert history.history[key] == ref_history.history[key][resumed:], key
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == reference.optimizer.iterations == 15
    assert not os.path.exists(backup / "backup.keras")


def test_backup_kept_when_asked_and_bad_backups(tmp_path):
    model = make_model()
    cb = callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)
    fit(model, [cb], epochs=2)
    path = tmp_path / "backup.keras"
    assert load_model(path).optimizer.iterations == 6
    fit(model, [cb], epochs=2)  # already done: resumes at epoch 2 of 2, trains nothing
    assert cb.resumed_from_epoch == 2 and model.optimizer.iterations == 6
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="backup.keras"):
        fit(model, [cb], epochs=3)
    with pytest.raises(ValueError, match="save_freq"):   # an integer save_freq is a batch count
        callbacks.BackupAndRestore(tmp_path, save_freq="batch")
    assert callbacks.BackupAndRestore.from_config(cb.get_config()).backup_dir == str(tmp_path)
