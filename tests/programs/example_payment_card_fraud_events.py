"""keras.io example "Event classification for payment card fraud detection"
(timeseries/event_classification_for_payment_card_fraud_detection), imports changed. The
page downloads six months of simulated transactions and turns them into per-transaction
features with Temporian (moving sums and counts per terminal over 7/14/28 days, the lagged
fraud counts and rates, calendar hour and day of week, a z-normalization over time); here a
small synthetic month of transactions (some terminals compromised for a while) goes through
the same features computed with NumPy, and the Temporian event sets become dict-of-column
`tf.data.Dataset`s, which is what `tp.to_tensorflow_dataset` returns. The Keras / tf.data part
is the page's: `shuffle`, `rejection_resample` to a 20% fraud rate with the page's
`class_func` / `target_dist` / `initial_dist`, `.map(lambda _, x: x)`, `batch`, a `map` that
splits the dict into a feature dict and an int32 label, `prefetch(tf.data.AUTOTUNE)`; a
functional model over one named `keras.Input` per feature, `concatenate`, Adam(0.01),
BinaryCrossentropy, `Accuracy()` and `AUC()`, fit with validation data, evaluate, predict on
the dataset, and the labels gathered back from it."""
import math

import numpy as np
import corenn as keras  # To train the Machine Learning model
import corenn as tf

keras.utils.set_random_seed(1)
rng = np.random.default_rng(3)

# --- synthetic transactions standing in for the download ---------------------------------
num_days, num_terminals, num_tx = 60, 40, 9000
day = np.sort(rng.uniform(0, num_days, num_tx))
terminal = rng.integers(0, num_terminals, num_tx)
amount = rng.gamma(2.0, 30.0, num_tx)
# a compromised terminal steals every transaction for two weeks from a random day
compromised = {t: rng.uniform(0, num_days - 14) for t in rng.choice(num_terminals, 10, replace=False)}
fraud = np.array([t in compromised and compromised[t] <= d < compromised[t] + 14 for d, t in zip(day, terminal)])
fraud &= rng.random(num_tx) < 0.5
amount[fraud] *= 2.5
fraudulent_rate = fraud.mean()
print("Rate of fraudulent transactions:", fraudulent_rate)


# --- the page's Temporian features, per terminal, in NumPy ---------------------------------
def per_terminal(fn):
    out = np.zeros(num_tx)
    for t in range(num_terminals):
        idx = np.flatnonzero(terminal == t)
        out[idx] = fn(day[idx], idx)
    return out


features = {}
for n in [7, 14, 28]:
    features[f"sum_transactions_{n}_days"] = per_terminal(
        lambda d, idx: np.array([amount[idx][(d > x - n) & (d <= x)].sum() for x in d]))
    features[f"count_transactions_{n}_days"] = per_terminal(
        lambda d, idx: np.array([((d > x - n) & (d <= x)).sum() for x in d]))
    # fraud is known one week later: the lagged window ends 7 days back
    lagged = [per_terminal(lambda d, idx: np.array([fraud[idx][(d > x - 7 - n) & (d <= x - 7)].sum() for x in d])),
              per_terminal(lambda d, idx: np.array([((d > x - 7 - n) & (d <= x - 7)).sum() for x in d]))]
    features[f"count_fraud_transactions_{n}_days"] = lagged[0]
    features[f"rate_fraud_transactions_{n}_days"] = np.where(lagged[1] > 0, lagged[0] / np.maximum(lagged[1], 1), np.nan)
features["calendar_hour"] = np.floor((day % 1) * 24)
features["calendar_day_of_week"] = np.floor(day) % 7

input_feature_names = [k for k in features if k.islower()]
print("The model input features:", input_feature_names)

# z-normalization over time: each value by the mean and std of the values before it
normalized = {}
for k in input_feature_names:
    v = features[k]
    ok = ~np.isnan(v)
    csum, csq, cnt = np.cumsum(np.where(ok, v, 0)), np.cumsum(np.where(ok, v * v, 0)), np.cumsum(ok)
    mean = csum / np.maximum(cnt, 1)
    std = np.sqrt(np.maximum(csq / np.maximum(cnt, 1) - mean**2, 0))
    z = (v - mean) / np.where(std > 0, std, np.nan)
    normalized[k] = np.nan_to_num(z, nan=0.0).astype("float32")  # fillna(0.0)
normalized["TX_FRAUD"] = fraud.astype("int64")

begin_train, begin_valid, begin_test = 7, 35, 48
is_train = (day >= begin_train) & (day < begin_valid)
is_valid = (day >= begin_valid) & (day < begin_test)
is_test = day >= begin_test


def to_dataset(mask):
    # what tp.to_tensorflow_dataset gives: one dict of scalar columns per event
    return tf.data.Dataset.from_tensor_slices({k: v[mask] for k, v in normalized.items()})


non_batched_train_ds = to_dataset(is_train)
non_batched_valid_ds = to_dataset(is_valid)
non_batched_test_ds = to_dataset(is_test)
print(f"Training examples: {is_train.sum()}")
print(f"Validation examples: {is_valid.sum()}")
print(f"Testing examples: {is_test.sum()}")


def extract_features_and_label(example):
    features = {k: example[k] for k in input_feature_names}
    labels = tf.cast(example["TX_FRAUD"], tf.int32)
    return features, labels


# Target ratio of fraudulent transactions in the training dataset.
target_rate = 0.2

# Number of examples in a mini-batch.
batch_size = 32

train_ds = (
    non_batched_train_ds.shuffle(10000)
    .rejection_resample(
        class_func=lambda x: tf.cast(x["TX_FRAUD"], tf.int32),
        target_dist=[1 - target_rate, target_rate],
        initial_dist=[1 - fraudulent_rate, fraudulent_rate],
    )
    .map(lambda _, x: x)  # Remove the label copy added by "rejection_resample".
    .batch(batch_size)
    .map(extract_features_and_label)
    .prefetch(tf.data.AUTOTUNE)
)

# The test and validation dataset does not need resampling or shuffling.
valid_ds = (
    non_batched_valid_ds.batch(batch_size)
    .map(extract_features_and_label)
    .prefetch(tf.data.AUTOTUNE)
)
test_ds = (
    non_batched_test_ds.batch(batch_size)
    .map(extract_features_and_label)
    .prefetch(tf.data.AUTOTUNE)
)

for features_batch, labels in train_ds.take(1):
    print("features")
    for feature_name, feature_value in features_batch.items():
        print(f"\t{feature_name}: {feature_value[:4]}")
    print(f"labels: {labels[:4]}")

# the resampled stream is near the target rate, where the raw one is near the data's rate
resampled = np.concatenate([np.asarray(lab) for _, lab in train_ds])
print("fraud rate after rejection_resample:", resampled.mean(), "before:", normalized["TX_FRAUD"][is_train].mean())
# acceptance per class (target / initial, scaled so the largest is 1) over the train split's
# own rate, which is higher than the initial_dist the page passes (the whole data's)
ratio = np.array([1 - target_rate, target_rate]) / np.array([1 - fraudulent_rate, fraudulent_rate])
accept = ratio / ratio.max()
p1 = normalized["TX_FRAUD"][is_train].mean()
expected = p1 * accept[1] / (p1 * accept[1] + (1 - p1) * accept[0])
print("expected rate:", expected)
assert abs(resampled.mean() - expected) < 0.05 and resampled.mean() > 3 * p1, (resampled.mean(), expected)

inputs = [keras.Input(shape=(1,), name=name) for name in input_feature_names]
x = keras.layers.concatenate(inputs)
x = keras.layers.Dense(32, activation="sigmoid")(x)
x = keras.layers.Dense(16, activation="sigmoid")(x)
x = keras.layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs=inputs, outputs=x)

model.compile(
    optimizer=keras.optimizers.Adam(0.01),
    loss=keras.losses.BinaryCrossentropy(),
    metrics=[keras.metrics.Accuracy(), keras.metrics.AUC()],
)
history = model.fit(train_ds, validation_data=valid_ds, epochs=3, verbose=0)
print({k: [round(float(v), 3) for v in vs] for k, vs in history.history.items()})

results = model.evaluate(test_ds, return_dict=True, verbose=0)
print(results)

predictions = model.predict(test_ds, verbose=0)
predictions = np.nan_to_num(predictions, nan=0)
labels = np.concatenate([label for _, label in test_ds])
assert predictions.shape == (is_test.sum(), 1) and labels.shape == (is_test.sum(),), (predictions.shape, labels.shape)


# the reported AUC is the ranking AUC of these predictions (a ROC curve's area, by counting)
def ranking_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    return ((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


auc = ranking_auc(labels, predictions[:, 0])
print("test AUC:", results["auc"], "by counting:", auc)
assert abs(results["auc"] - auc) < 0.02, (results["auc"], auc)
assert auc > 0.75, auc
# Accuracy() compares the sigmoid outputs with the labels for equality: almost never equal
assert results["accuracy"] < 0.05, results["accuracy"]
assert not math.isnan(results["loss"])
