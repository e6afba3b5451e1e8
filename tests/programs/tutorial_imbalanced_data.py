"""TensorFlow tutorial structured_data/imbalanced_data (classification on imbalanced data),
imports changed. The credit-card CSV, pandas, sklearn's split / StandardScaler and the plots are
replaced by NumPy on synthetic transactions (about 2% positive); the metrics, the output-bias
initialization, early stopping on val_prc, class weights and the saved initial weights are the
tutorial's (weights saved as .weights.npz, corenn's format)."""
import os
import tempfile

import numpy as np

import corenn as tf
from corenn import keras

tf.keras.utils.set_random_seed(0)
rng = np.random.default_rng(13)
n, n_features = 6000, 29
features = rng.normal(size=(n, n_features)).astype("float32")
labels = (rng.random(n) < 0.02).astype("int64")
features[labels == 1, :3] += 2.5

neg, pos = np.bincount(labels)
total = neg + pos
print('Examples:\n    Total: {}\n    Positive: {} ({:.2f}% of total)\n'.format(
    total, pos, 100 * pos / total))

# train / val / test split and standardization (sklearn's train_test_split / StandardScaler)
order = rng.permutation(n)
train_idx, val_idx, test_idx = order[:3840], order[3840:4800], order[4800:]
mean, std = features[train_idx].mean(0), features[train_idx].std(0)
train_features = np.clip((features[train_idx] - mean) / std, -5, 5)
val_features = np.clip((features[val_idx] - mean) / std, -5, 5)
test_features = np.clip((features[test_idx] - mean) / std, -5, 5)
train_labels, val_labels, test_labels = labels[train_idx], labels[val_idx], labels[test_idx]
bool_train_labels = train_labels != 0

METRICS = [
      keras.metrics.BinaryCrossentropy(name='cross entropy'),  # same as model's loss
      keras.metrics.MeanSquaredError(name='Brier score'),
      keras.metrics.TruePositives(name='tp'),
      keras.metrics.FalsePositives(name='fp'),
      keras.metrics.TrueNegatives(name='tn'),
      keras.metrics.FalseNegatives(name='fn'),
      keras.metrics.BinaryAccuracy(name='accuracy'),
      keras.metrics.Precision(name='precision'),
      keras.metrics.Recall(name='recall'),
      keras.metrics.AUC(name='auc'),
      keras.metrics.AUC(name='prc', curve='PR'), # precision-recall curve
]


def make_model(metrics=METRICS, output_bias=None):
  if output_bias is not None:
    output_bias = tf.keras.initializers.Constant(output_bias)
  model = keras.Sequential([
      keras.layers.Dense(
          16, activation='relu',
          input_shape=(train_features.shape[-1],)),
      keras.layers.Dropout(0.5),
      keras.layers.Dense(1, activation='sigmoid',
                         bias_initializer=output_bias),
  ])

  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate=1e-3),
      loss=keras.losses.BinaryCrossentropy(),
      metrics=metrics)

  return model


EPOCHS = 40
BATCH_SIZE = 256

early_stopping = tf.keras.callbacks.EarlyStopping(
    monitor='val_prc',
    verbose=1,
    patience=10,
    mode='max',
    restore_best_weights=True)

model = make_model()
model.summary()
print(model.predict(train_features[:10]))
results = model.evaluate(train_features, train_labels, batch_size=BATCH_SIZE, verbose=0)
print("Loss: {:0.4f}".format(results[0]))
careless = results[0]

initial_bias = np.log([pos/neg])
print(initial_bias)
model = make_model(output_bias=initial_bias)
p0 = model.predict(train_features[:10])
print(p0)
results = model.evaluate(train_features, train_labels, batch_size=BATCH_SIZE, verbose=0)
print("Loss: {:0.4f}".format(results[0]))
# the bias makes the initial guess the base rate: a much smaller initial loss, near
# p0 * log(1 / p0) + (1 - p0) log(1 / (1 - p0)) for p0 = pos / total
p0 = pos / total
assert results[0] < careless
assert abs(results[0] - (-p0 * np.log(p0) - (1 - p0) * np.log(1 - p0))) < 0.05, results[0]

initial_weights = os.path.join(tempfile.mkdtemp(), 'initial.weights.npz')
model.save_weights(initial_weights)

model = make_model()
model.load_weights(initial_weights)
baseline_history = model.fit(
    train_features,
    train_labels,
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    callbacks=[early_stopping],
    validation_data=(val_features, val_labels), verbose=0)
assert 'val_prc' in baseline_history.history and 'val_Brier score' in baseline_history.history

baseline_results = model.evaluate(test_features, test_labels,
                                  batch_size=BATCH_SIZE, verbose=0)
for name, value in zip(model.metrics_names, baseline_results):
  print(name, ': ', value)
print()
logs = dict(zip(model.metrics_names, baseline_results))
assert logs['auc'] > 0.9 and logs['prc'] > 0.5, logs
assert logs['tp'] + logs['fp'] + logs['tn'] + logs['fn'] == len(test_labels)

# Scaling by total/2 helps keep the loss to a similar magnitude.
# The sum of the weights of all examples stays the same.
weight_for_0 = (1 / neg) * (total / 2.0)
weight_for_1 = (1 / pos) * (total / 2.0)

class_weight = {0: weight_for_0, 1: weight_for_1}

print('Weight for class 0: {:.2f}'.format(weight_for_0))
print('Weight for class 1: {:.2f}'.format(weight_for_1))

weighted_model = make_model()
weighted_model.load_weights(initial_weights)

weighted_history = weighted_model.fit(
    train_features,
    train_labels,
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    callbacks=[early_stopping],
    validation_data=(val_features, val_labels),
    # The class weights go here
    class_weight=class_weight, verbose=0)

weighted_results = weighted_model.evaluate(test_features, test_labels,
                                           batch_size=BATCH_SIZE, verbose=0)
weighted = dict(zip(weighted_model.metrics_names, weighted_results))
print(weighted)
# weighting the rare class trades precision for recall, as the tutorial shows
assert weighted['recall'] >= logs['recall'] and weighted['fp'] >= logs['fp'], (weighted, logs)
