"""TensorFlow tutorial customization/basics (tensors and operations), imports changed; the
tf.data part reads arrays instead of a CSV file."""
import tempfile
import time

import numpy as np

import corenn as tf

print(tf.math.add(1, 2))
print(tf.math.add([1, 2], [3, 4]))
print(tf.math.square(5))
print(tf.math.reduce_sum([1, 2, 3]))

# Operator overloading is also supported
print(tf.math.square(2) + tf.math.square(3))
assert float(tf.math.square(2) + tf.math.square(3)) == 13
assert tf.math.reduce_sum([1, 2, 3]).numpy() == 6

x = tf.linalg.matmul([[1]], [[2, 3]])
print(x)
print(x.shape)
print(x.dtype)
assert x.shape == (1, 2) and x.numpy().tolist() == [[2, 3]] and x.dtype == tf.float32

ndarray = np.ones([3, 3])

print("TensorFlow operations convert numpy arrays to Tensors automatically")
tensor = tf.math.multiply(ndarray, 42)
print(tensor)

print("And NumPy operations convert Tensors to NumPy arrays automatically")
print(np.add(tensor, 1))

print("The .numpy() method explicitly converts a Tensor to a numpy array")
print(tensor.numpy())
np.testing.assert_array_equal(np.add(tensor, 1), np.full((3, 3), 43.0))

x = tf.random.uniform([3, 3])

print("Is there a GPU available: "),
print(tf.config.list_physical_devices("GPU"))

print("Is the Tensor on GPU #0:  "),
print(x.device.endswith('GPU:0'))
assert tf.config.list_physical_devices("CPU")[0].device_type == "CPU"


def time_matmul(x):
  start = time.time()
  for loop in range(10):
    tf.linalg.matmul(x, x)

  result = time.time()-start

  print("10 loops: {:0.2f}ms".format(1000*result))


# Force execution on CPU
print("On CPU:")
x = tf.random.uniform([100, 100])
assert x.device == "cpu"
time_matmul(x)

ds_tensors = tf.data.Dataset.from_tensor_slices([1, 2, 3, 4, 5, 6])

# Create a CSV file
_, filename = tempfile.mkstemp()

with open(filename, 'w') as f:
  f.write("""Line 1
Line 2
Line 3
  """)

ds_file = tf.data.TextLineDataset(filename)

ds_tensors = ds_tensors.map(tf.math.square).shuffle(2).batch(2)

ds_file = ds_file.batch(2)

print('Elements of ds_tensors:')
seen = []
for x in ds_tensors:
  print(x)
  seen.extend(np.asarray(x).tolist())
assert sorted(seen) == [1, 4, 9, 16, 25, 36]

print('\nElements in ds_file:')
lines = []
for x in ds_file:
  print(x)
  lines.extend(np.asarray(x).tolist())
assert [l.decode() if isinstance(l, bytes) else l for l in lines][:3] == ["Line 1", "Line 2", "Line 3"]
