"""TensorFlow guide "Introduction to Tensors" (guide/tensor), imports changed: tf.constant of
each rank and its dtypes, np.array / .numpy(), arithmetic as tf.add / tf.multiply / tf.matmul and
as operators, reductions, tf.convert_to_tensor, shapes (ndim, shape, tf.size, tf.rank,
tf.shape), indexing and slicing with steps and tf.newaxis, tf.reshape, tf.cast, broadcasting
and tf.broadcast_to, ragged lists (tf.constant refuses them, tf.ragged.constant makes one),
string tensors (tf.strings.split, to_number, bytes_split) and tf.sparse.SparseTensor. The
guide's float16 / float64 / uint8 tensors are held in those dtypes, and ops on them keep the
dtype as TensorFlow's do."""
import numpy as np

import corenn as tf

# -- Basics ----------------------------------------------------------------------------------------
# This will be an int32 tensor by default; see "dtypes" below.
rank_0_tensor = tf.constant(4)
print(rank_0_tensor)
assert rank_0_tensor.dtype == tf.int32 and rank_0_tensor.shape == ()

# Let's make this a float tensor.
rank_1_tensor = tf.constant([2.0, 3.0, 4.0])
print(rank_1_tensor)
assert rank_1_tensor.dtype == tf.float32

# If you want to be specific, you can set the dtype (see below) at creation time
rank_2_tensor = tf.constant([[1, 2],
                             [3, 4],
                             [5, 6]], dtype=tf.float16)
print(rank_2_tensor)
assert rank_2_tensor.dtype == tf.float16 and rank_2_tensor.numpy().dtype == np.float16

# There can be an arbitrary number of
# axes (sometimes called "dimensions")
rank_3_tensor = tf.constant([
  [[0, 1, 2, 3, 4],
   [5, 6, 7, 8, 9]],
  [[10, 11, 12, 13, 14],
   [15, 16, 17, 18, 19]],
  [[20, 21, 22, 23, 24],
   [25, 26, 27, 28, 29]],])

print(rank_3_tensor)
np.testing.assert_array_equal(np.array(rank_2_tensor), rank_2_tensor.numpy())

a = tf.constant([[1, 2],
                 [3, 4]])
b = tf.constant([[1, 1],
                 [1, 1]]) # Could have also said `tf.ones([2,2], dtype=tf.int32)`

print(tf.add(a, b), "\n")
print(tf.multiply(a, b), "\n")
print(tf.matmul(a, b), "\n")
np.testing.assert_array_equal(tf.matmul(a, b).numpy(), [[3, 3], [7, 7]])
print(a + b, "\n") # element-wise addition
print(a * b, "\n") # element-wise multiplication
print(a @ b, "\n") # matrix multiplication
np.testing.assert_array_equal((a @ b).numpy(), tf.matmul(a, b).numpy())
np.testing.assert_array_equal((a * b).numpy(), [[1, 2], [3, 4]])

c = tf.constant([[4.0, 5.0], [10.0, 1.0]])

# Find the largest value
print(tf.reduce_max(c))
# Find the index of the largest value
print(tf.math.argmax(c))
# Compute the softmax
print(tf.nn.softmax(c))
assert float(tf.reduce_max(c)) == 10.0
np.testing.assert_array_equal(tf.math.argmax(c).numpy(), [1, 0])
e = np.exp(np.array([[4.0, 5.0], [10.0, 1.0]]))
np.testing.assert_allclose(tf.nn.softmax(c).numpy(), e / e.sum(1, keepdims=True), rtol=1e-6)

tf.convert_to_tensor([1,2,3])
assert tf.convert_to_tensor([1, 2, 3]).dtype == tf.int32
tf.reduce_max([1,2,3])
tf.reduce_max(np.array([1,2,3]))
assert int(tf.reduce_max([1, 2, 3])) == 3

# -- About shapes ----------------------------------------------------------------------------------
rank_4_tensor = tf.zeros([3, 2, 4, 5])
print("Type of every element:", rank_4_tensor.dtype)
print("Number of axes:", rank_4_tensor.ndim)
print("Shape of tensor:", rank_4_tensor.shape)
print("Elements along axis 0 of tensor:", rank_4_tensor.shape[0])
print("Elements along the last axis of tensor:", rank_4_tensor.shape[-1])
print("Total number of elements (3*2*4*5): ", tf.size(rank_4_tensor).numpy())
assert rank_4_tensor.ndim == 4 and rank_4_tensor.shape == (3, 2, 4, 5) and tf.size(rank_4_tensor).numpy() == 120
print(tf.rank(rank_4_tensor))
print(tf.shape(rank_4_tensor))
assert tf.rank(rank_4_tensor).numpy() == 4
np.testing.assert_array_equal(tf.shape(rank_4_tensor).numpy(), [3, 2, 4, 5])

# -- Indexing --------------------------------------------------------------------------------------
rank_1_tensor = tf.constant([0, 1, 1, 2, 3, 5, 8, 13, 21, 34])
print(rank_1_tensor.numpy())
print("First:", rank_1_tensor[0].numpy())
print("Second:", rank_1_tensor[1].numpy())
print("Last:", rank_1_tensor[-1].numpy())
assert rank_1_tensor[-1].numpy() == 34
print("Everything:", rank_1_tensor[:].numpy())
print("Before 4:", rank_1_tensor[:4].numpy())
print("From 4 to the end:", rank_1_tensor[4:].numpy())
print("From 2, before 7:", rank_1_tensor[2:7].numpy())
print("Every other item:", rank_1_tensor[::2].numpy())
print("Reversed:", rank_1_tensor[::-1].numpy())
np.testing.assert_array_equal(rank_1_tensor[2:7].numpy(), [1, 2, 3, 5, 8])
np.testing.assert_array_equal(rank_1_tensor[::2].numpy(), [0, 1, 3, 8, 21])
np.testing.assert_array_equal(rank_1_tensor[::-1].numpy(), [34, 21, 13, 8, 5, 3, 2, 1, 1, 0])

# Pull out a single value from a 2-rank tensor
print(rank_2_tensor[1, 1].numpy())
# Get row and column tensors
print("Second row:", rank_2_tensor[1, :].numpy())
print("Second column:", rank_2_tensor[:, 1].numpy())
print("Last row:", rank_2_tensor[-1, :].numpy())
print("First item in last column:", rank_2_tensor[0, -1].numpy())
print("Skip the first row:")
print(rank_2_tensor[1:, :].numpy(), "\n")
np.testing.assert_array_equal(rank_2_tensor[:, 1].numpy(), [2, 4, 6])
assert rank_2_tensor[0, -1].numpy() == 2
print(rank_3_tensor[:, :, 4])
np.testing.assert_array_equal(rank_3_tensor[:, :, 4].numpy(), [[4, 9], [14, 19], [24, 29]])
assert rank_3_tensor[tf.newaxis, :, 1].shape == (1, 3, 5)
assert rank_3_tensor[..., tf.newaxis].shape == (3, 2, 5, 1)

# -- Manipulating shapes ---------------------------------------------------------------------------
# Shape returns a `TensorShape` object that shows the size along each axis
x = tf.constant([[1], [2], [3]])
print(x.shape)
# You can convert this object into a Python list, too
print(x.shape.as_list())
assert x.shape.as_list() == [3, 1] and x.shape.rank == 2 and x.shape.num_elements() == 3

# You can reshape a tensor to a new shape.
# Note that you're passing in a list
reshaped = tf.reshape(x, [1, 3])
print(x.shape)
print(reshaped.shape)
assert reshaped.shape == (1, 3)

print(rank_3_tensor)
# A `-1` passed in the `shape` argument says "Whatever fits".
print(tf.reshape(rank_3_tensor, [-1]))
np.testing.assert_array_equal(tf.reshape(rank_3_tensor, [-1]).numpy(), np.arange(30))
print(tf.reshape(rank_3_tensor, [3*2, 5]), "\n")
print(tf.reshape(rank_3_tensor, [3, -1]))
assert tf.reshape(rank_3_tensor, [3, -1]).shape == (3, 10)
# Bad examples: don't do this
# You can't reorder axes with reshape.
print(tf.reshape(rank_3_tensor, [2, 3, 5]), "\n")
# This is a mess
print(tf.reshape(rank_3_tensor, [5, 6]), "\n")
# This doesn't work at all
try:
  tf.reshape(rank_3_tensor, [7, -1])
  raise AssertionError("30 elements do not fill 7 rows")
except Exception as e:
  print(f"{type(e).__name__}: {e}")

# -- More on DTypes --------------------------------------------------------------------------------
the_f64_tensor = tf.constant([2.2, 3.3, 4.4], dtype=tf.float64)
the_f16_tensor = tf.cast(the_f64_tensor, dtype=tf.float16)
# Now, cast to an uint8 and lose the decimal precision
the_u8_tensor = tf.cast(the_f16_tensor, dtype=tf.uint8)
print(the_u8_tensor)
assert the_f64_tensor.dtype == tf.float64 and the_f16_tensor.dtype == tf.float16
assert the_u8_tensor.dtype == tf.uint8
np.testing.assert_array_equal(the_u8_tensor.numpy(), [2, 3, 4])

# -- Broadcasting ----------------------------------------------------------------------------------
x = tf.constant([1, 2, 3])
y = tf.constant(2)
z = tf.constant([2, 2, 2])
# All of these are the same computation
print(tf.multiply(x, 2))
print(x * y)
print(x * z)
np.testing.assert_array_equal((x * y).numpy(), (x * z).numpy())
# These are the same computations
x = tf.reshape(x,[3,1])
y = tf.range(1, 5)
print(x, "\n")
print(y, "\n")
print(tf.multiply(x, y))
np.testing.assert_array_equal(tf.multiply(x, y).numpy(), np.outer([1, 2, 3], [1, 2, 3, 4]))
x_stretch = tf.constant([[1, 1, 1, 1],
                         [2, 2, 2, 2],
                         [3, 3, 3, 3]])
y_stretch = tf.constant([[1, 2, 3, 4],
                         [1, 2, 3, 4],
                         [1, 2, 3, 4]])
print(x_stretch * y_stretch)  # Again, operator overloading
np.testing.assert_array_equal((x_stretch * y_stretch).numpy(), tf.multiply(x, y).numpy())
print(tf.broadcast_to(tf.constant([1, 2, 3]), [3, 3]))
np.testing.assert_array_equal(tf.broadcast_to(tf.constant([1, 2, 3]), [3, 3]).numpy(), [[1, 2, 3]] * 3)

# -- Ragged Tensors --------------------------------------------------------------------------------
ragged_list = [
    [0, 1, 2, 3],
    [4, 5],
    [6, 7, 8],
    [9]]
try:
  tensor = tf.constant(ragged_list)
  raise AssertionError("a ragged list is not a tensor")
except ValueError as e:
  print(f"ValueError: {e}")
ragged_tensor = tf.ragged.constant(ragged_list)
print(ragged_tensor)
np.testing.assert_array_equal(ragged_tensor.row_lengths().numpy(), [4, 2, 3, 1])
np.testing.assert_array_equal(ragged_tensor.to_tensor().numpy(), [[0, 1, 2, 3], [4, 5, 0, 0], [6, 7, 8, 0], [9, 0, 0, 0]])
assert ragged_tensor.to_list() == ragged_list

# -- String tensors --------------------------------------------------------------------------------
# Tensors can be strings, too here is a scalar string.
scalar_string_tensor = tf.constant("Gray wolf")
print(scalar_string_tensor)
# If you have three string tensors of different lengths, this is OK.
tensor_of_strings = tf.constant(["Gray wolf",
                                 "Quick brown fox",
                                 "Lazy dog"])
# Note that the shape is (3,). The string length is not included.
print(tensor_of_strings)
assert tensor_of_strings.shape == (3,)
print(tf.constant("🥳👍"))
# You can use split to split a string into a set of tensors
print(tf.strings.split(scalar_string_tensor, sep=" "))
# ...but it turns into a `RaggedTensor` if you split up a tensor of strings,
# as each string might be split into a different number of parts.
print(tf.strings.split(tensor_of_strings))
assert tf.strings.split(tensor_of_strings).to_list() == [[b"Gray", b"wolf"], [b"Quick", b"brown", b"fox"],
                                                        [b"Lazy", b"dog"]]
text = tf.constant("1 10 100")
print(tf.strings.to_number(tf.strings.split(text, " ")))
np.testing.assert_array_equal(tf.strings.to_number(tf.strings.split(text, " ")).numpy(), [1, 10, 100])
byte_strings = tf.strings.bytes_split(tf.constant("Duck"))
print("Byte strings:", byte_strings)
assert [bytes(b) if not isinstance(b, str) else b.encode() for b in np.asarray(byte_strings).tolist()] == \
    [b"D", b"u", b"c", b"k"]

# -- Sparse tensors --------------------------------------------------------------------------------
# Sparse tensors store values by index in a memory-efficient manner
sparse_tensor = tf.sparse.SparseTensor(indices=[[0, 0], [1, 2]],
                                       values=[1, 2],
                                       dense_shape=[3, 4])
print(sparse_tensor, "\n")
# You can convert sparse tensors to dense
print(tf.sparse.to_dense(sparse_tensor))
np.testing.assert_array_equal(tf.sparse.to_dense(sparse_tensor).numpy(), [[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
