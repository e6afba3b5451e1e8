"""TF tutorial "word2vec" (text/word2vec), imports changed: skip-grams with
tf.keras.preprocessing.sequence.skipgrams and make_sampling_table, negative sampling with
tf.random.log_uniform_candidate_sampler, training examples built with tf.concat / tf.squeeze /
tf.constant, a subclassed Word2Vec model (two Embeddings, tf.einsum dot products) trained with
CategoricalCrossentropy(from_logits=True). A synthetic corpus of two topics stands in for
Shakespeare; the check: words of one topic end up closer to each other than to the other's."""
import numpy as np

import corenn as tf
from corenn.keras import layers

SEED = 42
tf.random.set_seed(SEED)
rng = np.random.default_rng(SEED)
vocab_size = 21       # 0 is padding; topic A: 1..10, topic B: 11..20
num_ns = 4
sentences = [rng.integers(1, 11, 8) if rng.random() < 0.5 else rng.integers(11, 21, 8) for _ in range(300)]

# the skip-grams of one sentence, as the tutorial shows them
sampling_table = tf.keras.preprocessing.sequence.make_sampling_table(size=vocab_size)
assert sampling_table.shape == (vocab_size,) and np.all((sampling_table > 0) & (sampling_table <= 1))
positive_skip_grams, _ = tf.keras.preprocessing.sequence.skipgrams(
      sentences[0], vocabulary_size=vocab_size, window_size=2, negative_samples=0)
# every (i, j) pair of positions with 0 < |i - j| <= 2, once, with label 1 (no negatives asked)
n_words = len(sentences[0])
expect = sorted((int(sentences[0][i]), int(sentences[0][j])) for i in range(n_words) for j in range(n_words)
                if 0 < abs(i - j) <= 2)
assert sorted(map(tuple, positive_skip_grams)) == expect

target_word, context_word = positive_skip_grams[0]
context_class = tf.reshape(tf.constant(context_word, dtype="int64"), (1, 1))
negative_sampling_candidates, _, _ = tf.random.log_uniform_candidate_sampler(
    true_classes=context_class,  # class that should be sampled as 'positive'
    num_true=1,  # each positive skip-gram has 1 positive context class
    num_sampled=num_ns,  # number of negative context words to sample
    unique=True,  # all the negative samples should be unique
    range_max=vocab_size,  # pick index of the samples from [0, vocab_size]
    seed=SEED,  # seed for reproducibility
    name="negative_sampling"  # name of this operation
)
assert negative_sampling_candidates.shape == (num_ns,)
assert len(set(negative_sampling_candidates.numpy().tolist())) == num_ns


def generate_training_data(sequences, window_size, num_ns, vocab_size, seed):
  targets, contexts, labels = [], [], []
  sampling_table = tf.keras.preprocessing.sequence.make_sampling_table(vocab_size)
  for sequence in sequences:
    positive_skip_grams, _ = tf.keras.preprocessing.sequence.skipgrams(
          sequence,
          vocabulary_size=vocab_size,
          sampling_table=None if sampling_table is None else np.ones_like(sampling_table),
          window_size=window_size,
          negative_samples=0)
    for target_word, context_word in positive_skip_grams:
      context_class = tf.expand_dims(
          tf.constant([context_word], dtype="int64"), 1)
      negative_sampling_candidates, _, _ = tf.random.log_uniform_candidate_sampler(
          true_classes=context_class,
          num_true=1,
          num_sampled=num_ns,
          unique=True,
          range_max=vocab_size,
          seed=None,
          name="negative_sampling")
      context = tf.concat([tf.squeeze(context_class,1), negative_sampling_candidates], 0)
      label = tf.constant([1] + [0]*num_ns, dtype="int64")
      targets.append(target_word)
      contexts.append(context)
      labels.append(label)
  return targets, contexts, labels


targets, contexts, labels = generate_training_data(
    sequences=sentences[:120], window_size=2, num_ns=num_ns, vocab_size=vocab_size, seed=SEED)
targets = np.array(targets)
contexts = np.array(contexts)
labels = np.array(labels)
print(f"targets.shape: {targets.shape}, contexts.shape: {contexts.shape}, labels.shape: {labels.shape}")

BATCH_SIZE = 256
BUFFER_SIZE = 10000
dataset = tf.data.Dataset.from_tensor_slices(((targets, contexts), labels))
dataset = dataset.shuffle(BUFFER_SIZE).batch(BATCH_SIZE, drop_remainder=True)


class Word2Vec(tf.keras.Model):
  def __init__(self, vocab_size, embedding_dim):
    super(Word2Vec, self).__init__()
    self.target_embedding = layers.Embedding(vocab_size,
                                      embedding_dim,
                                      name="w2v_embedding")
    self.context_embedding = layers.Embedding(vocab_size,
                                       embedding_dim)

  def call(self, pair):
    target, context = pair
    # target: (batch, dummy?)  # The dummy axis doesn't exist in TF2.7+
    # context: (batch, context)
    if len(target.shape) == 2:
      target = tf.squeeze(target, axis=1)
    # target: (batch,)
    word_emb = self.target_embedding(target)
    # word_emb: (batch, embed)
    context_emb = self.context_embedding(context)
    # context_emb: (batch, context, embed)
    dots = tf.einsum('be,bce->bc', word_emb, context_emb)
    # dots: (batch, context)
    return dots


embedding_dim = 8
word2vec = Word2Vec(vocab_size, embedding_dim)
word2vec.compile(optimizer=tf.keras.optimizers.Adam(0.05),
                 loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
                 metrics=['accuracy'])
history = word2vec.fit(dataset, epochs=8, verbose=0)
print("loss", [round(v, 3) for v in history.history["loss"]])
assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]

weights = word2vec.get_layer('w2v_embedding').get_weights()[0]
emb = weights[1:] / np.linalg.norm(weights[1:], axis=1, keepdims=True)
sim = emb @ emb.T
same = np.mean([sim[i, j] for i in range(20) for j in range(20) if i != j and (i < 10) == (j < 10)])
cross = np.mean([sim[i, j] for i in range(20) for j in range(20) if (i < 10) != (j < 10)])
print(f"cosine within a topic {same:.3f}, across topics {cross:.3f}")
assert same > cross + 0.3
