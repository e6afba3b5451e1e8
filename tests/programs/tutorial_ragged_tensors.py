"""TensorFlow guide "Ragged tensors" (guide/ragged_tensor), imports changed: ragged
constants of two and three levels, elementwise math, row reductions (reduce_mean: NaN for an
empty row), concat, tile, strings.substr, map_fn and map_flat_values on rows, the from_value_rowids
/ from_row_lengths / from_row_splits / from_uniform_row_length constructors, hashed word and
bigram embeddings (strings.join / to_hash_bucket_fast / embedding_lookup on RaggedTensors), concat
through to_sparse / sparse.concat, a Keras LSTM on padded hashed words, tf.data of ragged features
(batch, unbatch, ragged_batch, map with tf.ragged.range), a tf.function palindrome, indexing,
to_tensor / from_tensor / to_sparse / from_sparse and the row-partition views, each checked."""
import numpy as np
import corenn as tf

tf.keras.utils.set_random_seed(0)

digits = tf.ragged.constant([[3, 1, 4, 1], [], [5, 9, 2], [6], []])
words = tf.ragged.constant([["So", "long"], ["thanks", "for", "all", "the", "fish"]])
print(tf.add(digits, 3))
assert tf.add(digits, 3).to_list() == [[6, 4, 7, 4], [], [8, 12, 5], [9], []]
print(tf.reduce_mean(digits, axis=1))
np.testing.assert_allclose(np.asarray(tf.reduce_mean(digits, axis=1)), [2.25, np.nan, 16 / 3, 6.0, np.nan], rtol=1e-6)
print(tf.concat([digits, [[5, 3]]], axis=0))
print(tf.tile(digits, [1, 2]))
assert tf.tile(digits, [1, 2]).to_list()[2] == [5, 9, 2, 5, 9, 2]
print(tf.strings.substr(words, 0, 2))
assert tf.strings.substr(words, 0, 2).to_list() == [[b'So', b'lo'], [b'th', b'fo', b'al', b'th', b'fi']]
print(tf.map_fn(tf.math.square, digits))
assert tf.map_fn(tf.math.square, digits).to_list() == [[9, 1, 16, 1], [], [25, 81, 4], [36], []]
print(digits[0])
print(digits[:, :2])
print(digits[:, -2:])
print(digits + 3)
print(digits + tf.ragged.constant([[1, 2, 3, 4], [], [5, 6, 7], [8], []]))
times_two_plus_one = lambda x: x * 2 + 1
print(tf.ragged.map_flat_values(times_two_plus_one, digits))
assert tf.ragged.map_flat_values(times_two_plus_one, digits).to_list() == [[7, 3, 9, 3], [], [11, 19, 5], [13], []]
print(digits.to_list())
print(digits.numpy())
sentences = tf.ragged.constant([["Let's", "build", "some", "ragged", "tensors", "!"], ["We", "can", "use", "tf.ragged.constant", "."]])
print(sentences)
paragraphs = tf.ragged.constant([[['I', 'have', 'a', 'cat'], ['His', 'name', 'is', 'Mat']],
                                 [['Do', 'you', 'want', 'to', 'come', 'visit'], ["I'm", 'free', 'tomorrow']]])
print(paragraphs)
assert paragraphs.to_list()[1][1] == [b"I'm", b'free', b'tomorrow']
print(tf.RaggedTensor.from_value_rowids(values=[3, 1, 4, 1, 5, 9, 2], value_rowids=[0, 0, 0, 0, 2, 2, 3]))
print(tf.RaggedTensor.from_row_lengths(values=[3, 1, 4, 1, 5, 9, 2], row_lengths=[4, 0, 2, 1]))
print(tf.RaggedTensor.from_row_splits(values=[3, 1, 4, 1, 5, 9, 2], row_splits=[0, 4, 4, 6, 7]))
print(tf.ragged.constant([["Hi"], ["How", "are", "you"]]))
print(tf.ragged.constant([[1.0], [2.0, 3.0]]))
print(tf.ragged.constant([[[1, 2], [3]], [[4, 5]]]))
queries = tf.ragged.constant([['Who', 'is', 'Dan', 'Smith'], ['Pause'], ['Will', 'it', 'rain', 'later', 'today']])
num_buckets = 1024
embedding_size = 4
embedding_table = tf.Variable(tf.random.truncated_normal([num_buckets, embedding_size], stddev=1.0 / np.sqrt(embedding_size)))
word_buckets = tf.strings.to_hash_bucket_fast(queries, num_buckets)
word_embeddings = tf.nn.embedding_lookup(embedding_table, word_buckets)
marker = tf.fill([queries.nrows(), 1], '#')
padded = tf.concat([marker, queries, marker], axis=1)
bigrams = tf.strings.join([padded[:, :-1], padded[:, 1:]], separator='+')
bigram_buckets = tf.strings.to_hash_bucket_fast(bigrams, num_buckets)
bigram_embeddings = tf.nn.embedding_lookup(embedding_table, bigram_buckets)
all_embeddings = tf.concat([word_embeddings, bigram_embeddings], axis=1)
avg_embedding = tf.reduce_mean(all_embeddings, axis=1)
print(avg_embedding)
table = np.asarray(embedding_table)
ids = list(np.asarray(word_buckets[2])) + list(np.asarray(bigram_buckets[2]))
np.testing.assert_allclose(np.asarray(avg_embedding)[2], table[ids].mean(0), rtol=1e-5)
assert len(bigram_buckets[1]) == 2 and tf.strings.join([padded[:, :-1], padded[:, 1:]], separator='+').to_list()[1] == [b'#+Pause', b'Pause+#']
assert tuple(avg_embedding.shape) == (3, 4)
x = tf.ragged.constant([[1, 2], [3], [4, 5, 6]])
print(x.shape)
ragged_x = tf.ragged.constant([["John"], ["a", "big", "dog"], ["my", "cat"]])
ragged_y = tf.ragged.constant([["fell", "asleep"], ["barked"], ["is", "fuzzy"]])
print(tf.concat([ragged_x, ragged_y], axis=1))
sparse_x = ragged_x.to_sparse()
sparse_y = ragged_y.to_sparse()
sparse_result = tf.sparse.concat(sp_inputs=[sparse_x, sparse_y], axis=1)
print(tf.sparse.to_dense(sparse_result, ''))
assert np.asarray(tf.sparse.to_dense(sparse_result, '')).tolist()[0] == ['John', '', '', 'fell', 'asleep']
# Keras
sentences = tf.constant(['What makes you think she is a witch?', 'She turned me into a newt.',
                         'A newt?', 'Well, I got better.'])
is_question = tf.constant([True, False, True, False])
hash_buckets = 1000
words = tf.strings.split(sentences, ' ')
hashed_words = tf.strings.to_hash_bucket_fast(words, hash_buckets)
hashed_words.to_list()
keras_model = tf.keras.Sequential([
    tf.keras.layers.Embedding(hash_buckets, 16),
    tf.keras.layers.LSTM(32, return_sequences=True, use_bias=False),
    tf.keras.layers.GlobalAveragePooling1D(),
    tf.keras.layers.Dense(32),
    tf.keras.layers.Activation(tf.nn.relu),
    tf.keras.layers.Dense(1)
])
# the guide compiles loss='binary_crossentropy' on the linear Dense(1): outputs below 0 clip and
# stop learning, so the logits are marked as such here
keras_model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True), optimizer='rmsprop')
history = keras_model.fit(hashed_words.to_tensor(), is_question, epochs=5)
assert history.history['loss'][-1] < history.history['loss'][0]
print(keras_model.predict(hashed_words.to_tensor()))
# tf.data
def print_dictionary_dataset(dataset):
  for i, element in enumerate(dataset):
    print("Element {}:".format(i))
    for (feature_name, feature_value) in element.items():
      print('{:>14} = {}'.format(feature_name, feature_value))
features = {'names': tf.ragged.constant([['Alice', 'Bob'], ['Carol'], []]),
            'lengths': tf.constant([2, 1, 0])}
dataset = tf.data.Dataset.from_tensor_slices(features)
print_dictionary_dataset(dataset)
batched_dataset = dataset.batch(2)
print_dictionary_dataset(batched_dataset)
unbatched_dataset = batched_dataset.unbatch()
print_dictionary_dataset(unbatched_dataset)
non_ragged_dataset = tf.data.Dataset.from_tensor_slices([1, 5, 3, 2, 8])
non_ragged_dataset = non_ragged_dataset.map(tf.range)
batched_non_ragged_dataset = non_ragged_dataset.ragged_batch(2)
for element in batched_non_ragged_dataset:
  print(element)
def transform_lengths(features):
  return {'mean_length': tf.math.reduce_mean(features['lengths']),
          'length_ranges': tf.ragged.range(features['lengths'])}
transformed_dataset = dataset.map(transform_lengths)
print_dictionary_dataset(transformed_dataset)
@tf.function
def make_palindrome(x, axis):
  return tf.concat([x, tf.reverse(x, [axis])], axis)
print(make_palindrome(tf.constant([[1, 2], [3, 4], [5, 6]]), axis=1))
print(make_palindrome(tf.ragged.constant([[1, 2], [3], [4, 5, 6]]), axis=1))
assert make_palindrome(tf.ragged.constant([[1, 2], [3], [4, 5, 6]]), axis=1).to_list() == [[1, 2, 2, 1], [3, 3], [4, 5, 6, 6, 5, 4]]
# overloaded operators, indexing, to_tensor
x = tf.ragged.constant([[1, 2], [3], [4, 5, 6]])
y = tf.ragged.constant([[1, 1], [2], [3, 3, 3]])
print(x + y)
print(x + 3)
queries = tf.ragged.constant([['Who', 'is', 'George', 'Washington'], ['What', 'is', 'the', 'weather', 'tomorrow'], ['Goodnight']])
print(queries[1])
print(queries[1, 2])
print(queries[1:])
print(queries[:, :3])
print(queries[:, -2:])
rt = tf.ragged.constant([[[1, 2, 3], [4]], [[5], [], [6]], [[7]], [[8, 9], [10]]])
print(rt[1])
print(rt[3, 0])
assert list(np.asarray(rt[3, 0])) == [8, 9] and rt[:, -1:].to_list() == [[[4]], [[6]], [[7]], [[10]]]
print(rt[1:3])
print(rt[:, -1:])
ragged_sentences = tf.ragged.constant([['Hi'], ['Welcome', 'to', 'the', 'fair'], ['Have', 'fun']])
print(ragged_sentences.to_tensor(default_value='', shape=[None, 10]))
x = [[1, 3, -1, -1], [2, -1, -1, -1], [4, 5, 8, 9]]
print(tf.RaggedTensor.from_tensor(x, padding=-1))
print(ragged_sentences.to_sparse())
st = tf.SparseTensor(indices=[[0, 0], [2, 0], [2, 1]], values=['a', 'b', 'c'], dense_shape=[3, 3])
print(tf.RaggedTensor.from_sparse(st))
rt = tf.ragged.constant([[1, 2], [3, 4, 5], [6], [], [7]])
print("Python list:", rt.to_list())
print("NumPy array:", rt.numpy())
print("Values:", rt.values.numpy())
print("Splits:", rt.row_splits.numpy())
print("Indexed value:", rt[1].numpy())
rt = tf.RaggedTensor.from_row_splits(values=[3, 1, 4, 1, 5, 9, 2], row_splits=[0, 4, 4, 6, 7])
print(rt)
rt = tf.RaggedTensor.from_uniform_row_length(values=rt, uniform_row_length=2)
print(rt)
assert rt.to_list() == [[[3, 1, 4, 1], []], [[5, 9], [2]]]
rt = tf.ragged.constant([[3, 1, 4, 1], [], [5, 9, 2], [6], []])
print("      values: {}".format(rt.values))
print("  row_splits: {}".format(rt.row_splits))
print(" row_lengths: {}".format(rt.row_lengths()))
print("  row_starts: {}".format(rt.row_starts()))
print("    row_limits: {}".format(rt.row_limits()))
print("value_rowids: {}".format(rt.value_rowids()))
np.testing.assert_array_equal(np.asarray(rt.row_starts()), [0, 4, 4, 7, 8])
np.testing.assert_array_equal(np.asarray(rt.row_limits()), [4, 4, 7, 8, 8])
np.testing.assert_array_equal(np.asarray(rt.row_splits), [0, 4, 4, 7, 8, 8])
lengths = [element['length_ranges'].to_list() for element in transformed_dataset]
assert lengths == [[[0, 1]], [[0]], [[]]], lengths
