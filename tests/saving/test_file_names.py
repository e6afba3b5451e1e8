"""File names: model files end in .keras (corenn's zip) or .h5 (TF-Keras 2's HDF5 model file,
tests/interop/test_keras_h5_writer.py), weights files in .npz, .weights.h5 or .h5; other names are
refused, naming the formats that are supported, and nothing is written. A legacy `.h5` weights
name writes TF-Keras 2's weights file (tests/api/test_sweep27_api.py). Reading Keras' HDF5
files works (tests/interop/test_keras_files.py)."""
import os

import numpy as np
import pytest

import corenn
from corenn import callbacks, layers


def small_model():
    m = corenn.Sequential([layers.Input((3,)), layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    return m


@pytest.mark.parametrize("name", ["m.h5", "m.hdf5", "m.H5"])
def test_save_writes_hdf5_names_as_tf_keras_2_files(tmp_path, name):
    h5py = pytest.importorskip("h5py")
    small_model().save(tmp_path / name)
    assert os.listdir(tmp_path) == [name]
    with h5py.File(tmp_path / name, "r") as f:   # HDF5, never corenn's zip under an HDF5 name
        assert "model_config" in f.attrs and "model_weights" in f


# (a name without an extension is TF-Keras 2's SavedModel directory: corenn writes its model
# directory there, tests/api/test_sweep27_api.py)
@pytest.mark.parametrize("name", ["m.zip", "m.npz", "m.keras.bak"])
def test_save_needs_the_keras_extension(tmp_path, name):
    with pytest.raises(ValueError, match=r"must end in \.keras.*or \.h5"):
        small_model().save(tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_save_weights_refuses_other_names(tmp_path):
    model = small_model()
    # Keras 3's .weights.h5 is written (tests/interop/test_keras_weights_writer.py), and TF-Keras
    # 2's legacy .h5 (tests/api/test_sweep27_api.py)
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5.*\.h5 \(TF-Keras 2's legacy.*or \.npz"):
        model.save_weights(tmp_path / "w.keras")
    assert os.listdir(tmp_path) == []
    model.save_weights(tmp_path / "w.weights.npz")
    other = small_model()
    other.load_weights(tmp_path / "w.weights.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_weights_reads_hdf5_names_and_rejects_a_bad_one(tmp_path):
    """.h5 names are read as Keras files now (tests/interop); a file that is not HDF5 fails
    with a ValueError naming it, and the model is untouched."""
    pytest.importorskip("h5py")
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    model = small_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"w\.weights\.h5.*not a valid Keras HDF5"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_refuses_a_weights_name(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5 name is for weights alone"):
        small_model().save(tmp_path / "m.weights.h5")
    assert os.listdir(tmp_path) == []


def test_checkpoint_checks_its_name_up_front(tmp_path):
    with pytest.raises(ValueError, match=r"ModelCheckpoint.*\.keras"):
        callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.zip"))
    callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.h5"))   # TF-Keras 2's HDF5 model files
    with pytest.raises(ValueError, match=r"ModelCheckpoint.*\.npz"):
        callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.keras"), save_weights_only=True)
    callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.weights.npz"), save_weights_only=True)
    callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.h5"), save_weights_only=True)   # TF-Keras 2's


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        model = small_model()
        model.save(tmp_path / "m.keras")
        model.save_weights(tmp_path / "w.weights.npz")
    finally:
        os.umask(old)
    for name in ("m.keras", "w.weights.npz"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o666 & ~umask, name
