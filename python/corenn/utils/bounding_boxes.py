"""``keras.utils.bounding_boxes``: bounding-box formats, conversion, clipping, IoU and the
anchor delta encoding of object detection, in float64 NumPy (results float32 Tensors).

Formats (the names Keras uses, case-insensitive), four numbers per box on the last axis:
    xyxy          left, top, right, bottom           (pixels)
    yxyx          top, left, bottom, right
    xywh          left, top, width, height
    center_xywh   centre x, centre y, width, height
    center_yxhw   centre y, centre x, height, width
    rel_xyxy, rel_yxyx, rel_xywh, rel_center_xywh    the same divided by the image's width
                  (x values) and height (y values): [0, 1] inside the image
Box coordinates are continuous: pixel (row i, column j) covers [j, j + 1) x [i, i + 1), so a box
(0, 0, W, H) is the whole image. Boxes are (..., 4): one image's (N, 4) or a batch's (B, N, 4).

The layer side (how boxes follow an image transform) is ``transform_xyxy`` here and
``layers/image_boxes.py``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["convert_format", "clip_to_image_size", "affine_transform", "crop", "pad",
           "compute_iou", "compute_ciou", "encode_box_to_deltas", "decode_deltas_to_boxes",
           "SUPPORTED_FORMATS"]

SUPPORTED_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy",
                     "rel_yxyx", "rel_xywh", "rel_center_xywh")
EPSILON = 1e-7   # Keras' backend.epsilon(), in the IoU denominators and delta logs


def _boxes(boxes, op, ranks=None):
    a = np.asarray(boxes, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != 4:
        raise ValueError(f"bounding_boxes.{op}: boxes must have a last axis of 4, got shape "
                         f"{a.shape}")
    if ranks is not None and a.ndim not in ranks:
        raise ValueError(f"bounding_boxes.{op}: boxes must be (N, 4) or (batch, N, 4), got shape "
                         f"{a.shape}")
    return a


def _result(a, dtype="float32"):
    """float32 / int32 / int64 results as corenn Tensors, other dtypes as NumPy arrays."""
    from ..kernels import as_tensor
    name = np.dtype(dtype).name
    out = np.ascontiguousarray(np.asarray(a).astype(name))
    return as_tensor(out) if name in ("float32", "int32", "int64") else out


def _format(fmt, op):
    if not isinstance(fmt, str) or fmt.lower() not in SUPPORTED_FORMATS:
        raise ValueError(f"bounding_boxes.{op}: format must be one of {', '.join(SUPPORTED_FORMATS)}"
                         f", got {fmt!r}")
    return fmt.lower()


def _to_xyxy(b, fmt, height, width):
    """(..., 4) float64 boxes of ``fmt`` in absolute xyxy."""
    rel = fmt.startswith("rel_")
    fmt = fmt[4:] if rel else fmt
    p, q, r, s = (b[..., i] for i in range(4))
    if fmt == "xyxy":
        x1, y1, x2, y2 = p, q, r, s
    elif fmt == "yxyx":
        y1, x1, y2, x2 = p, q, r, s
    elif fmt == "xywh":
        x1, y1, x2, y2 = p, q, p + r, q + s
    elif fmt == "center_xywh":
        x1, y1, x2, y2 = p - r / 2.0, q - s / 2.0, p + r / 2.0, q + s / 2.0
    else:   # center_yxhw
        x1, y1, x2, y2 = q - s / 2.0, p - r / 2.0, q + s / 2.0, p + r / 2.0
    out = np.stack([x1, y1, x2, y2], axis=-1)
    return out * np.array([width, height, width, height], np.float64) if rel else out


def _from_xyxy(b, fmt, height, width):
    rel = fmt.startswith("rel_")
    fmt = fmt[4:] if rel else fmt
    if rel:
        b = b / np.array([width, height, width, height], np.float64)
    x1, y1, x2, y2 = (b[..., i] for i in range(4))
    w, h = x2 - x1, y2 - y1
    cols = {"xyxy": (x1, y1, x2, y2), "yxyx": (y1, x1, y2, x2), "xywh": (x1, y1, w, h),
            "center_xywh": (x1 + w / 2.0, y1 + h / 2.0, w, h),
            "center_yxhw": (y1 + h / 2.0, x1 + w / 2.0, h, w)}[fmt]
    return np.stack(cols, axis=-1)


def convert_xyxy(boxes, source, target, height=None, width=None, op="convert_format"):
    """``convert_format`` on float64 NumPy, for the modules here and the layers."""
    source, target = _format(source, op), _format(target, op)
    b = _boxes(boxes, op)
    if (source.startswith("rel_") or target.startswith("rel_")) and (height is None or width is None):
        raise ValueError(f"bounding_boxes.{op}: converting between {source!r} and {target!r} needs "
                         f"height and width, got height={height}, width={width}")
    if source == target:
        return b
    if source.startswith("rel_") and target.startswith("rel_"):   # no image size needed
        source, target, height, width = source[4:], target[4:], 1.0, 1.0
    h = None if height is None else float(height)
    w = None if width is None else float(width)
    return _from_xyxy(_to_xyxy(b, source, h, w), target, h, w)


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Boxes (..., 4) from format ``source`` to ``target`` (see the module's list); the rel_
    formats need the image's ``height`` and ``width``. A dict {"boxes", "labels", ...} gives
    the same dict with its boxes converted. Example: xyxy [10, 20, 30, 40] is xywh
    [10, 20, 20, 20] and, in a 200 x 300 image, rel_xyxy [0.0333, 0.1, 0.1, 0.2]."""
    if isinstance(boxes, dict):
        out = dict(boxes)
        out["boxes"] = convert_format(boxes["boxes"], source, target, height, width, dtype)
        return out
    return _result(convert_xyxy(boxes, source, target, height, width), dtype)


def _check_dict(bounding_boxes, op):
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes:
        raise ValueError(f"bounding_boxes.{op}: expected a dict with 'boxes' (and 'labels'), got "
                         f"{type(bounding_boxes).__name__}"
                         + (f" with keys {sorted(bounding_boxes)}" if isinstance(bounding_boxes, dict) else ""))


def clip_xyxy(boxes, labels, height, width):
    """Clip absolute xyxy boxes to [0, width] x [0, height]; labels of boxes left without area
    become -1 (Keras keeps the box, marks it as padding). NumPy in, NumPy out."""
    b = np.asarray(boxes, np.float64).copy()
    b[..., 0::2] = np.clip(b[..., 0::2], 0.0, float(width))
    b[..., 1::2] = np.clip(b[..., 1::2], 0.0, float(height))
    if labels is None:
        return b, None
    area = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    lab = np.asarray(labels)
    return b, np.where(area > 0, lab, np.asarray(-1, lab.dtype if lab.dtype.kind in "iuf" else np.int64))


def clip_to_image_size(bounding_boxes, height=None, width=None, bounding_box_format="xyxy"):
    """Clips {"boxes", "labels"} to the image: xyxy to [0, width] x [0, height] (both needed),
    rel_xyxy to [0, 1]. A box with no area left keeps its place and gets label -1."""
    _check_dict(bounding_boxes, "clip_to_image_size")
    if bounding_box_format not in ("xyxy", "rel_xyxy"):
        raise NotImplementedError(f"bounding_boxes.clip_to_image_size: bounding_box_format must be "
                                  f"'xyxy' or 'rel_xyxy' (as Keras), got {bounding_box_format!r}")
    if bounding_box_format == "xyxy" and (height is None or width is None):
        raise ValueError("bounding_boxes.clip_to_image_size: height and width must be given for "
                         "bounding_box_format='xyxy'")
    h, w = (1.0, 1.0) if bounding_box_format == "rel_xyxy" else (height, width)
    boxes = _boxes(bounding_boxes["boxes"], "clip_to_image_size")
    labels = bounding_boxes.get("labels")
    b, lab = clip_xyxy(boxes, None if labels is None else np.asarray(labels), h, w)
    out = dict(bounding_boxes)
    out["boxes"] = _result(b)
    if lab is not None:
        out["labels"] = labels_result(lab)
    return out


def labels_result(labels):
    """Labels as a Tensor: int64 stays int64, other integers int32, floats float32."""
    lab = np.asarray(labels)
    return _result(lab, np.int64 if lab.dtype == np.int64 else
                   np.float32 if lab.dtype.kind == "f" else np.int32)


def transform_xyxy(boxes, transforms, offset=0.5):
    """Boxes (B, N, 4) absolute xyxy moved by the image transforms (B, 8) of the
    image_transform kernel (output pixel (X, Y) -> input point, TF / Keras' convention). Each
    box's four corners are mapped input -> output by the inverse transform and the result is the
    box that encloses them (not clipped). Pixel centres sit at integer + ``offset`` in box
    coordinates while the kernel's transforms act on pixel indices, hence the shift."""
    b = np.asarray(boxes, np.float64)
    t = np.asarray(transforms, np.float64)
    m = np.concatenate([t, np.ones((len(t), 1))], axis=1).reshape(-1, 3, 3)
    inv = np.linalg.inv(m)                                           # input -> output
    x1, y1, x2, y2 = (b[..., i] - offset for i in range(4))
    corners = np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1),
                        np.stack([x1, y2], -1), np.stack([x2, y2], -1)], axis=2)   # (B, N, 4, 2)
    homog = np.concatenate([corners, np.ones(corners.shape[:-1] + (1,))], axis=-1)
    mapped = np.einsum("bij,bnkj->bnki", inv, homog)
    k = mapped[..., 2:3]
    k = np.where(np.abs(k) < 1e-12, 1e-12, k)
    pts = mapped[..., :2] / k + offset
    return np.concatenate([pts.min(axis=2), pts.max(axis=2)], axis=-1)


def affine_transform(boxes, angle, translate_x, translate_y, scale, shear_x, shear_y, height,
                     width, center_x=None, center_y=None, bounding_box_format="xyxy"):
    """Boxes (B, N, 4) xyxy under a per-sample affine map (as Keras'): rotation by ``angle``
    degrees and shears ``shear_x`` / ``shear_y`` degrees about the centre (center_x (W - 1),
    center_y (H - 1)), centre fractions defaulting to 0.5, scaled by 1 / ``scale``, then moved by
    (translate_x (W - 1), translate_y (H - 1)). Each argument is one number per sample (B,).
    Returns the enclosing boxes of the mapped corners (not clipped)."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError("bounding_boxes.affine_transform: only bounding_box_format='xyxy'"
                                  f" (as Keras), got {bounding_box_format!r}")
    b = _boxes(boxes, "affine_transform", ranks=(3,))
    n = b.shape[0]

    def per_sample(v):
        a = np.broadcast_to(np.asarray(v, np.float64).reshape(-1), (n,))
        return a.astype(np.float64)

    cx = (0.5 if center_x is None else float(center_x)) * (width - 1)
    cy = (0.5 if center_y is None else float(center_y)) * (height - 1)
    rot = np.deg2rad(-per_sample(angle))
    sx, sy = np.deg2rad(-per_sample(shear_x)), np.deg2rad(-per_sample(shear_y))
    tx, ty = -per_sample(translate_x) * (width - 1), -per_sample(translate_y) * (height - 1)
    s = per_sample(scale)
    # rotation-shear matrix [[a, b], [c, d]] (determinant 1) and its inverse, times the scale
    a = np.cos(rot - sy) / np.cos(sy)
    bb = a * np.tan(sx) + np.sin(rot)
    c = -np.sin(rot - sy) / np.cos(sy)
    d = np.cos(rot) - c * np.tan(sx)
    a0, a1, b0, b1 = d * s, -bb * s, -c * s, a * s
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
    x1, y1, x2, y2 = (b[..., i] for i in range(4))
    xs = np.stack([x1, x2, x2, x1], axis=-1)
    ys = np.stack([y1, y1, y2, y2], axis=-1)
    mx = a0[:, None, None] * xs + a1[:, None, None] * ys + a2[:, None, None]
    my = b0[:, None, None] * xs + b1[:, None, None] * ys + b2[:, None, None]
    return _result(np.stack([mx.min(-1), my.min(-1), mx.max(-1), my.max(-1)], axis=-1))


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """xyxy boxes in the coordinates of the crop (top, left, height, width) of their image:
    moved by (-left, -top) and clipped to [0, width] x [0, height]."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError("bounding_boxes.crop: only bounding_box_format='xyxy' (as Keras),"
                                  f" got {bounding_box_format!r}")
    b = _boxes(boxes, "crop") - np.array([left, top, left, top], np.float64)
    b[..., 0::2] = np.clip(b[..., 0::2], 0.0, float(width))
    b[..., 1::2] = np.clip(b[..., 1::2], 0.0, float(height))
    return _result(b)


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """xyxy boxes of an image padded by ``top`` rows and ``left`` columns: moved by (left, top)."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError("bounding_boxes.pad: only bounding_box_format='xyxy' (as Keras),"
                                  f" got {bounding_box_format!r}")
    return _result(_boxes(boxes, "pad") + np.array([left, top, left, top], np.float64))


# ---------------------------------------------------------------------------------------------
# IoU


def _image_hw(image_shape, fmt, op):
    if image_shape is None:
        if fmt.startswith("rel_"):
            raise ValueError(f"bounding_boxes.{op}: a relative format ({fmt!r}) needs image_shape "
                             "(height, width, channels)")
        return None, None
    return float(image_shape[0]), float(image_shape[1])


def compute_iou(boxes1, boxes2, bounding_box_format, use_masking=False, mask_val=-1,
                image_shape=None):
    """Pairwise intersection over union: (M, 4) and (N, 4) boxes give (M, N); a batch on
    either side (B, M, 4) / (B, N, 4) gives (B, M, N). iou = inter / (area1 + area2 - inter +
    1e-7). With ``use_masking`` a pair where either box has all coordinates < 0 (padding) gets
    ``mask_val``. rel_ formats need ``image_shape``."""
    fmt = _format(bounding_box_format, "compute_iou")
    b1 = _boxes(boxes1, "compute_iou", ranks=(2, 3))
    b2 = _boxes(boxes2, "compute_iou", ranks=(2, 3))
    h, w = _image_hw(image_shape, fmt, "compute_iou")
    b1 = convert_xyxy(b1, fmt, "xyxy", h, w, "compute_iou")
    b2 = convert_xyxy(b2, fmt, "xyxy", h, w, "compute_iou")
    p, q = b1[..., :, None, :], b2[..., None, :, :]                  # (.., M, 1, 4), (.., 1, N, 4)
    iw = np.maximum(0.0, np.minimum(p[..., 2], q[..., 2]) - np.maximum(p[..., 0], q[..., 0]))
    ih = np.maximum(0.0, np.minimum(p[..., 3], q[..., 3]) - np.maximum(p[..., 1], q[..., 1]))
    inter = iw * ih
    area1 = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    area2 = (q[..., 2] - q[..., 0]) * (q[..., 3] - q[..., 1])
    iou = inter / (area1 + area2 - inter + EPSILON)
    if use_masking:
        pad1 = (b1.max(axis=-1) < 0)[..., :, None]
        pad2 = (b2.max(axis=-1) < 0)[..., None, :]
        iou = np.where(pad1 | pad2, float(mask_val), iou)
    return _result(iou)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU (Zheng et al. 2020) of matching boxes (..., 4) (elementwise, broadcast):
    iou - d^2 / c^2 - alpha v, d the distance of the centres, c the diagonal of the enclosing
    box, v = 4 / pi^2 (atan(w2 / h2) - atan(w1 / h1))^2, alpha = v / (v - iou + 1); epsilons
    as Keras (1e-7 on heights, union and diagonal)."""
    fmt = _format(bounding_box_format, "compute_ciou")
    if fmt.startswith("rel_"):
        raise ValueError("bounding_boxes.compute_ciou: relative formats are not supported (as "
                         f"Keras), got {bounding_box_format!r}")
    h, w = _image_hw(image_shape, fmt, "compute_ciou")
    b1 = convert_xyxy(_boxes(boxes1, "compute_ciou"), fmt, "xyxy", h, w, "compute_ciou")
    b2 = convert_xyxy(_boxes(boxes2, "compute_ciou"), fmt, "xyxy", h, w, "compute_ciou")
    x11, y11, x12, y12 = (b1[..., i] for i in range(4))
    x21, y21, x22, y22 = (b2[..., i] for i in range(4))
    w1, h1 = x12 - x11, y12 - y11 + EPSILON
    w2, h2 = x22 - x21, y22 - y21 + EPSILON
    inter = (np.maximum(np.minimum(x12, x22) - np.maximum(x11, x21), 0.0)
             * np.maximum(np.minimum(y12, y22) - np.maximum(y11, y21), 0.0))
    union = w1 * h1 + w2 * h2 - inter + EPSILON
    iou = inter / (union + EPSILON)
    cw = np.maximum(x12, x22) - np.minimum(x11, x21)
    ch = np.maximum(y12, y22) - np.minimum(y11, y21)
    diag = cw ** 2 + ch ** 2 + EPSILON
    dist = ((x11 + x12) / 2 - (x21 + x22) / 2) ** 2 + ((y11 + y12) / 2 - (y21 + y22) / 2) ** 2
    v = (4.0 / math.pi ** 2) * (np.arctan(w2 / h2) - np.arctan(w1 / h1)) ** 2
    alpha = v / (v - iou + (1.0 + EPSILON))
    return _result(iou - (dist / diag + v * alpha))


# ---------------------------------------------------------------------------------------------
# Anchor deltas


def _variance(variance):
    if variance is None:
        return None
    v = np.asarray(variance, np.float64)
    if v.shape[-1:] != (4,):
        raise ValueError(f"bounding_boxes: variance must have 4 values, got {variance!r}")
    return v


def _encoding(fmt, what):
    if fmt not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"bounding_boxes: {what} must be 'center_xywh' or 'center_yxhw', got {fmt!r}")
    return fmt


def _shape_hw(image_shape):
    return (None, None) if image_shape is None else (float(image_shape[0]), float(image_shape[1]))


def encode_box_to_deltas(anchors, boxes, anchor_format, box_format, encoding_format="center_yxhw",
                         variance=None, image_shape=None):
    """Deltas of ``boxes`` (N, 4) or (B, N, 4) against ``anchors`` (N, 4), both converted to
    ``encoding_format`` (centre c, size s): ((c_box - c_anchor) / s_anchor, log(s_box / s_anchor)),
    sizes floored at 1e-7, divided by ``variance`` (4 values) when given."""
    enc = _encoding(encoding_format, "encoding_format")
    v = _variance(variance)
    h, w = _shape_hw(image_shape)
    a = convert_xyxy(anchors, anchor_format, enc, h, w, "encode_box_to_deltas")
    b = convert_xyxy(boxes, box_format, enc, h, w, "encode_box_to_deltas")
    a_size = np.maximum(a[..., 2:], EPSILON)
    b_size = np.maximum(b[..., 2:], EPSILON)
    deltas = np.concatenate([(b[..., :2] - a[..., :2]) / a_size, np.log(b_size / a_size)], axis=-1)
    return _result(deltas if v is None else deltas / v)


def decode_deltas_to_boxes(anchors, boxes_delta, anchor_format, box_format,
                           encoded_format="center_yxhw", variance=None, image_shape=None):
    """The inverse of ``encode_box_to_deltas``: boxes of ``box_format`` from deltas (N, 4) or
    (B, N, 4) (times ``variance`` when given) on ``anchors`` (N, 4). Dicts of anchors and
    deltas (one entry per feature level) give a dict of boxes."""
    enc = _encoding(encoded_format, "encoded_format")
    v = _variance(variance)
    h, w = _shape_hw(image_shape)

    def level(anchor, delta):
        a = convert_xyxy(anchor, anchor_format, enc, h, w, "decode_deltas_to_boxes")
        d = _boxes(delta, "decode_deltas_to_boxes")
        if v is not None:
            d = d * v
        box = np.concatenate([d[..., :2] * a[..., 2:] + a[..., :2], np.exp(d[..., 2:]) * a[..., 2:]],
                             axis=-1)
        return _result(convert_xyxy(box, enc, box_format, h, w, "decode_deltas_to_boxes"))

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {k: level(anchors[k], boxes_delta[k]) for k in anchors}
    return level(anchors, boxes_delta)
