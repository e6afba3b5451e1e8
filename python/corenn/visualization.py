"""``keras.visualization``: drawing boxes and masks on images (NumPy) and galleries of images
(matplotlib, the ``plot`` extra: ``pip install "corenn[plot]"``; imported only when a gallery is
drawn).

    draw_bounding_boxes        rectangles of ``line_thickness`` pixels in ``color`` on uint8 copies
                               of the images; boxes with label -1 (padding) skipped. Class names
                               are not rendered into the pixels (Keras uses OpenCV's fonts for
                               that); plot_bounding_box_gallery writes them as matplotlib text.
    draw_segmentation_masks    each class's pixels painted in its colour and blended (alpha)
    plot_image_gallery         a rows x cols grid (titles from y_true / y_pred via label_map)
    plot_bounding_box_gallery  draw_bounding_boxes for y_true and y_pred, then the gallery
    plot_segmentation_mask_gallery  image | true masks | predicted masks, one row per image
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["draw_bounding_boxes", "draw_segmentation_masks", "plot_image_gallery",
           "plot_bounding_box_gallery", "plot_segmentation_mask_gallery"]


def _pyplot(op):
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"keras.visualization.{op} needs matplotlib: pip install "
                          '"corenn[plot]"') from exc
    import sys
    if "matplotlib.pyplot" not in sys.modules:   # files without a display, unless already set up
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _images(images, op, data_format):
    x = np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"keras.visualization.{op}: images must be a batch (batch, height, width, "
                         f"channels), got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    elif data_format not in (None, "channels_last"):
        raise ValueError(f"keras.visualization.{op}: data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    return x


def _as_uint8(x):
    """Keras' rule: floats with max <= 1 are scaled by 255, others clipped to [0, 255]."""
    if x.dtype.kind == "f" and x.size:
        x = np.clip(x, 0, 1) * 255 if x.max() <= 1.0 else np.clip(x, 0, 255)
    return x.astype(np.uint8)


def draw_bounding_boxes(images, bounding_boxes, bounding_box_format, class_mapping=None,
                        color=(128, 128, 128), line_thickness=2, text_thickness=1, font_scale=1.0,
                        data_format=None):
    """uint8 images (B, H, W, C) with each box's outline drawn: edges of ``line_thickness``
    pixels (t // 2 of them outside) on the integer rectangle (int(x1), int(y1)) - (int(x2),
    int(y2)), in
    ``color`` (RGB; the first C values). ``bounding_boxes`` is {"boxes" (B, N, 4), "labels"
    (B, N)} in ``bounding_box_format``; label -1 is skipped."""
    op = "draw_bounding_boxes"
    x = _as_uint8(_images(images, op, data_format)).copy()
    if not isinstance(bounding_boxes, dict):
        raise TypeError(f"keras.visualization.{op}: bounding_boxes must be a dict, got "
                        f"{type(bounding_boxes).__name__}")
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError(f"keras.visualization.{op}: bounding_boxes must have 'boxes' and "
                         f"'labels', got keys {sorted(bounding_boxes)}")
    from .utils.bounding_boxes import convert_xyxy
    n, h, w, c = x.shape
    boxes = convert_xyxy(bounding_boxes["boxes"], bounding_box_format, "xyxy", h, w, op)
    labels = np.asarray(bounding_boxes["labels"])
    if boxes.shape[:2] != (n, labels.shape[1] if labels.ndim == 2 else -1):
        raise ValueError(f"keras.visualization.{op}: boxes (batch, N, 4) and labels (batch, N) "
                         f"for {n} images, got {boxes.shape} and {labels.shape}")
    colour = np.resize(np.asarray(color, np.float64), c).astype(np.uint8)
    t = max(int(line_thickness), 1)
    out_w, in_w = t // 2, (t - 1) // 2    # an edge covers t pixels: out_w outside, in_w inside
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    for i in range(n):
        for j in range(boxes.shape[1]):
            if int(labels[i, j]) == -1:
                continue
            x1, y1, x2, y2 = (int(v) for v in boxes[i, j])   # truncation, as Keras' int32 cast
            inside_outer = ((rows >= y1 - out_w) & (rows <= y2 + out_w)
                            & (cols >= x1 - out_w) & (cols <= x2 + out_w))
            inside_inner = ((rows >= y1 + in_w + 1) & (rows <= y2 - in_w - 1)
                            & (cols >= x1 + in_w + 1) & (cols <= x2 - in_w - 1))
            x[i][inside_outer & ~inside_inner] = colour
    return x


def _palette(num_classes):
    """Keras' default palette: class i gets (i * (2^25 - 1, 2^15 - 1, 2^21 - 1)) mod 255."""
    base = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [((i * base) % 255).tolist() for i in range(num_classes)]


def draw_segmentation_masks(images, segmentation_masks, num_classes=None, color_mapping=None,
                            alpha=0.8, blend=True, ignore_index=-1, data_format=None):
    """Images (B, H, W, C) with each class k of the integer masks (B, H, W, 1) painted in its
    colour (color_mapping[k], or Keras' palette); with ``blend`` the result is image (1 - alpha)
    + painted alpha where the mask is not ``ignore_index`` (uint8), else the painted float
    image. num_classes defaults to the largest class in the masks."""
    op = "draw_segmentation_masks"
    x = _images(images, op, data_format).astype(np.float32)
    m = np.asarray(segmentation_masks)
    if data_format == "channels_first":
        m = m.transpose(0, 2, 3, 1)
    if m.dtype.kind not in "iu":
        raise TypeError(f"keras.visualization.{op}: segmentation_masks must be integers, got "
                        f"{m.dtype}")
    if m.ndim == 3:
        m = m[..., None]
    if m.shape[:3] != x.shape[:3] or m.shape[3] != 1:
        raise ValueError(f"keras.visualization.{op}: segmentation_masks must be (batch, H, W[, 1]) "
                         f"matching images {x.shape}, got {np.shape(segmentation_masks)}")
    k = int(m.max()) if num_classes is None else int(num_classes)
    colours = _palette(k) if color_mapping is None else [color_mapping[i] for i in range(k)]
    painted = x.copy()
    for cls, colour in enumerate(colours):
        painted[m[..., 0] == cls] = np.resize(np.asarray(colour, np.float32), x.shape[3])
    if not blend:
        return painted
    mixed = x * (1 - alpha) + painted * alpha
    return np.where((m != ignore_index), mixed, x).astype(np.uint8)


def plot_image_gallery(images, y_true=None, y_pred=None, label_map=None, rows=None, cols=None,
                       value_range=(0, 255), scale=2, path=None, show=None, transparent=True,
                       dpi=60, legend_handles=None, data_format=None):
    """A grid of images (rows defaults to ceil(sqrt(batch)), cols to batch // rows), each titled
    "Label: ..." / "Pred: ..." from ``label_map`` when y_true / y_pred are given; saved to
    ``path`` or shown (show defaults to path is None)."""
    op = "plot_image_gallery"
    if path is not None and show:
        raise ValueError(f"keras.visualization.{op}: give either path or show=True, not both")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError(f"keras.visualization.{op}: y_true / y_pred need a label_map")
    x = _images(images, op, data_format)
    plt = _pyplot(op)
    show = path is None if show is None else show
    batch = x.shape[0]
    rows = rows or int(math.ceil(math.sqrt(batch)))
    cols = cols or max(1, int(math.ceil(batch // rows)))
    x = x[:rows * cols]
    lo, hi = (float(v) for v in value_range)
    x = (x.astype(np.float64) - lo) / (hi - lo) * 255.0
    fig, axes = plt.subplots(nrows=rows, ncols=cols, figsize=(cols * scale, rows * scale),
                             frameon=False, squeeze=False)
    fig.subplots_adjust(wspace=0, hspace=0)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    truth = None if y_true is None else np.asarray(y_true).reshape(len(y_true), -1)[:, 0]
    pred = None if y_pred is None else np.asarray(y_pred).reshape(len(y_pred), -1)[:, 0]
    for index in range(rows * cols):
        ax = axes[index // cols, index % cols]
        ax.axis("off")
        if index >= len(x):
            continue
        ax.imshow(np.clip(x[index], 0, 255).astype(np.uint8).squeeze(-1) if x.shape[-1] == 1
                  else np.clip(x[index], 0, 255).astype(np.uint8))
        title = []
        if truth is not None and index < len(truth):
            title.append(f"Label: {label_map.get(truth[index].item(), 'Unknown')}")
        if pred is not None and index < len(pred):
            title.append(f"Pred: {label_map.get(pred[index].item(), 'Unknown')}")
        if title:
            ax.set_title("  ".join(title), fontsize=8)
    if path is not None:
        fig.savefig(path, pad_inches=0, bbox_inches="tight", transparent=transparent, dpi=dpi)
        plt.close(fig)
    elif show:
        plt.show()
        plt.close(fig)


def plot_bounding_box_gallery(images, bounding_box_format, y_true=None, y_pred=None,
                              value_range=(0, 255), true_color=(0, 188, 212),
                              pred_color=(255, 235, 59), line_thickness=2, font_scale=1.0,
                              text_thickness=None, class_mapping=None, ground_truth_mapping=None,
                              prediction_mapping=None, legend=False, legend_handles=None,
                              rows=None, cols=None, data_format=None, **kwargs):
    """The ground-truth boxes (``y_true``, {"boxes", "labels"}) in true_color and the predicted
    ones in pred_color drawn on the images, then ``plot_image_gallery`` (its arguments through
    kwargs); ``legend`` adds "Ground Truth" / "Prediction" patches. Class names are not written
    (font_scale, text_thickness and the mappings are accepted for Keras' signature)."""
    op = "plot_bounding_box_gallery"
    if legend and legend_handles is not None:
        raise ValueError(f"keras.visualization.{op}: give legend or legend_handles, not both")
    _pyplot(op)   # without matplotlib, fail before drawing
    x = _images(images, op, data_format)
    lo, hi = (float(v) for v in value_range)
    drawn = np.clip((x.astype(np.float64) - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    for boxes, colour in ((y_true, true_color), (y_pred, pred_color)):
        if boxes is not None:
            drawn = draw_bounding_boxes(drawn, boxes, bounding_box_format, color=colour,
                                        line_thickness=line_thickness)
    if legend:
        from matplotlib import patches
        legend_handles = [patches.Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
                          patches.Patch(color=np.array(pred_color) / 255.0, label="Prediction")]
    # font_scale, text_thickness and the class mappings are Keras' text options: no text here
    return plot_image_gallery(drawn, value_range=(0, 255), legend_handles=legend_handles,
                              rows=rows, cols=cols, **kwargs)


def plot_segmentation_mask_gallery(images, num_classes, value_range=(0, 255), y_true=None,
                                   y_pred=None, color_mapping=None, blend=True, alpha=0.8,
                                   ignore_index=-1, data_format=None, **kwargs):
    """One row per image: the image, its true masks drawn on it, its predicted masks drawn on
    it (the columns there are), through ``plot_image_gallery``."""
    op = "plot_segmentation_mask_gallery"
    x = _images(images, op, data_format)
    lo, hi = (float(v) for v in value_range)
    x = np.clip((x.astype(np.float64) - lo) / (hi - lo) * 255.0, 0, 255)
    columns = [x]
    for masks in (y_true, y_pred):
        if masks is not None:
            m = np.asarray(masks)
            if data_format == "channels_first":
                m = m.transpose(0, 2, 3, 1)
            columns.append(draw_segmentation_masks(x, m, num_classes, color_mapping, alpha, blend,
                                                   ignore_index).astype(np.float64))
    gallery = np.stack(columns, axis=1).reshape((-1,) + x.shape[1:])
    return plot_image_gallery(gallery, value_range=(0, 255), rows=x.shape[0], cols=len(columns),
                              **kwargs)
