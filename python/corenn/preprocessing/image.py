"""``keras.preprocessing.image``: tf.keras 2's ImageDataGenerator, which many tutorials still
feed ``fit`` with (``datagen.flow(x, y)``, ``datagen.flow_from_directory(path)``).

Per image, in this order (as tf.keras 2 does it):
    random transform   one affine map from rotation_range (degrees), width/height_shift_range
                       (a fraction of the size when < 1, else pixels), shear_range (degrees),
                       zoom_range ([1 - z, 1 + z] or a pair), about the image centre; pixels
                       outside are filled by fill_mode ('nearest', 'constant' with cval,
                       'reflect', 'wrap'), bilinear sampling; then channel_shift_range,
                       brightness_range, horizontal / vertical flips
    standardize        preprocessing_function, rescale, samplewise / featurewise centring and
                       std normalisation (``fit(x)`` computes the featurewise statistics)
The warp runs on corenn's C++ image_transform kernel (ops.image.affine_transform's), one batch
per call. The iterators are keras.utils.Sequence objects (len, indexing, on_epoch_end), and
``next(iterator)`` loops over the batches forever, as Keras' do. ZCA whitening is not supported
(it raises); images are channels-last.

Reference: tf.keras.preprocessing.image (Keras 2.x).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..utils.data import array_to_img, img_to_array, load_img, save_img
from ..utils.py_dataset import Sequence

__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator", "load_img",
           "img_to_array", "array_to_img", "save_img"]

_FILL_MODES = ("nearest", "constant", "reflect", "wrap")
_CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".gif")


def _range(value, name, owner="ImageDataGenerator"):
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
        return float(value)
    raise ValueError(f"{owner}: {name} must be a number, got {value!r}")


class ImageDataGenerator:
    """Batches of randomly transformed, standardized images (see the module docstring)."""

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        if zca_whitening:
            raise NotImplementedError("ImageDataGenerator: zca_whitening is not supported")
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("ImageDataGenerator: only channels_last images are supported")
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"ImageDataGenerator: validation_split must be in [0, 1), got {validation_split!r}")
        self.featurewise_center, self.samplewise_center = bool(featurewise_center), bool(samplewise_center)
        self.featurewise_std_normalization = bool(featurewise_std_normalization)
        self.samplewise_std_normalization = bool(samplewise_std_normalization)
        self.rotation_range = _range(rotation_range, "rotation_range")
        self.width_shift_range = _range(width_shift_range, "width_shift_range")
        self.height_shift_range = _range(height_shift_range, "height_shift_range")
        self.shear_range = _range(shear_range, "shear_range")
        self.channel_shift_range = _range(channel_shift_range, "channel_shift_range")
        if isinstance(zoom_range, (list, tuple)):
            if len(zoom_range) != 2:
                raise ValueError(f"ImageDataGenerator: zoom_range must be a number or a pair, got {zoom_range!r}")
            self.zoom_range = (float(zoom_range[0]), float(zoom_range[1]))
        else:
            z = _range(zoom_range, "zoom_range")
            self.zoom_range = (1.0 - z, 1.0 + z)
        if brightness_range is not None and (not isinstance(brightness_range, (list, tuple)) or len(brightness_range) != 2):
            raise ValueError(f"ImageDataGenerator: brightness_range must be None or a pair, got {brightness_range!r}")
        self.brightness_range = None if brightness_range is None else tuple(float(b) for b in brightness_range)
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.validation_split = float(validation_split)
        self.dtype = dtype or "float32"
        self.mean = self.std = None

    # -- statistics and standardization ------------------------------------------------------------

    def fit(self, x, augment=False, rounds=1, seed=None):
        """The featurewise mean and std (per channel) of ``x`` (N, H, W, C), for the featurewise
        options. ``augment`` computes them over ``rounds`` randomly transformed copies."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: x must be (samples, height, width, channels), got {x.shape}")
        if augment:
            rng = np.random.default_rng(seed)
            x = np.concatenate([self._transform_batch(x, rng) for _ in range(rounds)])
        self.mean = x.mean(axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)
        self.std = x.std(axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)

    def standardize(self, x):
        """preprocessing_function, rescale, then the centring / normalisation options, on one image
        or a batch (the last axis is the channels)."""
        if self.preprocessing_function is not None:
            x = self.preprocessing_function(x)
        x = np.asarray(x, dtype=self.dtype)
        if self.rescale:
            x = x * np.asarray(self.rescale, self.dtype)
        sample_axes = tuple(range(x.ndim - 3, x.ndim)) if x.ndim >= 3 else None
        if self.samplewise_center:
            x = x - x.mean(axis=sample_axes, keepdims=True)
        if self.samplewise_std_normalization:
            x = x / (x.std(axis=sample_axes, keepdims=True) + 1e-6)
        if self.featurewise_center or self.featurewise_std_normalization:
            if self.mean is None:
                raise ValueError("ImageDataGenerator: featurewise_center / featurewise_std_normalization need "
                                 "fit(x) on the training images first")
            if self.featurewise_center:
                x = x - self.mean
            if self.featurewise_std_normalization:
                x = x / (self.std + 1e-6)
        return x

    # -- random transforms -------------------------------------------------------------------------

    def get_random_transform(self, img_shape, seed=None, rng=None):
        """The parameters of one random transform (a dict, as Keras'): theta, tx, ty, shear, zx, zy,
        flip_horizontal, flip_vertical, channel_shift_intensity, brightness."""
        rng = rng if rng is not None else np.random.default_rng(seed)
        h, w = int(img_shape[0]), int(img_shape[1])
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0.0
        tx = ty = 0.0
        if self.height_shift_range:
            tx = rng.uniform(-self.height_shift_range, self.height_shift_range)
            tx = tx * h if self.height_shift_range < 1 else tx
        if self.width_shift_range:
            ty = rng.uniform(-self.width_shift_range, self.width_shift_range)
            ty = ty * w if self.width_shift_range < 1 else ty
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0.0
        zx, zy = (1.0, 1.0) if self.zoom_range == (1.0, 1.0) else rng.uniform(*self.zoom_range, 2)
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": float(zx), "zy": float(zy),
                "flip_horizontal": bool(self.horizontal_flip and rng.random() < 0.5),
                "flip_vertical": bool(self.vertical_flip and rng.random() < 0.5),
                "channel_shift_intensity": rng.uniform(-self.channel_shift_range, self.channel_shift_range)
                if self.channel_shift_range else None,
                "brightness": rng.uniform(*self.brightness_range) if self.brightness_range else None}

    @staticmethod
    def _matrix(params, h, w):
        """The (8,) projective map of image_transform_forward for Keras' affine parameters: the
        rotation, shift, shear and zoom matrices (row, col coordinates) composed in Keras'
        order, about the centre, then written for (col, row) coordinates."""
        theta, shear = np.deg2rad(params["theta"]), np.deg2rad(params["shear"])
        m = np.eye(3)
        if theta:
            m = m @ np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
        if params["tx"] or params["ty"]:
            m = m @ np.array([[1, 0, params["tx"]], [0, 1, params["ty"]], [0, 0, 1]])
        if shear:
            m = m @ np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
        if params["zx"] != 1 or params["zy"] != 1:
            m = m @ np.array([[params["zx"], 0, 0], [0, params["zy"], 0], [0, 0, 1]])
        oy, ox = h / 2.0 - 0.5, w / 2.0 - 0.5
        offset = np.array([[1, 0, oy], [0, 1, ox], [0, 0, 1]])
        reset = np.array([[1, 0, -oy], [0, 1, -ox], [0, 0, 1]])
        m = offset @ m @ reset    # input (row, col, 1) = m @ output (row, col, 1)
        return np.array([m[1, 1], m[1, 0], m[1, 2], m[0, 1], m[0, 0], m[0, 2], 0.0, 0.0], np.float32)

    def apply_transform(self, x, params):
        """One image (H, W, C) transformed by ``params`` (get_random_transform's dict)."""
        return self._apply(np.asarray(x, self.dtype)[None], [params])[0]

    def random_transform(self, x, seed=None):
        """One image (H, W, C) with a random transform applied."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed=seed))

    def _apply(self, batch, params):
        from .. import kernels
        batch = np.array(batch, np.float32)   # a copy: the caller's images are never written
        n, h, w, _ = batch.shape
        mats = np.stack([self._matrix(p, h, w) for p in params])
        identity = np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32)
        if not np.allclose(mats, identity):
            batch = np.asarray(kernels.image_transform_forward(batch, mats, interpolation="bilinear",
                                                               fill_mode=self.fill_mode, fill_value=self.cval))
        for i, p in enumerate(params):
            img = batch[i]
            if p["channel_shift_intensity"] is not None:
                lo, hi = img.min(), img.max()
                img = np.clip(img + p["channel_shift_intensity"], lo, hi)
            if p["brightness"] is not None:
                img = img * np.float32(p["brightness"])
            if p["flip_horizontal"]:
                img = img[:, ::-1]
            if p["flip_vertical"]:
                img = img[::-1]
            batch[i] = img.copy()
        return batch.astype(self.dtype, copy=False)

    def _transform_batch(self, batch, rng):
        return self._apply(batch, [self.get_random_transform(batch.shape[1:], rng=rng) for _ in range(len(batch))])

    # -- iterators ---------------------------------------------------------------------------------

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """An iterator over (x, y) (or x, or (x, y, sample_weight)) batches of transformed images."""
        if save_to_dir is not None:
            raise NotImplementedError("ImageDataGenerator.flow: save_to_dir is not supported")
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, subset=subset)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """An iterator over the images of ``directory``'s class subdirectories (sorted names, or
        ``classes``), loaded at ``target_size``, labelled as ``class_mode`` says."""
        if save_to_dir is not None:
            raise NotImplementedError("ImageDataGenerator.flow_from_directory: save_to_dir is not supported")
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio)


class Iterator(Sequence):
    """Batches of ``n`` samples by index; shuffled each epoch when ``shuffle``; ``next()`` loops."""

    def __init__(self, n, batch_size, shuffle, seed):
        super().__init__()
        if n <= 0:
            raise ValueError(f"{type(self).__name__}: no samples")
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive int, got {batch_size!r}")
        self.n, self.batch_size, self.shuffle, self.seed = n, int(batch_size), bool(shuffle), seed
        self._rng = np.random.default_rng(seed)
        self.total_batches_seen = 0
        self.batch_index = 0
        self._set_index_array()

    def _set_index_array(self):
        self.index_array = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise IndexError(f"{type(self).__name__}: batch {idx} of {len(self)}")
        return self._batch(self.index_array[idx * self.batch_size:(idx + 1) * self.batch_size])

    def on_epoch_end(self):
        self._set_index_array()

    def reset(self):
        self.batch_index = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.batch_index >= len(self):
            self.batch_index = 0
            self.on_epoch_end()
        batch = self[self.batch_index]
        self.batch_index += 1
        self.total_batches_seen += 1
        return batch

    next = __next__

    def _batch(self, indices):  # pragma: no cover - abstract
        raise NotImplementedError


class NumpyArrayIterator(Iterator):
    """``ImageDataGenerator.flow``'s iterator over arrays (validation_split: the first part is
    the validation subset, as Keras)."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 subset=None):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"NumpyArrayIterator: x must be (samples, height, width, channels), got {x.shape}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"NumpyArrayIterator: x and y have different lengths ({len(x)} and {len(y)})")
        if sample_weight is not None and len(sample_weight) != len(x):
            raise ValueError("NumpyArrayIterator: sample_weight must have one value per image")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"NumpyArrayIterator: subset must be 'training' or 'validation', got {subset!r}")
            split = int(len(x) * image_data_generator.validation_split)
            part = slice(0, split) if subset == "validation" else slice(split, None)
            x = x[part]
            y = None if y is None else np.asarray(y)[part]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[part]
        self.x, self.y = x, None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        super().__init__(len(x), batch_size, shuffle, seed)

    def _batch(self, indices):
        gen = self.image_data_generator
        xb = gen._transform_batch(np.asarray(self.x[indices], gen.dtype), self._rng)
        xb = gen.standardize(xb)
        if self.y is None:
            return xb
        if self.sample_weight is None:
            return xb, self.y[indices]
        return xb, self.y[indices], self.sample_weight[indices]


class DirectoryIterator(Iterator):
    """``ImageDataGenerator.flow_from_directory``'s iterator: ``classes`` (the sorted
    subdirectory names by default), ``class_indices`` {name: index}, ``filenames`` (relative),
    ``classes`` per file as ``labels``, ``samples``."""

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, follow_links=False, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, dtype=None):
        if class_mode not in _CLASS_MODES:
            raise ValueError(f"DirectoryIterator: class_mode must be one of {_CLASS_MODES}, got {class_mode!r}")
        if color_mode not in ("rgb", "rgba", "grayscale"):
            raise ValueError(f"DirectoryIterator: color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}")
        if not os.path.isdir(directory):
            raise ValueError(f"DirectoryIterator: {directory!r} is not a directory")
        self.directory, self.target_size = directory, tuple(int(v) for v in target_size)
        self.color_mode, self.class_mode = color_mode, class_mode
        self.interpolation, self.keep_aspect_ratio = interpolation, keep_aspect_ratio
        self.image_data_generator = image_data_generator
        names = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d))) \
            if classes is None else list(classes)
        self.class_indices = {name: i for i, name in enumerate(names)}
        self.num_classes = len(names)
        split = image_data_generator.validation_split
        filenames, labels = [], []
        for name in names:
            root = os.path.join(directory, name)
            files = []
            for dirpath, _, fnames in sorted(os.walk(root, followlinks=follow_links)):
                files += [os.path.relpath(os.path.join(dirpath, f), directory) for f in sorted(fnames)
                          if f.lower().endswith(_IMAGE_EXTENSIONS)]
            if subset is not None:
                if subset not in ("training", "validation"):
                    raise ValueError(f"DirectoryIterator: subset must be 'training' or 'validation', got {subset!r}")
                cut = int(math.ceil(split * len(files))) if split else 0
                files = files[:cut] if subset == "validation" else files[cut:]
            filenames += files
            labels += [self.class_indices[name]] * len(files)
        self.filenames, self.labels = filenames, np.asarray(labels, np.int32)
        self.classes = self.labels
        self.samples = len(filenames)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        return [os.path.join(self.directory, f) for f in self.filenames]

    def _batch(self, indices):
        gen = self.image_data_generator
        imgs = []
        for i in indices:
            img = load_img(os.path.join(self.directory, self.filenames[i]), color_mode=self.color_mode,
                           target_size=self.target_size, interpolation=self.interpolation,
                           keep_aspect_ratio=self.keep_aspect_ratio)
            imgs.append(img_to_array(img, dtype=gen.dtype))
            if hasattr(img, "close"):
                img.close()
        xb = gen.standardize(gen._transform_batch(np.stack(imgs), self._rng))
        labels = self.labels[indices]
        if self.class_mode == "input":
            return xb, xb.copy()
        if self.class_mode is None:
            return xb
        if self.class_mode == "sparse":
            return xb, labels.astype(gen.dtype)
        if self.class_mode == "binary":
            return xb, labels.astype(gen.dtype)
        return xb, np.eye(self.num_classes, dtype=gen.dtype)[labels]
