"""RandomElasticTransform and ContrastLimitedAdaptiveHistogramEqualization (Keras 3.15): CLAHE
against a per-tile, per-pixel loop reference; the elastic warp by its properties (probability,
clipping, masks warped by the same field, seeds, configs)."""
import numpy as np
import pytest

import corenn as cn

L = cn.layers
RNG = np.random.default_rng(0)


def clahe_reference(image, clip_limit, grid):
    """One channel (H, W) on [0, 255], written out loop by loop."""
    h, w = image.shape
    gh, gw = grid
    th, tw = -(-h // gh), -(-w // gw)
    padded = np.pad(image, ((0, th * gh - h), (0, tw * gw - w)), mode="symmetric")
    levels = np.clip(np.trunc(padded), 0, 255).astype(int)
    luts = np.zeros((gh, gw, 256))
    for i in range(gh):
        for j in range(gw):
            tile = levels[i * th:(i + 1) * th, j * tw:(j + 1) * tw]
            hist = np.array([np.sum(tile == v) for v in range(256)], float)
            if clip_limit > 0:
                cap = clip_limit * th * tw / 256
                excess = np.sum(np.maximum(hist - cap, 0))
                hist = np.minimum(hist, cap) + excess / 256
            cdf = np.cumsum(hist)
            span = th * tw - cdf.min()
            luts[i, j] = np.clip((cdf - cdf.min()) * 255 / (span if span != 0 else 1), 0, 255)
    out = np.zeros((h, w))
    for r in range(h):
        for c in range(w):
            # position among the tile centres (tile i's centre at (i + 1/2) th); the edge tiles
            # extend outward
            fy, fx = (r - th / 2) / th, (c - tw / 2) / tw
            y0, x0 = int(np.floor(fy)), int(np.floor(fx))
            wy, wx = fy - y0, fx - x0
            v = levels[r, c]
            at = lambda y, x: luts[min(max(y, 0), gh - 1), min(max(x, 0), gw - 1), v]
            out[r, c] = ((at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx) * (1 - wy)
                         + (at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx) * wy)
    return out


@pytest.mark.parametrize("shape,grid,clip", [((13, 17), (3, 4), 2.0), ((16, 16), (2, 2), 0.0),
                                             ((10, 12), (1, 1), 40.0)])
def test_clahe_matches_the_loop_reference(shape, grid, clip):
    x = (RNG.random((2,) + shape + (2,)) ** 2 * 255).astype(np.float32)
    layer = L.ContrastLimitedAdaptiveHistogramEqualization(clip_limit=clip, tile_grid_size=grid)
    out = np.asarray(layer(x, training=False))   # not random: applies at inference too
    for n in range(2):
        for c in range(2):
            np.testing.assert_allclose(out[n, :, :, c], clahe_reference(x[n, :, :, c], clip, grid),
                                       rtol=1e-5, atol=1e-3)


def test_clahe_value_range_one_image_and_config():
    x = RNG.random((9, 11, 3)).astype(np.float32)
    layer = L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(0, 1), tile_grid_size=(2, 3))
    out = np.asarray(layer(x))
    want = clahe_reference(x[:, :, 1] * 255, 4.0, (2, 3)) / 255
    np.testing.assert_allclose(out[:, :, 1], want, rtol=1e-5, atol=1e-5)
    cfg = layer.get_config()
    assert cfg["tile_grid_size"] == (2, 3) and cfg["clip_limit"] == 4.0
    again = L.ContrastLimitedAdaptiveHistogramEqualization.from_config(cfg)
    np.testing.assert_array_equal(np.asarray(again(x)), out)
    with pytest.raises(ValueError, match="tile_grid_size"):
        L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(0, 2))


def test_elastic_transform_properties():
    x = (RNG.random((4, 24, 20, 3)) * 255).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(L.RandomElasticTransform(factor=0.0, seed=1)(x)), x)
    np.testing.assert_array_equal(np.asarray(L.RandomElasticTransform(seed=1)(x, training=False)), x)
    out = np.asarray(L.RandomElasticTransform(factor=1.0, scale=1.0, seed=1)(x))
    assert out.shape == x.shape and not np.allclose(out, x)
    assert out.min() >= 0 and out.max() <= 255
    again = np.asarray(L.RandomElasticTransform(factor=1.0, scale=1.0, seed=1)(x))
    np.testing.assert_array_equal(again, out)   # the seed fixes the field
    small = np.asarray(L.RandomElasticTransform(factor=1.0, scale=(0.001, 0.001), seed=1)(x))
    np.testing.assert_allclose(small, x, atol=3.0)   # a tiny strength barely moves pixels
    clipped = np.asarray(L.RandomElasticTransform(fill_mode="constant", fill_value=-50, seed=2,
                                                  value_range=(0, 255))(x))
    assert clipped.min() >= 0


def test_elastic_masks_follow_and_boxes_refuse():
    img = np.zeros((2, 64, 64, 1), np.float32)
    img[:, 16:48, 20:40] = 1.0
    layer = L.RandomElasticTransform(factor=(1, 1), scale=(1, 1), interpolation="nearest",
                                     value_range=(0, 1), seed=3)
    out = layer({"images": img, "segmentation_masks": img.astype(np.uint8)})
    images, masks = np.asarray(out["images"]), np.asarray(out["segmentation_masks"])
    assert masks.dtype == np.uint8 and not np.array_equal(images, img)
    np.testing.assert_array_equal(masks[..., 0] > 0, images[..., 0] > 0.5)
    with pytest.raises(NotImplementedError, match="elastic"):
        L.RandomElasticTransform(seed=3, bounding_box_format="xyxy")(
            {"images": img, "bounding_boxes": {"boxes": np.zeros((2, 1, 4)), "labels": np.zeros((2, 1))}})
    cfg = L.RandomElasticTransform(factor=0.5, scale=(0.2, 0.4), fill_mode="nearest").get_config()
    assert cfg["scale"] == (0.2, 0.4) and cfg["fill_mode"] == "nearest"
    assert L.RandomElasticTransform.from_config(cfg).scale == (0.2, 0.4)
    with pytest.raises(ValueError, match="scale"):
        L.RandomElasticTransform(scale=2.0)
