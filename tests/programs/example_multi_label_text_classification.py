"""keras-io examples/nlp/multi_label_classification (large-scale multi-label text classification of
paper abstracts into arXiv subject areas), imports changed only (`import keras`, `from keras
import layers`, `import tensorflow as tf` -> corenn). The arXiv CSV is replaced by synthetic
abstracts: each paper has one to three subject terms and its summary mixes words typical of each
term with common filler words. The term lists are plain Python lists (what the example builds with
tf.ragged.constant), which StringLookup(output_mode="multi_hot") adapts on and encodes."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(42)
rng = np.random.default_rng(42)

subjects = ["cs.LG", "cs.CV", "cs.CL", "stat.ML", "cs.AI", "eess.IV"]
topic_words = {s: [f"{s.split('.')[1].lower()}word{i}" for i in range(12)] for s in subjects}
filler = [f"the{i}" for i in range(40)]


def make_papers(n):
    titles, summaries, terms = [], [], []
    for k in range(n):
        n_terms = rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15])
        chosen = list(rng.choice(subjects, n_terms, replace=False))
        words = []
        for s in chosen:
            words += list(rng.choice(topic_words[s], 6))
        words += list(rng.choice(filler, 14))
        rng.shuffle(words)
        titles.append(f"paper {k}")
        summaries.append(" ".join(words).capitalize() + ".")
        terms.append(chosen)
    return {"titles": titles, "summaries": np.array(summaries, dtype=object), "terms": terms}


arxiv_data = make_papers(900)
print(f"There are {len(arxiv_data['titles'])} rows in the dataset.")

# a 90/10 split, then half of the held-out part for validation, half for test
n = len(arxiv_data["titles"])
order = rng.permutation(n)
train_idx, rest = order[: int(0.9 * n)], order[int(0.9 * n):]
val_idx, test_idx = rest[: len(rest) // 2], rest[len(rest) // 2:]


def subset(idx):
    return {"summaries": arxiv_data["summaries"][idx], "terms": [arxiv_data["terms"][i] for i in idx]}


train_df, val_df, test_df = subset(train_idx), subset(val_idx), subset(test_idx)
print(f"Number of rows in training set: {len(train_df['terms'])}")

terms = train_df["terms"]   # tf.ragged.constant(train_df["terms"].values) in the example
lookup = layers.StringLookup(output_mode="multi_hot")
lookup.adapt(terms)
vocab = lookup.get_vocabulary()


def invert_multi_hot(encoded_labels):
    """Reverse a single multi-hot encoded label to a tuple of vocab terms."""
    hot_indices = np.argwhere(encoded_labels == 1.0)[..., 0]
    return np.take(vocab, hot_indices)


print("Vocabulary:\n")
print(vocab)
assert vocab[0] == "[UNK]" and sorted(vocab[1:]) == sorted(subjects)

sample_label = train_df["terms"][0]
print(f"Original label: {sample_label}")
label_binarized = lookup([sample_label])
print(f"Label-binarized representation: {label_binarized}")
assert sorted(invert_multi_hot(keras.ops.convert_to_numpy(label_binarized)[0])) == sorted(sample_label)

max_seqlen = 40
batch_size = 64
padding_token = "<pad>"
auto = tf.data.AUTOTUNE


def make_dataset(dataframe, is_train=True):
    labels = dataframe["terms"]
    label_binarized = lookup(labels).numpy()
    dataset = tf.data.Dataset.from_tensor_slices((dataframe["summaries"], label_binarized))
    dataset = dataset.shuffle(batch_size * 10) if is_train else dataset
    return dataset.batch(batch_size)


train_dataset = make_dataset(train_df, is_train=True)
validation_dataset = make_dataset(val_df, is_train=False)
test_dataset = make_dataset(test_df, is_train=False)

text_batch, label_batch = next(iter(train_dataset))
for i, text in enumerate(text_batch[:3]):
    label = label_batch[i].numpy()[None, ...]
    print(f"Abstract: {text}")
    print(f"Label(s): {invert_multi_hot(label[0])}")
    assert 1 <= label.sum() <= 3

vocabulary = set()
for summary in train_df["summaries"]:
    vocabulary.update(summary.lower().strip(".").split())
vocabulary_size = len(vocabulary)
print(vocabulary_size)

text_vectorizer = layers.TextVectorization(max_tokens=vocabulary_size, ngrams=2, output_mode="tf_idf")
text_vectorizer.adapt(train_dataset.map(lambda text, label: text))

train_dataset = train_dataset.map(lambda text, label: (text_vectorizer(text), label),
                                  num_parallel_calls=auto).prefetch(auto)
validation_dataset = validation_dataset.map(lambda text, label: (text_vectorizer(text), label),
                                            num_parallel_calls=auto).prefetch(auto)
test_dataset = test_dataset.map(lambda text, label: (text_vectorizer(text), label),
                                num_parallel_calls=auto).prefetch(auto)


def make_model():
    shallow_mlp_model = keras.Sequential(
        [
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(lookup.vocabulary_size(), activation="sigmoid"),
        ]  # More on why "sigmoid" has been used here in a moment.
    )
    return shallow_mlp_model


epochs = 6
shallow_mlp_model = make_model()
shallow_mlp_model.compile(
    loss="binary_crossentropy",
    optimizer="adam",
    metrics=["binary_accuracy", keras.metrics.F1Score(average="micro", threshold=0.5),
             keras.metrics.FBetaScore(average="macro", beta=2.0, threshold=0.5, name="f2")],
)
history = shallow_mlp_model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs, verbose=0)
print({k: v[-1] for k, v in history.history.items()})
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
assert history.history["val_f1_score"][-1] > 0.85, history.history["val_f1_score"]

_, binary_acc, f1, f2 = shallow_mlp_model.evaluate(test_dataset, verbose=0)
print(f"Categorical accuracy on the test set: {round(binary_acc * 100, 2)}%.  micro F1 {f1:.3f}")
assert binary_acc > 0.9 and f1 > 0.85 and f2 > 0.8, (binary_acc, f1, f2)

# the per-class F1 (average=None) of the test predictions, against the formula on the counts
predicted_probabilities = shallow_mlp_model.predict(test_dataset, verbose=0)
y_test = np.concatenate([y.numpy() for _, y in test_dataset])
per_class = keras.metrics.F1Score(threshold=0.5)
per_class.update_state(y_test, predicted_probabilities)
scores = np.asarray(per_class.result())
hard = predicted_probabilities > 0.5
tp = (hard & (y_test == 1)).sum(0)
fp = (hard & (y_test == 0)).sum(0)
fn = (~hard & (y_test == 1)).sum(0)
with np.errstate(invalid="ignore", divide="ignore"):
    want = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
assert scores.shape == (lookup.vocabulary_size(),)
np.testing.assert_allclose(scores, want, atol=1e-4)

# inference on raw text: the vectorizer in front of the trained model
model_for_inference = keras.Sequential([text_vectorizer, shallow_mlp_model])
inference_dataset = make_dataset(test_df.copy(), is_train=False)
text_batch, label_batch = next(iter(inference_dataset))
predicted_probabilities = model_for_inference.predict(text_batch, verbose=0)
hits = 0
for i, text in enumerate(text_batch[:5]):
    label = label_batch[i].numpy()[None, ...]
    predicted_proba = [proba for proba in predicted_probabilities[i]]
    top_3_labels = [x for _, x in sorted(zip(predicted_probabilities[i], lookup.get_vocabulary()),
                                         key=lambda pair: pair[0], reverse=True)][:3]
    true = set(invert_multi_hot(label[0]))
    print(f"Label(s): {true}  Predicted Label(s): ({', '.join([label for label in top_3_labels])})")
    hits += true <= set(top_3_labels) or set(top_3_labels) <= true
assert hits >= 4, hits
