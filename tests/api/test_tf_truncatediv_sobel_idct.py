"""Three TensorFlow functions whose values differed from TensorFlow 2.21 (found by the float64
audit, the same in float32), checked against NumPy references of TensorFlow's definitions."""
import numpy as np

import corenn as tf


def test_truncatediv_rounds_float_quotients_toward_zero():
    x, y = np.array([7.5, -7.5, 3.0, -0.5]), np.array([2.0, 2.0, -2.0, 4.0])
    got = tf.truncatediv(tf.constant(x), tf.constant(y)).numpy()
    np.testing.assert_array_equal(got, np.trunc(x / y))     # TensorFlow: 3, -3, -1, -0
    assert tf.truncatediv(tf.constant([7, -7]), tf.constant([2, 2])).numpy().tolist() == [3, -3]


def _sobel_reference(img):
    """TensorFlow's sobel_edges: reflect padding, then the 3x3 kernels (dy, then dx) as a
    correlation, per channel."""
    ky = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float64)
    padded = np.pad(img, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    n, h, w, c = img.shape
    out = np.zeros((n, h, w, c, 2))
    for k, kern in enumerate((ky, ky.T)):
        for i in range(3):
            for j in range(3):
                out[..., k] += kern[i, j] * padded[:, i:i + h, j:j + w, :]
    return out


def test_sobel_edges_pads_by_reflection_as_tensorflow():
    img = np.random.default_rng(0).random((2, 5, 6, 3)).astype(np.float32)
    got = tf.image.sobel_edges(tf.constant(img)).numpy()
    assert got.shape == (2, 5, 6, 3, 2)
    np.testing.assert_allclose(got, _sobel_reference(img.astype(np.float64)), rtol=1e-5, atol=1e-5)
    ramp = tf.reshape(tf.range(16.0), (1, 4, 4, 1))   # a vertical ramp: dy is 0 on the reflected rows
    assert np.all(tf.image.sobel_edges(ramp).numpy()[0, [0, -1], :, 0, 0] == 0.0)


def test_idct_is_the_unscaled_dct_of_the_other_type():
    x = np.random.default_rng(1).random((3, 8))
    n = x.shape[-1]
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    dct3 = x[:, :1] + 2.0 * (x[:, 1:, None] * np.cos(np.pi * k[1:] * (2 * i + 1) / (2 * n))).sum(1)   # DCT-III
    np.testing.assert_allclose(tf.signal.idct(tf.constant(x.astype(np.float32))).numpy(), dct3, rtol=1e-5, atol=1e-5)
    # so idct(dct(x)) is 2N x, TensorFlow's documented rule
    np.testing.assert_allclose(tf.signal.idct(tf.signal.dct(tf.constant(x.astype(np.float32)))).numpy(), 2 * n * x,
                               rtol=1e-4, atol=1e-4)
