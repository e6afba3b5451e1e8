"""TF guide "Random number generation" (guide/random_numbers), imports changed: tf.random.Generator
from a seed, the global generator, from_non_deterministic_state, reset_from_seed, split into
independent generators, a generator used inside a tf.function, a generator passed as a
tf.function argument, and the stateless functions with a seed pair. (The virtual-device and
distribution-strategy sections are left out.) corenn draws from NumPy's generators, not
TensorFlow's Philox stream, so the checks are the guide's claims, not its printed numbers: the
same seed gives the same draws, reset_from_seed restarts the stream, split generators differ
from each other and from their parent, stateless draws depend only on the seed, and the draws
have the distributions asked for."""
import numpy as np

import corenn as tf

g1 = tf.random.Generator.from_seed(1)
print(g1.normal(shape=[2, 3]))
g2 = tf.random.get_global_generator()
print(g2.normal(shape=[2, 3]))
assert g1.normal(shape=[2, 3]).shape == (2, 3)

g1 = tf.random.Generator.from_seed(1, alg='philox')
print(g1.normal(shape=[2, 3]))
again = tf.random.Generator.from_seed(1, alg='philox')
np.testing.assert_array_equal(g1.normal(shape=[4]).numpy(), (again.normal(shape=[2, 3]), again.normal(shape=[4]))[1].numpy())

g = tf.random.Generator.from_non_deterministic_state()
print(g.normal(shape=[2, 3]))

g = tf.random.Generator.from_seed(1)
first = g.normal([])
second = g.normal([])
print(first, second)
g.reset_from_seed(1)
third = g.normal([])
print(third)
assert float(first) == float(third) and float(first) != float(second)
assert first.shape == () and tf.random.stateless_normal([], seed=[1, 2]).shape == ()

g = tf.random.Generator.from_seed(1)
print(g.normal([]))
new_gs = g.split(3)
draws = []
for new_g in new_gs:
  draws.append(new_g.normal([1000]).numpy())
  print(draws[-1][0])
parent = g.normal([1000]).numpy()
print(parent[0])
for i in range(3):
  assert abs(np.corrcoef(draws[i], parent)[0, 1]) < 0.15
  for j in range(i):
    assert abs(np.corrcoef(draws[i], draws[j])[0, 1]) < 0.15

# Interaction with tf.function
g = tf.random.Generator.from_seed(1)


@tf.function
def foo():
  return g.normal([])


a, b = foo(), foo()
print(a, b)
assert float(a) != float(b)   # the generator's state advances on every call

g = None


@tf.function
def foo():
  global g
  if g is None:
    g = tf.random.Generator.from_seed(1)
  return g.normal([])


print(foo())
print(foo())

num_traces = 0


@tf.function
def foo(g):
  global num_traces
  num_traces += 1
  return g.normal([])


x1 = foo(tf.random.Generator.from_seed(1))
x2 = foo(tf.random.Generator.from_seed(2))
print(num_traces)
y1 = foo(tf.random.Generator.from_seed(1))
assert float(x1) == float(y1) and float(x1) != float(x2)

# Stateless RNGs
print(tf.random.stateless_normal(shape=[2, 3], seed=[1, 2]))
s1 = tf.random.stateless_normal(shape=[2, 3], seed=[1, 2])
s2 = tf.random.stateless_normal(shape=[2, 3], seed=[1, 2])
s3 = tf.random.stateless_normal(shape=[2, 3], seed=[1, 3])
np.testing.assert_array_equal(s1.numpy(), s2.numpy())
assert not np.array_equal(s1.numpy(), s3.numpy())

# the distributions
g = tf.random.Generator.from_seed(7)
n = g.normal([20000], mean=2.0, stddev=3.0).numpy()
u = g.uniform([20000], minval=-1.0, maxval=3.0).numpy()
k = g.uniform([20000], minval=0, maxval=10, dtype=tf.int32).numpy()
t = g.truncated_normal([20000]).numpy()
assert abs(n.mean() - 2.0) < 0.1 and abs(n.std() - 3.0) < 0.1
assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
assert k.dtype == np.int32 and set(np.unique(k)) == set(range(10))
assert np.abs(t).max() <= 2.0 and 0.8 < t.std() < 0.9   # N(0, 1) cut at 2 sigma: std 0.880
seeds = g.make_seeds(2)
assert seeds.shape == (2, 2)
img = tf.random.stateless_uniform(shape=[4], seed=seeds[:, 0])
np.testing.assert_array_equal(img.numpy(), tf.random.stateless_uniform(shape=[4], seed=seeds[:, 0]).numpy())
