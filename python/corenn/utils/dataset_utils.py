"""Keras' dataset helpers over corenn.data.Dataset: timeseries_dataset_from_array,
text_dataset_from_directory, image_dataset_from_directory, audio_dataset_from_directory,
split_dataset (Keras 3's arguments, order and defaults). Images are decoded with Pillow
(installed with matplotlib, the ``plot`` extra; imported only when images are read) and resized
by the Resizing layer's kernel (TF's half-pixel rule, as Keras resizes them); WAV files with
``tf.audio.decode_wav``.

Where Keras draws a random seed (shuffling without ``seed=``), corenn draws it from its own
generator, so ``utils.set_random_seed`` makes the result reproducible.
"""
from __future__ import annotations

import numbers
import os
import random as _py_random

import numpy as np

__all__ = ["timeseries_dataset_from_array", "text_dataset_from_directory", "image_dataset_from_directory",
           "audio_dataset_from_directory", "split_dataset"]


def _draw_seed():
    from .random import get_generator
    return int(get_generator().integers(1_000_000))


def _count_arg(where, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# -- time series --------------------------------------------------------------------------------

def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Sliding windows over ``data`` (rows are time steps), as Keras: window i holds the rows
    start_index + p_i + k * sampling_rate for k < sequence_length, p_i = i * sequence_stride;
    its target is ``targets[start_index + p_i]`` (None: windows only). Batches of
    ``batch_size`` windows (None: single windows). ``shuffle`` draws the windows' order (a
    permutation from ``seed``, then a shuffle buffer of 8 batches, reshuffled every pass)."""
    from ..data import Dataset
    where = "timeseries_dataset_from_array"
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"{where}: data must have a time axis (its first), got a scalar")
    sequence_length = _count_arg(where, "sequence_length", sequence_length, 1)
    sequence_stride = _count_arg(where, "sequence_stride", sequence_stride, 1)
    sampling_rate = _count_arg(where, "sampling_rate", sampling_rate, 1)
    if batch_size is not None:
        batch_size = _count_arg(where, "batch_size", batch_size, 1)
    start = 0 if start_index is None else _count_arg(where, "start_index", start_index, 0)
    end = len(data) if end_index is None else _count_arg(where, "end_index", end_index, 0)
    if start >= len(data):
        raise ValueError(f"{where}: start_index must be lower than the length of data ({len(data)}), got {start}")
    if end > len(data) or end <= start:
        raise ValueError(f"{where}: end_index must be in ({start}, {len(data)}], got {end}")
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError(f"{where}: targets must have one row per time step, got a scalar")
        count = min(count, len(targets) - start)
    if count <= 0:
        raise ValueError(f"{where}: a window spans (sequence_length - 1) * sampling_rate + 1 = "
                         f"{(sequence_length - 1) * sampling_rate + 1} steps, more than the {end - start} "
                         "steps between start_index and end_index: there is no window")
    starts = np.arange(0, count, sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = _draw_seed()
        np.random.RandomState(seed).shuffle(starts)
    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate + start

    def windows(p):   # p: one start position, or a batch of them
        rows = np.asarray(p)[..., None] + offsets
        x = data[rows]
        return x if targets is None else (x, targets[np.asarray(p) + start])

    dataset = Dataset.from_tensor_slices(starts)
    # windows are gathered after batching the start positions: one fancy index per batch, the
    # same windows in the same order as gathering each window before batching
    if batch_size is not None:
        if shuffle:
            dataset = dataset.shuffle(batch_size * 8, seed=seed)
        return dataset.batch(batch_size).map(windows)
    if shuffle:
        dataset = dataset.shuffle(1024, seed=seed)
    return dataset.map(windows)


# -- text files ---------------------------------------------------------------------------------

def _check_split(where, validation_split, subset, shuffle, seed):
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"{where}: validation_split must be in (0, 1), got {validation_split}")
    if bool(validation_split) != bool(subset):
        raise ValueError(f"{where}: validation_split and subset go together: give both or neither")
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f"{where}: subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{where}: with validation_split and shuffle, give a seed, so that the training and "
                         "validation subsets (made by two calls) do not overlap")


def _index_directory(where, directory, labels, formats, class_names, shuffle, seed, follow_links):
    """(file paths, integer labels or None, class names) in Keras' order: class folders sorted
    (or as class_names lists them), files sorted by folder then name, then shuffled by seed."""
    if not os.path.isdir(directory):
        raise ValueError(f"{where}: {directory!r} is not a directory")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            missing = [c for c in class_names if c not in subdirs]
            if missing:
                raise ValueError(f"{where}: class_names {missing} name no subdirectory of {directory!r}; the "
                                 f"subdirectories are {subdirs}")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError(f"{where}: class_names goes with labels='inferred' only")
        subdirs = [""]
    paths, found = [], []
    for k, sub in enumerate(subdirs):
        top = os.path.join(directory, sub)
        for root, _, files in sorted(os.walk(top, followlinks=follow_links), key=lambda w: w[0]):
            for name in sorted(files):
                if name.lower().endswith(formats):
                    paths.append(os.path.join(root, name))
                    found.append(k)
    if labels == "inferred":
        labels, class_names = np.asarray(found, np.int32), subdirs
    elif labels is None:
        class_names = None
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(paths):
            raise ValueError(f"{where}: labels must give one label per file; found {len(paths)} files in "
                             f"{directory!r}, got {labels.shape[0] if labels.ndim else 0} labels")
        if labels.dtype.kind not in "iu":
            raise ValueError(f"{where}: labels must be integers, got dtype {labels.dtype}")
        labels = labels.astype(np.int32)
        class_names = [str(c) for c in sorted(set(labels.tolist()))]
    if shuffle:
        order = np.arange(len(paths))
        np.random.RandomState(seed).shuffle(order)
        paths = [paths[i] for i in order]
        labels = None if labels is None else labels[order]
    return paths, labels, class_names


def _encode_labels(where, labels, label_mode, num_classes):
    if label_mode == "int":
        return labels
    if label_mode == "categorical":
        out = np.zeros((len(labels), num_classes), np.float32)
        out[np.arange(len(labels)), labels] = 1.0
        return out
    if num_classes != 2:
        raise ValueError(f"{where}: label_mode='binary' needs exactly 2 classes, found {num_classes}")
    return labels.astype(np.float32)[:, None]


def _labelled_files(where, directory, exts, labels, label_mode, class_names, batch_size, shuffle,
                    seed, validation_split, subset, follow_links, verbose):
    """What text_ and audio_dataset_from_directory share: their arguments checked, the files with
    extensions ``exts`` found and labelled (``_index_directory``), the labels encoded for
    ``label_mode``. Returns (paths, encoded labels or None, class_names, batch_size, seed)."""
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError(f"{where}: labels must be 'inferred', None, or a list of integer labels, got {labels!r}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"{where}: label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if labels is None:
        label_mode = None
    if batch_size is not None:
        batch_size = _count_arg(where, "batch_size", batch_size, 1)
    _check_split(where, validation_split, subset, shuffle, seed)
    if shuffle and seed is None:
        seed = _draw_seed()
    paths, int_labels, class_names = _index_directory(where, directory, labels, exts, class_names,
                                                      shuffle, seed, follow_links)
    if not paths:
        raise ValueError(f"{where}: no {'/'.join(exts)} files found in {directory!r}")
    if verbose:
        print(f"Found {len(paths)} files" + ("." if int_labels is None else
                                             f" belonging to {len(class_names)} classes."))
    encoded = None if label_mode is None else _encode_labels(where, int_labels, label_mode, len(class_names))
    return paths, encoded, class_names, batch_size, seed


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                batch_size=32, max_length=None, shuffle=True, seed=None, validation_split=None,
                                subset=None, follow_links=False, verbose=True):
    """A Dataset of (texts, labels) batches from the ``.txt`` files under ``directory``: one
    subdirectory per class (``labels='inferred'``; class i is the i-th name sorted), or
    ``labels`` a list (one integer per file, files in sorted order), or None (texts only).
    Texts are bytes (as tf.data's strings), truncated to ``max_length`` bytes; label_mode 'int'
    (int32), 'categorical' (one-hot float32), 'binary' (float32 (n, 1)) or None. The result has
    ``class_names``. ``subset='both'`` returns [training, validation]."""
    where = "text_dataset_from_directory"
    if max_length is not None:
        max_length = _count_arg(where, "max_length", max_length, 1)
    paths, encoded, class_names, batch_size, seed = _labelled_files(
        where, directory, (".txt",), labels, label_mode, class_names, batch_size, shuffle, seed,
        validation_split, subset, follow_links, verbose)

    def read(path, *label):
        with open(path.item() if isinstance(path, np.ndarray) else path, "rb") as f:
            text = f.read() if max_length is None else f.read(max_length)
        text = np.asarray(text, dtype=object)
        return (text,) + label if label else text

    return _file_datasets(where, paths, encoded, class_names, read, batch_size, shuffle, seed,
                          validation_split, subset, verbose)


# -- audio files --------------------------------------------------------------------------------

def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, verbose=True):
    """A Dataset of (audio, labels) batches from the 16-bit PCM ``.wav`` files under
    ``directory``, found and labelled as ``text_dataset_from_directory`` does. Each clip is
    float32 (samples, channels) in [-1, 1) (``tf.audio.decode_wav``); ``output_sequence_length``
    cuts or zero-pads every clip to that many samples, otherwise a batch is zero-padded to its
    longest clip (``ragged=True``: a RaggedTensor batch instead). ``sampling_rate`` is checked
    against the files' rate: corenn does not resample (Keras needs tensorflow-io for that). The
    result has ``class_names`` and ``file_paths``; ``subset='both'`` gives [training, validation]."""
    from .. import audio
    where = "audio_dataset_from_directory"
    if ragged and output_sequence_length is not None:
        raise ValueError(f"{where}: cannot set both ragged=True and output_sequence_length")
    if output_sequence_length is not None:
        output_sequence_length = _count_arg(where, "output_sequence_length", output_sequence_length, 1)
    if sampling_rate is not None:
        sampling_rate = _count_arg(where, "sampling_rate", sampling_rate, 1)
    paths, encoded, class_names, batch_size, seed = _labelled_files(
        where, directory, (".wav",), labels, label_mode, class_names, batch_size, shuffle, seed,
        validation_split, subset, follow_links, verbose)

    def load(path, *label):
        name = path.item() if isinstance(path, np.ndarray) else path
        with open(name, "rb") as f:
            decoded = audio.decode_wav(f.read())
        rate = int(np.asarray(decoded.sample_rate))
        if sampling_rate is not None and rate != sampling_rate:
            raise ValueError(f"{where}: {name!r} is sampled at {rate} Hz, not sampling_rate={sampling_rate}; "
                             f"corenn does not resample audio")
        clip = np.asarray(decoded.audio)
        if output_sequence_length is not None:
            clip = clip[:output_sequence_length]
            if len(clip) < output_sequence_length:
                clip = np.concatenate([clip, np.zeros((output_sequence_length - len(clip), clip.shape[1]),
                                                      np.float32)])
        return (clip,) + label if label else clip

    batching = "ragged" if ragged else "fixed" if output_sequence_length is not None else "padded"
    return _file_datasets(where, paths, encoded, class_names, load, batch_size, shuffle, seed,
                          validation_split, subset, verbose, batching=batching)


# -- image files --------------------------------------------------------------------------------

_IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}


def _pil_image():
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError("image_dataset_from_directory decodes images with Pillow: pip install pillow "
                          '(it comes with matplotlib, pip install "corenn[plot]")') from exc
    return Image


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    """A Dataset of (images, labels) batches from the image files (bmp, gif, jpeg, png) under
    ``directory``, found and labelled as ``text_dataset_from_directory`` does; images are
    float32 (n, height, width, channels) (``color_mode`` 'grayscale', 'rgb', 'rgba') resized to
    ``image_size`` ('bilinear' or 'nearest'; ``crop_to_aspect_ratio`` resizes the largest
    centred crop of that aspect ratio). The result has ``class_names`` and ``file_paths``."""
    from .. import layers
    where = "image_dataset_from_directory"
    if color_mode not in _CHANNELS:
        raise ValueError(f"{where}: color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"{where}: label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if pad_to_aspect_ratio:
        raise ValueError(f"{where}: pad_to_aspect_ratio is not supported; use crop_to_aspect_ratio or resize")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: corenn images are channels_last, got data_format={data_format!r}")
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise ValueError(f"{where}: image_size must be (height, width), got {image_size!r}")
    height, width = (_count_arg(where, "image_size", v, 1) for v in image_size)
    if labels is None:
        label_mode = None
    if batch_size is not None:
        batch_size = _count_arg(where, "batch_size", batch_size, 1)
    _check_split(where, validation_split, subset, shuffle, seed)
    if shuffle and seed is None:
        seed = _draw_seed()
    paths, int_labels, class_names = _index_directory(where, directory, labels, _IMAGE_FORMATS, class_names,
                                                      shuffle, seed, follow_links)
    if not paths:
        raise ValueError(f"{where}: no image files ({', '.join(_IMAGE_FORMATS)}) found in {directory!r}")
    if verbose:
        print(f"Found {len(paths)} files" + ("." if int_labels is None else
                                             f" belonging to {len(class_names)} classes."))
    encoded = None if label_mode is None else _encode_labels(where, int_labels, label_mode, len(class_names))
    mode, _ = _CHANNELS[color_mode]
    resize = layers.Resizing(height, width, interpolation=interpolation, crop_to_aspect_ratio=crop_to_aspect_ratio)
    image_module = _pil_image()

    def load(path, *label):
        name = path.item() if isinstance(path, np.ndarray) else path
        try:
            with image_module.open(name) as img:
                pixels = np.asarray(img.convert(mode), dtype=np.float32)
        except OSError as exc:
            raise ValueError(f"{where}: cannot decode {name!r} as an image ({exc})") from None
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        image = np.array(resize(pixels[None]))[0]
        return (image,) + label if label else image

    return _file_datasets(where, paths, encoded, class_names, load, batch_size, shuffle, seed,
                          validation_split, subset, verbose)


def _file_datasets(where, paths, encoded, class_names, decode, batch_size, shuffle, seed,
                   validation_split, subset, verbose, batching="fixed"):
    """The Dataset(s) of the *_dataset_from_directory utilities: file paths (and encoded labels),
    shuffled by path, decoded by ``decode`` as they are read, batched; split off the last
    ``validation_split`` of the files as Keras does."""
    from ..data import Dataset

    def make(lo, hi, name):
        files = np.asarray(paths[lo:hi], dtype=object)
        if verbose and name:
            print(f"Using {hi - lo} files for {name}.")
        ds = Dataset.from_tensor_slices(files if encoded is None else (files, encoded[lo:hi]))
        if shuffle:
            ds = ds.shuffle(batch_size * 8 if batch_size else 1024, seed=seed)
        ds = ds.map(decode)
        if batch_size is not None:
            # clips of different lengths: padded to the batch's longest, or ragged rows
            ds = (ds.padded_batch(batch_size) if batching == "padded" else
                  ds.ragged_batch(batch_size) if batching == "ragged" else ds.batch(batch_size))
        ds.class_names = class_names
        ds.file_paths = list(paths[lo:hi])
        return ds

    n = len(paths)
    if not validation_split:
        return make(0, n, None)
    n_val = int(validation_split * n)
    if n_val == 0 or n_val == n:
        raise ValueError(f"{where}: validation_split={validation_split} of {n} files leaves an empty subset")
    if subset == "training":
        return make(0, n - n_val, "training")
    if subset == "validation":
        return make(n - n_val, n, "validation")
    return [make(0, n - n_val, "training"), make(n - n_val, n, "validation")]


# -- splitting ----------------------------------------------------------------------------------

def _split_sizes(where, left, right, total):
    for name, v in (("left_size", left), ("right_size", right)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (numbers.Integral, numbers.Real)):
            raise TypeError(f"{where}: {name} must be an int, a float or None, got {type(v).__name__}")
        if isinstance(v, numbers.Integral) and not 0 < v < total:
            raise ValueError(f"{where}: {name} as a count must be in (0, {total}), got {v}")
        if not isinstance(v, numbers.Integral) and not 0 < v < 1:
            raise ValueError(f"{where}: {name} as a fraction must be in (0, 1), got {v}")
    if left is None and right is None:
        raise ValueError(f"{where}: give left_size, right_size or both")

    def count(v):
        return None if v is None else int(v) if isinstance(v, numbers.Integral) else round(v * total)
    left, right = count(left), count(right)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"{where}: left_size + right_size = {left + right} is more than the {total} samples")
    if left == 0 or right == 0:
        raise ValueError(f"{where}: with {total} samples these sizes leave an empty split (left {left}, "
                         f"right {right})")
    return left, right


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Two Datasets (left, right) from ``dataset``: an array, a tuple / list of arrays with the
    same number of rows, or a Dataset (a batched one is split by samples, and both halves are
    batched again by its batch size). Sizes are counts (int) or fractions (float, rounded); the
    left part is the first ``left_size`` samples, the right part the last ``right_size``
    (after a shuffle with ``seed`` when ``shuffle``)."""
    from ..data import Dataset
    from ..data import _structure as st
    where = "split_dataset"
    batch = None
    if isinstance(dataset, Dataset):
        if dataset._batched:
            batch = _batch_size_of(dataset)
            samples = list(dataset.unbatch()._elements())
        else:
            samples = list(dataset._elements())
        if not samples:
            raise ValueError(f"{where}: the dataset is empty")
        structure = samples[0]
        columns = st.pack_as(structure, [np.stack(c) for c in zip(*(st.flatten(s) for s in samples))])
        total = len(samples)
    elif isinstance(dataset, (np.ndarray, list, tuple)):
        columns = np.asarray(dataset) if isinstance(dataset, np.ndarray) else tuple(np.asarray(a) for a in dataset)
        leaves = [columns] if isinstance(columns, np.ndarray) else list(columns)
        if not leaves or any(a.ndim == 0 for a in leaves):
            raise ValueError(f"{where}: the arrays must have a first (sample) axis")
        lengths = {len(a) for a in leaves}
        if len(lengths) != 1:
            raise ValueError(f"{where}: the arrays have different numbers of samples: "
                             f"{[len(a) for a in leaves]}")
        total = lengths.pop()
        if total == 0:
            raise ValueError(f"{where}: the dataset is empty")
    else:
        raise TypeError(f"{where}: dataset must be a Dataset, an array, or a tuple/list of arrays, "
                        f"got {type(dataset).__name__}")
    left, right = _split_sizes(where, left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        _py_random.Random(_draw_seed() if seed is None else seed).shuffle(order)
    order = np.asarray(order, np.int64)
    parts = []
    for idx in (order[:left], order[total - right:]):
        ds = Dataset.from_tensor_slices(st.map_structure(lambda a: a[idx], columns)
                                        if not isinstance(columns, np.ndarray) else columns[idx])
        parts.append(ds if batch is None else ds.batch(batch))
    return parts[0], parts[1]


def _batch_size_of(dataset):
    """The batch size a batched pipeline was made with (the first batch's size otherwise)."""
    from ..data.dataset import _Batch, _Unary
    d = dataset
    while isinstance(d, _Unary):
        if isinstance(d, _Batch):
            return d._size
        d = d._input
    first = next(iter(dataset._elements()), None)
    return None if first is None else len(_first_leaf(first))


def _first_leaf(element):
    from ..data import _structure as st
    return st.flatten(element)[0]
