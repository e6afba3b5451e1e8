"""TF tutorial "Neural machine translation with attention" (text/nmt_with_attention), imports
changed: TextVectorization with a standardize function of tf.strings ops ([START] / [END]
tokens), a tf.data pipeline of ((context, target_in), target_out), an Encoder
(Embedding(mask_zero=True), Bidirectional GRU merge_mode='sum'), a CrossAttention layer
(MultiHeadAttention with return_attention_scores, Add, LayerNormalization,
last_attention_weights), a Decoder (GRU with return_state, StringLookup id <-> word, Dense
logits) with get_initial_state / get_next_token, a Translator model subclass, masked_loss /
masked_acc in compile, and greedy decoding. The Spanish-English pairs are replaced by a
synthetic word-for-word language; checks: shapes along the way, the attention rows sum to one,
the masked metrics against NumPy, and the translations of held-out sentences mostly right."""
import numpy as np

import corenn as tf

tf.random.set_seed(4)
rng = np.random.default_rng(4)

ENGLISH = ["i", "you", "we", "see", "like", "have", "the", "a", "red", "big", "dog", "cat", "house", "car", "today"]
SPANISH = ["yo", "tu", "nosotros", "veo", "gusta", "tengo", "el", "un", "rojo", "grande", "perro", "gato", "casa",
           "coche", "hoy"]
MAP = dict(zip(ENGLISH, SPANISH))


def sentence():
  words = [rng.choice(ENGLISH[:3]), rng.choice(ENGLISH[3:6]), rng.choice(ENGLISH[6:8])]
  if rng.random() < 0.5:
    words.append(rng.choice(ENGLISH[8:10]))
  words.append(rng.choice(ENGLISH[10:14]))
  if rng.random() < 0.3:
    words.append("today")
  return words


pairs = [sentence() for _ in range(600)]
context_raw = np.array([" ".join(MAP[w] for w in p).capitalize() + "." for p in pairs])
target_raw = np.array([" ".join(p).capitalize() + "." for p in pairs])
print(context_raw[-1])
print(target_raw[-1])

BUFFER_SIZE = len(context_raw)
BATCH_SIZE = 32

is_train = rng.uniform(size=(len(target_raw),)) < 0.8

train_raw = (
    tf.data.Dataset
    .from_tensor_slices((context_raw[is_train], target_raw[is_train]))
    .shuffle(BUFFER_SIZE)
    .batch(BATCH_SIZE))
val_raw = (
    tf.data.Dataset
    .from_tensor_slices((context_raw[~is_train], target_raw[~is_train]))
    .shuffle(BUFFER_SIZE)
    .batch(BATCH_SIZE))

for example_context_strings, example_target_strings in train_raw.take(1):
  print(example_context_strings[:5])
  print()
  print(example_target_strings[:5])
  break


def tf_lower_and_split_punct(text):
  # Split accented characters.
  text = tf.strings.lower(text)
  # Keep space, a to z, and select punctuation.
  text = tf.strings.regex_replace(text, '[^ a-z.?!,¿]', '')
  # Add spaces around punctuation.
  text = tf.strings.regex_replace(text, '[.?!,¿]', r' \0 ')
  # Strip whitespace.
  text = tf.strings.strip(text)

  text = tf.strings.join(['[START]', text, '[END]'], separator=' ')
  return text


example_text = tf.constant('¿Todavía está en casa?')
print(example_text.numpy().decode())
print(tf_lower_and_split_punct(example_text).numpy().decode())
assert tf_lower_and_split_punct(example_text).numpy().decode() == "[START] ¿ todava est en casa ? [END]"

max_vocab_size = 5000

context_text_processor = tf.keras.layers.TextVectorization(
    standardize=tf_lower_and_split_punct,
    max_tokens=max_vocab_size,
    ragged=True)
context_text_processor.adapt(train_raw.map(lambda context, target: context))

# Here are the first 10 words from the vocabulary:
print(context_text_processor.get_vocabulary()[:10])

target_text_processor = tf.keras.layers.TextVectorization(
    standardize=tf_lower_and_split_punct,
    max_tokens=max_vocab_size,
    ragged=True)
target_text_processor.adapt(train_raw.map(lambda context, target: target))
print(target_text_processor.get_vocabulary()[:10])
assert target_text_processor.get_vocabulary()[:2] == ["", "[UNK]"]
assert {"[START]", "[END]", "."} <= set(target_text_processor.get_vocabulary())

example_tokens = context_text_processor(example_context_strings)
print(example_tokens[:3, :])
context_vocab = np.array(context_text_processor.get_vocabulary())
tokens = context_vocab[example_tokens[0].numpy()]
print(' '.join(tokens))
assert ' '.join(tokens) == tf_lower_and_split_punct(example_context_strings[0]).numpy().decode().replace("  ", " ")


def process_text(context, target):
  context = context_text_processor(context).to_tensor()
  target = target_text_processor(target)
  targ_in = target[:,:-1].to_tensor()
  targ_out = target[:,1:].to_tensor()
  return (context, targ_in), targ_out


train_ds = train_raw.map(process_text, tf.data.AUTOTUNE)
val_ds = val_raw.map(process_text, tf.data.AUTOTUNE)

for (ex_context_tok, ex_tar_in), ex_tar_out in train_ds.take(1):
  print(ex_context_tok[0, :10].numpy())
  print()
  print(ex_tar_in[0, :10].numpy())
  print(ex_tar_out[0, :10].numpy())
assert ex_tar_in.shape == ex_tar_out.shape
shifted = np.asarray(ex_tar_in)[:, 1:] != 0   # teacher forcing: the input is the output one step late
np.testing.assert_array_equal(np.asarray(ex_tar_in)[:, 1:][shifted], np.asarray(ex_tar_out)[:, :-1][shifted])
assert (np.asarray(ex_tar_in)[:, 0] == target_text_processor.get_vocabulary().index("[START]")).all()

UNITS = 32


class Encoder(tf.keras.layers.Layer):
  def __init__(self, text_processor, units):
    super(Encoder, self).__init__()
    self.text_processor = text_processor
    self.vocab_size = text_processor.vocabulary_size()
    self.units = units

    # The embedding layer converts tokens to vectors
    self.embedding = tf.keras.layers.Embedding(self.vocab_size, units,
                                               mask_zero=True)

    # The RNN layer processes those vectors sequentially.
    self.rnn = tf.keras.layers.Bidirectional(
        merge_mode='sum',
        layer=tf.keras.layers.GRU(units,
                            # Return the sequence and state
                            return_sequences=True,
                            recurrent_initializer='glorot_uniform'))

  def call(self, x):
    # 2. The embedding layer looks up the embedding vector for each token.
    x = self.embedding(x)

    # 3. The GRU processes the sequence of embeddings.
    x = self.rnn(x)

    # 4. Returns the new sequence of embeddings.
    return x

  def convert_input(self, texts):
    texts = tf.convert_to_tensor(texts)
    if len(texts.shape) == 0:
      texts = tf.convert_to_tensor(texts)[tf.newaxis]
    context = self.text_processor(texts).to_tensor()
    context = self(context)
    return context


# Encode the input sequence.
encoder = Encoder(context_text_processor, UNITS)
ex_context = encoder(ex_context_tok)

print(f'Context tokens, shape (batch, s): {ex_context_tok.shape}')
print(f'Encoder output, shape (batch, s, units): {ex_context.shape}')
assert ex_context.shape == tuple(ex_context_tok.shape) + (UNITS,)


class CrossAttention(tf.keras.layers.Layer):
  def __init__(self, units, **kwargs):
    super().__init__()
    self.mha = tf.keras.layers.MultiHeadAttention(key_dim=units, num_heads=1, **kwargs)
    self.layernorm = tf.keras.layers.LayerNormalization()
    self.add = tf.keras.layers.Add()

  def call(self, x, context):
    attn_output, attn_scores = self.mha(
        query=x,
        value=context,
        return_attention_scores=True)

    # Cache the attention scores for plotting later.
    attn_scores = tf.reduce_mean(attn_scores, axis=1)
    self.last_attention_weights = attn_scores

    x = self.add([x, attn_output])
    x = self.layernorm(x)

    return x


attention_layer = CrossAttention(UNITS)

# Attend to the encoded tokens
embed = tf.keras.layers.Embedding(target_text_processor.vocabulary_size(),
                                  output_dim=UNITS, mask_zero=True)
ex_tar_embed = embed(ex_tar_in)

result = attention_layer(ex_tar_embed, ex_context)

print(f'Context sequence, shape (batch, s, units): {ex_context.shape}')
print(f'Target sequence, shape (batch, t, units): {ex_tar_embed.shape}')
print(f'Attention result, shape (batch, t, units): {result.shape}')
print(f'Attention weights, shape (batch, t, s):    {attention_layer.last_attention_weights.shape}')
assert result.shape == ex_tar_embed.shape
assert attention_layer.last_attention_weights.shape == (ex_tar_in.shape[0], ex_tar_in.shape[1], ex_context_tok.shape[1])
sums = tf.reduce_sum(attention_layer.last_attention_weights, axis=-1).numpy()
np.testing.assert_allclose(sums, 1.0, rtol=1e-5)


class Decoder(tf.keras.layers.Layer):
  def __init__(self, text_processor, units):
    super(Decoder, self).__init__()
    self.text_processor = text_processor
    self.vocab_size = text_processor.vocabulary_size()
    self.word_to_id = tf.keras.layers.StringLookup(
        vocabulary=text_processor.get_vocabulary(),
        mask_token='', oov_token='[UNK]')
    self.id_to_word = tf.keras.layers.StringLookup(
        vocabulary=text_processor.get_vocabulary(),
        mask_token='', oov_token='[UNK]',
        invert=True)
    self.start_token = self.word_to_id('[START]')
    self.end_token = self.word_to_id('[END]')

    self.units = units

    # 1. The embedding layer converts token IDs to vectors
    self.embedding = tf.keras.layers.Embedding(self.vocab_size,
                                               units, mask_zero=True)

    # 2. The RNN keeps track of what's been generated so far.
    self.rnn = tf.keras.layers.GRU(units,
                                   return_sequences=True,
                                   return_state=True,
                                   recurrent_initializer='glorot_uniform')

    # 3. The RNN output will be the query for the attention layer.
    self.attention = CrossAttention(units)

    # 4. This fully connected layer produces the logits for each
    # output token.
    self.output_layer = tf.keras.layers.Dense(self.vocab_size)

  def call(self,
           context, x,
           state=None,
           return_state=False):

    # 1. Lookup the embeddings
    x = self.embedding(x)

    # 2. Process the target sequence.
    x, state = self.rnn(x, initial_state=state)

    # 3. Use the RNN output as the query for the attention over the context.
    x = self.attention(x, context)
    self.last_attention_weights = self.attention.last_attention_weights

    # Step 4. Generate logit predictions for the next token.
    logits = self.output_layer(x)

    if return_state:
      return logits, state
    else:
      return logits

  def get_initial_state(self, context):
    batch_size = tf.shape(context)[0]
    start_tokens = tf.fill([batch_size, 1], self.start_token)
    done = tf.zeros([batch_size, 1], dtype=tf.bool)
    embedded = self.embedding(start_tokens)
    return start_tokens, done, self.rnn.get_initial_state(batch_size)[0]

  def tokens_to_text(self, tokens):
    words = self.id_to_word(tokens)
    result = tf.strings.reduce_join(words, axis=-1, separator=' ')
    result = tf.strings.regex_replace(result, r'^ *\[START\] *', '')
    result = tf.strings.regex_replace(result, r' *\[END\] *$', '')
    return result

  def get_next_token(self, context, next_token, done, state, temperature = 0.0):
    logits, state = self(
      context, next_token,
      state = state,
      return_state=True)

    if temperature == 0.0:
      next_token = tf.argmax(logits, axis=-1)
    else:
      logits = logits[:, -1, :]/temperature
      next_token = tf.random.categorical(logits, num_samples=1)

    # If a sequence produces an `end_token`, set it `done`
    done = done | (next_token == self.end_token)
    # Once a sequence is done it only produces 0-padding.
    next_token = tf.where(done, tf.constant(0, dtype=tf.int64), next_token)

    return next_token, done, state


decoder = Decoder(target_text_processor, UNITS)
logits = decoder(ex_context, ex_tar_in)

print(f'encoder output shape: (batch, s, units) {ex_context.shape}')
print(f'input target tokens shape: (batch, t) {ex_tar_in.shape}')
print(f'logits shape shape: (batch, target_vocabulary_size) {logits.shape}')
assert logits.shape == tuple(ex_tar_in.shape) + (target_text_processor.vocabulary_size(),)


class Translator(tf.keras.Model):
  def __init__(self, units,
               context_text_processor,
               target_text_processor):
    super().__init__()
    # Build the encoder and decoder
    encoder = Encoder(context_text_processor, units)
    decoder = Decoder(target_text_processor, units)

    self.encoder = encoder
    self.decoder = decoder

  def call(self, inputs):
    context, x = inputs
    context = self.encoder(context)
    logits = self.decoder(context, x)

    #TODO(b/250038731): remove this
    try:
      # Delete the keras mask, so keras doesn't scale the loss+accuracy.
      del logits._keras_mask
    except AttributeError:
      pass

    return logits


model = Translator(UNITS, context_text_processor, target_text_processor)

logits = model((ex_context_tok, ex_tar_in))

print(f'Context tokens, shape: (batch, s, units) {ex_context_tok.shape}')
print(f'Target tokens, shape: (batch, t) {ex_tar_in.shape}')
print(f'logits, shape: (batch, t, target_vocabulary_size) {logits.shape}')


def masked_loss(y_true, y_pred):
    # Calculate the loss for each item in the batch.
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction='none')
    loss = loss_fn(y_true, y_pred)

    # Mask off the losses on padding.
    mask = tf.cast(y_true != 0, loss.dtype)
    loss *= mask

    # Return the total.
    return tf.reduce_sum(loss)/tf.reduce_sum(mask)


def masked_acc(y_true, y_pred):
    # Calculate the loss for each item in the batch.
    y_pred = tf.argmax(y_pred, axis=-1)
    y_pred = tf.cast(y_pred, y_true.dtype)

    match = tf.cast(y_true == y_pred, tf.float32)
    mask = tf.cast(y_true != 0, tf.float32)

    return tf.reduce_sum(match)/tf.reduce_sum(mask)


# the masked metrics against NumPy on the untrained model's logits
yt = np.asarray(ex_tar_out)
lg = np.asarray(logits).astype(np.float64)
logp = lg - lg.max(-1, keepdims=True)
logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
nll = -np.take_along_axis(logp, yt[..., None], -1)[..., 0]
mask = yt != 0
assert abs(float(masked_loss(ex_tar_out, logits)) - nll[mask].sum() / mask.sum()) < 1e-4
assert abs(float(masked_acc(ex_tar_out, logits)) - ((lg.argmax(-1) == yt).sum() / mask.sum())) < 1e-6

model.compile(optimizer='adam',
              loss=masked_loss,
              metrics=[masked_acc, masked_loss])

vocab_size = 1.0 * target_text_processor.vocabulary_size()
print({"expected_loss": tf.math.log(vocab_size).numpy(), "expected_acc": 1/vocab_size})
print(model.evaluate(val_ds, steps=2, return_dict=True, verbose=0))

history = model.fit(
    train_ds.repeat(),
    epochs=12,
    steps_per_epoch=15,
    validation_data=val_ds,
    verbose=0)
print({k: np.round(v[-1], 3) for k, v in history.history.items()})
assert history.history["val_masked_acc"][-1] > 0.8, history.history["val_masked_acc"]


def translate(self,
              texts, *,
              max_length=50,
              temperature=0.0):
  # Process the input texts
  context = self.encoder.convert_input(texts)
  batch_size = tf.shape(texts)[0]

  # Setup the loop inputs
  tokens = []
  attention_weights = []
  next_token, done, state = self.decoder.get_initial_state(context)

  for _ in range(max_length):
    # Generate the next token
    next_token, done, state = self.decoder.get_next_token(
        context, next_token, done,  state, temperature)

    # Collect the generated tokens
    tokens.append(next_token)
    attention_weights.append(self.decoder.last_attention_weights)

    if tf.executing_eagerly() and tf.reduce_all(done):
      break

  # Stack the lists of tokens and attention weights.
  tokens = tf.concat(tokens, axis=-1)   # t*[(batch 1)] -> (batch, t)
  self.last_attention_weights = tf.concat(attention_weights, axis=1)  # t*[(batch 1 s)] -> (batch, t s)

  result = self.decoder.tokens_to_text(tokens)
  return result


Translator.translate = translate


held_out = [sentence() for _ in range(8)]
inputs = [" ".join(MAP[w] for w in p).capitalize() + "." for p in held_out]
result = model.translate(tf.constant(inputs))
got = [r.decode() if isinstance(r, bytes) else str(r) for r in result.numpy()]
want = [" ".join(p) + " ." for p in held_out]
for i, g, w in zip(inputs, got, want):
  print(i, "->", g, "| expected:", w)
# (the [END] step is written as 0-padding once done, so the join keeps trailing spaces, as in TF)
assert sum(g.strip() == w for g, w in zip(got, want)) >= 5, got
assert model.last_attention_weights.shape[0] == len(inputs)
