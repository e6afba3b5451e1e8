"""TensorFlow tutorial load_data/csv, imports changed: the Titanic preprocessing model (a dict of
keras.Inputs, float columns concatenated and normalized, string columns through StringLookup and
CategoryEncoding, a Model of the preprocessing head reused inside the full model, fit on a dict
of arrays, save and reload), then tf.data.experimental.make_csv_dataset on a CSV file and the
lower-level CsvDataset. The Titanic CSV becomes 400 synthetic passengers written to a file;
pandas (which the tutorial reads it with) is not a corenn dependency, so the DataFrame is a dict
of NumPy columns and ``np.array(titanic[keys])`` becomes a stack of those columns."""
import csv

import numpy as np

import corenn as tf
from corenn.keras import layers

tf.keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

# -- a synthetic Titanic: survival depends on sex, class and age ---------------------------------
n = 400
sex = rng.choice(["male", "female"], n)
klass = rng.choice(["First", "Second", "Third"], n, p=[0.25, 0.25, 0.5])
age = np.round(rng.uniform(1, 70, n), 1)
fare = np.round(np.where(klass == "First", 80, np.where(klass == "Second", 25, 10)) * rng.uniform(0.7, 1.3, n), 2)
n_siblings_spouses = rng.integers(0, 4, n)
alone = np.where(n_siblings_spouses == 0, "y", "n")
score = 1.2 * (sex == "female") + 0.8 * (klass == "First") - 0.6 * (klass == "Third") - 0.01 * age
survived = (score + rng.normal(0, 0.3, n) > 0.2).astype(np.int64)

columns = ["survived", "sex", "age", "n_siblings_spouses", "fare", "class", "alone"]
with open("titanic.csv", "w", newline="") as f:
  writer = csv.writer(f)
  writer.writerow(columns)
  for row in zip(survived, sex, age, n_siblings_spouses, fare, klass, alone):
    writer.writerow(row)

# titanic = pd.read_csv(...): a dict of columns
titanic = {"survived": survived, "sex": sex, "age": age, "n_siblings_spouses": n_siblings_spouses.astype(float),
           "fare": fare, "class": klass.astype(object), "alone": alone.astype(object)}
titanic["sex"] = titanic["sex"].astype(object)

titanic_features = titanic.copy()
titanic_labels = titanic_features.pop('survived')

inputs = {}

for name, column in titanic_features.items():
  dtype = column.dtype
  if dtype == object:
    dtype = tf.string
  else:
    dtype = tf.float32

  inputs[name] = tf.keras.Input(shape=(1,), name=name, dtype=dtype)

print(inputs)

numeric_inputs = {name: input for name, input in inputs.items()
                  if input.dtype == tf.float32}

x = layers.Concatenate()(list(numeric_inputs.values()))
norm = layers.Normalization()
norm.adapt(np.stack([titanic[k] for k in numeric_inputs.keys()], axis=1))   # np.array(titanic[keys])
all_numeric_inputs = norm(x)

print(all_numeric_inputs)

preprocessed_inputs = [all_numeric_inputs]

for name, input in inputs.items():
  if input.dtype == tf.float32:
    continue

  lookup = layers.StringLookup(vocabulary=np.unique(titanic_features[name]))
  one_hot = layers.CategoryEncoding(num_tokens=lookup.vocabulary_size())

  x = lookup(input)
  x = one_hot(x)
  preprocessed_inputs.append(x)

preprocessed_inputs_cat = layers.Concatenate()(preprocessed_inputs)

titanic_preprocessing = tf.keras.Model(inputs, preprocessed_inputs_cat)

tf.keras.utils.plot_model(model=titanic_preprocessing, rankdir="LR", dpi=72, show_shapes=True)

titanic_features_dict = {name: np.array(value)
                         for name, value in titanic_features.items()}

features_dict = {name: values[:1] for name, values in titanic_features_dict.items()}
out = titanic_preprocessing(features_dict)
print(out)
# 3 normalized numbers, then one-hot sex (2 + OOV), class (3 + OOV), alone (2 + OOV)
assert tuple(out.shape) == (1, 3 + 3 + 4 + 3)
one_hot_part = np.asarray(out)[0, 3:]
assert one_hot_part.sum() == 3 and set(np.unique(one_hot_part)) <= {0.0, 1.0}


def titanic_model(preprocessing_head, inputs):
  body = tf.keras.Sequential([
    layers.Dense(64, activation='relu'),
    layers.Dense(1)
  ])

  preprocessed_inputs = preprocessing_head(inputs)
  result = body(preprocessed_inputs)
  model = tf.keras.Model(inputs, result)

  model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                optimizer=tf.keras.optimizers.Adam(), metrics=["accuracy"])
  return model


titanic_model = titanic_model(titanic_preprocessing, inputs)

history = titanic_model.fit(x=titanic_features_dict, y=titanic_labels, epochs=10, verbose=0)
print(history.history["accuracy"][-1])
assert history.history["accuracy"][-1] > 0.75, history.history

titanic_model.save('test.keras')
reloaded = tf.keras.models.load_model('test.keras')

features_dict = {name: values[:1] for name, values in titanic_features_dict.items()}

before = titanic_model(features_dict)
after = reloaded(features_dict)
assert (before - after) < 1e-3
print(before)
print(after)

# -- Using tf.data: make_csv_dataset ---------------------------------------------------------------
titanic_file_path = "titanic.csv"   # tf.keras.utils.get_file("train.csv", ...)

titanic_csv_ds = tf.data.experimental.make_csv_dataset(
    titanic_file_path,
    batch_size=5,  # Artificially small to make examples easier to show.
    label_name='survived',
    num_epochs=1,
    ignore_errors=True,)

for batch, label in titanic_csv_ds.take(1):
  for key, value in batch.items():
    print(f"{key:20s}: {value}")
  print()
  print(f"{'label':20s}: {label}")
assert list(batch) == columns[1:] and batch["age"].dtype == np.float32 and batch["sex"].shape == (5,)
assert batch["n_siblings_spouses"].dtype == np.int32 and label.dtype == np.int32

# the whole file, in order, against the columns written
ordered = tf.data.experimental.make_csv_dataset(titanic_file_path, batch_size=64, label_name="survived",
                                                num_epochs=1, shuffle=False)
ages = np.concatenate([np.asarray(b["age"]) for b, _ in ordered])
labels = np.concatenate([np.asarray(lab) for _, lab in ordered])
np.testing.assert_allclose(ages, age.astype(np.float32))
np.testing.assert_array_equal(labels, survived)

# the batches train the preprocessing model directly (Keras takes a dict of columns per batch)
csv_ds = tf.data.experimental.make_csv_dataset(titanic_file_path, batch_size=32, label_name="survived",
                                               num_epochs=1, shuffle=False)
csv_ds = csv_ds.map(lambda f, l: ({k: tf.expand_dims(v, -1) if k in inputs else v for k, v in f.items()}, l))
loss = reloaded.evaluate(csv_ds, verbose=0, return_dict=True)
print(loss)
assert loss["accuracy"] > 0.7

# -- Lower level functions: CsvDataset -------------------------------------------------------------
titanic_types = [tf.int32, tf.string, tf.float32, tf.int32, tf.float32, tf.string, tf.string]
simple_titanic = tf.data.experimental.CsvDataset(titanic_file_path, record_defaults=titanic_types, header=True)

for example in simple_titanic.take(1):
  print([e.numpy() for e in example])
first = [e.numpy() for e in next(iter(simple_titanic))]
# a string field's numpy() gives bytes, as TensorFlow's does
assert first[0] == survived[0] and first[1] == sex[0].encode() and abs(first[2] - age[0]) < 1e-5

ages_only = tf.data.experimental.CsvDataset(titanic_file_path, record_defaults=[tf.float32], header=True,
                                            select_cols=[2])
np.testing.assert_allclose([float(a[0]) for a in ages_only.take(3)], age[:3], rtol=1e-6)
