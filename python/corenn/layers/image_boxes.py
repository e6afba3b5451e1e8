"""Bounding boxes and segmentation masks through the image layers (Keras 3's dict form), and
MaxNumBoundingBoxes.

An image layer called on a dict

    {"images": (B, H, W, C) or (H, W, C),
     "bounding_boxes": {"boxes": (B, N, 4) or (N, 4), "labels": (B, N) or (N,)},
     "labels": ..., "segmentation_masks": (B, H, W, K) or (H, W, K)}

runs on the images as usual; its forward records what it did to the image plane
(``_TakesOneImage._note_geometry``), and the same geometry, from the same random draw, is
applied here to the rest:

    window     (Resizing, CenterCrop, RandomCrop at inference, RandomHeight / RandomWidth):
               box x -> (x + pad_left - left) * out_w / width, y likewise; exact
    transform  (RandomFlip, RandomTranslation, RandomRotation, RandomZoom, RandomCrop in
               training, RandomShear, RandomPerspective): the per-sample projective transform
               of the image_transform kernel, inverted; each box's corners mapped, the
               enclosing box taken (utils.bounding_boxes.transform_xyxy)

then the boxes are clipped to the output image; a box left without area keeps its slot and
gets label -1 (as Keras); padding slots (boxes all -1 or all 0) come out as zeros, label -1. Masks take the same window / transform with nearest sampling. Layers
that do not move pixels (colour) return the boxes as given. Classification "labels" pass
through. Boxes are in the layer's ``bounding_box_format`` (the rel_ formats relative to the
input image before, to the output image after). Ragged boxes (a list of (n_i, 4) per image)
are padded to the longest with boxes 0 and labels -1 first.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..utils import bounding_boxes as bbox
from .base import Layer

__all__ = ["MaxNumBoundingBoxes", "call_on_dict"]

KEYS = ("images", "bounding_boxes", "labels", "segmentation_masks")


def _check_keys(layer, data):
    """Keras' dict form needs 'images'; keys other than KEYS pass through untouched (as Keras)."""
    if "images" not in data:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': a dict input holds 'images' and "
                         f"optionally 'bounding_boxes', 'labels', 'segmentation_masks'; got keys "
                         f"{sorted(data)}")


def dense_boxes(layer, bounding_boxes, batched):
    """(boxes float64 (B, N, 4), labels (B, N)) from Keras' {"boxes", "labels"}, batched or not,
    ragged lists padded (boxes 0, labels -1)."""
    name = f"{type(layer).__name__} '{layer.name}'"
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes \
            or "labels" not in bounding_boxes:
        raise ValueError(f"{name}: 'bounding_boxes' must be a dict with 'boxes' and 'labels', got "
                         f"{bounding_boxes if not isinstance(bounding_boxes, dict) else sorted(bounding_boxes)}")
    boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
    if batched and isinstance(boxes, (list, tuple)) and boxes and \
            any(np.shape(b) != np.shape(boxes[0]) for b in boxes):
        n = max(len(b) for b in boxes)
        bx = np.zeros((len(boxes), n, 4))
        lb = np.full((len(boxes), n), -1, np.int64)
        for i, (b, l) in enumerate(zip(boxes, labels)):
            b = np.asarray(b, np.float64).reshape(-1, 4)
            bx[i, :len(b)], lb[i, :len(b)] = b, np.asarray(l).reshape(-1)
        boxes, labels = bx, lb
    b = np.asarray(boxes, np.float64)
    lab = np.asarray(labels)
    want = 3 if batched else 2
    if b.ndim != want or b.shape[-1] != 4 or lab.shape != b.shape[:-1]:
        raise ValueError(f"{name}: boxes must be {'(batch, N, 4)' if batched else '(N, 4)'} with "
                         f"labels {'(batch, N)' if batched else '(N,)'} for "
                         f"{'a batch of images' if batched else 'one image'}; got boxes "
                         f"{b.shape}, labels {lab.shape}")
    return (b, lab) if batched else (b[None], lab[None])


def move_boxes(boxes_xyxy, labels, geometry, out_hw):
    """Absolute xyxy boxes (B, N, 4) through one recorded geometry, clipped to out_hw."""
    kind = geometry[0]
    if kind == "window":
        (top, left, wh, ww), (oh, ow), (ptop, pleft) = geometry[1:]
        scale = np.array([ow / ww, oh / wh, ow / ww, oh / wh])
        moved = (boxes_xyxy + np.array([pleft - left, ptop - top] * 2, np.float64)) * scale
    else:
        moved = bbox.transform_xyxy(boxes_xyxy, geometry[1])
    return bbox.clip_xyxy(moved, labels, *out_hw)


def move_masks(layer, masks, geometry, one):
    """Segmentation masks through the geometry with nearest sampling, keeping their dtype."""
    m = np.asarray(masks)
    dtype = m.dtype
    if m.ndim != (3 if one else 4):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': segmentation_masks must be "
                         f"{'(H, W, K)' if one else '(batch, H, W, K)'} as the images, got {m.shape}")
    x = np.ascontiguousarray((m[None] if one else m).astype(np.float32))
    if geometry[0] == "elastic":   # the same random field (its seed), nearest taps
        from ..ops_image import elastic_transform
        seed, alpha, sigma, apply = geometry[1:]
        warped = np.asarray(elastic_transform(x, alpha, sigma, "nearest", layer.fill_mode,
                                              layer.fill_value, seed=seed))
        y = np.where(apply[:, None, None, None], warped, x)
    elif geometry[0] == "window":
        win, out_hw, (ptop, pleft) = geometry[1:]
        if ptop or pleft:
            n, h, w, c = x.shape
            padded = np.zeros((n, h + 2 * ptop, w + 2 * pleft, c), np.float32)
            padded[:, ptop:ptop + h, pleft:pleft + w] = x
            x = padded
        y = kernels.resize2d_forward(x, out_hw, "nearest", window=win)
    else:
        t = np.ascontiguousarray(geometry[1], np.float32)
        y = kernels.image_transform_forward(x, t, geometry[2], "nearest",
                                            getattr(layer, "fill_mode", "constant"),
                                            getattr(layer, "fill_value", 0.0))
    y = np.asarray(y)
    y = y[0] if one else y
    return kernels.as_tensor(np.ascontiguousarray(y)) if dtype in (np.float32, np.int32, np.int64) \
        else np.rint(y).astype(dtype) if dtype.kind in "iub" else y.astype(dtype)


def call_on_dict(layer, data, training, kwargs, call):
    """``layer(dict)``: the images through ``call`` (the layer's ordinary __call__), then the
    boxes and masks through the geometry that call recorded."""
    from ..models.graph import is_symbolic
    _check_keys(layer, data)
    if is_symbolic(data):
        raise NotImplementedError(f"{type(layer).__name__} '{layer.name}': the dict form "
                                  "(images, bounding_boxes, ...) runs on data (eagerly or in "
                                  "Dataset.map), not on keras.Input")
    if "bounding_boxes" in data and not layer.__dict__.get("bounding_box_format"):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': the input has 'bounding_boxes' "
                         "but the layer has no bounding_box_format; pass one, e.g. "
                         f"{type(layer).__name__}(..., bounding_box_format='xyxy')")
    images = data["images"]
    in_shape = tuple(np.shape(images))
    owner = layer.__dict__.get("_owner", layer)
    owner.__dict__["_box_geometry"] = None
    out = dict(data)
    out["images"] = call(images, training=training, **kwargs)
    geometry = owner.__dict__.pop("_box_geometry", None)
    one = len(in_shape) == 3
    h, w = in_shape[-3:-1]
    out_hw = tuple(np.shape(out["images"])[-3:-1])
    if "bounding_boxes" in data:
        fmt = layer.bounding_box_format.lower()
        boxes, labels = dense_boxes(layer, data["bounding_boxes"], not one)
        if geometry is not None and geometry[0] == "elastic":
            raise NotImplementedError(f"{type(layer).__name__} '{layer.name}': bounding boxes do "
                                      "not follow an elastic warp (Keras neither); drop "
                                      "'bounding_boxes' or use a geometric layer")
        if geometry is not None:
            # padding slots (all -1, as MaxNumBoundingBoxes fills, or all 0) stay empty: zeros
            padding = np.all(boxes == -1, axis=-1) | np.all(boxes == 0, axis=-1)
            xyxy = bbox.convert_xyxy(boxes, fmt, "xyxy", h, w, type(layer).__name__)
            moved, labels = move_boxes(xyxy, labels, geometry, out_hw)
            moved[padding] = 0.0
            boxes = bbox.convert_xyxy(moved, "xyxy", fmt, *out_hw, type(layer).__name__)
        result = dict(data["bounding_boxes"])
        result["boxes"] = kernels.as_tensor(np.ascontiguousarray(
            (boxes[0] if one else boxes).astype(np.float32)))
        result["labels"] = bbox.labels_result(labels[0] if one else labels)
        out["bounding_boxes"] = result
    if "segmentation_masks" in data and geometry is not None:
        out["segmentation_masks"] = move_masks(layer, data["segmentation_masks"], geometry, one)
    return out


class MaxNumBoundingBoxes(Layer):
    """Pads or truncates each image's boxes to ``max_number`` (Keras 3): on the dict form,
    boxes (B, N, 4) -> (B, max_number, 4) and labels (B, N) -> (B, max_number), the padding
    filled with ``fill_value`` (boxes and labels), extra boxes dropped from the end; images,
    classification labels and masks pass through. One image's (N, 4) / (N,) works likewise.

    Args:
        max_number: the number of boxes per image in the output, >= 1.
        fill_value: the value of padded boxes and labels (default -1).
    """

    def __init__(self, max_number, fill_value=-1, bounding_box_format=None, **kwargs):
        kwargs.pop("data_format", None)
        super().__init__(**kwargs)
        if isinstance(max_number, bool) or not isinstance(max_number, (int, np.integer)) \
                or max_number < 1:
            raise ValueError(f"MaxNumBoundingBoxes: max_number must be a positive int, got "
                             f"{max_number!r}")
        self.max_number, self.fill_value = int(max_number), int(fill_value)
        self.bounding_box_format = bounding_box_format

    def __call__(self, inputs, training=None, **kwargs):
        if not isinstance(inputs, dict):
            raise ValueError(f"MaxNumBoundingBoxes '{self.name}': expects Keras' dict input "
                             "{'images', 'bounding_boxes': {'boxes', 'labels'}, ...}, got "
                             f"{type(inputs).__name__}")
        _check_keys(self, inputs)
        out = dict(inputs)
        if "bounding_boxes" not in inputs:
            return out
        one = len(np.shape(inputs["images"])) == 3
        boxes, labels = dense_boxes(self, inputs["bounding_boxes"], not one)
        b, n, k = boxes.shape[0], boxes.shape[1], self.max_number
        new_boxes = np.full((b, k, 4), float(self.fill_value))
        new_labels = np.full((b, k), self.fill_value, labels.dtype if labels.dtype.kind in "iu"
                             else np.float64)
        keep = min(n, k)
        new_boxes[:, :keep], new_labels[:, :keep] = boxes[:, :keep], labels[:, :keep]
        result = dict(inputs["bounding_boxes"])
        result["boxes"] = kernels.as_tensor(np.ascontiguousarray(
            (new_boxes[0] if one else new_boxes).astype(np.float32)))
        result["labels"] = bbox.labels_result(new_labels[0] if one else new_labels)
        out["bounding_boxes"] = result
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_number=self.max_number, fill_value=self.fill_value)
        return cfg
