"""``tf.image``'s object-detection functions: non-max suppression (hard, soft, padded,
combined), draw_bounding_boxes, sample_distorted_bounding_box, resize_with_pad, the YIQ colour
space and extract_glimpse. Re-exported by ``corenn.image`` (``tf.image``).

Boxes are TensorFlow's [y1, x1, y2, x2] (any two opposite corners: NMS orders them), scores one
per box. NumPy float64 does the rest on the host, as these run in input pipelines and on a
detector's outputs, never under a gradient; indices come back as int32 Tensors, scores and
boxes float32.

Greedy NMS (TensorFlow's NonMaxSuppressionV5; the loop is a C++ kernel, csrc/ops/nms.h, the
sorting NumPy): candidates are the boxes with score >
score_threshold, visited by score (ties: the lower index first); a candidate is kept unless its
IoU with a box already kept exceeds iou_threshold (IoU 0 when either box has no area). With
soft_nms_sigma > 0 (Bodla et al. 2017) nothing is removed by IoU: a candidate's score is
multiplied by exp(-iou^2 / (2 sigma)) for each kept box it has not yet met; if it changed it goes
back into the queue (when still > score_threshold), else it is kept.
"""
from __future__ import annotations

import collections

import heapq

import numpy as np

from . import kernels

__all__ = ["non_max_suppression", "non_max_suppression_with_scores", "non_max_suppression_padded",
           "non_max_suppression_overlaps", "combined_non_max_suppression", "draw_bounding_boxes",
           "sample_distorted_bounding_box", "stateless_sample_distorted_bounding_box",
           "resize_with_pad", "rgb_to_yiq", "yiq_to_rgb", "extract_glimpse"]


def _int32(a):
    return kernels.as_tensor(np.ascontiguousarray(np.asarray(a, np.int32)))


def _float32(a):
    return kernels.as_tensor(np.ascontiguousarray(np.asarray(a, np.float32)))


def _nms_inputs(boxes, scores, max_output_size, op):
    b = np.asarray(boxes, np.float64)
    s = np.asarray(scores, np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"tf.image.{op}: boxes must be (num_boxes, 4), got shape {b.shape}")
    if s.shape != (b.shape[0],):
        raise ValueError(f"tf.image.{op}: scores must be (num_boxes,) = ({b.shape[0]},), got shape "
                         f"{s.shape}")
    k = int(np.asarray(max_output_size))
    if k < 0:
        raise ValueError(f"tf.image.{op}: max_output_size must be >= 0, got {k}")
    return b, s, k


def _ordered(b):
    """Boxes with their corners ordered: (y_min, x_min, y_max, x_max)."""
    return np.concatenate([np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])], axis=1)


def _iou_one(b, i, others):
    """IoU of box i with the boxes ``others`` (indices), b ordered; 0 where an area is <= 0."""
    o = b[others]
    area_i = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1])
    area_o = (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1])
    ih = np.maximum(np.minimum(b[i, 2], o[:, 2]) - np.maximum(b[i, 0], o[:, 0]), 0.0)
    iw = np.maximum(np.minimum(b[i, 3], o[:, 3]) - np.maximum(b[i, 1], o[:, 1]), 0.0)
    inter = ih * iw
    union = area_i + area_o - inter
    ok = (area_i > 0) & (area_o > 0)
    return np.where(ok, inter / np.where(ok, union, 1.0), 0.0)


def _greedy(b, s, k, iou_threshold, score_threshold, overlaps=None):
    """Indices kept by hard NMS, in selection order: the C++ loop (csrc/ops/nms.h) on boxes, a
    NumPy loop (one vectorised row per kept box) on a given overlap matrix."""
    # TensorFlow's op takes both thresholds as float32 tensors: 1 - 1e-16 is 1.0 there, so two
    # identical boxes (IoU exactly 1) are both kept; compared in double it suppressed one
    iou_threshold, score_threshold = float(np.float32(iou_threshold)), float(np.float32(score_threshold))
    cand = np.flatnonzero(s > score_threshold)
    cand = cand[np.lexsort((cand, -s[cand]))]          # score descending, then index ascending
    if overlaps is None:
        return kernels.nms_greedy(b, cand, k, iou_threshold).tolist()
    keep = []
    while cand.size and len(keep) < k:
        i = cand[0]
        keep.append(int(i))
        rest = cand[1:]
        sim = overlaps[i, rest]
        cand = rest[~(sim > iou_threshold)]
    return keep


def _soft(b, s, k, iou_threshold, score_threshold, sigma):
    """Soft-NMS with a Gaussian penalty, TensorFlow's queue (see the module docstring)."""
    scale = -0.5 / sigma
    iou_threshold, score_threshold = float(np.float32(iou_threshold)), float(np.float32(score_threshold))
    heap = [(-s[i], i, 0) for i in np.flatnonzero(s > score_threshold)]   # (-score, index, seen)
    heapq.heapify(heap)
    keep, kept_scores = [], []
    while heap and len(keep) < k:
        neg, i, seen = heapq.heappop(heap)
        score = original = -neg
        for j in range(len(keep) - 1, seen - 1, -1):
            sim = _iou_one(b, i, np.array([keep[j]]))[0]
            score *= np.exp(scale * sim * sim)
            if score <= score_threshold:
                break
        if score == original:
            keep.append(int(i))
            kept_scores.append(score)
        elif score > score_threshold:
            heapq.heappush(heap, (-score, i, len(keep)))
    return keep, kept_scores


def non_max_suppression(boxes, scores, max_output_size, iou_threshold=0.5,
                        score_threshold=float("-inf"), name=None):
    """Indices (int32, at most max_output_size) of the boxes greedy NMS keeps, best first."""
    b, s, k = _nms_inputs(boxes, scores, max_output_size, "non_max_suppression")
    return _int32(_greedy(_ordered(b), s, k, float(iou_threshold), float(score_threshold)))


def non_max_suppression_with_scores(boxes, scores, max_output_size, iou_threshold=0.5,
                                    score_threshold=float("-inf"), soft_nms_sigma=0.0, name=None):
    """(indices, scores) of the kept boxes; soft_nms_sigma > 0 runs Soft-NMS (the scores are
    then the decayed ones), 0 is hard NMS."""
    op = "non_max_suppression_with_scores"
    b, s, k = _nms_inputs(boxes, scores, max_output_size, op)
    sigma = float(soft_nms_sigma)
    if sigma < 0:
        raise ValueError(f"tf.image.{op}: soft_nms_sigma must be >= 0, got {sigma}")
    if sigma == 0.0:
        keep = _greedy(_ordered(b), s, k, float(iou_threshold), float(score_threshold))
        return _int32(keep), _float32(s[keep])
    keep, kept = _soft(_ordered(b), s, k, float(iou_threshold), float(score_threshold), sigma)
    return _int32(keep), _float32(kept)


def non_max_suppression_overlaps(overlaps, scores, max_output_size, overlap_threshold=0.5,
                                 score_threshold=float("-inf"), name=None):
    """Greedy NMS on a given (N, N) overlap matrix instead of box IoUs."""
    o = np.asarray(overlaps, np.float64)
    s = np.asarray(scores, np.float64)
    if o.ndim != 2 or o.shape[0] != o.shape[1] or s.shape != (o.shape[0],):
        raise ValueError(f"tf.image.non_max_suppression_overlaps: overlaps must be (N, N) and "
                         f"scores (N,), got {o.shape} and {s.shape}")
    return _int32(_greedy(None, s, int(max_output_size), float(overlap_threshold),
                          float(score_threshold), overlaps=o))


def non_max_suppression_padded(boxes, scores, max_output_size, iou_threshold=0.5,
                               score_threshold=float("-inf"), pad_to_max_output_size=False,
                               name=None, sorted_input=False, canonicalized_coordinates=False,
                               tile_size=512):
    """(indices, num_valid): greedy NMS whose indices are padded with 0 to max_output_size when
    ``pad_to_max_output_size`` (required for batched boxes (..., N, 4), which give indices
    (..., max_output_size) and num_valid (...))."""
    op = "non_max_suppression_padded"
    b = np.asarray(boxes, np.float64)
    s = np.asarray(scores, np.float64)
    if b.ndim < 2 or b.shape[-1] != 4 or s.shape != b.shape[:-1]:
        raise ValueError(f"tf.image.{op}: boxes must be (..., N, 4) with scores (..., N), got "
                         f"{b.shape} and {s.shape}")
    if b.ndim > 2 and not pad_to_max_output_size:
        raise ValueError(f"tf.image.{op}: pad_to_max_output_size must be True for batched input")
    k = int(np.asarray(max_output_size))
    flat_b, flat_s = b.reshape(-1, b.shape[-2], 4), s.reshape(-1, s.shape[-1])
    rows, valid = [], []
    for bi, si in zip(flat_b, flat_s):
        keep = _greedy(_ordered(bi), si, k, float(iou_threshold), float(score_threshold))
        valid.append(len(keep))
        rows.append(keep + [0] * (k - len(keep)) if pad_to_max_output_size else keep)
    if b.ndim == 2:
        return _int32(rows[0]), _int32(valid[0]).reshape(())
    return (_int32(np.asarray(rows).reshape(b.shape[:-2] + (k,))),
            _int32(np.asarray(valid).reshape(b.shape[:-2])))


# TensorFlow's result type: the fields by name (detections.valid_detections) or by position
CombinedNonMaxSuppression = collections.namedtuple(
    "CombinedNonMaxSuppression", ["nmsed_boxes", "nmsed_scores", "nmsed_classes", "valid_detections"])


def combined_non_max_suppression(boxes, scores, max_output_size_per_class, max_total_size,
                                 iou_threshold=0.5, score_threshold=float("-inf"),
                                 pad_per_class=False, clip_boxes=True, name=None):
    """Per-class greedy NMS over a batch, merged: boxes (B, N, q, 4) (q = 1: shared by the
    classes, or q = C), scores (B, N, C). Each class keeps at most max_output_size_per_class
    boxes; all kept are ordered by score and the best max_total_size returned (with
    pad_per_class, min(max_total_size, per_class * C)). Returns (boxes (B, K, 4), scores
    (B, K), classes (B, K) float32, valid_detections (B,) int32), zero-padded; boxes clipped to
    [0, 1] when clip_boxes."""
    op = "combined_non_max_suppression"
    b = np.asarray(boxes, np.float64)
    s = np.asarray(scores, np.float64)
    if b.ndim != 4 or b.shape[-1] != 4 or s.ndim != 3 or s.shape[:2] != b.shape[:2] \
            or b.shape[2] not in (1, s.shape[2]):
        raise ValueError(f"tf.image.{op}: boxes must be (batch, N, q, 4) and scores (batch, N, "
                         f"classes) with q 1 or classes, got {b.shape} and {s.shape}")
    per_class, total = int(max_output_size_per_class), int(max_total_size)
    n_cls = s.shape[2]
    if per_class <= 0 or total <= 0:
        raise ValueError(f"tf.image.{op}: max_output_size_per_class and max_total_size must be "
                         f"> 0, got {per_class} and {total}")
    k = min(total, per_class * n_cls) if pad_per_class else total
    out_b = np.zeros((b.shape[0], k, 4))
    out_s = np.zeros((b.shape[0], k))
    out_c = np.zeros((b.shape[0], k))
    valid = np.zeros(b.shape[0], np.int64)
    for n in range(b.shape[0]):
        found = []   # (score, class, box index)
        for c in range(n_cls):
            bc = b[n, :, 0 if b.shape[2] == 1 else c]
            keep = _greedy(_ordered(bc), s[n, :, c], per_class, float(iou_threshold),
                           float(score_threshold))
            found += [(s[n, i, c], c, i) for i in keep]
        found.sort(key=lambda f: -f[0])            # stable: equal scores keep class order
        found = found[:k]
        valid[n] = len(found)
        for j, (score, c, i) in enumerate(found):
            out_b[n, j] = b[n, i, 0 if b.shape[2] == 1 else c]
            out_s[n, j], out_c[n, j] = score, c
    if clip_boxes:
        out_b = np.clip(out_b, 0.0, 1.0)
    return CombinedNonMaxSuppression(_float32(out_b), _float32(out_s), _float32(out_c), _int32(valid))


# ---------------------------------------------------------------------------------------------
# Drawing, sampling crops, padding resize, YIQ

# TensorFlow's colours when none are given (RGBA): yellow, blue, red, lime, purple, olive,
# maroon, navy, aqua, fuchsia
DEFAULT_COLORS = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1],
                           [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1], [0.5, 0, 0, 1], [0, 0, 0.5, 1],
                           [0, 1, 1, 1], [1, 0, 1, 1]], np.float64)


def draw_bounding_boxes(images, boxes, colors=None, name=None):
    """Images (B, H, W, C), C in 1..4, with the one-pixel outline of each box (B, N, 4)
    [y1, x1, y2, x2] relative (0..1) drawn in colors[n % len(colors)] (RGBA rows, the first C
    values used). Edges sit at trunc(y (H - 1)) and trunc(x (W - 1)); an edge outside the image
    is not drawn, the others are clamped to it, as TensorFlow."""
    op = "draw_bounding_boxes"
    img = np.array(images, np.float64)
    bx = np.asarray(boxes, np.float64)
    if img.ndim != 4 or not 1 <= img.shape[3] <= 4:
        raise ValueError(f"tf.image.{op}: images must be (batch, height, width, channels) with 1 to "
                         f"4 channels, got shape {img.shape}")
    if bx.ndim != 3 or bx.shape[2] != 4 or bx.shape[0] != img.shape[0]:
        raise ValueError(f"tf.image.{op}: boxes must be (batch, num_boxes, 4) with the images' "
                         f"batch {img.shape[0]}, got shape {bx.shape}")
    table = DEFAULT_COLORS if colors is None or np.size(colors) == 0 else np.asarray(colors, np.float64)
    if table.ndim != 2 or table.shape[1] < img.shape[3]:
        raise ValueError(f"tf.image.{op}: colors must be (num_colors, >= channels), got shape "
                         f"{table.shape} for {img.shape[3]} channels")
    _, h, w, c = img.shape
    for n in range(bx.shape[0]):
        for j in range(bx.shape[1]):
            colour = table[j % len(table), :c]
            r0, c0 = int(bx[n, j, 0] * (h - 1)), int(bx[n, j, 1] * (w - 1))   # truncation, as TF
            r1, c1 = int(bx[n, j, 2] * (h - 1)), int(bx[n, j, 3] * (w - 1))
            if r0 > r1 or c0 > c1 or r0 >= h or r1 < 0 or c0 >= w or c1 < 0:
                continue
            rs, re = max(r0, 0), min(r1, h - 1)
            cs, ce = max(c0, 0), min(c1, w - 1)
            if r0 >= 0:
                img[n, r0, cs:ce + 1] = colour
            if r1 < h:
                img[n, r1, cs:ce + 1] = colour
            if c0 >= 0:
                img[n, rs:re + 1, c0] = colour
            if c1 < w:
                img[n, rs:re + 1, c1] = colour
    return _float32(img)


def _random_crop_size(rng, h, w, min_area, max_area, ratio):
    """A crop (height, width) of aspect ratio ~ ``ratio`` and area in [min_area, max_area], as
    TensorFlow draws it: the height uniform among the integers between the areas' heights
    (rounded), the width round(height * ratio), one step up or down to meet the area; None when
    it cannot fit."""
    height = int(np.rint(np.sqrt(min_area / ratio)))
    max_height = int(np.rint(np.sqrt(max_area / ratio)))
    if np.rint(max_height * ratio) > w:   # the largest height whose width still fits
        max_height = int((w + 0.5 - 1e-7) / ratio)
        if np.rint(max_height * ratio) > w:
            max_height -= 1
    max_height = min(max_height, h)
    height = min(height, max_height)
    if height < max_height:
        height += int(rng.integers(0, max_height - height + 1))
    width = int(np.rint(height * ratio))
    if width * height < min_area:
        height += 1
        width = int(np.rint(height * ratio))
    if width * height > max_area:
        height -= 1
        width = int(np.rint(height * ratio))
    area = width * height
    if area < min_area or area > max_area or width > w or height > h or width <= 0 or height <= 0:
        return None
    return height, width


def _sample_crop(rng, image_size, bounding_boxes, min_object_covered, aspect_ratio_range,
                 area_range, max_attempts, use_image_if_no_bounding_boxes, op):
    size = np.asarray(image_size).reshape(-1)
    if size.shape != (3,):
        raise ValueError(f"tf.image.{op}: image_size must be (height, width, channels), got {size}")
    h, w = int(size[0]), int(size[1])
    bx = np.asarray(bounding_boxes, np.float64).reshape(-1, 4)
    if bx.size == 0:
        if not use_image_if_no_bounding_boxes:
            raise ValueError(f"tf.image.{op}: no bounding boxes given; pass some or set "
                             "use_image_if_no_bounding_boxes=True")
        bx = np.array([[0.0, 0.0, 1.0, 1.0]])
    lo_ar, hi_ar = (float(v) for v in aspect_ratio_range)
    lo_area, hi_area = (float(v) * h * w for v in area_range)
    if not (0 < lo_ar <= hi_ar and 0 <= lo_area <= hi_area):
        raise ValueError(f"tf.image.{op}: aspect_ratio_range and area_range must be (min, max) "
                         f"with 0 < min <= max, got {aspect_ratio_range} and {area_range}")
    covered = float(min_object_covered)
    # the boxes in pixels, as TensorFlow compares them (truncated to ints)
    py = (bx[:, [0, 2]] * h).astype(np.int64)
    px = (bx[:, [1, 3]] * w).astype(np.int64)
    box_area = (py[:, 1] - py[:, 0]) * (px[:, 1] - px[:, 0])
    for _ in range(int(max_attempts)):
        crop = _random_crop_size(rng, h, w, lo_area, hi_area, rng.uniform(lo_ar, hi_ar))
        if crop is None:
            continue
        ch, cw = crop
        top = int(rng.integers(0, h - ch)) if ch < h else 0
        left = int(rng.integers(0, w - cw)) if cw < w else 0
        ih = np.maximum(np.minimum(top + ch, py[:, 1]) - np.maximum(top, py[:, 0]), 0)
        iw = np.maximum(np.minimum(left + cw, px[:, 1]) - np.maximum(left, px[:, 0]), 0)
        ok = box_area >= 1
        if np.any(ok & (ih * iw >= covered * np.where(ok, box_area, 1))):
            return top, left, ch, cw
    return 0, 0, h, w   # no crop fits: the whole image, as TensorFlow


def _crop_outputs(top, left, ch, cw, h, w, channels=-1):
    begin = _int32([top, left, 0])
    size = _int32([ch, cw, channels])
    box = _float32(np.array([[[top / h, left / w, (top + ch) / h, (left + cw) / w]]]))
    return begin, size, box


def sample_distorted_bounding_box(image_size, bounding_boxes, seed=None, min_object_covered=0.1,
                                  aspect_ratio_range=(0.75, 1.33), area_range=(0.05, 1.0),
                                  max_attempts=100, use_image_if_no_bounding_boxes=False,
                                  name=None):
    """A random crop for augmentation (Inception's), TensorFlow's procedure: up to max_attempts
    times an aspect ratio uniform in aspect_ratio_range, a height uniform among those whose
    area (width = round(height * ratio)) lies in area_range (fractions of the image), an offset
    uniform; the first crop that covers >= min_object_covered of some box (relative [y1, x1, y2,
    x2], shape (..., 4), compared in whole pixels) wins, else the whole image. Returns (begin [top, left, 0],
    size [height, width, -1], bboxes (1, 1, 4)) as tf.slice takes them. The draws are corenn's
    (``seed`` or the global generator), not TensorFlow's."""
    from .image import _rng
    rng = _rng(seed)
    top, left, ch, cw = _sample_crop(rng, image_size, bounding_boxes, min_object_covered,
                                     aspect_ratio_range, area_range, max_attempts,
                                     use_image_if_no_bounding_boxes, "sample_distorted_bounding_box")
    h, w = (int(v) for v in np.asarray(image_size).reshape(-1)[:2])
    return _crop_outputs(top, left, ch, cw, h, w)


def stateless_sample_distorted_bounding_box(image_size, bounding_boxes, seed,
                                            min_object_covered=0.1,
                                            aspect_ratio_range=(0.75, 1.33),
                                            area_range=(0.05, 1.0), max_attempts=100,
                                            use_image_if_no_bounding_boxes=False, name=None):
    """``sample_distorted_bounding_box`` whose draws depend only on ``seed`` (a pair of ints)."""
    from .random import stateless_rng
    rng = stateless_rng(seed, "image.stateless_sample_distorted_bounding_box")
    op = "stateless_sample_distorted_bounding_box"
    top, left, ch, cw = _sample_crop(rng, image_size, bounding_boxes, min_object_covered,
                                     aspect_ratio_range, area_range, max_attempts,
                                     use_image_if_no_bounding_boxes, op)
    h, w = (int(v) for v in np.asarray(image_size).reshape(-1)[:2])
    return _crop_outputs(top, left, ch, cw, h, w)


def resize_with_pad(image, target_height, target_width, method="bilinear", antialias=False):
    """Resize keeping the aspect ratio so the image fits (target_height, target_width), then pad
    with zeros, the margins centred (floor of half the leftover), as TensorFlow."""
    from . import image as tf_image
    t, batched = tf_image._image(image, "resize_with_pad")
    h, w = (t.shape[1:3] if batched else t.shape[0:2])
    th, tw = int(target_height), int(target_width)
    if th <= 0 or tw <= 0:
        raise ValueError(f"tf.image.resize_with_pad: target size must be positive, got ({th}, {tw})")
    ratio = max(w / tw, h / th)
    rh, rw = h / ratio, w / ratio
    resized = tf_image.resize(t, (max(1, int(np.floor(rh))), max(1, int(np.floor(rw)))),
                              method=method, antialias=antialias)
    top, left = max(0, int(np.floor((th - rh) / 2))), max(0, int(np.floor((tw - rw) / 2)))
    return tf_image.pad_to_bounding_box(resized, top, left, th, tw)


# TensorFlow's YIQ matrices (rows: R, G, B -> columns Y, I, Q) and the inverse
_RGB_TO_YIQ = np.array([[0.299, 0.59590059, 0.2115], [0.587, -0.27455667, -0.52273617],
                        [0.114, -0.32134392, 0.31119955]])
_YIQ_TO_RGB = np.array([[1, 1, 1], [0.95598634, -0.27201283, -1.10674021],
                        [0.6208248, -0.64720424, 1.70423049]])


def _colour_matrix(images, matrix, op):
    from . import ops
    from .kernels import Tensor
    t = images if isinstance(images, Tensor) else ops._to_tensor(np.asarray(images, np.float32))
    if t.shape[-1] != 3:
        raise ValueError(f"tf.image.{op}: expected 3 channels in the last axis, got shape {tuple(t.shape)}")
    return ops.matmul(t if t.dtype == "float32" else ops.cast(t, "float32"), matrix.astype(np.float32))


def rgb_to_yiq(images):
    """RGB (..., 3) in [0, 1] to YIQ: Y in [0, 1], I in [-0.5957, 0.5957], Q in [-0.5226, 0.5226]."""
    return _colour_matrix(images, _RGB_TO_YIQ, "rgb_to_yiq")


def yiq_to_rgb(images):
    """The inverse of ``rgb_to_yiq``."""
    return _colour_matrix(images, _YIQ_TO_RGB, "yiq_to_rgb")


def extract_glimpse(input, size, offsets, centered=True, normalized=True, noise="uniform",
                    name=None):
    """Windows of ``size`` (gh, gw) from images (B, H, W, C), one per image at ``offsets``
    (B, 2) (y, x), TensorFlow 2's placement: normalized and centered, the offset in [-1, 1] is
    the window's centre relative to the image's (top = (y + 1) H / 2 - gh / 2); normalized
    alone, the top-left corner as a fraction (top = y H); centered alone, the top-left corner in
    pixels from the image centre (top = y + H / 2); neither, the top-left corner in pixels.
    Corners are truncated toward zero. Pixels outside the image are noise, per image and
    channel as TensorFlow: 'uniform' in [min, max] of the image, 'gaussian' N(mean, std) clipped
    to [min, max], 'zero' 0 (draws from corenn's generator)."""
    x = np.asarray(input, np.float64)
    off = np.asarray(offsets, np.float64)
    if x.ndim != 4 or off.shape != (x.shape[0], 2):
        raise ValueError(f"tf.image.extract_glimpse: input must be (batch, H, W, C) and offsets "
                         f"(batch, 2), got {x.shape} and {off.shape}")
    if noise not in ("uniform", "gaussian", "zero"):
        raise ValueError(f"tf.image.extract_glimpse: noise must be 'uniform', 'gaussian' or 'zero',"
                         f" got {noise!r}")
    gh, gw = (int(v) for v in np.asarray(size).reshape(-1))
    n, h, w, c = x.shape
    out = np.zeros((n, gh, gw, c))
    if noise != "zero" and x.size:
        from .image import _rng
        rng = _rng(None)
        lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
        if noise == "uniform":
            out = lo + (hi - lo) * rng.random(out.shape)
        else:
            mean, std = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True)
            out = np.clip(mean + std * rng.standard_normal(out.shape), lo, hi)
    for i in range(n):
        y, xx = off[i]
        if normalized:
            y, xx = y * h, xx * w
            if centered:
                y, xx = y / 2.0 + h / 2.0 - gh / 2.0, xx / 2.0 + w / 2.0 - gw / 2.0
        elif centered:
            y, xx = y + h / 2.0, xx + w / 2.0
        top, left = int(y), int(xx)   # truncation toward zero, as TensorFlow
        rs, re = max(top, 0), min(top + gh, h)
        cs, ce = max(left, 0), min(left + gw, w)
        if rs < re and cs < ce:
            out[i, rs - top:re - top, cs - left:ce - left] = x[i, rs:re, cs:ce]
    return _float32(out)
