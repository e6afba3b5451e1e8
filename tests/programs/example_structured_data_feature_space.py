"""keras-io examples/structured_data/structured_data_classification_with_feature_space (heart
disease prediction with keras.utils.FeatureSpace), imports changed only (`import keras`,
`from keras.utils import FeatureSpace`, `import tensorflow as tf` -> corenn). The Cleveland CSV is
replaced by a synthetic table with its columns (integer categories, a string category, numeric
columns) whose target depends on several of them, read as the example's dict of columns."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras.utils import FeatureSpace

keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)
n = 700
dataframe = {
    "age": rng.integers(29, 78, n).astype("int64"),
    "sex": rng.integers(0, 2, n).astype("int64"),
    "cp": rng.integers(0, 5, n).astype("int64"),
    "trestbps": rng.normal(131, 17, n).round().astype("int64"),
    "chol": rng.normal(246, 50, n).round().astype("int64"),
    "fbs": rng.integers(0, 2, n).astype("int64"),
    "restecg": rng.integers(0, 3, n).astype("int64"),
    "thalach": rng.normal(150, 22, n).round().astype("int64"),
    "exang": rng.integers(0, 2, n).astype("int64"),
    "oldpeak": np.abs(rng.normal(1.0, 1.1, n)).round(1),
    "slope": rng.integers(1, 4, n).astype("int64"),
    "ca": rng.integers(0, 4, n).astype("int64"),
    "thal": rng.choice(np.array(["fixed", "normal", "reversible"]), n),
}
risk = (0.05 * (dataframe["age"] - 55) + 1.0 * (dataframe["cp"] >= 3) + 0.9 * dataframe["oldpeak"]
        - 0.03 * (dataframe["thalach"] - 150) + 1.6 * (dataframe["thal"] == "reversible")
        + 0.8 * dataframe["ca"] - 2.6 + 1.2 * dataframe["exang"])
dataframe["target"] = (risk + rng.normal(0, 0.4, n) > 0).astype("int64")
print("target mean", dataframe["target"].mean())

val_rows = rng.random(n) < 0.2
val_dataframe = {k: v[val_rows] for k, v in dataframe.items()}
train_dataframe = {k: v[~val_rows] for k, v in dataframe.items()}
print(f"Using {len(train_dataframe['age'])} samples for training and {len(val_dataframe['age'])} for validation")


def dataframe_to_dataset(dataframe):
    dataframe = dict(dataframe)
    labels = dataframe.pop("target")
    ds = tf.data.Dataset.from_tensor_slices((dict(dataframe), labels))
    ds = ds.shuffle(buffer_size=len(labels))
    return ds


train_ds = dataframe_to_dataset(train_dataframe)
val_ds = dataframe_to_dataset(val_dataframe)

for x, y in train_ds.take(1):
    print("Input:", x)
    print("Target:", y)

train_ds = train_ds.batch(32)
val_ds = val_ds.batch(32)

# First the simple form: every feature named by its type
feature_space = FeatureSpace(
    features={
        # Categorical features encoded as integers
        "sex": "integer_categorical",
        "cp": "integer_categorical",
        "fbs": "integer_categorical",
        "restecg": "integer_categorical",
        "exang": "integer_categorical",
        "ca": "integer_categorical",
        # Categorical feature encoded as string
        "thal": "string_categorical",
        # Numerical features to discretize
        "age": "float_discretized",
        # Numerical features to normalize
        "trestbps": "float_normalized",
        "chol": "float_normalized",
        "thalach": "float_normalized",
        "oldpeak": "float_normalized",
        "slope": "float_normalized",
    },
    # We create additional features by hashing
    # value co-occurrences for the
    # following groups of categorical features.
    crosses=[("sex", "age"), ("thal", "ca")],
    # The hashing space for these co-occurrences
    # wil be 32-dimensional.
    crossing_dim=32,
    # Our utility will one-hot encode all categorical
    # features and concat all features into a single
    # vector (one vector per sample).
    output_mode="concat",
)

# The same, each feature customized
feature_space = FeatureSpace(
    features={
        # Categorical features encoded as integers
        "sex": FeatureSpace.integer_categorical(num_oov_indices=0),
        "cp": FeatureSpace.integer_categorical(num_oov_indices=0),
        "fbs": FeatureSpace.integer_categorical(num_oov_indices=0),
        "restecg": FeatureSpace.integer_categorical(num_oov_indices=0),
        "exang": FeatureSpace.integer_categorical(num_oov_indices=0),
        "ca": FeatureSpace.integer_categorical(num_oov_indices=0),
        # Categorical feature encoded as string
        "thal": FeatureSpace.string_categorical(num_oov_indices=0),
        # Numerical features to discretize
        "age": FeatureSpace.float_discretized(num_bins=30),
        # Numerical features to normalize
        "trestbps": FeatureSpace.float_normalized(),
        "chol": FeatureSpace.float_normalized(),
        "thalach": FeatureSpace.float_normalized(),
        "oldpeak": FeatureSpace.float_normalized(),
        "slope": FeatureSpace.float_normalized(),
    },
    # Specify feature cross with a custom crossing dim.
    crosses=[
        FeatureSpace.cross(feature_names=("sex", "age"), crossing_dim=64),
        FeatureSpace.cross(
            feature_names=("thal", "ca"),
            crossing_dim=16,
        ),
    ],
    output_mode="concat",
)

train_ds_with_no_labels = train_ds.map(lambda x, _: x)
feature_space.adapt(train_ds_with_no_labels)

# 2 + 5 + 2 + 3 + 2 + 4 (integer categories) + 3 (thal) + 30 (age bins) + 5 normalized + 64 + 16
expected_width = 2 + 5 + 2 + 3 + 2 + 4 + 3 + 30 + 5 + 64 + 16
for x, _ in train_ds.take(1):
    preprocessed_x = feature_space(x)
    print("preprocessed_x.shape:", preprocessed_x.shape)
    print("preprocessed_x.dtype:", preprocessed_x.dtype)
    assert tuple(preprocessed_x.shape) == (32, expected_width), preprocessed_x.shape
    assert str(preprocessed_x.dtype) == "float32"
    # Keras' layout: the features sorted by name, then the crosses; every one-hot block holds one 1
    widths = {"age": 30, "ca": 4, "chol": 1, "cp": 5, "exang": 2, "fbs": 2, "oldpeak": 1, "restecg": 3,
              "sex": 2, "slope": 1, "thal": 3, "thalach": 1, "trestbps": 1, "sex_X_age": 64, "thal_X_ca": 16}
    normalized = {"chol", "oldpeak", "slope", "thalach", "trestbps"}
    start = 0
    for name, width in widths.items():
        block = np.asarray(preprocessed_x)[:, start:start + width]
        if name not in normalized:
            np.testing.assert_array_equal(block.sum(axis=1), 1.0)
        start += width
    assert start == expected_width

preprocessed_train_ds = train_ds.map(lambda x, y: (feature_space(x), y), num_parallel_calls=tf.data.AUTOTUNE)
preprocessed_train_ds = preprocessed_train_ds.prefetch(tf.data.AUTOTUNE)

preprocessed_val_ds = val_ds.map(lambda x, y: (feature_space(x), y), num_parallel_calls=tf.data.AUTOTUNE)
preprocessed_val_ds = preprocessed_val_ds.prefetch(tf.data.AUTOTUNE)

dict_inputs = feature_space.get_inputs()
encoded_features = feature_space.get_encoded_features()

x = keras.layers.Dense(32, activation="relu")(encoded_features)
x = keras.layers.Dropout(0.5)(x)
predictions = keras.layers.Dense(1, activation="sigmoid")(x)

training_model = keras.Model(inputs=encoded_features, outputs=predictions)
training_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

inference_model = keras.Model(inputs=dict_inputs, outputs=predictions)

history = training_model.fit(preprocessed_train_ds, epochs=20, validation_data=preprocessed_val_ds, verbose=0)
print({k: round(v[-1], 3) for k, v in history.history.items()})
assert history.history["val_accuracy"][-1] > 0.8, history.history["val_accuracy"]

sample = {
    "age": 60,
    "sex": 1,
    "cp": 1,
    "trestbps": 145,
    "chol": 233,
    "fbs": 1,
    "restecg": 2,
    "thalach": 150,
    "exang": 0,
    "oldpeak": 2.3,
    "slope": 3,
    "ca": 0,
    "thal": "fixed",
}

input_dict = {name: keras.ops.convert_to_tensor([value]) for name, value in sample.items()}
predictions = inference_model.predict(input_dict, verbose=0)

print(f"This particular patient had a {100 * predictions[0][0]:.2f}% probability of having a heart disease, "
      "as evaluated by our model.")
# the inference model (raw dict in, preprocessing inside) agrees with the training model on the
# FeatureSpace's eager encoding of the same sample
want = training_model.predict(feature_space({k: np.array([v]) for k, v in sample.items()}), verbose=0)
np.testing.assert_allclose(predictions, want, rtol=1e-5, atol=1e-6)
# and on a whole validation batch of raw dicts
for x, y in val_ds.take(1):
    np.testing.assert_allclose(inference_model.predict(x, verbose=0),
                               training_model.predict(feature_space(x), verbose=0), rtol=1e-5, atol=1e-6)
# one unbatched sample gives one vector
assert tuple(feature_space(sample).shape) == (expected_width,)
