"""TensorFlow functions that gave answers different from TensorFlow 2.21 when run side by side
(fixed here): gather / gather_nd with batch_dims, split with a -1 size, norm of a whole tensor,
pad REFLECT / SYMMETRIC, boolean_mask along an axis, empty segments of unsorted_segment_max /
min, ragged rows with an empty row. References are NumPy, written from TensorFlow's docs;
gradients against finite differences."""
import numpy as np
import pytest

import corenn as tf
from reference import numerical_grad

RNG = np.random.default_rng(3)
A = RNG.normal(size=(3, 4, 5)).astype(np.float32)
B = RNG.normal(size=(4, 5)).astype(np.float32)


def test_gather_with_batch_dims_takes_per_batch_row():
    idx = np.array([[1, 3], [0, 0], [2, 1]])
    got = np.asarray(tf.gather(A, idx, axis=1, batch_dims=1))
    want = np.stack([A[b][idx[b]] for b in range(3)])
    assert got.shape == (3, 2, 5)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.asarray(tf.gather(A, idx, batch_dims=1)), want)   # axis defaults to batch_dims
    got2 = np.asarray(tf.gather(A, idx, axis=2, batch_dims=1))
    np.testing.assert_array_equal(got2, np.stack([A[b][:, idx[b]] for b in range(3)]))
    with pytest.raises(ValueError, match="indices must lie in"):
        tf.gather(A, idx + 5, axis=1, batch_dims=1)
    r = RNG.normal(size=(3, 2, 5))
    x = tf.Variable(A)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(x, idx, axis=1, batch_dims=1) * r)
    want_grad = numerical_grad(lambda v: float((np.stack([v[b][idx[b]] for b in range(3)]) * r).sum()),
                               A.astype(np.float64))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), want_grad, rtol=1e-4, atol=1e-6)


def test_gather_nd_with_batch_dims():
    idx = np.array([[[1]], [[2]], [[0]]])
    got = np.asarray(tf.gather_nd(A, idx, batch_dims=1))
    np.testing.assert_array_equal(got, np.stack([A[b][idx[b, :, 0]] for b in range(3)]))
    np.testing.assert_array_equal(np.asarray(tf.gather_nd(A, [[0, 1], [2, 3]])), A[[0, 2], [1, 3]])
    x = tf.Variable(A)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather_nd(x, [[0, 1], [0, 1]]))
    g = np.zeros_like(A)
    g[0, 1] = 2
    np.testing.assert_array_equal(np.asarray(tape.gradient(loss, x)), g)


def test_split_with_a_minus_one_size_takes_the_rest():
    parts = tf.split(A, [1, -1, 2], axis=2)
    assert [tuple(p.shape) for p in parts] == [(3, 4, 1), (3, 4, 2), (3, 4, 2)]
    np.testing.assert_array_equal(np.asarray(parts[1]), A[:, :, 1:3])
    with pytest.raises(ValueError, match="do not add up"):
        tf.split(A, [1, 1], axis=2)


def test_norm_without_axis_is_the_norm_of_all_entries():
    np.testing.assert_allclose(float(tf.norm(B, ord=1)), np.abs(B).sum(), rtol=1e-6)
    np.testing.assert_allclose(float(tf.norm(B)), np.sqrt((B.astype(np.float64) ** 2).sum()), rtol=1e-6)
    np.testing.assert_allclose(float(tf.norm(B, ord=np.inf)), np.abs(B).max(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.norm(A, axis=[-2, -1])),
                               np.sqrt((A.astype(np.float64) ** 2).sum((1, 2))), rtol=1e-6)
    assert np.asarray(tf.norm(B, keepdims=True)).shape == (1, 1)


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC", "reflect"])
def test_pad_reflect_and_symmetric(mode):
    got = np.asarray(tf.pad(B, [[1, 1], [2, 0]], mode=mode))
    np.testing.assert_array_equal(got, np.pad(B, [[1, 1], [2, 0]], mode=mode.lower()))
    with pytest.raises(ValueError, match="CONSTANT, REFLECT or SYMMETRIC"):
        tf.pad(B, [[1, 1], [0, 0]], mode="EDGE")


def test_boolean_mask_along_an_axis_and_over_two_axes():
    keep = np.array([True, False, True, True])
    np.testing.assert_array_equal(np.asarray(tf.boolean_mask(A, keep, axis=1)), A[:, keep])
    m2 = A[0] > 0
    np.testing.assert_array_equal(np.asarray(tf.boolean_mask(A, m2, axis=1)), A.reshape(3, -1)[:, m2.reshape(-1)])
    with pytest.raises(ValueError, match="must match dimensions"):
        tf.boolean_mask(A, keep[:3], axis=1)
    x = tf.Variable(B)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.boolean_mask(x, B[:, 0] > 0))
    np.testing.assert_array_equal(np.asarray(tape.gradient(loss, x)), np.repeat((B[:, :1] > 0), 5, 1).astype(np.float32))


def test_unsorted_segment_max_and_min_fill_empty_segments_as_tensorflow():
    ids = [2, 0, 2, 1]
    got = np.asarray(tf.math.unsorted_segment_max(B, ids, num_segments=4))
    np.testing.assert_array_equal(got[2], np.maximum(B[0], B[2]))
    np.testing.assert_array_equal(got[3], np.full(5, np.finfo(np.float32).min))
    low = np.asarray(tf.math.unsorted_segment_min(B, ids, num_segments=4))
    np.testing.assert_array_equal(low[3], np.full(5, np.finfo(np.float32).max))
    np.testing.assert_array_equal(low[0], B[1])


def test_ragged_rows_with_an_empty_row_keep_their_integer_dtype():
    r = tf.ragged.constant([[1, 2], [3], []])
    dense = np.asarray(r.to_tensor(default_value=-1))
    assert dense.dtype.kind == "i"
    np.testing.assert_array_equal(dense, [[1, 2], [3, -1], [-1, -1]])


def test_to_hash_bucket_fast_gives_tensorflows_buckets():
    # TensorFlow 2.21: tf.strings.to_hash_bucket_fast(['a', 'b', 'hello'], 100) -> [39, 22, 96]
    np.testing.assert_array_equal(tf.strings.to_hash_bucket_fast(["a", "b", "hello"], 100), [39, 22, 96])
    with pytest.raises(NotImplementedError, match="to_hash_bucket_fast"):
        tf.strings.to_hash_bucket(["a"], 10)


def test_crop_and_resize_samples_the_box_corners_and_extrapolates():
    img = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    boxes = [[0, 0, 1, 1], [0, 0, 0.5, 0.5], [0, 0, 1, 1], [0.5, 0.5, 1.5, 1.5]]
    out = np.asarray(tf.image.crop_and_resize(np.repeat(img, 2, 0), boxes[:2], [0, 1], [3, 3]))
    np.testing.assert_allclose(out[0, ..., 0], img[0, ..., 0])                       # the whole image
    np.testing.assert_allclose(out[1, ..., 0], [[0, 0.5, 1], [1.5, 2, 2.5], [3, 3.5, 4]])   # bilinear
    one = np.asarray(tf.image.crop_and_resize(img, [boxes[2]], [0], [1, 1]))
    assert one[0, 0, 0, 0] == 4.0                                                      # the centre
    outside = np.asarray(tf.image.crop_and_resize(img, [boxes[3]], [0], [2, 2], extrapolation_value=-1.0))
    np.testing.assert_allclose(outside[0, ..., 0], [[4, -1], [-1, -1]])
    with pytest.raises(ValueError, match="box_indices"):
        tf.image.crop_and_resize(img, boxes[:1], [1], [2, 2])


def test_adjust_hue_and_gamma():
    red = np.array([[[1.0, 0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(np.asarray(tf.image.adjust_hue(red, 1 / 3)), [[[0, 1, 0]]], atol=1e-6)   # red -> green
    np.testing.assert_allclose(np.asarray(tf.image.adjust_hue(red, -1 / 3)), [[[0, 0, 1]]], atol=1e-6)  # red -> blue
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(tf.image.adjust_gamma(x, 2.0, 0.5)), 0.5 * x ** 2, rtol=1e-6)
    with pytest.raises(ValueError, match="delta"):
        tf.image.adjust_hue(red, 2.0)


def test_tf_image_resize_bicubic_antialias_and_sobel_ssim_go_through_keras_ops_image():
    img = np.random.default_rng(3).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    kops = tf.keras.ops.image
    np.testing.assert_array_equal(np.asarray(tf.image.resize(img, [5, 11], method="bicubic")),
                                  np.asarray(kops.resize(img, (5, 11), interpolation="bicubic")))
    shrunk = np.asarray(tf.image.resize(img, [4, 4], antialias=True))
    # halving with antialiasing: the triangle kernel stretched 2x, taps 1/8 3/8 3/8 1/8 around
    # each output's centre, the taps outside the image dropped and the rest renormalised
    w = np.zeros((4, 8))
    for i in range(4):
        for j, tap in zip(range(2 * i - 1, 2 * i + 3), (1, 3, 3, 1)):
            if 0 <= j < 8:
                w[i, j] = tap
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(shrunk, np.einsum("ih,jw,nhwc->nijc", w, w, img), rtol=1e-5, atol=1e-6)
    assert np.asarray(tf.image.sobel_edges(img)).shape == (2, 8, 8, 3, 2)
    np.testing.assert_allclose(np.asarray(tf.image.ssim(img, img, max_val=1.0, filter_size=3)), [1.0, 1.0], rtol=1e-5)


def test_gather_of_strings_is_a_string_tensor_whose_items_have_numpy():
    # TensorFlow 2.21: tf.gather(["csharp", "java", "python"], [2, 0]) -> a tf.string tensor;
    # its items are scalar tensors whose numpy() is bytes (the "Load text" tutorial's labels)
    got = tf.gather(["csharp", "java", "python"], np.array([2, 0]))
    assert [label.numpy() for label in got] == [b"python", b"csharp"]
    assert list(got.numpy()) == [b"python", b"csharp"]
    assert tf.gather([["a", "b"], ["c", "d"]], [1], axis=1).numpy().tolist() == [[b"b"], [b"d"]]
