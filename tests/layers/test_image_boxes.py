"""Bounding boxes and segmentation masks through the image layers (Keras' dict form): each box
follows its image's transform, from the same random draw. The oracle is the image itself: a box
drawn as a filled rectangle must come out enclosing the warped rectangle (nearest sampling), and
exact maps (flips, crops, resizes) are checked by hand. Also MaxNumBoundingBoxes, Dataset.map,
one image, inference, configs and errors."""
import numpy as np
import pytest

import corenn as cn

L = cn.layers
H, W = 20, 30
BOXES = np.array([[[5, 4, 12, 10], [20, 12, 28, 18]], [[2, 3, 9, 15], [1, 1, 2, 2]]], np.float32)
LABELS = np.array([[1, 2], [3, 4]], np.int32)


def images_with_first_box_filled():
    img = np.zeros((2, H, W, 3), np.float32)
    for i in range(2):
        x1, y1, x2, y2 = BOXES[i, 0].astype(int)
        img[i, y1:y2, x1:x2] = 1.0
    return img


def data(fmt="xyxy", masks=True):
    img = images_with_first_box_filled()
    boxes = np.asarray(cn.utils.bounding_boxes.convert_format(BOXES, "xyxy", fmt, height=H, width=W))
    d = {"images": img, "bounding_boxes": {"boxes": boxes, "labels": LABELS}}
    if masks:
        d["segmentation_masks"] = (img[..., :1] > 0).astype(np.uint8)
    return d


def bright_extent(image):
    ys, xs = np.nonzero(image[..., 0] > 0.5)
    return None if len(xs) == 0 else np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


SAMPLED = [
    lambda: L.RandomTranslation(0.2, 0.2, seed=2, fill_mode="constant", interpolation="nearest",
                                bounding_box_format="xyxy"),
    lambda: L.RandomRotation(0.25, seed=3, fill_mode="constant", interpolation="nearest",
                             bounding_box_format="xyxy"),
    lambda: L.RandomZoom(0.3, seed=4, fill_mode="constant", interpolation="nearest",
                         bounding_box_format="xyxy"),
    lambda: L.RandomShear(0.3, 0.3, seed=6, fill_mode="constant", interpolation="nearest",
                          bounding_box_format="xyxy"),
    lambda: L.RandomPerspective(seed=7, interpolation="nearest", bounding_box_format="xyxy"),
    lambda: L.Resizing(10, 15, interpolation="nearest", bounding_box_format="xyxy"),
    lambda: L.Resizing(10, 10, pad_to_aspect_ratio=True, interpolation="nearest",
                       bounding_box_format="xyxy"),
    lambda: L.Resizing(10, 10, crop_to_aspect_ratio=True, interpolation="nearest",
                       bounding_box_format="xyxy"),
]


@pytest.mark.parametrize("make", SAMPLED)
def test_boxes_enclose_the_warped_rectangle(make):
    layer = make()
    for _ in range(3):   # several draws
        out = layer(data())
        images = np.asarray(out["images"])
        boxes = np.asarray(out["bounding_boxes"]["boxes"])
        labels = np.asarray(out["bounding_boxes"]["labels"])
        masks = np.asarray(out["segmentation_masks"])
        assert masks.dtype == np.uint8 and masks.shape[:3] == images.shape[:3]
        oh, ow = images.shape[1:3]
        assert np.all(boxes[..., 0::2] >= 0) and np.all(boxes[..., 0::2] <= ow)
        assert np.all(boxes[..., 1::2] >= 0) and np.all(boxes[..., 1::2] <= oh)
        for i in range(2):
            # the masks went through the same transform as the images, nearest sampled
            np.testing.assert_array_equal(masks[i, ..., 0] > 0, images[i, ..., 0] > 0.5)
            seen = bright_extent(images[i])
            box = boxes[i, 0]
            if seen is None:   # the rectangle left the image: its box has no area left
                assert labels[i, 0] == -1 or (box[2] - box[0]) * (box[3] - box[1]) < 2.0
                continue
            assert labels[i, 0] == LABELS[i, 0]
            # nearest sampling: each kept pixel centre lies in the mapped box (1 px of slack for
            # centres on the edge), and the box is not much bigger than what is seen
            assert np.all(seen[:2] >= np.floor(box[:2]) - 1) and np.all(seen[2:] <= np.ceil(box[2:]) + 1)
            assert np.all(np.abs(seen - box) <= 2.5), (seen, box)


def test_flip_boxes_exactly():
    layer = L.RandomFlip("horizontal_and_vertical", seed=0, bounding_box_format="xyxy")
    out = layer(data())
    images, boxes = np.asarray(out["images"]), np.asarray(out["bounding_boxes"]["boxes"])
    for i in range(2):
        box = BOXES[i].astype(np.float64)
        np.testing.assert_array_equal(bright_extent(images[i]), boxes[i, 0])   # exact maps
        # each box is the original, mirrored in x (W - x) and / or y (H - y)
        options = []
        for fx in (False, True):
            for fy in (False, True):
                b = box.copy()
                if fx:
                    b[:, [0, 2]] = W - box[:, [2, 0]]
                if fy:
                    b[:, [1, 3]] = H - box[:, [3, 1]]
                options.append(b)
        assert any(np.allclose(boxes[i], o) for o in options)


def test_crops_move_boxes_exactly_and_mark_what_leaves():
    out = L.CenterCrop(12, 16, bounding_box_format="xyxy")(data())   # rows 4.., columns 7..
    boxes = np.asarray(out["bounding_boxes"]["boxes"])
    np.testing.assert_array_equal(boxes[0], [[0, 0, 5, 6], [13, 8, 16, 12]])
    np.testing.assert_array_equal(boxes[1, 1], [0, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["labels"]), [[1, 2], [3, -1]])
    out = L.RandomCrop(15, 20, seed=5, bounding_box_format="xyxy")(data())
    images, boxes = np.asarray(out["images"]), np.asarray(out["bounding_boxes"]["boxes"])
    for i in range(2):
        np.testing.assert_array_equal(bright_extent(images[i]), boxes[i, 0])
    resized = L.Resizing(10, 15, bounding_box_format="xyxy")(data())   # half size
    np.testing.assert_allclose(np.asarray(resized["bounding_boxes"]["boxes"]), BOXES / 2, rtol=1e-6)
    at_inference = L.RandomCrop(10, 15, bounding_box_format="xyxy")(data(), training=False)
    np.testing.assert_allclose(np.asarray(at_inference["bounding_boxes"]["boxes"]), BOXES / 2, rtol=1e-6)


@pytest.mark.parametrize("fmt", ["yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy",
                                 "rel_yxyx", "rel_xywh", "rel_center_xywh"])
def test_every_format_gives_the_xyxy_result(fmt):
    want = np.asarray(L.RandomRotation(0.2, seed=9, bounding_box_format="xyxy")(data())
                      ["bounding_boxes"]["boxes"])
    got = L.RandomRotation(0.2, seed=9, bounding_box_format=fmt)(data(fmt))
    back = cn.utils.bounding_boxes.convert_format(got["bounding_boxes"]["boxes"], fmt, "xyxy",
                                                  height=H, width=W)
    np.testing.assert_allclose(np.asarray(back), want, rtol=1e-5, atol=1e-4)
    # a rel_ format is relative to the output image after a resize
    if fmt.startswith("rel_"):
        out = L.Resizing(10, 15, bounding_box_format=fmt)(data(fmt))
        np.testing.assert_allclose(np.asarray(out["bounding_boxes"]["boxes"]),
                                   data(fmt)["bounding_boxes"]["boxes"], rtol=1e-5, atol=1e-6)


def test_inference_one_image_and_labels_pass_through():
    d = data()
    out = L.RandomRotation(0.3, bounding_box_format="xyxy")(d, training=False)
    np.testing.assert_array_equal(np.asarray(out["images"]), d["images"])
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"]), BOXES)
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), d["segmentation_masks"])
    one = {"images": d["images"][0], "bounding_boxes": {"boxes": BOXES[0], "labels": LABELS[0]},
           "labels": np.array([0.0, 1.0], np.float32)}
    out = L.CenterCrop(12, 16, bounding_box_format="xyxy")(one)
    assert tuple(out["images"].shape) == (12, 16, 3)
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"]), [[0, 0, 5, 6], [13, 8, 16, 12]])
    np.testing.assert_array_equal(np.asarray(out["labels"]), [0, 1])
    colour = L.RandomBrightness(0.2, bounding_box_format="xyxy")(
        {"images": d["images"] * 255, "bounding_boxes": d["bounding_boxes"]})
    np.testing.assert_array_equal(np.asarray(colour["bounding_boxes"]["boxes"]), BOXES)


def test_ragged_boxes_are_padded():
    d = {"images": images_with_first_box_filled(),
         "bounding_boxes": {"boxes": [BOXES[0], BOXES[1][:1]], "labels": [[1, 2], [3]]}}
    out = L.CenterCrop(20, 30, bounding_box_format="xyxy")(d)
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["labels"]), [[1, 2], [3, -1]])
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"])[1, 1], [0, 0, 0, 0])


def test_dataset_map_pipeline():
    d = data(masks=False)
    ds = cn.data.Dataset.from_tensor_slices(d)
    flip = L.RandomFlip("horizontal", seed=0, bounding_box_format="xyxy")
    crop = L.CenterCrop(12, 16, bounding_box_format="xyxy")
    batches = list(ds.map(lambda e: crop(flip(e))).batch(2))
    assert len(batches) == 1
    b = batches[0]
    assert tuple(np.shape(b["images"])) == (2, 12, 16, 3)
    boxes = np.asarray(b["bounding_boxes"]["boxes"])
    assert boxes.shape == (2, 2, 4) and np.asarray(b["bounding_boxes"]["labels"]).shape == (2, 2)
    for i in range(2):
        extent = bright_extent(np.asarray(b["images"])[i])
        if extent is not None:
            np.testing.assert_array_equal(extent, boxes[i, 0])


def test_max_num_bounding_boxes():
    d = data(masks=False)
    out = L.MaxNumBoundingBoxes(3)(d)
    boxes, labels = np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(out["bounding_boxes"]["labels"])
    assert boxes.shape == (2, 3, 4) and labels.shape == (2, 3)
    np.testing.assert_array_equal(boxes[:, :2], BOXES)
    assert np.all(boxes[:, 2] == -1) and np.all(labels[:, 2] == -1)
    out = L.MaxNumBoundingBoxes(1, fill_value=0)(
        {"images": d["images"][0], "bounding_boxes": {"boxes": BOXES[0], "labels": LABELS[0]}})
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"]), BOXES[0][:1])
    assert out["images"] is d["images"][0] or np.array_equal(out["images"], d["images"][0])
    layer = L.deserialize(L.serialize(L.MaxNumBoundingBoxes(4, fill_value=-2)))
    assert (layer.max_number, layer.fill_value) == (4, -2)
    with pytest.raises(ValueError, match="positive int"):
        L.MaxNumBoundingBoxes(0)
    with pytest.raises(ValueError, match="dict input"):
        L.MaxNumBoundingBoxes(2)(d["images"])


def test_config_and_errors():
    layer = L.RandomZoom(0.2, bounding_box_format="center_xywh")
    cfg = layer.get_config()
    assert cfg["bounding_box_format"] == "center_xywh"
    assert L.RandomZoom.from_config(cfg).bounding_box_format == "center_xywh"
    assert "bounding_box_format" not in L.RandomZoom(0.2).get_config()
    with pytest.raises(ValueError, match="bounding_box_format must be one of"):
        L.RandomFlip(bounding_box_format="cxcywh")
    with pytest.raises(ValueError, match="no bounding_box_format"):
        L.RandomFlip()(data())
    with pytest.raises(ValueError, match="optionally 'bounding_boxes'"):
        L.RandomFlip(bounding_box_format="xyxy")({"boxes": BOXES})
    other = L.RandomFlip(bounding_box_format="xyxy")({"images": data()["images"], "ids": [7, 8]})
    assert other["ids"] == [7, 8]   # other keys pass through, as Keras
    with pytest.raises(ValueError, match=r"\(batch, N, 4\)"):
        L.RandomFlip(bounding_box_format="xyxy")(
            {"images": data()["images"], "bounding_boxes": {"boxes": BOXES[0], "labels": LABELS[0]}})
    with pytest.raises(ValueError, match="'boxes' and 'labels'"):
        L.RandomFlip(bounding_box_format="xyxy")(
            {"images": data()["images"], "bounding_boxes": {"boxes": BOXES}})
    with pytest.raises(NotImplementedError, match="keras.Input"):
        L.RandomFlip(bounding_box_format="xyxy")({"images": cn.Input((H, W, 3))})


def test_pipeline_hands_the_dict_to_each_layer():
    pipe = L.Pipeline([L.CenterCrop(12, 16, bounding_box_format="xyxy"), L.MaxNumBoundingBoxes(3)])
    out = pipe(data(masks=False))
    boxes = np.asarray(out["bounding_boxes"]["boxes"])
    np.testing.assert_array_equal(boxes[0, :2], [[0, 0, 5, 6], [13, 8, 16, 12]])
    assert np.all(boxes[:, 2] == -1)
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["labels"]), [[1, 2, -1], [3, -1, -1]])


def test_rand_augment_boxes_follow_the_chain_of_transforms():
    from corenn.layers.image_augmentation import compose_transforms
    rng = np.random.default_rng(1)
    t1, t2 = rng.normal(size=(3, 8)) * 0.1, rng.normal(size=(3, 8)) * 0.1
    t1[:, [0, 4]] += 1
    t2[:, [0, 4]] += 1
    t1[:, 6:] = t2[:, 6:] = 0.001 * rng.normal(size=(3, 2))

    def to_input(t, x, y):   # the kernel's convention: output pixel -> input point
        k = t[6] * x + t[7] * y + 1
        return (t[0] * x + t[1] * y + t[2]) / k, (t[3] * x + t[4] * y + t[5]) / k

    composed = compose_transforms([("transform", t1, (H, W)), None, ("transform", t2, (H, W))], 3)
    assert composed[0] == "transform" and composed[2] == (H, W)
    for n in range(3):
        x, y = 7.0, 3.0   # second op's output -> its input (the first op's output) -> the input
        np.testing.assert_allclose(to_input(composed[1][n], x, y), to_input(t1[n], *to_input(t2[n], x, y)),
                                   rtol=1e-10)
    assert compose_transforms([None, None], 3) is None
    layer = L.RandAugment(value_range=(0, 1), num_ops=3, factor=(0.3, 0.3), seed=4,
                          bounding_box_format="xyxy")
    moved = 0
    for _ in range(6):
        out = layer(data(masks=True))
        boxes = np.asarray(out["bounding_boxes"]["boxes"])
        assert np.asarray(out["segmentation_masks"]).shape == (2, H, W, 1)
        assert np.all(boxes[..., 0::2] <= W) and np.all(boxes[..., 1::2] <= H) and np.all(boxes >= 0)
        moved += not np.array_equal(boxes, BOXES)
    assert moved   # some draws include a shear / translation / rotation


def test_mixup_keeps_both_images_boxes_and_cutmix_refuses():
    d = data(masks=False)
    d["labels"] = np.eye(2, dtype=np.float32)
    out = L.MixUp(seed=3, bounding_box_format="xyxy")(d)
    boxes, labels = np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(out["bounding_boxes"]["labels"])
    assert boxes.shape == (2, 4, 4) and labels.shape == (2, 4)
    np.testing.assert_array_equal(boxes[:, :2], BOXES)
    mixed = np.asarray(out["labels"])   # the soft labels tell which image went into which
    partner = [int(np.argmax(mixed[i] - np.eye(2)[i] * 2)) if not np.allclose(mixed[i], np.eye(2)[i])
               else i for i in range(2)]
    for i in range(2):
        np.testing.assert_array_equal(boxes[i, 2:], BOXES[partner[i]])
        np.testing.assert_array_equal(labels[i, 2:], LABELS[partner[i]])
    with pytest.raises(NotImplementedError, match="bounding boxes"):
        L.CutMix(bounding_box_format="xyxy")(d)


def test_padding_slots_stay_empty():
    d = data(masks=False)
    padded = L.MaxNumBoundingBoxes(4)(d)
    out = L.RandomRotation(0.3, seed=1, bounding_box_format="xyxy")(
        {"images": d["images"], "bounding_boxes": padded["bounding_boxes"]})
    boxes, labels = np.asarray(out["bounding_boxes"]["boxes"]), np.asarray(out["bounding_boxes"]["labels"])
    assert np.all(boxes[:, 2:] == 0) and np.all(labels[:, 2:] == -1)
