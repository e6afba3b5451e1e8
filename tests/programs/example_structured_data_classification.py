"""keras-io examples/structured_data/structured_data_classification_from_scratch (heart disease),
imports changed only (`import tensorflow as tf`, `from tensorflow import keras` -> corenn). The
CSV is replaced by a synthetic table with the same kinds of columns: integer categories, a string
category and numeric columns, read as a dict of columns as pandas' `dict(dataframe)` gives it."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras.layers import IntegerLookup, Normalization, StringLookup

keras.utils.set_random_seed(3)
rng = np.random.default_rng(11)
n = 600
table = {
    "age": rng.integers(29, 78, n).astype("int64"),
    "sex": rng.integers(0, 2, n).astype("int64"),
    "cp": rng.integers(0, 5, n).astype("int64"),
    "fbs": rng.integers(0, 2, n).astype("int64"),
    "thalach": rng.normal(150, 22, n).round().astype("int64"),
    "oldpeak": np.abs(rng.normal(1.0, 1.1, n)).round(1),
    "chol": rng.normal(245, 50, n).round().astype("int64"),
    "thal": rng.choice(np.array(["fixed", "normal", "reversible"]), n),
}
risk = (0.04 * (table["age"] - 55) + 0.9 * (table["cp"] >= 3) + 0.8 * table["oldpeak"]
        - 0.03 * (table["thalach"] - 150) + 1.5 * (table["thal"] == "reversible") - 2.0)
table["target"] = (risk + rng.normal(0, 0.5, n) > 0).astype("int64")
print("target mean", table["target"].mean())

val_idx = rng.choice(n, n // 5, replace=False)
train_mask = np.ones(n, bool)
train_mask[val_idx] = False
train_dataframe = {k: v[train_mask] for k, v in table.items()}
val_dataframe = {k: v[~train_mask] for k, v in table.items()}


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
    assert set(x) == set(table) - {"target"}

train_ds = train_ds.batch(32)
val_ds = val_ds.batch(32)


def encode_numerical_feature(feature, name, dataset):
    normalizer = Normalization()
    feature_ds = dataset.map(lambda x, y: x[name])
    feature_ds = feature_ds.map(lambda x: tf.expand_dims(x, -1))
    normalizer.adapt(feature_ds)
    return normalizer(feature)


def encode_categorical_feature(feature, name, dataset, is_string):
    lookup_class = StringLookup if is_string else IntegerLookup
    lookup = lookup_class(output_mode="binary")
    feature_ds = dataset.map(lambda x, y: x[name])
    feature_ds = feature_ds.map(lambda x: tf.expand_dims(x, -1))
    lookup.adapt(feature_ds)
    return lookup(feature)


sex = keras.Input(shape=(1,), name="sex", dtype="int64")
cp = keras.Input(shape=(1,), name="cp", dtype="int64")
fbs = keras.Input(shape=(1,), name="fbs", dtype="int64")
thal = keras.Input(shape=(1,), name="thal", dtype="string")
age = keras.Input(shape=(1,), name="age")
thalach = keras.Input(shape=(1,), name="thalach")
oldpeak = keras.Input(shape=(1,), name="oldpeak")
chol = keras.Input(shape=(1,), name="chol")
all_inputs = [sex, cp, fbs, thal, age, thalach, oldpeak, chol]

sex_encoded = encode_categorical_feature(sex, "sex", train_ds, False)
cp_encoded = encode_categorical_feature(cp, "cp", train_ds, False)
fbs_encoded = encode_categorical_feature(fbs, "fbs", train_ds, False)
thal_encoded = encode_categorical_feature(thal, "thal", train_ds, True)
age_encoded = encode_numerical_feature(age, "age", train_ds)
thalach_encoded = encode_numerical_feature(thalach, "thalach", train_ds)
oldpeak_encoded = encode_numerical_feature(oldpeak, "oldpeak", train_ds)
chol_encoded = encode_numerical_feature(chol, "chol", train_ds)

all_features = layers.concatenate([sex_encoded, cp_encoded, fbs_encoded, thal_encoded,
                                   age_encoded, thalach_encoded, oldpeak_encoded, chol_encoded])
x = layers.Dense(32, activation="relu")(all_features)
x = layers.Dropout(0.5)(x)
output = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(all_inputs, output)
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
keras.utils.plot_model(model, show_shapes=True, rankdir="LR")

history = model.fit(train_ds, epochs=25, validation_data=val_ds, verbose=0)
val_acc = history.history["val_accuracy"][-1]
print("val accuracy", val_acc)
assert val_acc > 0.8, val_acc
assert history.history["loss"][-1] < history.history["loss"][0]

# Inference on new data: a dict of one-element tensors
sample = {"age": 60, "sex": 1, "cp": 4, "fbs": 0, "thalach": 120, "oldpeak": 2.5, "chol": 286,
          "thal": "reversible"}
input_dict = {name: tf.convert_to_tensor([value]) for name, value in sample.items()}
predictions = model.predict(input_dict)
print(f"This particular patient had a {100 * predictions[0][0]:.1f} percent probability "
      "of having a heart disease")
assert predictions.shape == (1, 1) and predictions[0][0] > 0.8, predictions
healthy = {"age": 35, "sex": 0, "cp": 1, "fbs": 0, "thalach": 185, "oldpeak": 0.0, "chol": 200,
           "thal": "normal"}
p_healthy = model.predict({k: tf.convert_to_tensor([v]) for k, v in healthy.items()})
assert p_healthy[0][0] < 0.2, p_healthy
