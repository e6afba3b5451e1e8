"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python tf_data.py keras`` (or ``tf``) in an environment with the oracle, then ``python tf_data.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import numpy as np, sys
if sys.argv[1] == "tf":
    import tensorflow as tf
else:
    import corenn as tf
out = []
ds = tf.data.Dataset.range(10)
out.append(list(ds.window(3, shift=2, drop_remainder=True).flat_map(lambda w: w.batch(3)).as_numpy_iterator()))
out.append(list(tf.data.Dataset.from_tensor_slices([[1, 2], [3, 4], [5, 6]]).unbatch().as_numpy_iterator()))
lens = tf.data.Dataset.from_tensor_slices([1, 3, 2, 5, 4])
out.append([b.tolist() for b in lens.map(lambda n: tf.range(n)).padded_batch(2, padded_shapes=[None], padding_values=tf.constant(-1, tf.int32)).as_numpy_iterator()])
def gen():
    for i in range(5):
        yield np.arange(i), i
g = tf.data.Dataset.from_generator(gen, output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int64), tf.TensorSpec(shape=(), dtype=tf.int64)))
out.append([(a.tolist(), int(b)) for a, b in g.as_numpy_iterator()])
out.append(list(tf.data.Dataset.range(6).interleave(lambda x: tf.data.Dataset.from_tensors(x).repeat(2), cycle_length=2, block_length=1).as_numpy_iterator()))
out.append(list(tf.data.Dataset.range(7).batch(3).map(lambda x: tf.reduce_sum(x)).as_numpy_iterator()))
out.append(list(tf.data.Dataset.range(10).filter(lambda x: x % 3 == 0).take(2).concatenate(tf.data.Dataset.range(2)).as_numpy_iterator()))
out.append(list(tf.data.Dataset.zip((tf.data.Dataset.range(3), tf.data.Dataset.range(10, 13))).map(lambda a, b: a * b).as_numpy_iterator()))
out.append(list(tf.data.Dataset.range(5).scan(np.int64(0), lambda s, x: (s + x, s * 10)).as_numpy_iterator()) if hasattr(tf.data.Dataset, "scan") else "noscan")
out.append(list(tf.data.Dataset.range(9).skip(2).shard(3, 1).as_numpy_iterator()))
out.append(int(tf.data.Dataset.range(10).reduce(np.int64(0), lambda s, x: s + x)))
out.append([x.tolist() for x in tf.data.Dataset.range(10).batch(4, drop_remainder=True).rebatch(2).as_numpy_iterator()] if hasattr(tf.data.Dataset, "rebatch") else "norebatch")
out.append(list(tf.data.Dataset.range(6).enumerate(start=5).map(lambda i, x: i + x).as_numpy_iterator()))
out.append(int(tf.data.Dataset.range(10).cardinality()))
out.append(int(tf.data.Dataset.range(10).filter(lambda x: x > 2).cardinality()))
out.append(list(tf.data.Dataset.range(4).repeat(2).unique().as_numpy_iterator()) if hasattr(tf.data.Dataset, "unique") else "nounique")
out.append("nogbw" if not hasattr(tf.data.Dataset, "group_by_window") else [b.tolist() for b in tf.data.Dataset.range(10).group_by_window(key_func=lambda x: x % 2, reduce_func=lambda k, w: w.batch(3), window_size=3).as_numpy_iterator()])
out.append([ (b.tolist()) for b in tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1], [2, 3], [4, 5, 6], [7]]) if hasattr(tf, "ragged") else [[1]]).as_numpy_iterator()] if False else "skip")
out.append([x.tolist() for x in tf.data.Dataset.range(1, 8).map(lambda n: tf.fill([n], n)).bucket_by_sequence_length(lambda x: tf.shape(x)[0], bucket_boundaries=[3, 5], bucket_batch_sizes=[2, 2, 2]).as_numpy_iterator()] if hasattr(tf.data.Dataset, "bucket_by_sequence_length") else "nobucket")
for o in out: print(o)
