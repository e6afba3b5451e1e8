"""The keras.io ops API pages, the entries the examples seldom reach, as the pages call them:
control flow (ops.switch, ops.associative_scan, ops.scan with a carry, ops.fori_loop, ops.cond),
ops.custom_gradient, the FFTs (fft, rfft/irfft, stft), searchsorted, histogram, segment_max,
ops.image.affine_transform and map_coordinates, and ops.linalg (qr, svd, eigh, solve, cholesky,
lu_factor, det, inv, norm); each checked against NumPy, then custom_gradient used inside a layer
that trains. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import ops

keras.utils.set_random_seed(13)
rng = np.random.default_rng(13)
npy = keras.ops.convert_to_numpy

# -- control flow ------------------------------------------------------------------------------------
add_fn = lambda x, y: x + y
subtract_fn = lambda x, y: x - y
x, y = ops.array(2.0), ops.array(0.5)
branches = [add_fn, subtract_fn]
np.testing.assert_allclose(npy(ops.switch(0, branches, x, y)), 2.5)
np.testing.assert_allclose(npy(ops.switch(1, branches, x, y)), 1.5)
np.testing.assert_allclose(npy(ops.cond(x > y, lambda: x * 2, lambda: y)), 4.0)

xs = np.arange(5, dtype="float32")
np.testing.assert_allclose(npy(ops.associative_scan(add_fn, xs)), np.cumsum(xs))
np.testing.assert_allclose(npy(ops.associative_scan(add_fn, xs, reverse=True)), np.cumsum(xs[::-1])[::-1])
mat = rng.normal(size=(4, 3)).astype("float32")
np.testing.assert_allclose(npy(ops.associative_scan(ops.maximum, mat, axis=1)), np.maximum.accumulate(mat, 1))


def sum_fn(c, xs):
    return c + xs, c + xs


final, partial = ops.scan(sum_fn, 0.0, xs)
np.testing.assert_allclose(npy(final), xs.sum())
np.testing.assert_allclose(npy(partial), np.cumsum(xs))
np.testing.assert_allclose(npy(ops.fori_loop(0, 10, lambda i, v: v + i, 0.0)), 45.0)


# -- custom_gradient: log1pexp with a stable gradient, the page's example ------------------------------
@ops.custom_gradient
def log1pexp(x):
    e = ops.exp(x)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

    return ops.log(1 + e), grad


v = keras.Variable(np.array([0.0, 1.0, 5.0], "float32"))
np.testing.assert_allclose(npy(log1pexp(v)), np.log1p(np.exp([0.0, 1.0, 5.0])), rtol=1e-5)

# -- FFTs ------------------------------------------------------------------------------------------------
re = rng.normal(size=(2, 8)).astype("float32")
im = rng.normal(size=(2, 8)).astype("float32")
fr, fi = ops.fft((re, im))
ref = np.fft.fft(re + 1j * im)
np.testing.assert_allclose(npy(fr), ref.real, rtol=1e-4, atol=1e-4)
np.testing.assert_allclose(npy(fi), ref.imag, rtol=1e-4, atol=1e-4)
rr, ri = ops.rfft(re)
np.testing.assert_allclose(npy(rr) + 1j * npy(ri), np.fft.rfft(re), rtol=1e-4, atol=1e-4)
np.testing.assert_allclose(npy(ops.irfft((rr, ri))), re, rtol=1e-4, atol=1e-4)
sig = rng.normal(size=(1, 64)).astype("float32")
sr, si = ops.stft(sig, sequence_length=16, sequence_stride=8, fft_length=16, window=None, center=False)
frames = np.stack([sig[0, i:i + 16] for i in range(0, 64 - 16 + 1, 8)])
np.testing.assert_allclose(npy(sr)[0] + 1j * npy(si)[0], np.fft.rfft(frames), rtol=1e-4, atol=1e-4)

# -- searchsorted, histogram, segment_max --------------------------------------------------------------------
sorted_seq = np.array([1.0, 3.0, 5.0, 7.0], "float32")
values = np.array([0.0, 3.0, 6.0, 9.0], "float32")
np.testing.assert_array_equal(npy(ops.searchsorted(sorted_seq, values)), np.searchsorted(sorted_seq, values))
np.testing.assert_array_equal(npy(ops.searchsorted(sorted_seq, values, side="right")),
                              np.searchsorted(sorted_seq, values, side="right"))
data = rng.normal(size=200).astype("float32")
counts, edges = ops.histogram(data, bins=8)
ref_counts, ref_edges = np.histogram(data, bins=8)
np.testing.assert_array_equal(npy(counts), ref_counts)
np.testing.assert_allclose(npy(edges), ref_edges, rtol=1e-5)
seg = np.array([0, 0, 1, 1, 1, 2], "int32")
vals = np.array([1.0, 5.0, -2.0, 4.0, 0.0, 3.0], "float32")
np.testing.assert_allclose(npy(ops.segment_max(vals, seg, num_segments=3)), [5.0, 4.0, 3.0])
np.testing.assert_allclose(npy(ops.segment_sum(vals, seg, num_segments=3)), [6.0, 2.0, 3.0])

# -- image transforms -------------------------------------------------------------------------------------------
img = rng.uniform(size=(1, 6, 6, 1)).astype("float32")
identity = np.array([[1, 0, 0, 0, 1, 0, 0, 0]], "float32")
np.testing.assert_allclose(npy(ops.image.affine_transform(img, identity, interpolation="nearest")), img, atol=1e-6)
shift = np.array([[1, 0, 1, 0, 1, 0, 0, 0]], "float32")          # output (y, x) reads input (y, x + 1)
shifted = npy(ops.image.affine_transform(img, shift, interpolation="nearest", fill_mode="constant"))
np.testing.assert_allclose(shifted[0, :, :5, 0], img[0, :, 1:, 0], atol=1e-6)
np.testing.assert_allclose(shifted[0, :, 5, 0], 0.0)
grid = np.arange(12, dtype="float32").reshape(3, 4)
coords = np.array([[0.5, 1.0, 2.0], [1.5, 2.0, 3.0]], "float32")   # (rows, cols) of three points
out = npy(ops.image.map_coordinates(grid, coords, order=1))
np.testing.assert_allclose(out, [(grid[0, 1] + grid[0, 2] + grid[1, 1] + grid[1, 2]) / 4, grid[1, 2], grid[2, 3]],
                           rtol=1e-5)

# -- linear algebra ---------------------------------------------------------------------------------------------------
a = rng.normal(size=(4, 4)).astype("float32")
spd = (a @ a.T + 4 * np.eye(4)).astype("float32")
b = rng.normal(size=(4, 2)).astype("float32")
q, r = ops.qr(a)
np.testing.assert_allclose(npy(q) @ npy(r), a, atol=1e-4)
np.testing.assert_allclose(npy(q).T @ npy(q), np.eye(4), atol=1e-4)
u, s, vh = ops.svd(a)
np.testing.assert_allclose(npy(s), np.linalg.svd(a, compute_uv=False), rtol=1e-4)
np.testing.assert_allclose((npy(u) * npy(s)) @ npy(vh), a, atol=1e-4)
w, vecs = ops.eigh(spd)
np.testing.assert_allclose(npy(w), np.linalg.eigvalsh(spd), rtol=1e-4)
np.testing.assert_allclose(spd @ npy(vecs), npy(vecs) * npy(w), atol=1e-3)
np.testing.assert_allclose(npy(ops.solve(a, b)), np.linalg.solve(a.astype(np.float64), b), rtol=1e-3, atol=1e-4)
np.testing.assert_allclose(npy(ops.cholesky(spd)), np.linalg.cholesky(spd.astype(np.float64)), rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(npy(ops.det(a)), np.linalg.det(a.astype(np.float64)), rtol=1e-4)
np.testing.assert_allclose(npy(ops.inv(spd)), np.linalg.inv(spd.astype(np.float64)), rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(npy(ops.norm(a, ord="fro")), np.linalg.norm(a), rtol=1e-5)
np.testing.assert_allclose(npy(ops.norm(a, ord=2, axis=(0, 1))), np.linalg.norm(a, 2), rtol=1e-4)
lu, piv = ops.lu_factor(a)
lu, piv = npy(lu), npy(piv)
lower, upper = np.tril(lu, -1) + np.eye(4), np.triu(lu)
perm = np.arange(4)
for i, p in enumerate(piv):                                   # LAPACK-style row swaps
    perm[[i, p]] = perm[[p, i]]
np.testing.assert_allclose(lower @ upper, a[perm], atol=1e-4)


# -- custom_gradient inside a layer that trains: a clipped-gradient identity -------------------------------------------
@ops.custom_gradient
def clip_gradient(x):
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return ops.clip(upstream, -0.01, 0.01)

    return x, grad


class ClippedDense(keras.layers.Dense):
    def call(self, inputs):
        return clip_gradient(super().call(inputs))


xtr = rng.normal(size=(128, 3)).astype("float32")
ytr = (xtr @ np.array([1.0, -2.0, 0.5]) + 1.0).astype("float32")[:, None]
model = keras.Sequential([keras.Input((3,)), ClippedDense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
before = [np.array(w) for w in model.get_weights()]
model.fit(xtr, ytr, batch_size=128, epochs=1, verbose=0)
# one step: the gradient reaching the layer output, 2 (pred - y) / 128 per example, is clipped
# to [-0.01, 0.01] before it flows into the kernel and bias
upstream = np.clip(2 * (xtr @ before[0] + before[1] - ytr) / 128, -0.01, 0.01)
assert (np.abs(2 * (xtr @ before[0] + before[1] - ytr) / 128) > 0.01).any()     # some are clipped
np.testing.assert_allclose(np.array(model.get_weights()[1]), before[1] - 0.5 * upstream.sum(0), rtol=1e-4, atol=1e-6)
np.testing.assert_allclose(np.array(model.get_weights()[0]), before[0] - 0.5 * xtr.T @ upstream, rtol=1e-4, atol=1e-6)
history = model.fit(xtr, ytr, batch_size=16, epochs=20, verbose=0)
print("loss", history.history["loss"][0], "->", history.history["loss"][-1])
assert history.history["loss"][-1] < history.history["loss"][0]
