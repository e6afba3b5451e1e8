"""keras.visualization: box outlines and mask overlays by hand, galleries written to files
(matplotlib, the plot extra), and the ImportError that names the extra without it."""
import sys

import numpy as np
import pytest

import corenn.keras as keras

V = keras.visualization


def test_draw_bounding_boxes_outlines_by_hand():
    img = np.zeros((2, 8, 10, 3), np.float32)   # floats <= 1 are scaled by 255, as Keras
    boxes = {"boxes": np.array([[[2, 2, 6, 5], [0, 0, 9, 7]], [[0.2, 0.25, 0.6, 0.625], [0, 0, 0, 0]]]),
             "labels": np.array([[1, -1], [3, -1]])}   # -1: padding, not drawn
    out = V.draw_bounding_boxes(img[:1], {k: v[:1] for k, v in boxes.items()}, "xyxy",
                                color=(255, 0, 7), line_thickness=1)
    assert out.dtype == np.uint8 and out.shape == (1, 8, 10, 3)
    want = np.zeros((8, 10), np.uint8)
    want[2, 2:7] = want[5, 2:7] = want[2:6, 2] = want[2:6, 6] = 1
    np.testing.assert_array_equal(out[0, :, :, 0] // 255, want)
    np.testing.assert_array_equal(out[0, :, :, 2], want * 7)
    rel = V.draw_bounding_boxes(img[1:], {k: v[1:] for k, v in boxes.items()}, "rel_xyxy",
                                color=(255, 0, 7), line_thickness=1)
    np.testing.assert_array_equal(rel[0, :, :, 0] // 255, want)   # 0.2 * 10 = 2, 0.25 * 8 = 2, ...
    thick = V.draw_bounding_boxes(img[:1], {"boxes": [[[1, 1, 8, 7]]], "labels": [[0]]}, "xyxy",
                                  color=(255, 255, 255), line_thickness=3)
    drawn = thick[0, :, :, 0] // 255    # edges of 3 pixels centred on rows 1 and 7, cols 1 and 8
    want = np.zeros((8, 10), np.uint8)
    want[0:8, 0:10] = 1
    want[3:6, 3:7] = 0
    np.testing.assert_array_equal(drawn, want)
    with pytest.raises(TypeError, match="dict"):
        V.draw_bounding_boxes(img, boxes["boxes"], "xyxy")
    with pytest.raises(ValueError, match="batch"):
        V.draw_bounding_boxes(img[0], boxes, "xyxy")


def test_draw_segmentation_masks_blends_by_class():
    img = np.full((1, 2, 3, 3), 100.0, np.float32)
    masks = np.array([[[0, 1, 2], [2, 1, -1]]])[..., None]
    colours = {0: (0, 0, 0), 1: (200, 0, 0), 2: (0, 200, 0)}
    out = V.draw_segmentation_masks(img, masks, num_classes=3, color_mapping=colours, alpha=0.5)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0, 1], [150, 50, 50])
    np.testing.assert_array_equal(out[0, 0, 2], [50, 150, 50])
    np.testing.assert_array_equal(out[0, 0, 0], [50, 50, 50])
    np.testing.assert_array_equal(out[0, 1, 2], [100, 100, 100])   # ignore_index -1 kept
    with pytest.raises(TypeError, match="integers"):
        V.draw_segmentation_masks(img, masks.astype(np.float32))


def test_galleries_write_files(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 16, 16, 3)).astype(np.float32)
    V.plot_image_gallery(images, y_true=np.array([0, 1, 0, 1]), label_map={0: "cat", 1: "dog"},
                         path=str(tmp_path / "g.png"))
    boxes = {"boxes": np.array([[[2, 2, 10, 10]]] * 4, np.float32), "labels": np.ones((4, 1))}
    V.plot_bounding_box_gallery(images, "xyxy", y_true=boxes, y_pred=boxes, legend=True,
                                path=str(tmp_path / "b.png"))
    masks = rng.integers(0, 3, (4, 16, 16, 1))
    V.plot_segmentation_mask_gallery(images, 3, y_true=masks, y_pred=masks,
                                     path=str(tmp_path / "m.png"))
    for name in ("g.png", "b.png", "m.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="label_map"):
        V.plot_image_gallery(images, y_true=np.zeros(4), path=str(tmp_path / "x.png"))


def test_gallery_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'corenn\[plot\]'):
        V.plot_image_gallery(np.zeros((1, 4, 4, 3)), path="unused.png")
