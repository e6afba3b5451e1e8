"""TensorFlow tutorial structured_data/preprocessing_layers (classify structured data with Keras
preprocessing layers), imports changed. The PetFinder CSV / pandas frame and its tf.data
pipeline are replaced by a dict of NumPy columns; the model is the tutorial's: numeric columns
through Normalization, categorical string and integer columns through StringLookup /
IntegerLookup + CategoryEncoding *inside* the model, Input(dtype='string'), predict on raw
values."""
import numpy as np

import corenn as tf
from corenn.keras import layers

tf.keras.utils.set_random_seed(0)
rng = np.random.default_rng(5)
n = 800
animal = rng.choice(["Cat", "Dog"], n)
breed = rng.choice(["Mixed Breed", "Tabby", "Domestic Short Hair", "Siamese", "Husky"], n)
age = rng.integers(1, 60, n)
fee = rng.choice([0, 50, 100, 150], n)
photo = rng.uniform(0, 10, n)
# adoption speed depends on the animal, the age, the photos and the breed
score = (animal == "Dog") * 1.0 - age / 30.0 + photo / 5.0 + (breed == "Siamese") * 1.5 \
    + rng.normal(0, 0.3, n)
target = (score > np.median(score)).astype("int64")
dataframe = {"Type": animal, "Breed1": breed, "Age": age, "Fee": fee, "PhotoAmt": photo,
             "target": target}

train = {k: v[:600] for k, v in dataframe.items()}
test = {k: v[600:] for k, v in dataframe.items()}


def df_to_dataset(dataframe, shuffle=True, batch_size=32):
  df = dict(dataframe)
  labels = df.pop('target')
  df = {key: value[:, np.newaxis] for key, value in df.items()}
  return df, labels


train_features, train_labels = df_to_dataset(train)
test_features, test_labels = df_to_dataset(test)
assert train_features["Type"].shape == (600, 1)


def get_normalization_layer(name, dataset):
  # Create a Normalization layer for the feature.
  normalizer = layers.Normalization(axis=None)

  # Prepare a Dataset that only yields the feature.
  feature_ds = dataset[name]

  # Learn the statistics of the data.
  normalizer.adapt(feature_ds)

  return normalizer


photo_count_col = train_features['PhotoAmt']
layer = get_normalization_layer('PhotoAmt', train_features)
normalized = layer(photo_count_col).numpy()
np.testing.assert_allclose(normalized.mean(), 0.0, atol=1e-4)
np.testing.assert_allclose(normalized.std(), 1.0, rtol=1e-3)


def get_category_encoding_layer(name, dataset, dtype, max_tokens=None):
  # Create a layer that turns strings into integer indices.
  if dtype == 'string':
    index = layers.StringLookup(max_tokens=max_tokens)
  # Otherwise, create a layer that turns integer values into integer indices.
  else:
    index = layers.IntegerLookup(max_tokens=max_tokens)

  # Prepare a `tf.data.Dataset` that only yields the feature.
  feature_ds = dataset[name]

  # Learn the set of possible values and assign them a fixed integer index.
  index.adapt(feature_ds)

  # Encode the integer indices.
  encoder = layers.CategoryEncoding(num_tokens=index.vocabulary_size())

  # Apply multi-hot encoding to the indices. The lambda function captures the
  # layer, so you can use them, or include them in the Keras Functional model later.
  return lambda feature: encoder(index(feature))


test_type_col = train_features['Type'][:5]
test_type_layer = get_category_encoding_layer(name='Type', dataset=train_features, dtype='string')
encoded = test_type_layer(test_type_col).numpy()
assert encoded.shape == (5, 3) and np.all(encoded.sum(axis=1) == 1)

test_age_col = train_features['Age'][:5]
test_age_layer = get_category_encoding_layer(name='Age', dataset=train_features, dtype='int64',
                                             max_tokens=5)
assert test_age_layer(test_age_col).shape == (5, 5)

all_inputs = {}
encoded_features = []

# Numerical features.
for header in ['PhotoAmt', 'Fee']:
  numeric_col = tf.keras.Input(shape=(1,), name=header)
  normalization_layer = get_normalization_layer(header, train_features)
  encoded_numeric_col = normalization_layer(numeric_col)
  all_inputs[header] = numeric_col
  encoded_features.append(encoded_numeric_col)

age_col = tf.keras.Input(shape=(1,), name='Age', dtype='int64')
encoding_layer = get_category_encoding_layer(name='Age', dataset=train_features, dtype='int64',
                                             max_tokens=60)
encoded_age_col = encoding_layer(age_col)
all_inputs['Age'] = age_col
encoded_features.append(encoded_age_col)

categorical_cols = ['Type', 'Breed1']
for header in categorical_cols:
  categorical_col = tf.keras.Input(shape=(1,), name=header, dtype='string')
  encoding_layer = get_category_encoding_layer(name=header, dataset=train_features,
                                               dtype='string', max_tokens=5)
  encoded_categorical_col = encoding_layer(categorical_col)
  all_inputs[header] = categorical_col
  encoded_features.append(encoded_categorical_col)

all_features = tf.keras.layers.concatenate(encoded_features)
x = tf.keras.layers.Dense(32, activation="relu")(all_features)
x = tf.keras.layers.Dropout(0.5)(x)
output = tf.keras.layers.Dense(1)(x)

model = tf.keras.Model(all_inputs, output)
model.compile(optimizer='adam',
              loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.summary()

model.fit(train_features, train_labels, epochs=30, batch_size=32, verbose=0,
          validation_data=(test_features, test_labels))
loss, accuracy = model.evaluate(test_features, test_labels)
print("Accuracy", accuracy)
assert accuracy > 0.8, accuracy

model.save('my_pet_classifier.keras')
reloaded_model = tf.keras.models.load_model('my_pet_classifier.keras')
np.testing.assert_allclose(reloaded_model.predict(test_features), model.predict(test_features),
                           rtol=1e-5, atol=1e-6)

sample = {
    'Type': 'Dog',
    'Age': 3,
    'Breed1': 'Siamese',
    'Fee': 100,
    'PhotoAmt': 8,
}
slow = dict(sample, Type='Cat', Age=55, Breed1='Tabby', PhotoAmt=0)

input_dict = {name: tf.convert_to_tensor([value]) for name, value in sample.items()}
predictions = reloaded_model.predict(input_dict)
prob = tf.nn.sigmoid(predictions[0])
print(
    "This particular pet had a %.1f percent probability "
    "of getting adopted." % (100 * prob)
)
slow_prob = tf.nn.sigmoid(reloaded_model.predict(
    {name: tf.convert_to_tensor([value]) for name, value in slow.items()})[0])
assert float(prob) > 0.5 > float(slow_prob), (prob, slow_prob)
