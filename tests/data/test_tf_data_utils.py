"""utils.timeseries_dataset_from_array, text_dataset_from_directory and split_dataset against
the windows, files and splits that Keras' documentation describes (worked out by hand)."""
import numpy as np
import pytest

import corenn as tf
from corenn.utils import split_dataset, text_dataset_from_directory, timeseries_dataset_from_array


def rows(ds):
    return [np.asarray(e).tolist() for e in ds.as_numpy_iterator()]


# -- timeseries_dataset_from_array -----------------------------------------------------------------

def test_timeseries_windows_as_keras_documents_them():
    # Keras' example: sequence_length=10, sampling_rate=2, sequence_stride=3 over indices 0..98
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2,
                                       sequence_stride=3, batch_size=None)
    windows = rows(ds)
    assert windows[0] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert windows[1] == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert windows[2] == [6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    assert windows[-1] == [78, 80, 82, 84, 86, 88, 90, 92, 94, 96]
    assert len(windows) == 27                                   # starts 0, 3, ..., 78


def test_timeseries_targets_and_batches():
    # Keras' example: forecast step t + 10 from steps t .. t + 9
    data = np.arange(100)
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=32)
    batches = list(ds)
    assert [len(b[0]) for b in batches] == [32, 32, 17]       # 81 windows
    inputs, targets = batches[0]
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert int(targets[0]) == 10
    np.testing.assert_array_equal(batches[-1][0][-1], data[80:90])
    assert int(batches[-1][1][-1]) == 90
    assert ds.element_spec[0].shape == (None, 10)


def test_timeseries_start_end_index_features_and_shuffle():
    data = np.arange(40, dtype=np.float32).reshape(20, 2)      # 20 steps of 2 features
    targets = np.arange(100, 120)
    ds = timeseries_dataset_from_array(data, targets, sequence_length=3, start_index=5, end_index=12,
                                       batch_size=None)
    got = list(ds.as_numpy_iterator())
    assert len(got) == 5                                        # windows start at 5 .. 9
    np.testing.assert_array_equal(got[0][0], data[5:8])
    assert [int(t) for _, t in got] == [105, 106, 107, 108, 109]
    def shuffled():
        return timeseries_dataset_from_array(data, targets, sequence_length=3, batch_size=4, shuffle=True, seed=3)
    plain = timeseries_dataset_from_array(data, targets, sequence_length=3, batch_size=4)
    first = [np.asarray(ts).tolist() for _, ts in shuffled()]
    assert sorted(sum(first, [])) == sorted(sum([np.asarray(ts).tolist() for _, ts in plain], [])) \
        == list(range(100, 118))
    assert first == [np.asarray(ts).tolist() for _, ts in shuffled()]       # the seed fixes the order
    assert first != [np.asarray(ts).tolist() for _, ts in plain]
    for xs, ts in shuffled():                                    # every window still has its target
        np.testing.assert_array_equal(np.asarray(xs)[:, 0, 0] / 2 + 100, np.asarray(ts))


def test_timeseries_bad_arguments():
    with pytest.raises(ValueError, match="sequence_length must be an integer >= 1"):
        timeseries_dataset_from_array(np.arange(10), None, sequence_length=0)
    with pytest.raises(ValueError, match="there is no window"):
        timeseries_dataset_from_array(np.arange(5), None, sequence_length=6)
    with pytest.raises(ValueError, match=r"end_index must be in \(0, 5\]"):
        timeseries_dataset_from_array(np.arange(5), None, sequence_length=2, end_index=9)


# -- text_dataset_from_directory -----------------------------------------------------------------

@pytest.fixture
def text_dir(tmp_path):
    files = {"neg/b.txt": "bad film", "neg/a.txt": "awful", "pos/x.txt": "great fun",
             "pos/deep/y.txt": "loved it", "pos/ignored.md": "not text", ".hidden/z.txt": "skip"}
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_text_dataset_reads_classes_from_folders_in_keras_order(text_dir, capsys):
    ds = text_dataset_from_directory(text_dir, batch_size=2, shuffle=False)
    assert "Found 4 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["neg", "pos"]
    batches = [(list(t), list(l)) for t, l in ds.as_numpy_iterator()]
    assert batches == [([b"awful", b"bad film"], [0, 0]), ([b"great fun", b"loved it"], [1, 1])]
    texts, labels = next(iter(ds))
    assert labels.dtype == np.int32 and texts.dtype == object
    one_hot = next(text_dataset_from_directory(text_dir, label_mode="categorical", shuffle=False,
                                               verbose=False).as_numpy_iterator())[1]
    np.testing.assert_array_equal(one_hot, [[1, 0], [1, 0], [0, 1], [0, 1]])
    binary = next(text_dataset_from_directory(text_dir, label_mode="binary", shuffle=False,
                                              verbose=False).as_numpy_iterator())[1]
    assert binary.dtype == np.float32 and binary.tolist() == [[0.0], [0.0], [1.0], [1.0]]
    short = next(text_dataset_from_directory(text_dir, max_length=3, shuffle=False, verbose=False,
                                             labels=None).as_numpy_iterator())
    # without labels the whole tree is read, hidden folders too (as Keras walks it)
    assert list(short) == [b"ski", b"awf", b"bad", b"gre", b"lov"]


def test_text_dataset_splits_without_overlap(text_dir):
    kw = dict(batch_size=None, validation_split=0.5, seed=7, verbose=False)
    train = text_dataset_from_directory(text_dir, subset="training", **kw)
    val = text_dataset_from_directory(text_dir, subset="validation", **kw)
    both = text_dataset_from_directory(text_dir, subset="both", **kw)
    t = sorted(x for x, _ in train.as_numpy_iterator())
    v = sorted(x for x, _ in val.as_numpy_iterator())
    assert len(t) == len(v) == 2 and sorted(t + v) == [b"awful", b"bad film", b"great fun", b"loved it"]
    assert sorted(x for x, _ in both[0].as_numpy_iterator()) == t
    assert sorted(x for x, _ in both[1].as_numpy_iterator()) == v
    with pytest.raises(ValueError, match="give a seed"):
        text_dataset_from_directory(text_dir, validation_split=0.5, subset="training", verbose=False)
    with pytest.raises(ValueError, match="label_mode='binary' needs exactly 2 classes"):
        (text_dir / "third").mkdir()
        (text_dir / "third" / "c.txt").write_text("meh")
        text_dataset_from_directory(text_dir, label_mode="binary", verbose=False)


def test_text_dataset_feeds_text_vectorization_and_fit(text_dir):
    ds = text_dataset_from_directory(text_dir, batch_size=2, shuffle=True, seed=1, verbose=False)
    vectorize = tf.layers.TextVectorization(max_tokens=20, output_mode="int", output_sequence_length=3)
    vectorize.adapt(ds.map(lambda text, label: text))
    assert "great" in vectorize.get_vocabulary()
    tokens = ds.map(lambda text, label: (vectorize(text), label))
    x, y = next(iter(tokens))
    assert x.shape == (2, 3) and x.dtype == np.int64
    model = tf.Sequential([tf.layers.Input(shape=(3,)), tf.layers.Embedding(20, 4),
                           tf.layers.GlobalAveragePooling1D(), tf.layers.Dense(1)])
    model.compile("adam", tf.losses.BinaryCrossentropy(from_logits=True))
    assert len(model.fit(tokens, epochs=2, verbose=0).history["loss"]) == 2


# -- split_dataset --------------------------------------------------------------------------------

def test_split_dataset_sizes_and_order():
    left, right = split_dataset(np.arange(10), left_size=0.8)
    assert rows(left) == list(range(8)) and rows(right) == [8, 9]
    assert int(left.cardinality()) == 8 and int(right.cardinality()) == 2
    left, right = split_dataset(np.arange(10), left_size=3, right_size=5)
    assert rows(left) == [0, 1, 2] and rows(right) == [5, 6, 7, 8, 9]     # the last right_size samples
    left, right = split_dataset((np.arange(6), np.arange(6) * 10), right_size=0.5)
    assert [tuple(int(v) for v in e) for e in left.as_numpy_iterator()] == [(0, 0), (1, 10), (2, 20)]


def test_split_dataset_shuffles_with_a_seed_and_keeps_batching():
    left, right = split_dataset(np.arange(20), left_size=0.75, shuffle=True, seed=4)
    a, b = rows(left), rows(right)
    assert sorted(a + b) == list(range(20)) and len(a) == 15 and a != list(range(15))
    again = split_dataset(np.arange(20), left_size=0.75, shuffle=True, seed=4)
    assert rows(again[0]) == a
    batched = tf.data.Dataset.from_tensor_slices((np.arange(10), np.arange(10))).batch(4)
    left, right = split_dataset(batched, left_size=6)
    assert [len(x) for x, _ in left] == [4, 2] and [np.asarray(x).tolist() for x, _ in right] == [[6, 7, 8, 9]]


def test_split_dataset_bad_sizes():
    with pytest.raises(ValueError, match="give left_size, right_size or both"):
        split_dataset(np.arange(10))
    with pytest.raises(ValueError, match=r"left_size \+ right_size = 12 is more than the 10 samples"):
        split_dataset(np.arange(10), left_size=6, right_size=6)
    with pytest.raises(ValueError, match=r"left_size as a fraction must be in \(0, 1\)"):
        split_dataset(np.arange(10), left_size=1.5)
    with pytest.raises(TypeError, match="split_dataset: dataset must be a Dataset"):
        split_dataset("abc", left_size=1)


# -- image_dataset_from_directory ------------------------------------------------------------------

def test_image_dataset_reads_resizes_and_labels_images(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="Pillow (with matplotlib, the 'plot' extra) decodes images")
    colours = {"cats": [(200, 10, 30), (90, 90, 90)], "dogs": [(0, 128, 255)]}
    for cls, cs in colours.items():
        (tmp_path / cls).mkdir()
        for i, c in enumerate(cs):
            Image.new("RGB", (6, 4), c).save(tmp_path / cls / f"{i}.png")   # width 6, height 4
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    ds = tf.utils.image_dataset_from_directory(tmp_path, image_size=(2, 3), batch_size=2, shuffle=False,
                                               verbose=False)
    assert ds.class_names == ["cats", "dogs"]
    batches = list(ds.as_numpy_iterator())
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.shape == (3, 2, 3, 3) and images.dtype == np.float32
    assert labels.tolist() == [0, 0, 1]
    # a one-colour image resized is the same colour everywhere
    for img, c in zip(images, colours["cats"] + colours["dogs"]):
        np.testing.assert_array_equal(img, np.broadcast_to(np.float32(c), (2, 3, 3)))
    gray = next(tf.utils.image_dataset_from_directory(tmp_path, image_size=(2, 3), color_mode="grayscale",
                                                      shuffle=False, verbose=False, labels=None).as_numpy_iterator())
    assert gray.shape == (3, 2, 3, 1)
    assert gray[1, 0, 0, 0] == 90.0                            # grey stays grey
    # nearest: a 2x2 checker to 4x4 repeats each pixel twice per axis, TF's half-pixel rule
    (tmp_path / "checker").mkdir()
    checker = np.array([[[0, 0, 0], [255, 255, 255]], [[255, 255, 255], [0, 0, 0]]], np.uint8)
    Image.fromarray(checker).save(tmp_path / "checker" / "c.png")
    big = next(tf.utils.image_dataset_from_directory(tmp_path / "checker", labels=None, image_size=(4, 4),
                                                     interpolation="nearest", shuffle=False,
                                                     verbose=False).as_numpy_iterator())
    np.testing.assert_array_equal(big[0, :, :, 0], [[0, 0, 255, 255], [0, 0, 255, 255],
                                                    [255, 255, 0, 0], [255, 255, 0, 0]])
