"""Keras 3.15's RandomElasticTransform and ContrastLimitedAdaptiveHistogramEqualization, float64
NumPy on the batch like the colour layers of image_augmentation.py (not differentiable while
they act, as in Keras; channels-first taken by transposing).

    RandomElasticTransform   each image, with probability p (p uniform in factor), displaced by
                             keras.ops.image.elastic_transform's smooth random field, strength
                             d uniform in scale (one per call): alpha = 0.1 d max(H, W),
                             sigma = 0.05 d min(H, W); then clipped to value_range
    CLAHE                    per channel, on the 8-bit scale: an image padded (symmetric) to
                             tile_grid_size tiles of ceil(H / gh) x ceil(W / gw); per tile a
                             256-bin histogram of int(x), clipped at clip_limit * pixels / 256
                             with the excess spread evenly over the bins; the tile's mapping
                             255 (cdf - cdf_min) / (pixels - cdf_min); each pixel's value is the
                             bilinear blend of the mappings of the four tiles around it (tile
                             centres at (i + 1/2) tile sizes; edge tiles repeated outward).
                             Not random: it applies at inference too, as in Keras.
"""
from __future__ import annotations

import numpy as np

from .image_augmentation import _NumpyAugmentation, _ValueRangeAugmentation, _bounded_range
from .image_preprocessing import _as_given, _sampling_config, _set_sampling

__all__ = ["RandomElasticTransform", "ContrastLimitedAdaptiveHistogramEqualization"]


class RandomElasticTransform(_ValueRangeAugmentation):
    """Elastic deformation (Simard et al. 2003) of each image with probability p, p uniform in
    ``factor`` per image; the strength d is uniform in ``scale`` (one per call): the field's
    alpha = 0.1 d max(H, W) and sigma = 0.05 d min(H, W). Output clipped to value_range.

    Args:
        factor: probability, float in [0, 1] (meaning (0, f)) or (lower, upper).
        scale: strength, float in [0, 1] (meaning (0, s)) or (lower, upper).
        interpolation: 'bilinear' or 'nearest'.
        fill_mode: 'reflect', 'wrap', 'nearest' or 'constant' (fill_value).
        value_range: (min, max) of the pixel values.
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self._range = _bounded_range(self, "factor", factor, 0.0, 1.0)
        self._scale = _bounded_range(self, "scale", scale, 0.0, 1.0)
        self.factor, self.scale = _as_given(factor), _as_given(scale)
        _set_sampling(self, fill_mode, interpolation, fill_value)

    def _augment(self, rng, images):
        from ..ops_image import elastic_transform
        n, h, w, _ = images.shape
        apply = rng.random(n) < rng.uniform(*self._range, n)
        d = rng.uniform(*self._scale)
        if d <= 0.0 or not apply.any():
            return images
        alpha, sigma = 0.1 * d * max(h, w), 0.05 * d * min(h, w)
        seed = int(rng.integers(0, 2 ** 31 - 1))
        self._note_geometry(("elastic", seed, alpha, sigma, apply))   # masks take the same field
        warped = np.asarray(elastic_transform(images.astype(np.float32), alpha, sigma,
                                              self.interpolation, self.fill_mode, self.fill_value,
                                              seed=seed), np.float64)
        out = np.where(apply[:, None, None, None], warped, images)
        return np.clip(out, *self.value_range)

    def get_config(self):
        cfg = super().get_config()
        sampling = _sampling_config(self)
        del sampling["data_format"]
        cfg.update(factor=self.factor, scale=self.scale, **sampling)
        return cfg


def clahe(images, clip_limit, grid):
    """CLAHE of float images (N, H, W, C) on the 8-bit scale [0, 255] (see the module)."""
    n, h, w, c = images.shape
    gh, gw = grid
    th, tw = -(-h // gh), -(-w // gw)
    padded = np.pad(images, ((0, 0), (0, th * gh - h), (0, tw * gw - w), (0, 0)), mode="symmetric")
    levels = np.clip(padded.astype(np.int64), 0, 255)   # int(x): truncation, as Keras' cast
    tiles = levels.reshape(n, gh, th, gw, tw, c).transpose(0, 1, 3, 5, 2, 4).reshape(-1, th * tw)
    offsets = np.arange(tiles.shape[0])[:, None] * 256
    hist = np.bincount((tiles + offsets).ravel(), minlength=tiles.shape[0] * 256)
    hist = hist.reshape(n, gh, gw, c, 256).astype(np.float64)
    pixels = th * tw
    if clip_limit > 0:
        limit = clip_limit * pixels / 256.0
        clipped = np.minimum(hist, limit)
        hist = clipped + (hist - clipped).sum(-1, keepdims=True) / 256.0
    cdf = np.cumsum(hist, axis=-1)
    lowest = cdf.min(axis=-1, keepdims=True)
    span = pixels - lowest
    lut = np.clip((cdf - lowest) * 255.0 / np.where(span == 0, 1.0, span), 0.0, 255.0)
    lut = np.pad(lut, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")   # (N, gh+2, gw+2, C, 256)

    def taps(size, tile, count):
        pos = (np.arange(size, dtype=np.float64) - tile / 2.0) / tile + 1.0
        lo = np.floor(pos)
        return (np.clip(lo, 0, count + 1).astype(np.int64),
                np.clip(lo + 1, 0, count + 1).astype(np.int64), pos - lo)

    y0, y1, wy = taps(th * gh, th, gh)
    x0, x1, wx = taps(tw * gw, tw, gw)
    b = np.arange(n)[:, None, None, None]
    ch = np.arange(c)[None, None, None, :]
    yy0, yy1, wyy = y0[None, :, None, None], y1[None, :, None, None], wy[None, :, None, None]
    xx0, xx1, wxx = x0[None, None, :, None], x1[None, None, :, None], wx[None, None, :, None]
    top = lut[b, yy0, xx0, ch, levels] * (1 - wxx) + lut[b, yy0, xx1, ch, levels] * wxx
    bottom = lut[b, yy1, xx0, ch, levels] * (1 - wxx) + lut[b, yy1, xx1, ch, levels] * wxx
    return (top * (1 - wyy) + bottom * wyy)[:, :h, :w]


class ContrastLimitedAdaptiveHistogramEqualization(_NumpyAugmentation):
    """CLAHE (Zuiderveld 1994) with Keras 3.15's tiling and blending (see the module): local
    histogram equalization whose contrast gain is capped by ``clip_limit``. Always applies
    (training or not). Output float32 (Keras casts back to an integer input's dtype).

    Args:
        value_range: (min, max) of the pixel values (mapped to [0, 255] for the histograms).
        clip_limit: the histogram cap, in multiples of the mean bin count; <= 0: none (plain
            adaptive equalization).
        tile_grid_size: (rows, columns) of tiles.
    """

    augments_at_inference = True

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8),
                 data_format=None, **kwargs):
        kwargs.pop("seed", None)
        super().__init__(data_format=data_format, **kwargs)
        lo, hi = (float(v) for v in value_range)
        if not lo < hi:
            raise ValueError(f"ContrastLimitedAdaptiveHistogramEqualization: value_range must be "
                             f"(min, max) with min < max, got {value_range!r}")
        grid = tuple(tile_grid_size) if isinstance(tile_grid_size, (list, tuple)) else ()
        if len(grid) != 2 or not all(isinstance(g, (int, np.integer)) and g >= 1 for g in grid):
            raise ValueError(f"ContrastLimitedAdaptiveHistogramEqualization: tile_grid_size must be "
                             f"two positive ints, got {tile_grid_size!r}")
        self.value_range, self.clip_limit = (lo, hi), float(clip_limit)
        self.tile_grid_size = (int(grid[0]), int(grid[1]))

    def _augment(self, rng, images):
        lo, hi = self.value_range
        scaled = (images - lo) / (hi - lo) * 255.0
        return clahe(scaled, self.clip_limit, self.tile_grid_size) / 255.0 * (hi - lo) + lo

    def get_config(self):
        cfg = super().get_config()
        del cfg["seed"]
        cfg.update(value_range=self.value_range, clip_limit=self.clip_limit,
                   tile_grid_size=self.tile_grid_size)
        return cfg
