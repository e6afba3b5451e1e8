"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_losses_metrics.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_losses_metrics.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, numpy as np
which = sys.argv[1]
if which == "keras":
    import keras
else:
    from corenn import keras
rng = np.random.default_rng(9)
yb = (rng.random((8, 3)) > 0.5).astype(np.float32)
pb = rng.random((8, 3)).astype(np.float32)
yi = rng.integers(0, 4, 8)
pl = rng.normal(size=(8, 4)).astype(np.float32)
ps = np.exp(pl) / np.exp(pl).sum(-1, keepdims=True)
yo = np.eye(4, dtype=np.float32)[yi]
yr = rng.normal(size=(8, 2)).astype(np.float32); pr = rng.normal(size=(8, 2)).astype(np.float32)
sw = rng.random(8).astype(np.float32)
M = {
 "auc_roc": ("AUC", dict(), yb, pb),
 "auc_pr": ("AUC", dict(curve="PR"), yb, pb),
 "auc_ml": ("AUC", dict(multi_label=True, num_labels=3), yb, pb),
 "auc_minoring": ("AUC", dict(summation_method="minoring", num_thresholds=50), yb, pb),
 "prec": ("Precision", dict(), yb, pb),
 "prec_thr": ("Precision", dict(thresholds=[0.3, 0.7]), yb, pb),
 "prec_topk": ("Precision", dict(top_k=2), yb, pb),
 "rec_cls": ("Recall", dict(class_id=1), yb, pb),
 "f1": ("F1Score", dict(average="macro", threshold=0.5), yb, pb),
 "f1_none": ("F1Score", dict(), yo, ps),
 "fbeta_w": ("FBetaScore", dict(average="weighted", beta=2.0, threshold=0.4), yb, pb),
 "miou": ("MeanIoU", dict(num_classes=4), yi, np.argmax(ps, -1)),
 "iou": ("IoU", dict(num_classes=4, target_class_ids=[0, 2]), yi, np.argmax(ps, -1)),
 "onehot_miou": ("OneHotMeanIoU", dict(num_classes=4), yo, ps),
 "r2": ("R2Score", dict(), yr, pr),
 "r2_var": ("R2Score", dict(class_aggregation="variance_weighted_average"), yr, pr),
 "r2_adj": ("R2Score", dict(num_regressors=1), yr, pr),
 "topk": ("TopKCategoricalAccuracy", dict(k=2), yo, ps),
 "stopk": ("SparseTopKCategoricalAccuracy", dict(k=2), yi, ps),
 "stopk_logits": ("SparseTopKCategoricalAccuracy", dict(k=2, from_sorted_ids=False), yi, pl),
 "ba": ("BinaryAccuracy", dict(threshold=0.3), yb, pb),
 "bce_m": ("BinaryCrossentropy", dict(label_smoothing=0.1), yb, pb),
 "cce_m": ("CategoricalCrossentropy", dict(from_logits=True), yo, pl),
 "kld": ("KLDivergence", dict(), yo * 0.9 + 0.025, ps),
 "poisson": ("Poisson", dict(), np.abs(yr), np.abs(pr)),
 "cos": ("CosineSimilarity", dict(axis=-1), yr, pr),
 "logcosh": ("LogCoshError", dict(), yr, pr),
 "msle": ("MeanSquaredLogarithmicError", dict(), np.abs(yr), np.abs(pr)),
 "mape": ("MeanAbsolutePercentageError", dict(), yr, pr),
 "hinge": ("Hinge", dict(), 2 * yb - 1, pb),
 "sqh": ("SquaredHinge", dict(), 2 * yb - 1, pb),
 "cath": ("CategoricalHinge", dict(), yo, ps),
 "rmse": ("RootMeanSquaredError", dict(), yr, pr),
 "tp": ("TruePositives", dict(thresholds=[0.2, 0.6]), yb, pb),
 "sas": ("SensitivityAtSpecificity", dict(specificity=0.5), yb, pb),
 "sas2": ("SpecificityAtSensitivity", dict(sensitivity=0.6), yb, pb),
 "par": ("PrecisionAtRecall", dict(recall=0.5), yb, pb),
 "rap": ("RecallAtPrecision", dict(precision=0.6), yb, pb),
 "concordance": ("ConcordanceCorrelation", dict(), yr, pr),
 "pearson": ("PearsonCorrelation", dict(), yr, pr),
}
L = {
 "mse_sw": ("MeanSquaredError", dict(), yr, pr),
 "mae_sum": ("MeanAbsoluteError", dict(reduction="sum"), yr, pr),
 "mae_none": ("MeanAbsoluteError", dict(reduction="none"), yr, pr),
 "mape": ("MeanAbsolutePercentageError", dict(), yr, pr),
 "msle": ("MeanSquaredLogarithmicError", dict(), np.abs(yr), np.abs(pr)),
 "huber": ("Huber", dict(delta=0.5), yr, pr),
 "logcosh": ("LogCosh", dict(), yr, pr),
 "bce_ls": ("BinaryCrossentropy", dict(label_smoothing=0.2, from_logits=True), yb, pb),
 "bfce": ("BinaryFocalCrossentropy", dict(apply_class_balancing=True, alpha=0.3, gamma=1.5), yb, pb),
 "cce_ls": ("CategoricalCrossentropy", dict(label_smoothing=0.1), yo, ps),
 "cfce": ("CategoricalFocalCrossentropy", dict(), yo, ps),
 "scce_ign": ("SparseCategoricalCrossentropy", dict(from_logits=True, ignore_class=2), yi, pl),
 "kld": ("KLDivergence", dict(), yo * 0.9 + 0.025, ps),
 "poisson": ("Poisson", dict(), np.abs(yr), np.abs(pr)),
 "cos": ("CosineSimilarity", dict(), yr, pr),
 "hinge": ("Hinge", dict(), 2 * yb - 1, pb),
 "cath": ("CategoricalHinge", dict(), yo, ps),
 "tversky": ("Tversky", dict(alpha=0.3, beta=0.7), yb, pb),
 "dice": ("Dice", dict(), yb, pb),
 "ctc": ("CTC", dict(), np.array([[1, 2, 0], [3, 3, 1]]), np.log(np.abs(rng.normal(size=(2, 6, 5))).astype(np.float32) + 0.1)),
 "circle": ("Circle", dict(), yi, pl),
 "cce_axis": ("CategoricalCrossentropy", dict(axis=0), yo.T.copy(), ps.T.copy()),
}
out = {}
for name, (cls, kw, yt, yp) in M.items():
    try:
        m = getattr(keras.metrics, cls)(**kw)
        m.update_state(yt, yp)
        m.update_state(yt[:5], yp[:5], sample_weight=sw[:5]) if cls not in ("MeanIoU", "IoU", "OneHotMeanIoU") else m.update_state(yt[:5], yp[:5])
        out["m_" + name] = np.asarray(m.result())
    except Exception as e:
        print(which, "metric fail", name, type(e).__name__, str(e)[:150])
for name, (cls, kw, yt, yp) in L.items():
    try:
        l = getattr(keras.losses, cls)(**kw)
        out["l_" + name] = np.asarray(l(yt, yp))
        if name != "ctc":
            out["lw_" + name] = np.asarray(l(yt, yp, sample_weight=sw[:len(yt)] if len(yt) == 8 else None))
    except Exception as e:
        print(which, "loss fail", name, type(e).__name__, str(e)[:150])
if which == "keras":
    np.savez("/tmp/corenn_side_by_side/keras.npz", **out)
else:
    ref = np.load("/tmp/corenn_side_by_side/keras.npz")
    for k in ref.files:
        if k in out:
            a, b = np.asarray(out[k], np.float64), ref[k].astype(np.float64)
            if a.shape != b.shape:
                print("SHAPE", k, a.shape, b.shape); continue
            d = np.abs(a - b).max() if a.size else 0
            if not np.allclose(a, b, rtol=1e-4, atol=1e-5):
                print("DIFF", k, d, a.ravel()[:4], b.ravel()[:4])
        else:
            print("MISSING", k)
