"""tf.image's detection functions against plain-Python references and hand-checked cases:
greedy / soft / padded / combined NMS, draw_bounding_boxes, resize_with_pad, YIQ,
sample_distorted_bounding_box (properties of the crop), extract_glimpse."""
import math

import numpy as np
import pytest

import corenn as tf

RNG = np.random.default_rng(0)
# two overlapping groups and a loner: [y1, x1, y2, x2]
BOXES = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11],
                  [0, 10.1, 1, 11.1], [0, 100, 1, 101]], np.float32)
SCORES = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3], np.float32)


def iou(a, b):
    a = [min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])]
    b = [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]
    area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / (area_a + area_b - inter)


def nms_reference(boxes, scores, k, thr, score_thr=-np.inf):
    order = sorted((i for i in range(len(scores)) if scores[i] > score_thr),
                   key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if len(keep) == k:
            break
        if all(iou(boxes[i], boxes[j]) <= thr for j in keep):
            keep.append(i)
    return keep


def test_nms_hand_case():
    out = tf.image.non_max_suppression(BOXES, SCORES, 3, 0.5)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(out), [3, 0, 5])
    np.testing.assert_array_equal(np.asarray(tf.image.non_max_suppression(BOXES, SCORES, 10, 0.5, 0.5)),
                                  [3, 0])   # 0.5 is not > 0.5
    ties = tf.image.non_max_suppression(BOXES[:3], np.full(3, 0.5, np.float32), 3, 0.5)
    np.testing.assert_array_equal(np.asarray(ties), [0])   # equal scores: the lower index first
    flipped = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], np.float32)   # corners in either order
    np.testing.assert_array_equal(np.asarray(tf.image.non_max_suppression(flipped, [0.5, 0.6], 3)), [1])
    empty = np.array([[1, 1, 1, 1], [1, 1, 1, 1]], np.float32)   # no area: IoU 0, both kept
    np.testing.assert_array_equal(np.asarray(tf.image.non_max_suppression(empty, [0.5, 0.6], 3)), [1, 0])


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.7])
def test_nms_matches_the_loop_reference(thr):
    boxes = RNG.random((60, 4)).astype(np.float32)
    scores = RNG.random(60).astype(np.float32)
    out = tf.image.non_max_suppression(boxes, scores, 20, thr, score_threshold=0.2)
    assert np.asarray(out).tolist() == nms_reference(boxes, scores, 20, thr, 0.2)
    idx, sc = tf.image.non_max_suppression_with_scores(boxes, scores, 20, thr, 0.2)
    assert np.asarray(idx).tolist() == np.asarray(out).tolist()
    np.testing.assert_array_equal(np.asarray(sc), scores[np.asarray(idx)])


def test_soft_nms_hand_case():
    idx, sc = tf.image.non_max_suppression_with_scores(BOXES, SCORES, 10, 0.5, soft_nms_sigma=0.5)
    np.testing.assert_array_equal(np.asarray(idx), [3, 0, 1, 5, 4, 2])
    decay = lambda s, *ious: s * math.prod(math.exp(-v * v / (2 * 0.5)) for v in ious)
    want = [0.95, 0.9, decay(0.75, 0.9 / 1.1), 0.3, decay(0.5, 0.9 / 1.1),
            decay(0.6, 0.9 / 1.1, 0.8 / 1.2)]
    np.testing.assert_allclose(np.asarray(sc), want, rtol=1e-5)   # float32 scores
    # a score threshold drops candidates once their decayed score falls to it
    idx, _ = tf.image.non_max_suppression_with_scores(BOXES, SCORES, 10, 0.5, score_threshold=0.35,
                                                      soft_nms_sigma=0.5)
    np.testing.assert_array_equal(np.asarray(idx), [3, 0, 1])
    with pytest.raises(ValueError, match="soft_nms_sigma"):
        tf.image.non_max_suppression_with_scores(BOXES, SCORES, 3, soft_nms_sigma=-1.0)


def test_nms_padded_and_overlaps():
    idx, n = tf.image.non_max_suppression_padded(BOXES, SCORES, 5, 0.5, pad_to_max_output_size=True)
    np.testing.assert_array_equal(np.asarray(idx), [3, 0, 5, 0, 0])
    assert int(np.asarray(n)) == 3
    idx, n = tf.image.non_max_suppression_padded(BOXES, SCORES, 5, 0.5)
    np.testing.assert_array_equal(np.asarray(idx), [3, 0, 5])
    batch = np.stack([BOXES, BOXES[::-1]])
    idx, n = tf.image.non_max_suppression_padded(batch, np.stack([SCORES, SCORES]), 4, 0.5,
                                                 pad_to_max_output_size=True)
    np.testing.assert_array_equal(np.asarray(idx), [[3, 0, 5, 0], [3, 0, 1, 0]])
    np.testing.assert_array_equal(np.asarray(n), [3, 3])
    with pytest.raises(ValueError, match="pad_to_max_output_size"):
        tf.image.non_max_suppression_padded(batch, np.stack([SCORES, SCORES]), 4)
    overlaps = np.array([[1, 0.8, 0.1], [0.8, 1, 0.2], [0.1, 0.2, 1]], np.float32)
    out = tf.image.non_max_suppression_overlaps(overlaps, [0.5, 0.9, 0.3], 3, 0.5)
    np.testing.assert_array_equal(np.asarray(out), [1, 2])


def test_nms_errors():
    with pytest.raises(ValueError, match=r"boxes must be \(num_boxes, 4\)"):
        tf.image.non_max_suppression(np.zeros((3, 3)), np.zeros(3), 2)
    with pytest.raises(ValueError, match="scores must be"):
        tf.image.non_max_suppression(np.zeros((3, 4)), np.zeros(2), 2)
    with pytest.raises(ValueError, match="max_output_size"):
        tf.image.non_max_suppression(np.zeros((3, 4)), np.zeros(3), -1)


def test_combined_nms_against_per_class_reference():
    boxes = RNG.random((2, 8, 1, 4)).astype(np.float32)
    boxes[..., 2:] += boxes[..., :2]
    scores = RNG.random((2, 8, 3)).astype(np.float32)
    nb, ns, nc, valid = tf.image.combined_non_max_suppression(boxes, scores, 2, 5, 0.5, 0.2)
    assert tuple(nb.shape) == (2, 5, 4) and nc.dtype == "float32" and valid.dtype == "int32"
    for n in range(2):
        found = []
        for c in range(3):
            keep = nms_reference(boxes[n, :, 0], scores[n, :, c], 2, 0.5, 0.2)
            found += [(scores[n, i, c], c, i) for i in keep]
        found = sorted(found, key=lambda f: -f[0])[:5]
        assert int(np.asarray(valid)[n]) == len(found)
        np.testing.assert_allclose(np.asarray(ns)[n, :len(found)], [f[0] for f in found])
        np.testing.assert_array_equal(np.asarray(nc)[n, :len(found)], [f[1] for f in found])
        np.testing.assert_allclose(np.asarray(nb)[n, :len(found)],
                                   np.clip([boxes[n, f[2], 0] for f in found], 0, 1))
        assert np.all(np.asarray(ns)[n, len(found):] == 0)
    _, ns, _, valid = tf.image.combined_non_max_suppression(boxes, scores, 1, 10, pad_per_class=True)
    assert tuple(ns.shape) == (2, 3)   # min(10, 1 per class * 3 classes)
    with pytest.raises(ValueError, match="batch, N, q, 4"):
        tf.image.combined_non_max_suppression(boxes[0], scores, 1, 2)


def test_draw_bounding_boxes_hand_case():
    img = np.zeros((1, 6, 8, 3), np.float32)
    boxes = np.array([[[0.2, 0.25, 0.8, 0.75], [0.0, 0.0, 1.0, 1.0]]], np.float32)
    colors = np.array([[1, 0, 0, 1], [0, 1, 0, 1]], np.float32)
    out = np.asarray(tf.image.draw_bounding_boxes(img, boxes, colors))
    red = np.zeros((6, 8))   # rows trunc(0.2 * 5) = 1 .. trunc(0.8 * 5) = 4, cols 1 .. 5
    red[1, 1:6] = red[4, 1:6] = red[1:5, 1] = red[1:5, 5] = 1
    np.testing.assert_array_equal(out[0, :, :, 0], red)
    green = np.ones((6, 8))
    green[1:5, 1:7] = 0
    np.testing.assert_array_equal(out[0, :, :, 1], green)
    # a box over the bottom-right border: its top and left edges drawn, clamped
    grey = np.asarray(tf.image.draw_bounding_boxes(np.zeros((1, 6, 8, 1), np.float32),
                                                   [[[0.5, 0.5, 1.2, 1.2]]], [[7, 1, 1, 1]]))
    want = np.zeros((6, 8))
    want[2, 3:] = want[2:, 3] = 7
    np.testing.assert_array_equal(grey[0, :, :, 0], want)
    with pytest.raises(ValueError, match="1 to\n?.*4 channels|4 channels"):
        tf.image.draw_bounding_boxes(np.zeros((1, 2, 2, 5)), np.zeros((1, 1, 4)), colors)


def test_resize_with_pad_hand_cases():
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6, 1)
    out = np.asarray(tf.image.resize_with_pad(x, 6, 6))   # no scaling, a row of zeros each side
    np.testing.assert_array_equal(out[0, 1:5, :, 0], x[0, :, :, 0])
    assert np.all(out[:, [0, 5]] == 0)
    out = np.asarray(tf.image.resize_with_pad(x[0], 3, 3, method="nearest"))
    np.testing.assert_array_equal(out[:, :, 0], [[7, 9, 11], [19, 21, 23], [0, 0, 0]])
    out = np.asarray(tf.image.resize_with_pad(x, 5, 9))   # 4 x 6 -> 5 x 7.5 (7 columns), left 0
    assert out.shape == (2, 5, 9, 1) and np.all(out[:, :, 7:] == 0)
    np.testing.assert_allclose(out[0, :, :7, 0], np.asarray(tf.image.resize(x, (5, 7)))[0, :, :, 0],
                               rtol=1e-6)


def test_yiq_round_trip_and_values():
    rgb = RNG.random((2, 3, 4, 3)).astype(np.float32)
    yiq = np.asarray(tf.image.rgb_to_yiq(rgb))
    np.testing.assert_allclose(yiq[..., 0], rgb @ [0.299, 0.587, 0.114], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.image.yiq_to_rgb(yiq)), rgb, atol=2e-4)   # TF's rounded matrices
    white = np.asarray(tf.image.rgb_to_yiq(np.ones((1, 3), np.float32)))
    np.testing.assert_allclose(white, [[1, 0, 0]], atol=1e-4)   # grey: no chroma (TF rounds)
    with pytest.raises(ValueError, match="3 channels"):
        tf.image.rgb_to_yiq(np.zeros((2, 2)))


@pytest.mark.parametrize("stateless", [False, True])
def test_sample_distorted_bounding_box_properties(stateless):
    box = np.array([[[0.1, 0.2, 0.5, 0.6]]], np.float32)
    kwargs = dict(min_object_covered=0.5, aspect_ratio_range=(0.5, 2.0), area_range=(0.1, 1.0))
    for s in range(10):
        if stateless:
            begin, size, bboxes = tf.image.stateless_sample_distorted_bounding_box(
                (100, 200, 3), box, seed=(s, 1), **kwargs)
            again = tf.image.stateless_sample_distorted_bounding_box((100, 200, 3), box, seed=(s, 1),
                                                                     **kwargs)
            np.testing.assert_array_equal(np.asarray(again[0]), np.asarray(begin))
        else:
            begin, size, bboxes = tf.image.sample_distorted_bounding_box((100, 200, 3), box, seed=s,
                                                                         **kwargs)
        top, left, zero = np.asarray(begin)
        h, w, minus = np.asarray(size)
        assert zero == 0 and minus == -1 and 0 < h <= 100 and 0 < w <= 200
        assert top + h <= 100 and left + w <= 200
        np.testing.assert_allclose(np.asarray(bboxes)[0, 0],
                                   [top / 100, left / 200, (top + h) / 100, (left + w) / 200], rtol=1e-6)
        y1, x1, y2, x2 = np.asarray(bboxes)[0, 0]
        inter = max(0, min(y2, 0.5) - max(y1, 0.1)) * max(0, min(x2, 0.6) - max(x1, 0.2))
        covers = inter / (0.4 * 0.4) >= 0.5 - 1e-6
        assert covers or (h, w) == (100, 200)   # else the whole image, as TensorFlow
        assert 0.1 - 1e-9 <= h * w / 20000 <= 1.0 and 0.5 * 0.9 <= w / h <= 2.0 * 1.1
    with pytest.raises(ValueError, match="no bounding boxes"):
        tf.image.sample_distorted_bounding_box((10, 10, 3), np.zeros((1, 0, 4)))
    _, size, _ = tf.image.sample_distorted_bounding_box((10, 10, 3), np.zeros((1, 0, 4)), seed=1,
                                                        use_image_if_no_bounding_boxes=True)
    assert np.asarray(size)[2] == -1


def test_extract_glimpse_hand_cases():
    x = np.arange(1, 37, dtype=np.float32).reshape(1, 6, 6, 1)
    cases = [  # (size, offset, centered, normalized) -> the window's top-left (row, column)
        ((2, 2), (0.0, 0.0), True, True, (2, 2)),      # centre of the image
        ((3, 3), (0.5, -0.5), True, True, (3, 0)),
        ((2, 3), (0.0, 0.0), False, False, (0, 0)),    # pixels from the top-left
        ((2, 2), (1.0, 2.0), False, False, (1, 2)),
        ((3, 3), (0.25, 0.25), False, True, (1, 1)),   # 1.5 truncated
        ((2, 2), (1.0, 1.0), True, False, (4, 4)),     # pixels from the centre
        ((3, 3), (-4.5, 0.0), True, False, (-1, 3)),   # -1.5 truncated toward zero
    ]
    for size, off, centered, normalized, (top, left) in cases:
        out = np.asarray(tf.image.extract_glimpse(x, size, [off], centered=centered,
                                                  normalized=normalized, noise="zero"))[0, :, :, 0]
        want = np.zeros(size)
        for r in range(size[0]):
            for c in range(size[1]):
                if 0 <= top + r < 6 and 0 <= left + c < 6:
                    want[r, c] = x[0, top + r, left + c, 0]
        np.testing.assert_array_equal(out, want, err_msg=str((size, off, centered, normalized)))


def test_nms_kernel_entry_checks_and_degenerate_boxes():
    from corenn import kernels
    boxes = RNG.random((200, 4)).astype(np.float32) * 10
    boxes[::7, 2] = boxes[::7, 0]   # some boxes without area: never suppress, never suppressed
    scores = RNG.random(200)
    order = np.lexsort((np.arange(200), -scores))
    for thr in (0.0, 0.25, 0.9):
        got = kernels.nms_greedy(boxes, order, 200, thr).tolist()
        assert got == nms_reference(boxes, scores, 200, thr)
    assert kernels.nms_greedy(boxes, order, 0, 0.5).tolist() == []
    assert kernels.nms_greedy(boxes, order[:0], 5, 0.5).tolist() == []
    with pytest.raises(ValueError, match=r"order\[1\] = 200 is not a box index"):
        kernels.nms_greedy(boxes, np.array([0, 200]), 5, 0.5)
    with pytest.raises(ValueError, match=r"boxes must be \(num_boxes, 4\)"):
        kernels.nms_greedy(boxes[:, :3], order, 5, 0.5)
    with pytest.raises(ValueError, match="max_output"):
        kernels.nms_greedy(boxes, order, -1, 0.5)


def test_extract_glimpse_noise_outside_the_image():
    x = np.random.default_rng(1).random((1, 50, 50, 2)).astype(np.float32) * 3 + 5
    for noise in ("uniform", "gaussian"):
        out = np.asarray(tf.image.extract_glimpse(x, (40, 40), [[-1.0, -1.0]], noise=noise))
        outside = out[0, :20, :20]   # the window hangs 20 pixels over the top-left corner
        for c in range(2):
            assert x[0, :, :, c].min() <= outside[..., c].min() and outside[..., c].max() <= x[0, :, :, c].max()
            assert abs(outside[..., c].mean() - x[0, :, :, c].mean()) < 0.3
        np.testing.assert_array_equal(out[0, 20:, 20:], x[0, :20, :20])
    with pytest.raises(ValueError, match="noise"):
        tf.image.extract_glimpse(x, (4, 4), [[0.0, 0.0]], noise="salt")


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 25), st.floats(0.0, 1.0), st.integers(0, 30), st.integers(0, 2 ** 31 - 1))
def test_nms_property_matches_reference(n, thr, k, seed):
    rng = np.random.default_rng(seed)
    boxes = (rng.integers(0, 6, (n, 4)) / 2).astype(np.float32)   # coarse grid: ties and repeats
    scores = (rng.integers(0, 4, n) / 4).astype(np.float32)
    out = tf.image.non_max_suppression(boxes, scores, k, thr, score_threshold=0.1)
    # the threshold is a float32, as TensorFlow's op takes it (hypothesis found 1 - 1e-16, which
    # rounds to 1.0: identical boxes, IoU 1, are then not suppressed, in TF as here)
    assert np.asarray(out).tolist() == nms_reference(boxes, scores, k, float(np.float32(thr)), 0.1)


def test_nms_thresholds_are_float32_as_in_tensorflow():
    # hypothesis found it: n=18, thr=1 - 1e-16, seed=1. In float32 the threshold is 1.0, so two
    # identical boxes (IoU exactly 1, not > 1) are both kept, as TensorFlow keeps them
    same = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], np.float32)
    out = tf.image.non_max_suppression(same, [0.9, 0.8], 5, 0.9999999999999999)
    assert np.asarray(out).tolist() == [0, 1]
    out = tf.image.non_max_suppression(same, [0.9, 0.8], 5, 0.99)
    assert np.asarray(out).tolist() == [0]
