"""keras.io example "Feature Engineering using Keras Functional API and custom Feature layer"
(examples/structured_data/feature_engineering_with_custom_layer, Fernando Nieuwveldt; TF-Keras 2
code), imports changed (`import tensorflow as tf`, `from keras.utils.vis_utils import plot_model`
-> corenn): `tf.data.experimental.make_csv_dataset(label_name=, num_epochs=)`, a dict of
`tf.keras.Input(shape=(1,), dtype=...)` with a `tf.string` column, and a `FeatureLayer` (no
`get_config`) whose call takes the whole dict: comparisons of a string column with a Python
string, `tf.math.logical_and` of comparisons, ratios and products of columns, and
`tf.keras.layers.concatenate` called on the tensors inside `call`; BatchNormalization and a
sigmoid Dense trained with BinaryAccuracy and AUC, `plot_model`, and the model saved with
`tf.keras.models.save_model`, loaded back with `load_model` and evaluated (`metrics_names`).
The CSV download (`get_file`) becomes a synthetic table of the same 14 columns written to
heart.csv; the PNG plot is dropped (matplotlib's text drawing takes seconds). The example saves to
"saved_model" (a TensorFlow SavedModel directory, which Keras 3 refuses: "The filepath provided
must end in `.keras`"); the program saves to "saved_model.keras", which Keras 3 writes with the
layer's automatic config, and loads it with the layer passed in `custom_objects` (in the example
TensorFlow's SavedModel kept the traced call instead)."""
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


class FeatureLayer(tf.keras.layers.Layer):
    """Custom Layer for Feature engineering steps
    """

    def __init__(self, *args, **kwargs):
        super(FeatureLayer, self).__init__(*args, **kwargs)

    def call(self, inputs):
        age_and_gender = tf.cast(
            tf.math.logical_and(inputs["age"] > 50, inputs["sex"] == 1),
            dtype=tf.float32,
        )

        thal_fixed_category = tf.cast(inputs["thal"] == "fixed", dtype=tf.float32)
        thal_reversible_category = tf.cast(
            inputs["thal"] == "reversible", dtype=tf.float32
        )
        thal_normal_category = tf.cast(inputs["thal"] == "normal", dtype=tf.float32)

        trest_chol_ratio = inputs["trestbps"] / inputs["chol"]
        trest_cross_thalach = inputs["trestbps"] * inputs["thalach"]

        # concat all newly created features into one layer
        feature_list = [
            thal_fixed_category,
            thal_reversible_category,
            thal_normal_category,
            age_and_gender,
            trest_chol_ratio,
            trest_cross_thalach,
        ]

        engineered_feature_layer = tf.keras.layers.concatenate(feature_list)

        numeric_feature_layer = tf.keras.layers.concatenate(
            [inputs[feature] for feature in numeric_features]
        )

        binary_feature_layer = tf.keras.layers.concatenate(
            [inputs[feature] for feature in binary_features]
        )

        # Add the rest of features into final feature layer
        feature_layer = tf.keras.layers.concatenate(
            [engineered_feature_layer, numeric_feature_layer, binary_feature_layer]
        )

        return feature_layer


# setup model, this is basically Logistic regression
feature_layer = FeatureLayer(name="feature_layer")(feature_layer_inputs)
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

# plot_model(model, to_file="complete_model_graph.png")  (PNG drawing dropped)

history = model.fit(dataset, epochs=10, verbose=0)

# save model
tf.keras.models.save_model(model, "saved_model.keras")

# load model for inference
loaded_model = tf.keras.models.load_model("saved_model.keras", custom_objects={"FeatureLayer": FeatureLayer})

scores = dict(zip(loaded_model.metrics_names, loaded_model.evaluate(dataset, verbose=0)))
print(scores)

# ---- checks (not in the example) -------------------------------------------------------------
assert tuple(feature_layer.shape) == (None, 6 + 8 + 3), feature_layer.shape
row = {k: np.array([[v]]) for k, v in [("age", 63.0), ("sex", 1.0), ("cp", 3.0), ("trestbps", 145.0),
                                         ("chol", 233.0), ("fbs", 1.0), ("restecg", 0.0), ("thalach", 150.0),
                                         ("exang", 0.0), ("oldpeak", 2.3), ("slope", 0.0), ("ca", 0.0)]}
row["thal"] = np.array([["fixed"]], dtype=object)
features = np.asarray(FeatureLayer()(row))
expected = [1, 0, 0, 1, 145 / 233, 145 * 150] + [145, 233, 150, 2.3, 0, 3, 0, 0] + [1, 1, 0]
np.testing.assert_allclose(features, [expected], rtol=1e-6)
acc = history.history["accuracy"]
assert acc[-1] > 0.8 and history.history["loss"][-1] < history.history["loss"][0], history.history
# Keras 3's names before the loaded model's metrics are resolved: the first metric is kept
assert list(scores) == ["loss", "compile_metrics"] and scores["loss"] < 0.45, scores
np.testing.assert_allclose(loaded_model.predict(row, verbose=0), model.predict(row, verbose=0), rtol=1e-5)
assert isinstance(loaded_model.get_layer("feature_layer"), FeatureLayer)
