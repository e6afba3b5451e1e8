"""TF guide "Introduction to tensor slicing" (guide/tensor_slicing), imports changed: tf.slice and
Python slices, tf.gather on numbers and strings, tf.gather_nd with one- and multi-level indices,
tf.scatter_nd, tf.tensor_scatter_nd_update / add / sub / min / max, and a gather_nd /
scatter_nd round trip. Checks: each result against the values the guide prints (NumPy
expressions of the same selections)."""
import numpy as np

import corenn as tf

t1 = tf.constant([0, 1, 2, 3, 4, 5, 6, 7])

print(tf.slice(t1,
               begin=[1],
               size=[3]))
np.testing.assert_array_equal(tf.slice(t1, begin=[1], size=[3]).numpy(), [1, 2, 3])
print(t1[1:4])
print(t1[-3:])
np.testing.assert_array_equal(np.asarray(t1[1:4]), [1, 2, 3])
np.testing.assert_array_equal(np.asarray(t1[-3:]), [5, 6, 7])

t2 = tf.constant([[0, 1, 2, 3, 4],
                  [5, 6, 7, 8, 9],
                  [10, 11, 12, 13, 14],
                  [15, 16, 17, 18, 19]])

print(t2[:-1, 1:3])
np.testing.assert_array_equal(np.asarray(t2[:-1, 1:3]), [[1, 2], [6, 7], [11, 12]])

t3 = tf.constant([[[1, 3, 5, 7],
                   [9, 11, 13, 15]],
                  [[17, 19, 21, 23],
                   [25, 27, 29, 31]]
                  ])

print(tf.slice(t3,
               begin=[1, 1, 0],
               size=[1, 1, 2]))
np.testing.assert_array_equal(tf.slice(t3, begin=[1, 1, 0], size=[1, 1, 2]).numpy(), [[[25, 27]]])
np.testing.assert_array_equal(tf.slice(t3, begin=[0, 1, 1], size=[-1, 1, -1]).numpy(),
                              np.asarray(t3)[:, 1:2, 1:])

print(tf.gather(t1,
                indices=[0, 3, 6]))
np.testing.assert_array_equal(tf.gather(t1, indices=[0, 3, 6]).numpy(), [0, 3, 6])

# This is similar to doing

t1[::3]
np.testing.assert_array_equal(np.asarray(t1[::3]), [0, 3, 6])

alphabet = tf.constant(list('abcdefghijklmnopqrstuvwxyz'))

print(tf.gather(alphabet,
                indices=[2, 0, 19, 18]))
assert list(tf.gather(alphabet, indices=[2, 0, 19, 18]).numpy()) == [b'c', b'a', b't', b's']

t4 = tf.constant([[0, 5],
                  [1, 6],
                  [2, 7],
                  [3, 8],
                  [4, 9]])

print(tf.gather_nd(t4,
                   indices=[[2], [3], [0]]))
np.testing.assert_array_equal(tf.gather_nd(t4, indices=[[2], [3], [0]]).numpy(), [[2, 7], [3, 8], [0, 5]])

t5 = np.reshape(np.arange(18), [2, 3, 3])

print(tf.gather_nd(t5,
                   indices=[[0, 0, 0], [1, 2, 1]]))
np.testing.assert_array_equal(tf.gather_nd(t5, indices=[[0, 0, 0], [1, 2, 1]]).numpy(), [0, 16])

# Return a list of two matrices

print(tf.gather_nd(t5,
                   indices=[[[0, 0], [0, 2]], [[1, 0], [1, 2]]]))
np.testing.assert_array_equal(tf.gather_nd(t5, indices=[[[0, 0], [0, 2]], [[1, 0], [1, 2]]]).numpy(),
                              [[[0, 1, 2], [6, 7, 8]], [[9, 10, 11], [15, 16, 17]]])

# Return one matrix

print(tf.gather_nd(t5,
                   indices=[[0, 0], [0, 2], [1, 0], [1, 2]]))
np.testing.assert_array_equal(tf.gather_nd(t5, indices=[[0, 0], [0, 2], [1, 0], [1, 2]]).numpy(),
                              [[0, 1, 2], [6, 7, 8], [9, 10, 11], [15, 16, 17]])

t6 = tf.constant([10])
indices = tf.constant([[1], [3], [5], [7], [9]])
data = tf.constant([2, 4, 6, 8, 10])

print(tf.scatter_nd(indices=indices,
                    updates=data,
                    shape=t6))
np.testing.assert_array_equal(tf.scatter_nd(indices=indices, updates=data, shape=t6).numpy(),
                              [0, 2, 0, 4, 0, 6, 0, 8, 0, 10])

# Gather values from one tensor by specifying indices

new_indices = tf.constant([[0, 2], [2, 1], [3, 3]])
t7 = tf.gather_nd(t2, indices=new_indices)

# Add these values into a new tensor

t8 = tf.scatter_nd(indices=new_indices, updates=t7, shape=tf.constant([4, 5]))

print(t8)
want = np.zeros((4, 5), np.int64)
for (i, j) in [(0, 2), (2, 1), (3, 3)]:
  want[i, j] = np.asarray(t2)[i, j]
np.testing.assert_array_equal(t8.numpy(), want)

# This is the same as:
t9 = tf.zeros_like(t2)
t9 = tf.tensor_scatter_nd_update(t9, indices=new_indices, updates=t7)
print(t9)
np.testing.assert_array_equal(t9.numpy(), want)

t10 = tf.constant([[1, 2, 3],
                   [4, 5, 6],
                   [7, 8, 9]])
t11 = tf.tensor_scatter_nd_update(t10, indices=[[0, 2], [1, 1], [2, 0]], updates=[5, 5, 5])
print(t11)
np.testing.assert_array_equal(t11.numpy(), [[1, 2, 5], [4, 5, 6], [5, 8, 9]])
np.testing.assert_array_equal(t10.numpy(), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])   # a new tensor

t11 = tf.constant([[2, 7, 0],
                   [9, 0, 1],
                   [0, 3, 8]])

# Convert the tensor into a magic square by inserting numbers at appropriate indices

t12 = tf.tensor_scatter_nd_add(t11,
                               indices=[[0, 2], [1, 1], [2, 0]],
                               updates=[6, 5, 4])

print(t12)
np.testing.assert_array_equal(t12.numpy(), [[2, 7, 6], [9, 5, 1], [4, 3, 8]])
m = t12.numpy()
assert len({*m.sum(0), *m.sum(1), np.trace(m), np.trace(m[::-1])}) == 1   # a magic square

# Convert the tensor into an identity matrix

t13 = tf.tensor_scatter_nd_sub(t11,
                               indices=[[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 1], [2, 2]],
                               updates=[1, 7, 9, -1, 1, 3, 7])

print(t13)
np.testing.assert_array_equal(t13.numpy(), np.eye(3))

t14 = tf.constant([[-2, -7, 0],
                   [-9, 0, 1],
                   [0, -3, -8]])

t15 = tf.tensor_scatter_nd_min(t14,
                               indices=[[0, 2], [1, 1], [2, 0]],
                               updates=[-6, -5, -4])

print(t15)
np.testing.assert_array_equal(t15.numpy(), [[-2, -7, -6], [-9, -5, 1], [-4, -3, -8]])

t16 = tf.tensor_scatter_nd_max(t14,
                               indices=[[0, 2], [1, 1], [2, 0]],
                               updates=[6, 5, 4])

print(t16)
np.testing.assert_array_equal(t16.numpy(), [[-2, -7, 6], [-9, 5, 1], [4, -3, -8]])

# repeated indices add up in scatter_nd, as TensorFlow's
np.testing.assert_array_equal(tf.scatter_nd([[1], [1], [3]], [1.0, 2.0, 5.0], [4]).numpy(), [0.0, 3.0, 0.0, 5.0])
