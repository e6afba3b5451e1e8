"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python tf_functions.py keras`` (or ``tf``) in an environment with the oracle, then ``python tf_functions.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, numpy as np, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
which = sys.argv[1]
if which == "tf":
    import tensorflow as tf
else:
    import corenn as tf
rng = np.random.default_rng(3)
A = rng.normal(size=(3, 4, 5)).astype(np.float32)
B = rng.normal(size=(4, 5)).astype(np.float32)
I = rng.integers(0, 4, size=(3, 4)).astype(np.int32)
V = rng.normal(size=(7,)).astype(np.float32)
IMG = rng.uniform(0, 1, size=(2, 8, 8, 3)).astype(np.float32)
C = {
 "reduce_sum_kd": lambda: tf.reduce_sum(A, axis=[0, 2], keepdims=True),
 "reduce_mean_int": lambda: tf.reduce_mean(tf.constant([1, 2, 4])),
 "reduce_std": lambda: tf.math.reduce_std(A, axis=1),
 "reduce_logsumexp": lambda: tf.reduce_logsumexp(A, axis=-1),
 "reduce_prod": lambda: tf.reduce_prod(A[0], 0),
 "argmax_default": lambda: tf.argmax(A),
 "argmin_int": lambda: tf.argmin(I, axis=1, output_type=tf.int32),
 "gather": lambda: tf.gather(A, [2, 0], axis=1),
 "gather_bd": lambda: tf.gather(A, I[:, :2] % 4, axis=1, batch_dims=1),
 "gather_nd": lambda: tf.gather_nd(A, [[0, 1], [2, 3]]),
 "gather_nd_bd": lambda: tf.gather_nd(A, [[[1]], [[2]], [[0]]], batch_dims=1),
 "scatter_nd": lambda: tf.scatter_nd([[1], [3], [1]], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [4, 2]),
 "tensor_scatter_update": lambda: tf.tensor_scatter_nd_update(B, [[0, 1], [2, 2]], [9.0, 8.0]),
 "tensor_scatter_add": lambda: tf.tensor_scatter_nd_add(B, [[0, 1], [0, 1]], [1.0, 2.0]),
 "boolean_mask": lambda: tf.boolean_mask(B, B[:, 0] > 0),
 "boolean_mask_axis": lambda: tf.boolean_mask(A, [True, False, True, True], axis=1),
 "where_xy": lambda: tf.where(A > 0, A, 0.0),
 "where_idx": lambda: tf.where(B > 0.5),
 "concat_neg": lambda: tf.concat([A, A], axis=-2),
 "stack_axis": lambda: tf.stack([B, B, B], axis=1),
 "unstack": lambda: tf.unstack(B, axis=1),
 "split_sizes": lambda: tf.split(A, [1, -1, 2], axis=2),
 "tile": lambda: tf.tile(B, [2, 1]),
 "pad_reflect": lambda: tf.pad(B, [[1, 1], [2, 0]], mode="REFLECT"),
 "pad_sym": lambda: tf.pad(B, [[1, 1], [2, 0]], mode="SYMMETRIC"),
 "reverse": lambda: tf.reverse(A, axis=[0, 2]),
 "roll": lambda: tf.roll(A, shift=[1, -2], axis=[0, 2]),
 "transpose_perm": lambda: tf.transpose(A, perm=[1, 0, 2]),
 "transpose_default": lambda: tf.transpose(A),
 "expand_squeeze": lambda: tf.squeeze(tf.expand_dims(B, 0)),
 "reshape_neg": lambda: tf.reshape(A, [-1, 10]),
 "cumsum_excl_rev": lambda: tf.cumsum(A, axis=1, exclusive=True, reverse=True),
 "cumprod": lambda: tf.math.cumprod(A * 0.5, axis=2, exclusive=True),
 "segment_sum": lambda: tf.math.segment_sum(B, [0, 0, 1, 1]),
 "unsorted_segment_max": lambda: tf.math.unsorted_segment_max(B, [2, 0, 2, 1], num_segments=4),
 "unsorted_segment_mean": lambda: tf.math.unsorted_segment_mean(B, [2, 0, 2, 1], num_segments=3),
 "top_k": lambda: tf.math.top_k(A, k=2),
 "in_top_k": lambda: tf.math.in_top_k(targets=[1, 3, 0, 2], predictions=B, k=2),
 "one_hot_axis0": lambda: tf.one_hot([0, 2, -1], 3, axis=0),
 "sequence_mask": lambda: tf.sequence_mask([1, 3, 2], maxlen=4),
 "clip_by_norm": lambda: tf.clip_by_norm(B, 1.5, axes=[1]),
 "clip_by_global_norm": lambda: tf.clip_by_global_norm([B, V], 2.0)[0],
 "l2_normalize": lambda: tf.math.l2_normalize(A, axis=[1, 2]),
 "softmax_axis": lambda: tf.nn.softmax(A, axis=1),
 "log_softmax": lambda: tf.nn.log_softmax(A),
 "sigmoid_ce": lambda: tf.nn.sigmoid_cross_entropy_with_logits(labels=(B > 0).astype(np.float32), logits=B),
 "softmax_ce": lambda: tf.nn.softmax_cross_entropy_with_logits(labels=np.eye(5, dtype=np.float32)[[0, 1, 2, 3]], logits=B),
 "sparse_softmax_ce": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 4, 2, 1], logits=B),
 "weighted_ce": lambda: tf.nn.weighted_cross_entropy_with_logits(labels=(B > 0).astype(np.float32), logits=B, pos_weight=2.0),
 "conv2d": lambda: tf.nn.conv2d(IMG, rng.normal(size=(3, 3, 3, 2)).astype(np.float32), strides=2, padding="SAME"),
 "conv2d_explicit": lambda: tf.nn.conv2d(IMG, np.ones((2, 2, 3, 1), np.float32), strides=1, padding=[[0, 0], [1, 0], [0, 1], [0, 0]]),
 "conv1d": lambda: tf.nn.conv1d(A, np.ones((2, 5, 3), np.float32), stride=1, padding="VALID"),
 "max_pool2d": lambda: tf.nn.max_pool2d(IMG, ksize=3, strides=2, padding="SAME"),
 "avg_pool": lambda: tf.nn.avg_pool2d(IMG, 2, 2, "VALID"),
 "depthwise": lambda: tf.nn.depthwise_conv2d(IMG, np.ones((3, 3, 3, 2), np.float32), [1, 1, 1, 1], "SAME"),
 "moments": lambda: tf.nn.moments(A, axes=[0, 1]),
 "batch_norm": lambda: tf.nn.batch_normalization(A, 0.1, 2.0, 0.5, 1.5, 1e-3),
 "relu6": lambda: tf.nn.relu6(A * 5),
 "leaky": lambda: tf.nn.leaky_relu(A),
 "gelu": lambda: tf.nn.gelu(A),
 "gelu_approx": lambda: tf.nn.gelu(A, approximate=True),
 "silu": lambda: tf.nn.silu(A),
 "selu": lambda: tf.nn.selu(A),
 "dropout_rate0": lambda: tf.nn.dropout(A, rate=0.0),
 "matmul_ta": lambda: tf.matmul(B, B, transpose_a=True),
 "matmul_batch_tb": lambda: tf.matmul(A, A, transpose_b=True),
 "linalg_inv": lambda: tf.linalg.inv(B[:4, :4] + 4 * np.eye(4, dtype=np.float32)),
 "linalg_det": lambda: tf.linalg.det(B[:4, :4]),
 "band_part": lambda: tf.linalg.band_part(B, 1, 0),
 "diag_part": lambda: tf.linalg.diag_part(A),
 "linalg_diag": lambda: tf.linalg.diag(V[:3]),
 "tensordot": lambda: tf.tensordot(A, B, axes=[[1, 2], [0, 1]]),
 "einsum": lambda: tf.einsum("bij,jk->bik", A, B.T),
 "norm": lambda: tf.norm(A, axis=[-2, -1]),
 "norm_ord1": lambda: tf.norm(B, ord=1),
 "eye_batch": lambda: tf.eye(2, batch_shape=[3]),
 "linspace": lambda: tf.linspace(0.0, 1.0, 5),
 "math_floordiv": lambda: tf.math.floordiv(tf.constant([-7, 7]), tf.constant([2, 2])),
 "math_floormod": lambda: tf.math.floormod(tf.constant([-7.5, 7.5]), 2.0),
 "truediv_int": lambda: tf.math.truediv(tf.constant([7, 8]), tf.constant([2, 3])),
 "divide_no_nan": lambda: tf.math.divide_no_nan(V, np.array([0, 1, 2, 0, 1, 2, 0], np.float32)),
 "squared_diff": lambda: tf.math.squared_difference(A, 1.0),
 "rsqrt": lambda: tf.math.rsqrt(np.abs(A) + 1),
 "cast_round": lambda: tf.cast(tf.constant([1.7, -1.7, 2.5]), tf.int32),
 "round_half_even": lambda: tf.round(tf.constant([0.5, 1.5, 2.5, -0.5])),
 "sign": lambda: tf.sign(A),
 "count_nonzero": lambda: tf.math.count_nonzero(I, axis=0),
 "unique": lambda: tf.unique(tf.constant([3, 1, 3, 2, 1]))[1],
 "unique_y": lambda: tf.unique(tf.constant([3, 1, 3, 2, 1]))[0],
 "bincount": lambda: tf.math.bincount(tf.constant([1, 1, 3, 0]), minlength=5),
 "histogram_fixed": lambda: tf.histogram_fixed_width(V, [-1.0, 1.0], nbins=4),
 "searchsorted": lambda: tf.searchsorted(tf.sort(V), V[:3]),
 "sort_desc": lambda: tf.sort(A, axis=1, direction="DESCENDING"),
 "argsort": lambda: tf.argsort(V, stable=True),
 "confusion": lambda: tf.math.confusion_matrix([0, 1, 2, 1], [0, 2, 2, 1], num_classes=3),
 "image_resize_bilinear": lambda: tf.image.resize(IMG, [5, 11]),
 "image_resize_nearest": lambda: tf.image.resize(IMG, [5, 11], method="nearest"),
 "image_resize_area": lambda: tf.image.resize(IMG, [4, 4], method="area"),
 "image_resize_bicubic": lambda: tf.image.resize(IMG, [5, 11], method="bicubic"),
 "image_resize_aa": lambda: tf.image.resize(IMG, [3, 3], antialias=True),
 "image_resize_keep": lambda: tf.image.resize(IMG[:, :, :6], [4, 4], preserve_aspect_ratio=True),
 "image_crop_pad": lambda: tf.image.resize_with_crop_or_pad(IMG, 6, 10),
 "image_rgb_hsv": lambda: tf.image.rgb_to_hsv(IMG),
 "image_adjust_hue": lambda: tf.image.adjust_hue(IMG, 0.2),
 "image_adjust_sat": lambda: tf.image.adjust_saturation(IMG, 1.5),
 "image_adjust_gamma": lambda: tf.image.adjust_gamma(IMG, 2.0),
 "image_std": lambda: tf.image.per_image_standardization(IMG),
 "image_central_crop": lambda: tf.image.central_crop(IMG, 0.5),
 "image_flip": lambda: tf.image.flip_left_right(IMG),
 "image_sobel": lambda: tf.image.sobel_edges(IMG),
 "image_ssim": lambda: tf.image.ssim(IMG, IMG * 0.9, max_val=1.0, filter_size=3),
 "image_psnr": lambda: tf.image.psnr(IMG, IMG * 0.9, max_val=1.0),
 "image_tv": lambda: tf.image.total_variation(IMG),
 "image_patches": lambda: tf.image.extract_patches(IMG, [1, 3, 3, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID"),
 "image_crop_resize": lambda: tf.image.crop_and_resize(IMG, [[0.1, 0.1, 0.6, 0.9], [0, 0, 1, 1]], [0, 1], [4, 4]),
 "image_convert": lambda: tf.image.convert_image_dtype(tf.constant(np.array([[[0, 128, 255]]], np.uint8)), tf.float32),
 "signal_frame": lambda: tf.signal.frame(V, 3, 2),
 "signal_frame_pad": lambda: tf.signal.frame(V, 3, 2, pad_end=True, pad_value=9.0),
 "signal_stft": lambda: tf.abs(tf.signal.stft(rng.normal(size=(2, 64)).astype(np.float32), 16, 8)),
 "signal_hann": lambda: tf.signal.hann_window(8),
 "signal_mel": lambda: tf.signal.linear_to_mel_weight_matrix(8, 17, 8000, 20.0, 4000.0),
 "strings_len": lambda: tf.strings.length(["ab", "ccc", ""]),
 "strings_split": lambda: tf.strings.split(["a b", "c"]).to_list() if which == "tf" else tf.strings.split(["a b", "c"]).to_list(),
 "strings_lower": lambda: tf.strings.lower(["AbC"]),
 "strings_regex": lambda: tf.strings.regex_replace(["a1b22"], "[0-9]+", "#"),
 "strings_join": lambda: tf.strings.reduce_join(["a", "b", "c"], separator="-"),
 "strings_substr": lambda: tf.strings.substr(["hello"], 1, 3),
 "strings_to_number": lambda: tf.strings.to_number(["1.5", "2"]),
 "strings_hash": lambda: tf.strings.to_hash_bucket_fast(["a", "b", "hello"], 100),
 "strings_unicode_split": lambda: tf.strings.unicode_split(["héllo"], "UTF-8").to_list(),
 "strings_bytes_split": lambda: tf.strings.bytes_split(["ab"]).to_list(),
 "ragged_const_rowlen": lambda: tf.ragged.constant([[1, 2], [3], []]).row_lengths(),
 "ragged_to_tensor": lambda: tf.ragged.constant([[1, 2], [3], []]).to_tensor(default_value=-1),
 "random_uniform_shape": lambda: tf.shape(tf.random.uniform([3, 2], maxval=5, dtype=tf.int32)),
 "shape_n": lambda: tf.shape(A),
 "rank": lambda: tf.rank(A),
 "size": lambda: tf.size(A),
 "math_polyval": lambda: tf.math.polyval([1.0, 2.0, 3.0], 2.0),
 "math_lbeta": lambda: tf.math.lbeta(np.abs(B) + 0.5),
 "math_lgamma": lambda: tf.math.lgamma(np.abs(V) + 0.5),
 "math_digamma": lambda: tf.math.digamma(np.abs(V) + 0.5),
 "math_bessel": lambda: tf.math.bessel_i0e(V),
 "math_xlogy": lambda: tf.math.xlogy(np.array([0.0, 1.0, 2.0], np.float32), np.array([0.0, 2.0, 3.0], np.float32)),
 "math_is_nan": lambda: tf.math.is_nan(np.array([np.nan, 1.0], np.float32)),
 "math_reduce_variance": lambda: tf.math.reduce_variance(A, axis=[0, 1]),
 "math_cumulative_logsumexp": lambda: tf.math.cumulative_logsumexp(V),
 "math_accumulate_n": lambda: tf.math.accumulate_n([B, B, B]) if hasattr(tf.math, "accumulate_n") else tf.math.add_n([B, B, B]),
 "math_add_n": lambda: tf.math.add_n([B, B]),
 "math_zeta": lambda: tf.math.zeta(np.array([2.0, 3.0], np.float32), np.array([1.0, 2.0], np.float32)),
 "math_betainc": lambda: tf.math.betainc(np.float32(2.0), np.float32(3.0), np.array([0.2, 0.5], np.float32)),
 "math_igamma": lambda: tf.math.igamma(np.float32(2.0), np.array([0.5, 2.0], np.float32)),
}
out = {}
for name, f in C.items():
    try:
        r = f()
        rs = r if isinstance(r, (list, tuple)) and name not in ("strings_split", "strings_unicode_split", "strings_bytes_split") else [r]
        for k, v in enumerate(rs):
            a = np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=object if "strings_" in name and "len" not in name and "hash" not in name and "to_number" not in name else None)
            out[f"{name}__{k}"] = a
    except Exception as e:
        print(which, "fail", name, type(e).__name__, str(e)[:150])
import pickle
if which == "tf":
    pickle.dump(out, open("/tmp/corenn_side_by_side/tf.pkl", "wb"))
else:
    ref = pickle.load(open("/tmp/corenn_side_by_side/tf.pkl", "rb"))
    for k, b in ref.items():
        if k not in out:
            print("MISSING", k); continue
        a = out[k]
        try:
            if a.dtype == object or b.dtype == object:
                ok = str(a.tolist()) == str(b.tolist())
            else:
                ok = a.shape == b.shape and np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-4, atol=1e-5, equal_nan=True)
        except Exception as e:
            ok = False
        if not ok:
            print("DIFF", k, getattr(a, "shape", None), getattr(b, "shape", None), str(a.ravel()[:5].tolist())[:80], "|", str(b.ravel()[:5].tolist())[:80])
        elif a.dtype != b.dtype and not (a.dtype == object or b.dtype == object):
            print("DTYPE", k, a.dtype, b.dtype)
