"""TensorFlow guide "Working with sparse tensors" (guide/sparse_tensor), imports changed:
SparseTensor construction and printing, from_dense / to_dense, sparse.add, sparse_dense_matmul,
concat and slice of sparse feature patterns, map_values, a Keras model on an Input(sparse=True)
(called, predicted and fitted on SparseTensor batches), reductions, reorder, retain, transpose,
reshape and sparse softmax, each checked against NumPy on the dense arrays, and the guide's
tf.data section: a Dataset of SparseTensor rows, batched back into SparseTensors and unbatched."""
import numpy as np
import corenn as tf

st1 = tf.sparse.SparseTensor(indices=[[0, 3], [2, 4]], values=[10, 20], dense_shape=[3, 10])
print(st1)
st2 = tf.sparse.from_dense([[1, 0, 0, 8], [0, 0, 0, 0], [0, 0, 3, 0]])
print(st2)
print(tf.sparse.to_dense(st2))
st_a = tf.sparse.SparseTensor(indices=[[0, 2], [3, 4]], values=[31, 2], dense_shape=[4, 10])
st_b = tf.sparse.SparseTensor(indices=[[0, 2], [3, 0]], values=[56, 38], dense_shape=[4, 10])
st_sum = tf.sparse.add(st_a, st_b)
print(tf.sparse.to_dense(st_sum))
expect = np.zeros((4, 10)); expect[0, 2] = 87; expect[3, 4] = 2; expect[3, 0] = 38
np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(st_sum)), expect)
st_c = tf.sparse.SparseTensor(indices=([0, 1], [1, 0], [1, 1]), values=[13, 15, 17], dense_shape=(2, 2))
mb = tf.constant([[4], [6]])
product = tf.sparse.sparse_dense_matmul(st_c, mb)
print(product)
np.testing.assert_array_equal(np.asarray(product), [[78], [162]])
sparse_pattern_A = tf.sparse.SparseTensor(indices=[[2, 4], [3, 3], [3, 4], [4, 3], [4, 4], [5, 4]],
                                          values=[1, 1, 1, 1, 1, 1], dense_shape=[8, 5])
sparse_pattern_B = tf.sparse.SparseTensor(indices=[[0, 2], [1, 1], [1, 3], [2, 0], [2, 4], [2, 5], [3, 5],
                                                   [4, 5], [5, 0], [5, 4], [5, 5], [6, 1], [6, 3], [7, 2]],
                                          values=[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], dense_shape=[8, 6])
sparse_pattern_C = tf.sparse.SparseTensor(indices=[[3, 0], [4, 0]], values=[1, 1], dense_shape=[8, 6])
sparse_patterns_list = [sparse_pattern_A, sparse_pattern_B, sparse_pattern_C]
sparse_pattern = tf.sparse.concat(axis=1, sp_inputs=sparse_patterns_list)
print(tf.sparse.to_dense(sparse_pattern))
np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(sparse_pattern)), np.concatenate([np.asarray(tf.sparse.to_dense(p)) for p in sparse_patterns_list], 1))
assert tuple(sparse_pattern.dense_shape) == (8, 17)
sparse_slice_A = tf.sparse.slice(sparse_pattern_A, start=[0, 0], size=[8, 5])
sparse_slice_B = tf.sparse.slice(sparse_pattern_B, start=[0, 5], size=[8, 6])
sparse_slice_C = tf.sparse.slice(sparse_pattern_C, start=[0, 10], size=[8, 6])
print(tf.sparse.to_dense(sparse_slice_A))
print(tf.sparse.to_dense(sparse_slice_B))
print(tf.sparse.to_dense(sparse_slice_C))
st2_plus_5 = tf.sparse.map_values(tf.add, st2, 5)
np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(st2_plus_5)), [[6, 0, 0, 13], [0, 0, 0, 0], [0, 0, 8, 0]])
st2_plus_5 = tf.sparse.SparseTensor(st2.indices, st2.values + 5, st2.dense_shape)
print(tf.sparse.to_dense(st2_plus_5))
x = tf.keras.Input(shape=(4,), sparse=True)
y = tf.keras.layers.Dense(4)(x)
model = tf.keras.Model(x, y)
sparse_data = tf.sparse.SparseTensor(indices=[(0, 0), (0, 1), (0, 2), (4, 3), (5, 0), (5, 1)],
                                     values=[1, 1, 1, 1, 1, 1], dense_shape=(6, 4))
print(model(sparse_data))
print(model.predict(sparse_data))
dataset = tf.data.Dataset.from_tensor_slices(sparse_data)
for element in dataset:
    print(element)
batched_dataset = dataset.batch(2)
for element in batched_dataset:
    print(element)
unbatched_dataset = batched_dataset.unbatch()
for element in unbatched_dataset:
    print(element)
dense_rows = np.asarray(tf.sparse.to_dense(sparse_data))
np.testing.assert_array_equal(np.stack([np.asarray(tf.sparse.to_dense(e)) for e in dataset]), dense_rows)
np.testing.assert_array_equal(np.concatenate([np.asarray(tf.sparse.to_dense(e)) for e in batched_dataset]), dense_rows)
np.testing.assert_array_equal(np.stack([np.asarray(tf.sparse.to_dense(e)) for e in unbatched_dataset]), dense_rows)
np.testing.assert_allclose(np.asarray(model.predict(sparse_data, verbose=0)),
                           np.asarray(model(tf.sparse.to_dense(sparse_data))), rtol=1e-6)
# a sparse bag-of-words classifier trained with fit on a SparseTensor batch
rng = np.random.default_rng(0)
dense_x = (rng.random((64, 20)) < 0.15).astype("float32")
labels = (dense_x[:, :10].sum(1) > dense_x[:, 10:].sum(1)).astype("float32")
sp_x = tf.sparse.from_dense(dense_x)
inp = tf.keras.Input(shape=(20,), sparse=True)
clf = tf.keras.Model(inp, tf.keras.layers.Dense(1, activation="sigmoid")(inp))
clf.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
hist = clf.fit(sp_x, labels, batch_size=64, epochs=40, verbose=0)
# the same data as a tf.data pipeline of SparseTensor batches
ds = tf.data.Dataset.from_tensor_slices((sp_x, labels)).batch(16)
on_ds = clf.evaluate(ds, verbose=0, return_dict=True)
on_dense = clf.evaluate(dense_x, labels, batch_size=16, verbose=0, return_dict=True)
np.testing.assert_allclose(on_ds["loss"], on_dense["loss"], rtol=1e-5)
assert on_ds["accuracy"] == on_dense["accuracy"]
print("loss", hist.history["loss"][0], "->", hist.history["loss"][-1], "acc", hist.history["accuracy"][-1])
assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0] and hist.history["accuracy"][-1] > 0.85
np.testing.assert_array_equal(np.asarray(tf.sparse.reduce_sum(st_a, axis=1)), [31, 0, 0, 2])
st = tf.sparse.SparseTensor(indices=[[0, 1], [0, 0]], values=[1., 2.], dense_shape=[2, 2])
st = tf.sparse.reorder(st)
print(st.indices)
x = [[1, 0, 0], [0, 0, 2]]
np.testing.assert_array_equal(np.asarray(tf.sparse.reduce_max(tf.sparse.from_dense(x), axis=1)), [1, 2])
np.testing.assert_array_equal(np.asarray(st.indices), [[0, 0], [0, 1]])
st_retained = tf.sparse.retain(st_a, tf.constant([True, False]))
print(st_retained)
assert np.asarray(st_retained.indices).tolist() == [[0, 2]]
print(tf.sparse.transpose(st_a).dense_shape)
r = tf.sparse.reshape(st_a, [2, 20])
np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(r)), np.asarray(tf.sparse.to_dense(st_a)).reshape(2, 20))
sm = tf.sparse.softmax(tf.sparse.SparseTensor([[0, 0], [0, 2], [1, 1]], [1., 2., 3.], [2, 3]))
print(sm)
e = np.exp([1., 2.]); np.testing.assert_allclose(np.asarray(sm.values), [e[0] / e.sum(), e[1] / e.sum(), 1.0], rtol=1e-6)
