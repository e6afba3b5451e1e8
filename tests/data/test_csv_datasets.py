"""tf.data.experimental.make_csv_dataset / CsvDataset against the rows written with Python's
csv module: type inference, defaults for empty fields, label and column selection, epochs,
shuffling, and the errors that name file and line."""
import csv

import numpy as np
import pytest

import corenn as tf

ROWS = [["id", "name", "score", "big"],
        [1, "ann", 0.5, 3000000000], [2, "bob", "", 1], [3, "cy, jr", 2.25, 2], [4, "dee", 1.0, 3]]


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "data.csv"
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(ROWS)
    return str(p)


def test_inferred_types_defaults_and_order(path):
    # "big" does not fit the int32 its default 0 asks for (the file is read when the dataset is made)
    with pytest.raises(ValueError, match=r"data.csv:2: '3000000000' does not fit int32"):
        tf.data.experimental.make_csv_dataset(path, batch_size=4, num_epochs=1, shuffle=False,
                                              column_defaults=[0, "", 0.0, 0])
    ds = tf.data.experimental.make_csv_dataset(path, batch_size=4, num_epochs=1, shuffle=False,
                                               column_defaults=[0, "", -1.0, tf.int64], label_name="id")
    (features, label), = list(ds)
    assert list(features) == ["name", "score", "big"]
    np.testing.assert_array_equal(np.asarray(label), [1, 2, 3, 4])
    assert list(np.asarray(features["name"])) == ["ann", "bob", "cy, jr", "dee"]
    np.testing.assert_array_equal(np.asarray(features["score"]), np.float32([0.5, -1.0, 2.25, 1.0]))
    assert features["big"].dtype == np.int64 and int(features["big"][0]) == 3000000000


def test_inference_without_defaults(path, tmp_path):
    full = tmp_path / "full.csv"
    with open(full, "w", newline="") as f:
        csv.writer(f).writerows([r for r in ROWS if "" not in r])
    ds = tf.data.experimental.make_csv_dataset(str(full), batch_size=8, num_epochs=1, shuffle=False,
                                               select_columns=["score", "big", "name"])
    batch, = list(ds)
    assert list(batch) == ["name", "score", "big"]   # the file's order, as TensorFlow
    assert batch["score"].dtype == np.float32 and batch["big"].dtype == np.int64
    with pytest.raises(ValueError, match=r"data.csv:3: column 'score' is empty and has no default"):
        tf.data.experimental.make_csv_dataset(path, batch_size=2)
    skipped = tf.data.experimental.make_csv_dataset(path, batch_size=8, num_epochs=1, shuffle=False,
                                                    ignore_errors=True)
    assert len(np.asarray(next(iter(skipped))["id"])) == 3


def test_epochs_shuffle_and_repeat(path):
    ds = tf.data.experimental.make_csv_dataset(path, batch_size=3, num_epochs=2, shuffle=True, shuffle_seed=1,
                                               column_defaults=[0, "", 0.0, tf.int64])
    ids = np.concatenate([np.asarray(b["id"]) for b in ds])
    assert sorted(ids.tolist()) == [1, 1, 2, 2, 3, 3, 4, 4]
    forever = tf.data.experimental.make_csv_dataset(path, batch_size=3, column_defaults=[0, "", 0.0, tf.int64])
    batches = list(forever.take(5))   # num_epochs=None repeats; full batches only
    assert all(len(np.asarray(b["id"])) == 3 for b in batches)


def test_csv_dataset_records(path):
    ds = tf.data.experimental.CsvDataset(path, record_defaults=[tf.int32, tf.string, [9.0], tf.int64], header=True)
    rows = [tuple(np.asarray(v).item() for v in r) for r in ds]
    assert rows[1] == (2, "bob", 9.0, 1) and rows[2][1] == "cy, jr"
    only = tf.data.experimental.CsvDataset(path, record_defaults=[tf.string], header=True, select_cols=[1])
    assert [np.asarray(r[0]).item() for r in only] == ["ann", "bob", "cy, jr", "dee"]
    with pytest.raises(ValueError, match="2 record_defaults for 4 selected columns"):
        tf.data.experimental.CsvDataset(path, record_defaults=[tf.int32, tf.string], header=True)
    with pytest.raises(ValueError, match="no CSV file matches"):
        tf.data.experimental.CsvDataset("/nonexistent/*.csv", record_defaults=[tf.int32])
