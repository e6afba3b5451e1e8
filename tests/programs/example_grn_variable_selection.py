"""keras-io examples/structured_data/classification_with_grn_and_vsn ("Classification with Gated
Residual and Variable Selection Networks"), imports changed: a GatedLinearUnit, a
GatedResidualNetwork (elu Dense, Dropout, GLU, residual projection, LayerNormalization) and a
VariableSelection layer called on a dict of inputs (per-feature Embedding / Dense projections,
layers.concatenate inside call, softmax selection weights, keras.ops.stack / matmul / transpose
/ squeeze), string categories encoded by StringLookup inside a tf.data map. The census data is
replaced by a synthetic table whose label depends on two of the five features; checks: the
GLU against NumPy, the selection weights sum to one, and accuracy well above the majority."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)

NUMERIC_FEATURE_NAMES = ["age", "hours_per_week", "capital_gains"]
CATEGORICAL_FEATURES_WITH_VOCABULARY = {
    "education": ["school", "college", "bachelors", "masters", "doctorate"],
    "workclass": ["private", "self", "government", "none"],
}
FEATURE_NAMES = NUMERIC_FEATURE_NAMES + list(CATEGORICAL_FEATURES_WITH_VOCABULARY.keys())
TARGET_FEATURE_NAME = "income_bracket"

n = 1600
table = {
    "age": rng.normal(0, 1, n).astype("float32"),
    "hours_per_week": rng.normal(0, 1, n).astype("float32"),
    "capital_gains": rng.normal(0, 1, n).astype("float32"),
    "education": rng.choice(CATEGORICAL_FEATURES_WITH_VOCABULARY["education"], n),
    "workclass": rng.choice(CATEGORICAL_FEATURES_WITH_VOCABULARY["workclass"], n),
}
edu_level = np.array([CATEGORICAL_FEATURES_WITH_VOCABULARY["education"].index(e) for e in table["education"]])
labels = ((table["age"] + 0.8 * (edu_level - 2) + rng.normal(0, 0.3, n)) > 0).astype("float32")
split = 1300

learning_rate = 0.01
dropout_rate = 0.15
batch_size = 128
num_epochs = 12
encoding_size = 16

lookups = {name: layers.StringLookup(vocabulary=vocab, num_oov_indices=0)
           for name, vocab in CATEGORICAL_FEATURES_WITH_VOCABULARY.items()}


def process(features, target):
    for feature_name in features:
        if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            # Cast categorical feature values to string.
            features[feature_name] = lookups[feature_name](features[feature_name])
    return features, target


def get_dataset(lo, hi, shuffle=False):
    dataset = tf.data.Dataset.from_tensor_slices(({k: v[lo:hi] for k, v in table.items()}, labels[lo:hi]))
    if shuffle:
        dataset = dataset.shuffle(2000)
    return dataset.batch(batch_size).map(process)


def create_model_inputs():
    inputs = {}
    for feature_name in FEATURE_NAMES:
        if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            # Make them int64, they are Categorical (whole units)
            inputs[feature_name] = layers.Input(name=feature_name, shape=(), dtype="int64")
        else:
            # Make them float32, they are Real numbers
            inputs[feature_name] = layers.Input(name=feature_name, shape=(), dtype="float32")
    return inputs


class GatedLinearUnit(layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.linear = layers.Dense(units)
        self.sigmoid = layers.Dense(units, activation="sigmoid")

    def call(self, inputs):
        return self.linear(inputs) * self.sigmoid(inputs)


class GatedResidualNetwork(layers.Layer):
    def __init__(self, units, dropout_rate):
        super().__init__()
        self.units = units
        self.elu_dense = layers.Dense(units, activation="elu")
        self.linear_dense = layers.Dense(units)
        self.dropout = layers.Dropout(dropout_rate)
        self.gated_linear_unit = GatedLinearUnit(units)
        self.layer_norm = layers.LayerNormalization()
        self.project = layers.Dense(units)

    def call(self, inputs):
        x = self.elu_dense(inputs)
        x = self.linear_dense(x)
        x = self.dropout(x)
        if inputs.shape[-1] != self.units:
            inputs = self.project(inputs)
        x = inputs + self.gated_linear_unit(x)
        x = self.layer_norm(x)
        return x


class VariableSelection(layers.Layer):
    def __init__(self, num_features, units, dropout_rate):
        super().__init__()
        self.units = units
        # Create an embedding layers with the specified dimensions
        self.embeddings = dict()
        for input_ in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            vocabulary = CATEGORICAL_FEATURES_WITH_VOCABULARY[input_]
            embedding_encoder = layers.Embedding(input_dim=len(vocabulary), output_dim=self.units, name=input_)
            self.embeddings[input_] = embedding_encoder

        # Projection layers for numeric features
        self.proj_layer = dict()
        for input_ in NUMERIC_FEATURE_NAMES:
            proj_layer = layers.Dense(units=self.units)
            self.proj_layer[input_] = proj_layer

        self.grns = list()
        # Create a GRN for each feature independently
        for idx in range(num_features):
            grn = GatedResidualNetwork(units, dropout_rate)
            self.grns.append(grn)
        # Create a GRN for the concatenation of all the features
        self.grn_concat = GatedResidualNetwork(units, dropout_rate)
        self.softmax = layers.Dense(units=num_features, activation="softmax")

    def call(self, inputs):
        concat_inputs = []
        for input_ in inputs:
            if input_ in CATEGORICAL_FEATURES_WITH_VOCABULARY:
                max_index = self.embeddings[input_].input_dim - 1  # Clamp the indices
                # torch had some index errors during embedding hence the clip function
                embedded_feature = self.embeddings[input_](keras.ops.clip(inputs[input_], 0, max_index))
                concat_inputs.append(embedded_feature)
            else:
                # Project the numeric feature to encoding_size using linear transformation.
                proj_feature = keras.ops.expand_dims(inputs[input_], -1)
                proj_feature = self.proj_layer[input_](proj_feature)
                concat_inputs.append(proj_feature)

        v = layers.concatenate(concat_inputs)
        v = self.grn_concat(v)
        v = keras.ops.expand_dims(self.softmax(v), axis=-1)
        x = []
        for idx, input in enumerate(concat_inputs):
            x.append(self.grns[idx](input))
        x = keras.ops.stack(x, axis=1)
        self.last_weights = v
        return keras.ops.squeeze(keras.ops.matmul(keras.ops.transpose(v, axes=[0, 2, 1]), x), axis=1)


def create_model(encoding_size):
    inputs = create_model_inputs()
    num_features = len(inputs)

    features = VariableSelection(num_features, encoding_size, dropout_rate)(inputs)
    outputs = layers.Dense(units=1, activation="sigmoid")(features)
    # Functional model
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


# the GLU on its own
glu = GatedLinearUnit(4)
xg = rng.normal(size=(3, 5)).astype("float32")
yg = keras.ops.convert_to_numpy(glu(xg))
(w1, b1), (w2, b2) = glu.linear.get_weights(), glu.sigmoid.get_weights()
np.testing.assert_allclose(yg, (xg @ w1 + b1) / (1 + np.exp(-(xg @ w2 + b2))), rtol=1e-5, atol=1e-6)

model = create_model(encoding_size)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
    loss=keras.losses.BinaryCrossentropy(),
    metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
)

# Create an early stopping callback.
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)

print("Start training the model...")
train_dataset = get_dataset(0, split, shuffle=True)
valid_dataset = get_dataset(split, n)
history = model.fit(train_dataset, epochs=num_epochs, validation_data=valid_dataset,
                    callbacks=[early_stopping], verbose=0)
print("Model training finished.")

_, accuracy = model.evaluate(valid_dataset, verbose=0)
print(f"Test accuracy: {round(accuracy * 100, 2)}%")
majority = max(labels[split:].mean(), 1 - labels[split:].mean())
assert accuracy > majority + 0.15, (accuracy, majority)
assert history.history["loss"][-1] < history.history["loss"][0]

# the selection weights of one batch: a softmax over the five features
batch, _ = next(iter(valid_dataset))
vsn = model.layers[-2]
assert isinstance(vsn, VariableSelection)
vsn(batch)
w = keras.ops.convert_to_numpy(vsn.last_weights)
assert w.shape == (128, 5, 1)
np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-5)
