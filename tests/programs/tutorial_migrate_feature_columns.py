"""TensorFlow guide "Migrate tf.feature_column to Keras preprocessing layers"
(guide/migrate/migrating_feature_columns), imports changed: the TF2 parts (the tf1.feature_column
and Estimator parts need tf.compat.v1, which corenn does not have): a dict of shape-() Inputs
concatenated, CategoryEncoding one_hot and count (sparse=True, count_weights, read back with
tf.sparse.to_dense), Normalization(mean=, variance=) with and without axis=None, Discretization
into CategoryEncoding, StringLookup (num_oov_indices=0, one_hot) and into an Embedding, a weighted
'mean' embedding as a bias-free Dense over normalized counts; then the guide's end-to-end part: a
preprocessing Model of int64 / string / float32 Inputs mapped over a tf.data.Dataset, a training
Model (Embedding, tf.expand_dims, Concatenate, Dense) fit with BinaryCrossentropy(from_logits=True),
the two composed into an inference Model that predicts an out-of-vocabulary size, saved to
model.keras and reloaded. One change besides the imports: `Concatenate()(inputs.values())` becomes
`Concatenate()(list(inputs.values()))`, as TF 2.21's Keras 3 refuses dict_values. The guide's data is used as is (three rows). Checked: each layer's
output against the value the guide prints, and the reloaded model predicts what the original does."""
import math

import numpy as np
import corenn as tf

input_dict = {
  'foo': tf.constant([1]),
  'bar': tf.constant([0]),
  'baz': tf.constant([-1])
}

inputs = {
  'foo': tf.keras.Input(shape=()),
  'bar': tf.keras.Input(shape=()),
  'baz': tf.keras.Input(shape=()),
}
# Inputs are typically transformed by preprocessing layers before concatenation.
# (a list: Keras 3, and so TF 2.21, refuses the page's dict_values as a positional argument)
outputs = tf.keras.layers.Concatenate()(list(inputs.values()))
model = tf.keras.Model(inputs=inputs, outputs=outputs)
out = model(input_dict)
print(out)
np.testing.assert_array_equal(np.asarray(out), [1., 0., -1.])

one_hot_layer = tf.keras.layers.CategoryEncoding(
    num_tokens=3, output_mode='one_hot')
out = one_hot_layer([0, 1, 2])
np.testing.assert_array_equal(np.asarray(out), np.eye(3))

normalization_layer = tf.keras.layers.Normalization(mean=2.0, variance=1.0)
out = normalization_layer(tf.constant([[0.], [1.], [2.]]))
np.testing.assert_allclose(np.asarray(out), [[-2.], [-1.], [0.]])

discretization_layer = tf.keras.layers.Discretization(bin_boundaries=[1, 4, 5])
one_hot_layer = tf.keras.layers.CategoryEncoding(
    num_tokens=4, output_mode='one_hot')
out = one_hot_layer(discretization_layer([1., 2., 3., 4., 5.]))
np.testing.assert_array_equal(np.asarray(out), np.eye(4)[[1, 1, 1, 2, 3]])

string_lookup_layer = tf.keras.layers.StringLookup(
    vocabulary=['small', 'medium', 'large'],
    num_oov_indices=0,
    output_mode='one_hot')
out = string_lookup_layer(['small', 'medium', 'large'])
np.testing.assert_array_equal(np.asarray(out), np.eye(3))

string_lookup_layer = tf.keras.layers.StringLookup(
    vocabulary=['small', 'medium', 'large'], num_oov_indices=0)
embedding = tf.keras.layers.Embedding(3, 4)
out = embedding(string_lookup_layer(['small', 'medium', 'large']))
np.testing.assert_allclose(np.asarray(out), embedding.get_weights()[0])

ids = tf.constant([[5, 11, 5, 17, 17]])
weights = tf.constant([[0.5, 1.5, 0.7, 1.8, 0.2]])

# Using sparse output is more efficient when `num_tokens` is large.
count_layer = tf.keras.layers.CategoryEncoding(
    num_tokens=20, output_mode='count', sparse=True)
counts = tf.sparse.to_dense(count_layer(ids, count_weights=weights))
print(counts)
expected = np.zeros((1, 20), np.float32)
expected[0, [5, 11, 17]] = [1.2, 1.5, 2.0]
np.testing.assert_allclose(np.asarray(counts), expected, rtol=1e-6)

ids = tf.constant([[5, 11, 5, 17, 17]])
weights = tf.constant([[0.5, 1.5, 0.7, 1.8, 0.2]])

# For `combiner='mean'`, normalize your weights to sum to 1. Removing this line
# would be equivalent to an `embedding_column` with `combiner='sum'`.
weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)

count_layer = tf.keras.layers.CategoryEncoding(
    num_tokens=20, output_mode='count', sparse=True)
embedding_layer = tf.keras.layers.Dense(4, use_bias=False)
out = embedding_layer(count_layer(ids, count_weights=weights))
kernel = embedding_layer.get_weights()[0]
np.testing.assert_allclose(np.asarray(out), (expected / 4.7) @ kernel, rtol=1e-5, atol=1e-6)

features = {
    'type': [0, 1, 1],
    'size': ['small', 'small', 'medium'],
    'weight': [2.7, 1.8, 1.6],
}
labels = [1, 1, 0]
predict_features = {'type': [0], 'size': ['foo'], 'weight': [-0.7]}

vocab = ['small', 'medium', 'large']
one_hot_dims = 3
embedding_dims = 4
weight_mean = 2.0
weight_variance = 1.0

inputs = {
  'type': tf.keras.Input(shape=(), dtype='int64'),
  'size': tf.keras.Input(shape=(), dtype='string'),
  'weight': tf.keras.Input(shape=(), dtype='float32'),
}
# Convert index to one-hot; e.g., [2] -> [0,0,1].
type_output = tf.keras.layers.CategoryEncoding(
      one_hot_dims, output_mode='one_hot')(inputs['type'])
# Convert size strings to indices; e.g., ['small'] -> [1].
size_output = tf.keras.layers.StringLookup(vocabulary=vocab)(inputs['size'])
# Normalize the numeric inputs; e.g., [2.0] -> [0.0].
weight_output = tf.keras.layers.Normalization(
      axis=None, mean=weight_mean, variance=weight_variance)(inputs['weight'])
outputs = {
  'type': type_output,
  'size': size_output,
  'weight': weight_output,
}
preprocessing_model = tf.keras.Model(inputs, outputs)

# Apply the preprocessing in tf.data.Dataset.map.
dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(1)
dataset = dataset.map(lambda x, y: (preprocessing_model(x), y),
                      num_parallel_calls=tf.data.AUTOTUNE)
# Display a preprocessed input sample.
sample = next(dataset.take(1).as_numpy_iterator())
print(sample)
x0, y0 = sample
np.testing.assert_array_equal(x0['type'], [[1., 0., 0.]])
np.testing.assert_array_equal(x0['size'], [1])
np.testing.assert_allclose(x0['weight'], [0.7], rtol=1e-6)
assert int(np.asarray(y0)[0]) == 1

inputs = {
  'type': tf.keras.Input(shape=(one_hot_dims,), dtype='float32'),
  'size': tf.keras.Input(shape=(), dtype='int64'),
  'weight': tf.keras.Input(shape=(), dtype='float32'),
}
# Since the embedding is trainable, it needs to be part of the training model.
embedding = tf.keras.layers.Embedding(len(vocab), embedding_dims)
outputs = tf.keras.layers.Concatenate()([
  inputs['type'],
  embedding(inputs['size']),
  tf.expand_dims(inputs['weight'], -1),
])
outputs = tf.keras.layers.Dense(1)(outputs)
training_model = tf.keras.Model(inputs, outputs)

# Train on the preprocessed data.
training_model.compile(
    loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
history = training_model.fit(dataset)
assert len(history.history['loss']) == 1

inputs = preprocessing_model.input
outputs = training_model(preprocessing_model(inputs))
inference_model = tf.keras.Model(inputs, outputs)

predict_dataset = tf.data.Dataset.from_tensor_slices(predict_features).batch(1)
prediction = inference_model.predict(predict_dataset)
print(prediction)
assert prediction.shape == (1, 1)
# the out-of-vocabulary 'foo' looks up index 0: the same as feeding the training model by hand
by_hand = training_model.predict({'type': np.array([[1., 0., 0.]], np.float32), 'size': np.array([0]),
                                  'weight': np.array([(-0.7 - weight_mean) / math.sqrt(weight_variance)],
                                                     np.float32)}, verbose=0)
np.testing.assert_allclose(prediction, by_hand, rtol=1e-5)

inference_model.save('model.keras')
restored_model = tf.keras.models.load_model('model.keras')
restored = restored_model.predict(predict_dataset)
np.testing.assert_allclose(restored, prediction, rtol=1e-6)
