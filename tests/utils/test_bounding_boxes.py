"""keras.utils.bounding_boxes against hand-checkable cases and plain NumPy references (pairwise
IoU by loops, CIoU from its definition), format round trips, and the errors."""
import math

import numpy as np
import pytest

import corenn as cn

B = cn.utils.bounding_boxes
RNG = np.random.default_rng(0)
FORMATS = ["xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx",
           "rel_xywh", "rel_center_xywh"]


def random_xyxy(*shape):
    b = RNG.random(shape + (4,)) * 40
    b[..., 2:] += b[..., :2] + 1
    return b


def test_convert_format_hand_cases():
    box = np.array([[10, 20, 30, 40]])   # xyxy: left 10, top 20, right 30, bottom 40
    want = {"yxyx": [20, 10, 40, 30], "xywh": [10, 20, 20, 20], "center_xywh": [20, 30, 20, 20],
            "center_yxhw": [30, 20, 20, 20], "rel_xyxy": [10 / 300, 20 / 200, 30 / 300, 40 / 200],
            "rel_yxyx": [20 / 200, 10 / 300, 40 / 200, 30 / 300],
            "rel_xywh": [10 / 300, 20 / 200, 20 / 300, 20 / 200],
            "rel_center_xywh": [20 / 300, 30 / 200, 20 / 300, 20 / 200]}
    for fmt, v in want.items():
        out = B.convert_format(box, "xyxy", fmt, height=200, width=300)
        assert out.dtype == "float32"
        np.testing.assert_allclose(np.asarray(out), [v], rtol=1e-6)
        back = B.convert_format(out, fmt, "XYXY", height=200, width=300)   # case-insensitive
        np.testing.assert_allclose(np.asarray(back), box, rtol=1e-5)


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_convert_format_round_trips_batched(source, target):
    b = random_xyxy(2, 3)
    src = np.asarray(B.convert_format(b, "xyxy", source, height=50, width=70, dtype="float64"))
    out = B.convert_format(src, source, target, height=50, width=70, dtype="float64")
    back = B.convert_format(out, target, "xyxy", height=50, width=70, dtype="float64")
    np.testing.assert_allclose(back, b, rtol=1e-12, atol=1e-9)


def test_convert_format_dict_and_errors():
    d = {"boxes": np.array([[0, 0, 4, 2]]), "labels": np.array([7])}
    out = B.convert_format(d, "xyxy", "xywh")
    np.testing.assert_array_equal(np.asarray(out["boxes"]), [[0, 0, 4, 2]])
    assert out["labels"] is d["labels"]
    with pytest.raises(ValueError, match="height and width"):   # as Keras, even rel to rel
        B.convert_format(d["boxes"], "rel_xyxy", "rel_xywh")
    with pytest.raises(ValueError, match="height and width"):
        B.convert_format(d["boxes"], "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match="format must be one of"):
        B.convert_format(d["boxes"], "xyxy", "cxcywh")
    with pytest.raises(ValueError, match="last axis of 4"):
        B.convert_format(np.zeros((2, 3)), "xyxy", "yxyx")


def test_clip_to_image_size_marks_empty_boxes():
    d = {"boxes": np.array([[-10, -20, 150, 160], [50, 40, 70, 80], [130, 10, 140, 20]], np.float32),
         "labels": np.array([0, 1, 2], np.int32)}
    out = B.clip_to_image_size(d, height=100, width=120)
    np.testing.assert_array_equal(np.asarray(out["boxes"]),
                                  [[0, 0, 120, 100], [50, 40, 70, 80], [120, 10, 120, 20]])
    np.testing.assert_array_equal(np.asarray(out["labels"]), [0, 1, -1])
    rel = B.clip_to_image_size({"boxes": np.array([[-0.1, 0.2, 1.5, 0.6]]), "labels": np.array([3])},
                               bounding_box_format="rel_xyxy")
    np.testing.assert_allclose(np.asarray(rel["boxes"]), [[0, 0.2, 1, 0.6]], rtol=1e-6)
    with pytest.raises(ValueError, match="height and width"):
        B.clip_to_image_size(d)
    with pytest.raises(NotImplementedError):
        B.clip_to_image_size(d, 10, 10, bounding_box_format="xywh")


def test_crop_and_pad():
    boxes = np.array([[10, 20, 50, 60], [70, 80, 100, 120]], np.float32)
    np.testing.assert_array_equal(np.asarray(B.crop(boxes, top=10, left=20, height=40, width=30)),
                                  [[0, 10, 30, 40], [30, 40, 30, 40]])
    np.testing.assert_array_equal(np.asarray(B.pad(boxes, top=10, left=20)),
                                  [[30, 30, 70, 70], [90, 90, 120, 130]])


def affine_reference(boxes, angle, tx, ty, scale, sx, sy, h, w):
    """Forward affine map about the image centre ((W-1)/2, (H-1)/2): x' = c + A^-1 ... written
    as the map Keras' image layers apply to points: rotate by -angle, shear, divide by scale,
    translate by (tx (W-1), ty (H-1)); then the box enclosing the four mapped corners."""
    out = []
    for n in range(boxes.shape[0]):
        rot, shx, shy = (math.radians(-v) for v in (angle[n], sx[n], sy[n]))
        # inverse affine of torchvision: rotation-shear RSS = R(rot) S(shx, shy)
        a = math.cos(rot - shy) / math.cos(shy)
        b = a * math.tan(shx) + math.sin(rot)
        c = -math.sin(rot - shy) / math.cos(shy)
        d = math.cos(rot) - c * math.tan(shx)
        m = np.array([[d, -b], [-c, a]]) * scale[n]
        cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
        t = np.array([-tx[n] * (w - 1), -ty[n] * (h - 1)])
        rows = []
        for x1, y1, x2, y2 in boxes[n]:
            pts = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
            mapped = (pts - [cx, cy] - t) @ m.T + [cx, cy]
            rows.append(np.concatenate([mapped.min(0), mapped.max(0)]))
        out.append(rows)
    return np.array(out)


def test_affine_transform_hand_cases_and_reference():
    boxes = np.array([[[10, 20, 30, 60]]], np.float64)
    zeros, ones = np.zeros(1), np.ones(1)
    same = B.affine_transform(boxes, zeros, zeros, zeros, ones, zeros, zeros, 101, 201)
    np.testing.assert_allclose(np.asarray(same), boxes, atol=1e-4)
    moved = B.affine_transform(boxes, zeros, np.array([0.1]), np.array([0.5]), ones, zeros, zeros,
                               101, 201)   # by 0.1 * 200 right and 0.5 * 100 down
    np.testing.assert_allclose(np.asarray(moved), [[[30, 70, 50, 110]]], atol=1e-4)
    turned = B.affine_transform(boxes, np.array([90.0]), zeros, zeros, ones, zeros, zeros, 101, 101)
    # a quarter turn about (50, 50) maps x, y -> 100 - y, x or y, 100 - x: either way the box
    # keeps its size transposed (40 wide, 20 high) and its centre turns about (50, 50)
    t = np.asarray(turned)[0, 0]
    np.testing.assert_allclose([t[2] - t[0], t[3] - t[1]], [40, 20], atol=1e-3)
    assert math.isclose(math.hypot((t[0] + t[2]) / 2 - 50, (t[1] + t[3]) / 2 - 50),
                        math.hypot(20 - 50, 40 - 50), rel_tol=1e-5)
    b = random_xyxy(2, 3)
    args = [np.array([30.0, -10.0]), np.array([0.1, 0.0]), np.array([0.0, 0.2]),
            np.array([1.0, 1.2]), np.array([5.0, 0.0]), np.array([0.0, 10.0])]
    out = B.affine_transform(b, *args, 60, 80)
    np.testing.assert_allclose(np.asarray(out), affine_reference(b, *args, 60, 80), rtol=1e-4, atol=1e-3)


def iou_reference(b1, b2):
    out = np.zeros((len(b1), len(b2)))
    for i, p in enumerate(b1):
        for j, q in enumerate(b2):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / (union + 1e-7)
    return out


def test_compute_iou_matches_loops_in_every_batching():
    b1, b2 = random_xyxy(2, 4), random_xyxy(2, 3)
    np.testing.assert_allclose(np.asarray(B.compute_iou(b1[0], b2[0], "xyxy")),
                               iou_reference(b1[0], b2[0]), rtol=1e-5, atol=1e-7)
    both = np.asarray(B.compute_iou(b1, b2, "xyxy"))
    assert both.shape == (2, 4, 3)
    for n in range(2):
        np.testing.assert_allclose(both[n], iou_reference(b1[n], b2[n]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(B.compute_iou(b1, b2[0], "xyxy"))[1],
                               iou_reference(b1[1], b2[0]), rtol=1e-5, atol=1e-7)
    yx = B.compute_iou(b1[0][:, [1, 0, 3, 2]], b2[0][:, [1, 0, 3, 2]], "yxyx")
    np.testing.assert_allclose(np.asarray(yx), iou_reference(b1[0], b2[0]), rtol=1e-5, atol=1e-7)
    assert math.isclose(float(np.asarray(B.compute_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]], "xyxy"))[0, 0]),
                        2 / 6, rel_tol=1e-5)


def test_compute_iou_masking_and_relative_formats():
    b1 = np.array([[0, 0, 2, 2], [-1, -1, -1, -1]], np.float64)
    b2 = np.array([[0, 0, 2, 2], [-5, -3, -2, -1], [1, 1, 3, 3]], np.float64)
    out = np.asarray(B.compute_iou(b1, b2, "xyxy", use_masking=True, mask_val=-7))
    assert np.all(out[1] == -7) and np.all(out[:, 1] == -7)
    np.testing.assert_allclose(out[0, [0, 2]], [1.0, 1 / 7], rtol=1e-5)
    rel = B.compute_iou(b1[:1] / 4, b2[[0, 2]] / 4, "rel_xyxy", image_shape=(4, 4, 3))
    np.testing.assert_allclose(np.asarray(rel), [[1.0, 1 / 7]], rtol=1e-5)
    with pytest.raises(ValueError, match="image_shape"):
        B.compute_iou(b1, b2, "rel_xyxy")
    with pytest.raises(ValueError, match=r"\(N, 4\) or \(batch, N, 4\)"):
        B.compute_iou(np.zeros((1, 1, 1, 4)), b2, "xyxy")


def test_compute_ciou_against_its_definition():
    b1, b2 = random_xyxy(5), random_xyxy(5)
    out = np.asarray(B.compute_ciou(b1, b2, "xyxy"))
    eps = 1e-7
    for k in range(5):
        (a1, c1, a2, c2), (p1, q1, p2, q2) = b1[k], b2[k]
        w1, h1, w2, h2 = a2 - a1, c2 - c1 + eps, p2 - p1, q2 - q1 + eps
        inter = max(min(a2, p2) - max(a1, p1), 0) * max(min(c2, q2) - max(c1, q1), 0)
        iou = inter / (w1 * h1 + w2 * h2 - inter + 2 * eps)
        diag = (max(a2, p2) - min(a1, p1)) ** 2 + (max(c2, q2) - min(c1, q1)) ** 2 + eps
        dist = ((a1 + a2 - p1 - p2) / 2) ** 2 + ((c1 + c2 - q1 - q2) / 2) ** 2
        v = 4 / math.pi ** 2 * (math.atan(w2 / h2) - math.atan(w1 / h1)) ** 2
        alpha = v / (v - iou + 1 + eps)
        assert math.isclose(out[k], iou - dist / diag - alpha * v, rel_tol=1e-5, abs_tol=1e-6)
    same = np.asarray(B.compute_ciou(b1, b1, "xyxy"))
    np.testing.assert_allclose(same, 1.0, atol=1e-5)   # identical boxes: CIoU = IoU = 1
    with pytest.raises(ValueError, match="relative"):
        B.compute_ciou(b1, b2, "rel_xyxy", image_shape=(4, 4, 3))


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
def test_box_deltas_round_trip_and_hand_case(encoding):
    anchors = random_xyxy(6)
    boxes = random_xyxy(3, 6)
    variance = [0.1, 0.1, 0.2, 0.2]
    deltas = B.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", encoding, variance)
    back = B.decode_deltas_to_boxes(anchors, deltas, "xyxy", "xyxy", encoding, variance)
    np.testing.assert_allclose(np.asarray(back), boxes, rtol=1e-4, atol=1e-4)
    # anchor centre (5, 5) size 10 x 10, box centre (7, 4) size 20 x 5 (center_xywh order)
    d = B.encode_box_to_deltas([[0, 0, 10, 10]], [[-3, 1.5, 17, 6.5]], "xyxy", "xyxy", encoding)
    want = [0.2, -0.1, math.log(2), math.log(0.5)]
    if encoding == "center_yxhw":
        want = [want[1], want[0], want[3], want[2]]
    np.testing.assert_allclose(np.asarray(d), [want], rtol=1e-5, atol=1e-6)
    levels = B.decode_deltas_to_boxes({"p3": anchors}, {"p3": np.zeros((6, 4))}, "xyxy", "xywh",
                                      encoding)
    np.testing.assert_allclose(np.asarray(levels["p3"]),
                               np.asarray(B.convert_format(anchors, "xyxy", "xywh")), rtol=1e-5)
    with pytest.raises(ValueError, match="variance"):
        B.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", variance=[1, 2])
    with pytest.raises(ValueError, match="center_xywh"):
        B.decode_deltas_to_boxes(anchors, boxes, "xyxy", "xyxy", encoded_format="xyxy")


def test_keras_namespace():
    import corenn.keras as keras
    assert keras.utils.bounding_boxes.convert_format is B.convert_format
