"""keras.io example "Feature Engineering using Keras Functional API and Lambda layers"
(examples/structured_data/feature_engineering_with_lambda, Fernando Nieuwveldt; TF-Keras 2
code), imports changed (`import tensorflow as tf`, `from keras.utils.vis_utils import plot_model`
-> corenn): `tf.data.experimental.make_csv_dataset(label_name=, num_epochs=)` batches of a dict
of columns, a dict of `tf.keras.Input(shape=(1,), dtype=...)` with a `tf.string` column, `Lambda`
layers on a string input (`x == "fixed"` cast to float) and on tuples of inputs
(`tf.math.logical_and(x[0] > 50, x[1] == 1)`, ratios, crosses), `layers.concatenate(name=)`,
models whose outputs are their dict of inputs or a concatenation of Lambdas, BatchNormalization
and a sigmoid Dense trained with BinaryAccuracy and AUC, `plot_model` of each graph, and the
model saved with `tf.keras.models.save_model`, loaded back and evaluated (`metrics_names`).
The CSV download (`get_file`) becomes a synthetic table of the same 14 columns written to
heart.csv; `plot_model`'s bogus `input_layer_graph=` keyword is passed as written (Keras 3 and
corenn take unknown keywords) and the three PNG plots are dropped (matplotlib's text drawing
takes seconds). The example saves to "lambda_layered_model" (a TensorFlow
SavedModel directory, which Keras 3 refuses: "The filepath provided must end in `.keras`"). Keras
3 would save a `.keras` file holding the Lambdas' marshalled bytecode and load it with
`safe_mode=False`; corenn does not save a Lambda's code (by decision: loading would execute code
read from a file) and raises naming the layer, which the program checks, then saves the weights
and loads them into `clone_model(model, clone_function=...)` (a Lambda made again around its
function) for the evaluation."""
import numpy as np

import corenn as tf
from corenn.keras.utils import plot_model

# The heart-disease CSV (a download through get_file) becomes a synthetic one of the same columns,
# written here: 303 patients, the label tied to age, chest pain, heart rate, oldpeak and thal
_rng = np.random.default_rng(7)
_n = 303
_cols = {
    "age": _rng.integers(29, 78, _n),
    "sex": _rng.integers(0, 2, _n),
    "cp": _rng.integers(0, 5, _n),
    "trestbps": _rng.normal(132, 17, _n).round().astype(int),
    "chol": _rng.normal(245, 50, _n).round().astype(int),
    "fbs": _rng.integers(0, 2, _n),
    "restecg": _rng.integers(0, 3, _n),
    "thalach": _rng.normal(150, 22, _n).round().astype(int),
    "exang": _rng.integers(0, 2, _n),
    "oldpeak": np.abs(_rng.normal(1.0, 1.1, _n)).round(1),
    "slope": _rng.integers(1, 4, _n),
    "ca": _rng.integers(0, 4, _n),
    "thal": _rng.choice(np.array(["fixed", "normal", "reversible"]), _n, p=[0.1, 0.55, 0.35]),
}
_risk = (0.05 * (_cols["age"] - 55) + 1.0 * (_cols["cp"] >= 3) + 0.9 * _cols["oldpeak"]
         - 0.04 * (_cols["thalach"] - 150) + 1.8 * (_cols["thal"] == "reversible") + 0.8 * _cols["exang"] - 1.6)
_cols["target"] = (_risk + _rng.normal(0, 0.4, _n) > 0).astype(int)
heart_dir = "heart.csv"
with open(heart_dir, "w") as _f:
    _f.write(",".join(_cols) + "\n")
    for _i in range(_n):
        _f.write(",".join(str(_cols[k][_i]) for k in _cols) + "\n")

dataset = tf.data.experimental.make_csv_dataset(
    heart_dir, batch_size=64, label_name="target", num_epochs=10
)

binary_features = ["sex", "fbs", "exang"]
numeric_features = [
    "trestbps",
    "chol",
    "thalach",
    "oldpeak",
    "slope",
    "cp",
    "restecg",
    "ca",
]
categoric_features = ["thal"]

dtype_mapper = {
    "age": tf.float32,
    "sex": tf.float32,
    "cp": tf.float32,
    "trestbps": tf.float32,
    "chol": tf.float32,
    "fbs": tf.float32,
    "restecg": tf.float32,
    "thalach": tf.float32,
    "exang": tf.float32,
    "oldpeak": tf.float32,
    "slope": tf.float32,
    "ca": tf.float32,
    "thal": tf.string,
}


def create_inputs(data_type_mapper):
    """Create model inputs"""
    return {
        feature: tf.keras.Input(shape=(1,), name=feature, dtype=dtype)
        for feature, dtype in data_type_mapper.items()
    }


feature_layer_inputs = create_inputs(dtype_mapper)

input_layer_graph = tf.keras.Model(
    inputs=feature_layer_inputs, outputs=feature_layer_inputs
)
plot_model(input_layer_graph, input_layer_graph='input_layer_graph.png')


def ratio(x):
    """compute the ratio between two numeric features"""
    return x[0] / x[1]


def cross_feature(x):
    """compute the crossing of two features"""
    return tf.cast(x[0] * x[1], dtype=tf.float32)


def age_and_gender(x):
    """check if age gt 50 and if gender is male"""
    return tf.cast(tf.math.logical_and(x[0] > 50, x[1] == 1), dtype=tf.float32)


def is_fixed(x):
    """encode categoric feature if value is equal to fixed"""
    return tf.cast(x == "fixed", dtype=tf.float32)


def is_reversible(x):
    """encode categoric feature if value is equal to fixed"""
    return tf.cast(x == "reversible", dtype=tf.float32)


def is_normal(x):
    """encode categoric feature if value is equal to fixed"""
    return tf.cast(x == "normal", dtype=tf.float32)


is_fixed = tf.keras.layers.Lambda(is_fixed, name="is_fixed")(
    feature_layer_inputs["thal"]
)

is_normal = tf.keras.layers.Lambda(is_normal, name="is_normal")(
    feature_layer_inputs["thal"]
)

is_reversible = tf.keras.layers.Lambda(is_reversible, name="is_reversible")(
    feature_layer_inputs["thal"]
)

age_and_gender = tf.keras.layers.Lambda(age_and_gender, name="age_and_gender")(
    (feature_layer_inputs["age"], feature_layer_inputs["sex"])
)

trest_chol_ratio = tf.keras.layers.Lambda(ratio, name="trest_chol_ratio")(
    (feature_layer_inputs["trestbps"], feature_layer_inputs["chol"])
)

trest_cross_thalach = tf.keras.layers.Lambda(cross_feature, name="trest_cross_thalach")(
    (feature_layer_inputs["trestbps"], feature_layer_inputs["thalach"])
)

# concat all newly created features into one layer
feature_list = [
    is_fixed,
    is_normal,
    is_reversible,
    age_and_gender,
    trest_chol_ratio,
    trest_cross_thalach,
]

lambda_feature_layer = tf.keras.layers.concatenate(
    feature_list, name="lambda_feature_layer"
)

feature_graph = tf.keras.Model(
    inputs=feature_layer_inputs, outputs=lambda_feature_layer
)
# plot_model(feature_graph, to_file='lambda_feature_layer.png')  (PNG drawing dropped: seconds of matplotlib text)

numeric_feature_layer = tf.keras.layers.concatenate(
    [feature_layer_inputs[feature] for feature in numeric_features],
    name="numeric_feature_layer",
)

binary_feature_layer = tf.keras.layers.concatenate(
    [feature_layer_inputs[feature] for feature in binary_features],
    name="binary_feature_layer",
)

# Add the rest of features
feature_layer = tf.keras.layers.concatenate(
    [lambda_feature_layer, numeric_feature_layer, binary_feature_layer],
    name="feature_layer",
)

full_feature_graph = tf.keras.Model(inputs=feature_layer_inputs, outputs=feature_layer)
# plot_model(full_feature_graph, to_file='complete_feature_layer.png')  (PNG drawing dropped: seconds of matplotlib text)

# setup model, this is basically Logistic regression
x = tf.keras.layers.BatchNormalization(name="batch_norm")(feature_layer)
output = tf.keras.layers.Dense(1, activation="sigmoid", name="target")(x)
model = tf.keras.Model(inputs=feature_layer_inputs, outputs=output)
model.compile(
    loss=tf.keras.losses.BinaryCrossentropy(),
    optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
    metrics=[
        tf.keras.metrics.BinaryAccuracy(name="accuracy"),
        tf.keras.metrics.AUC(name="auc"),
    ],
)

# plot_model(model, to_file='complete_model_graph.png')  (PNG drawing dropped: seconds of matplotlib text)

history = model.fit(dataset, epochs=10, verbose=0)

# save model (corenn does not save a Lambda's Python code: the weights, then the same graph)
try:
    tf.keras.models.save_model(model, "lambda_layered_model.keras")
    raise AssertionError("corenn saved a Lambda layer's code")
except NotImplementedError as exc:
    assert "Lambda layer 'is_fixed'" in str(exc), exc
model.save_weights("lambda_layered_model.weights.h5")

# load model for inference
def clone_layer(layer):
    # a Lambda is made again around the same function (its config would hold code)
    if isinstance(layer, tf.keras.layers.Lambda):
        return tf.keras.layers.Lambda(layer.function, name=layer.name)
    return layer.__class__.from_config(layer.get_config())


loaded_model = tf.keras.models.clone_model(model, clone_function=clone_layer)
loaded_model.load_weights("lambda_layered_model.weights.h5")
loaded_model.compile(
    loss=tf.keras.losses.BinaryCrossentropy(),
    metrics=[
        tf.keras.metrics.BinaryAccuracy(name="accuracy"),
        tf.keras.metrics.AUC(name="auc"),
    ],
)

scores = dict(zip(loaded_model.metrics_names, loaded_model.evaluate(dataset, verbose=0)))
print(scores)

# ---- checks (not in the example) -------------------------------------------------------------
# make_csv_dataset: 10 epochs of the 303 rows in batches of 64, columns typed as TF infers them
batches = list(dataset)
assert sum(len(y) for _, y in batches) == 10 * 303
features, labels = batches[0]
assert set(features) == set(dtype_mapper) and features["thal"].dtype == tf.string
assert features["age"].dtype == tf.int32 and features["oldpeak"].dtype == tf.float32
# the input graph gives back its inputs; the Lambda features are computed from the raw columns
row = {k: np.array([[v]]) for k, v in [("age", 63.0), ("sex", 1.0), ("cp", 3.0), ("trestbps", 145.0),
                                         ("chol", 233.0), ("fbs", 1.0), ("restecg", 0.0), ("thalach", 150.0),
                                         ("exang", 0.0), ("oldpeak", 2.3), ("slope", 0.0), ("ca", 0.0)]}
row["thal"] = np.array([["reversible"]], dtype=object)
engineered = np.asarray(feature_graph(row))
np.testing.assert_allclose(engineered, [[0, 0, 1, 1, 145 / 233, 145 * 150]], rtol=1e-6)
echo = input_layer_graph(row)
assert set(echo) == set(dtype_mapper) and float(np.asarray(echo["chol"])[0, 0]) == 233.0
assert echo["thal"].dtype == tf.string and np.asarray(echo["thal"]).ravel()[0] == "reversible"
assert tuple(full_feature_graph.output.shape) == (None, 6 + 8 + 3)
# the logistic regression learned the synthetic rule
acc = history.history["accuracy"]
assert acc[-1] > 0.8 and history.history["loss"][-1] < history.history["loss"][0], history.history
assert scores["loss"] < 0.45, scores
# the loaded model predicts as the trained one
np.testing.assert_allclose(loaded_model.predict(row, verbose=0), model.predict(row, verbose=0), rtol=1e-5)
