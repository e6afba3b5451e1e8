"""Keras 3's ``model.save(path, zipped=False)``: the .keras members written as files of a
directory, which ``load_model(path)`` reads back (weights, compile config, optimizer state)."""
import os

import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers


def trained(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    return model, x


def test_save_unzipped_and_load_the_directory(tmp_path):
    model, x = trained(tmp_path)
    path = tmp_path / "model_dir"
    model.save(path, zipped=False)
    assert os.path.isdir(path) and {"metadata.json", "config.json", "weights"} <= set(os.listdir(path))
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    np.testing.assert_allclose(loaded.evaluate(x, x[:, :1], verbose=0), model.evaluate(x, x[:, :1], verbose=0),
                               rtol=1e-6)
    # saving again replaces the model directory (keras.saving.save_model takes zipped too)
    model.fit(x, x[:, :1], verbose=0)
    keras.saving.save_model(model, path, zipped=False)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_unzipped_save_refusals(tmp_path):
    model, _ = trained(tmp_path)
    with pytest.raises(ValueError, match="must not end in .keras"):
        model.save(tmp_path / "m.keras", zipped=False)
    other = tmp_path / "not_a_model"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a model directory"):
        model.save(other, zipped=False)
    assert (other / "notes.txt").read_text() == "keep me"
    model.save(tmp_path / "d", zipped=False)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "d", zipped=False, overwrite=False)
    # a user's file put into a model directory is not deleted by the next save
    (tmp_path / "d" / "results.csv").write_text("epoch,loss")
    with pytest.raises(FileExistsError, match="results.csv"):
        model.save(tmp_path / "d", zipped=False)
    assert (tmp_path / "d" / "results.csv").read_text() == "epoch,loss"
    assert (tmp_path / "d" / "metadata.json").is_file()   # the earlier save is still there, whole


def test_a_model_directory_with_a_link_is_refused(tmp_path):
    model, _ = trained(tmp_path)
    path = tmp_path / "d"
    model.save(path, zipped=False)
    (tmp_path / "outside.txt").write_text("x")
    os.symlink(tmp_path / "outside.txt", path / "extra.json")
    with pytest.raises(ValueError, match="not a regular file"):
        keras.models.load_model(path)
