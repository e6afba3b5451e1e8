"""TensorFlow Core guide "Matrix approximation with Core APIs" (guide/core/matrix_core),
imports changed: tf.linalg.svd (s, U, V), the reconstruction with tf.linalg.diag and
tf.matmul(..., adjoint_b=True), the rank-r approximation written with tf.einsum over batch
dimensions ('...s,...us,...vs->...uv'), and the image compression section on a (3, h, w) stack of
channels (tf.transpose, tf.clip_by_value, compression factor and error). The guide's raccoon
photo (downloaded with requests) is replaced by a smooth synthetic image; matplotlib left out.
The singular values, the reconstruction and the Eckart-Young error of each rank are checked with
NumPy float64."""
import numpy as np

import corenn as tf

A = tf.random.uniform(shape=[40,30])
# Compute the SVD factorization
s, U, V = tf.linalg.svd(A)
# Define Sigma and V Transpose
S = tf.linalg.diag(s)
V_T = tf.transpose(V)
# Reconstruct the original matrix
A_svd = U@S@V_T
# Visualize
print("Reconstruction error: ", tf.reduce_max(abs(A_svd - A)).numpy())
assert s.shape == (30,) and U.shape == (40, 30) and V.shape == (30, 30)
np.testing.assert_allclose(np.asarray(s), np.linalg.svd(np.asarray(A, "float64"), compute_uv=False), rtol=1e-4)
assert float(tf.reduce_max(abs(A_svd - A))) < 1e-4
np.testing.assert_allclose(np.asarray(tf.matmul(U, U, transpose_a=True)), np.eye(30), atol=1e-4)
np.testing.assert_allclose(np.asarray(tf.matmul(U * s, V, adjoint_b=True)), np.asarray(A), atol=1e-4)


def rank_r_approx(s, U, V, r, verbose=False):
  # Compute the matrices necessary for a rank-r approximation
  s_r, U_r, V_r = s[..., :r], U[..., :, :r], V[..., :, :r] # ... implies any number of extra batch axes
  # Compute the low-rank approximation and its size
  A_r = tf.einsum('...s,...us,...vs->...uv',s_r,U_r,V_r)
  A_r_size = tf.size(U_r) + tf.size(s_r) + tf.size(V_r)
  if verbose:
    print(f"Approximation Size: {A_r_size}")
  return A_r, A_r_size


def viz_approx(A, A_r):
  # Plot A, A_r, and A - A_r (the guide draws them): here the error the plot shows
  return tf.reduce_max(abs(A - A_r))


s64 = np.linalg.svd(np.asarray(A, "float64"), compute_uv=False)
for r in (15, 5):
  A_r, A_r_size = rank_r_approx(s, U, V, r, verbose=True)
  assert A_r.shape == (40, 30) and int(A_r_size) == 40 * r + r + 30 * r
  # Eckart-Young: the Frobenius error of the best rank-r approximation is the tail of s
  err = float(tf.norm(A - A_r))
  np.testing.assert_allclose(err, np.sqrt((s64[r:] ** 2).sum()), rtol=1e-3)
  print(viz_approx(A, A_r).numpy())

# -- image compression: a (h, w, 3) image, channels first for a batch of SVDs ------------------
h, w = 48, 64
yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
img = np.stack([1 / (1 + 40 * (xx - yy) ** 2), np.sin(6 * xx * yy),
                np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 8)], -1)
img = ((img - img.min()) / (img.max() - img.min())).astype("float32")
I = tf.convert_to_tensor(img)
print(f"Image shape: {I.shape}")

I_batched = tf.transpose(I, [2, 0, 1]) # einops.rearrange(I, 'h w c -> c h w')
s_I, U_I, V_I = tf.linalg.svd(I_batched)
assert s_I.shape == (3, 48) and U_I.shape == (3, 48, 48) and V_I.shape == (3, 64, 48)
for c in range(3):
  np.testing.assert_allclose(np.asarray(s_I[c]), np.linalg.svd(img[..., c].astype("float64"), compute_uv=False),
                             rtol=1e-3, atol=1e-4)


def rank_r_image_approx(I, r, verbose=False):
  # Approximate the image with its rank-r SVD per channel
  I_r, I_r_size = rank_r_approx(s_I, U_I, V_I, r, verbose=verbose)
  I_r = tf.transpose(I_r, [1, 2, 0])
  I_r = tf.clip_by_value(I_r, 0., 1.)
  return I_r, I_r_size


def compression_ratio(I, I_r_size):
  # Compute the compression ratio
  return tf.size(I) / I_r_size


def error_ratio(I, I_r):
  # Compute the relative error (Frobenius norms)
  return tf.norm(I - I_r) / tf.norm(I)


errors = []
for r in [1, 4, 16]:
  I_r, I_r_size = rank_r_image_approx(I, r)
  factor = float(compression_ratio(I, I_r_size))
  err = float(error_ratio(I, I_r))
  print(f"Rank {r}: compression factor {factor:.2f}, error {err:.4f}")
  assert I_r.shape == (48, 64, 3) and float(tf.reduce_min(I_r)) >= 0 and float(tf.reduce_max(I_r)) <= 1
  np.testing.assert_allclose(factor, (48 * 64 * 3) / (3 * (48 * r + r + 64 * r)), rtol=1e-6)
  errors.append(err)
assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01
