"""Keras guide "Training & evaluation with the built-in methods"
(keras.io/guides/training_with_built_in_methods), imports changed only."""
import os

import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops

from guide_data import fashion


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(4)


def _data():
    (x_train, y_train), (x_test, y_test) = fashion()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255
    y_train = y_train.astype("float32")
    y_test = y_test.astype("float32")
    x_val, y_val = x_train[-1000:], y_train[-1000:]
    return (x_train[:-1000], y_train[:-1000]), (x_val, y_val), (x_test, y_test)


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def test_fit_evaluate_predict():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _data()
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_data=(x_val, y_val),
                        verbose=0)
    assert set(history.history) >= {"loss", "sparse_categorical_accuracy", "val_loss",
                                    "val_sparse_categorical_accuracy"}
    results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    assert results[1] > 0.5, results                 # chance is 0.1
    predictions = model.predict(x_test[:3], verbose=0)
    assert predictions.shape == (3, 10)


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_custom_loss_function_and_loss_class():
    (x_train, y_train), _, _ = _data()
    y_train_one_hot = ops.one_hot(y_train, num_classes=10)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    h1 = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=2, verbose=0)
    assert h1.history["loss"][-1] < h1.history["loss"][0]

    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
    h2 = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=2, verbose=0)
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    # the loss class's value is its call's mean over the batch
    p = model.predict(x_train[:50], verbose=0)
    t = np.asarray(y_train_one_hot)[:50]
    expected = np.mean(np.mean((t - p) ** 2, -1) + 0.1 * np.mean((0.5 - p) ** 2, -1))
    np.testing.assert_allclose(float(CustomMSE()(t, p)), expected, rtol=1e-5)


def test_custom_metric_class():
    (x_train, y_train), _, _ = _data()
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[CategoricalTruePositives()])
    # labels as a column: the metric compares them with an (N, 1) column of predictions
    history = model.fit(x_train, y_train[:, None], batch_size=64, epochs=2, verbose=0)
    ctp = history.history["categorical_true_positives"]
    # a true-positive count over the epoch: more than chance, no more than the samples seen
    assert len(x_train) * 0.5 < ctp[-1] <= len(x_train), ctp
    metric = CategoricalTruePositives()
    metric.update_state(np.array([[1], [2], [3]]), np.eye(10)[[1, 2, 0]])
    assert float(metric.result()) == 2.0
    metric.reset_state()
    assert float(metric.result()) == 0.0


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs


class MetricLoggingLayer(layers.Layer):
    def call(self, inputs):
        return inputs


def test_added_losses_in_a_functional_model():
    (x_train, y_train), _, _ = _data()
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # the activity penalty pushes the regularized activations down
    feats = keras.Model(inputs, model.get_layer("dense_1").output).predict(x_train[:256], verbose=0)
    assert float(np.mean(feats)) < 0.05


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)
        return ops.softmax(logits)


def test_endpoint_layer_with_two_inputs_and_no_compiled_loss():
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    x = rng.random((256, 3)).astype("float32")
    t = (x @ rng.normal(size=(3, 10)) > 0).astype("float32")
    data = {"inputs": x, "targets": t}
    history = model.fit(data, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_validation_split_sample_weights_and_class_weights():
    (x_train, y_train), _, _ = _data()
    model = get_compiled_model()
    history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1, verbose=0)
    assert "val_loss" in history.history
    class_weight = {i: 1.0 for i in range(10)}
    class_weight[5] = 2.0
    model = get_compiled_model()
    model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)
    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0
    model = get_compiled_model()
    model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1, verbose=0)
    assert model.evaluate(x_train[:500], y_train[:500], verbose=0)[1] > 0.6


class ExamplePyDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.y = y
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch_x = self.x[idx * self.batch_size:(idx + 1) * self.batch_size]
        batch_y = self.y[idx * self.batch_size:(idx + 1) * self.batch_size]
        return batch_x, batch_y


def test_py_dataset():
    (x_train, y_train), (x_val, y_val), _ = _data()
    train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=32)
    val_py_dataset = ExamplePyDataset(x_val, y_val, batch_size=32)
    model = get_compiled_model()
    history = model.fit(train_py_dataset, validation_data=val_py_dataset, epochs=1, verbose=0)
    assert history.history["val_sparse_categorical_accuracy"][-1] > 0.6
    assert model.evaluate(val_py_dataset, verbose=0)[1] > 0.6


def test_multi_input_multi_output_model():
    image_input = keras.Input(shape=(16, 16, 3), name="img_input")
    timeseries_input = keras.Input(shape=(None, 10), name="ts_input")
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Conv1D(3, 3)(timeseries_input)
    x2 = layers.GlobalMaxPooling1D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    model = keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"score_output": keras.losses.MeanSquaredError(),
                        "class_output": keras.losses.CategoricalCrossentropy()},
                  metrics={"score_output": [keras.metrics.MeanAbsolutePercentageError(),
                                            keras.metrics.MeanAbsoluteError()],
                           "class_output": [keras.metrics.CategoricalAccuracy()]},
                  loss_weights={"score_output": 2.0, "class_output": 1.0})
    rng = np.random.default_rng(0)
    img_data = rng.random(size=(100, 16, 16, 3))
    ts_data = rng.random(size=(100, 20, 10))
    score_targets = rng.random(size=(100, 1))
    class_targets = rng.random(size=(100, 5))
    history = model.fit({"img_input": img_data, "ts_input": ts_data},
                        {"score_output": score_targets, "class_output": class_targets},
                        batch_size=32, epochs=2, verbose=0)
    assert "score_output_mean_absolute_error" in history.history, sorted(history.history)
    assert np.isfinite(history.history["loss"]).all()


def test_callbacks_checkpoints_schedules_and_tensorboard(tmp_path):
    (x_train, y_train), _, _ = _data()
    model = get_compiled_model()
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=0),
        keras.callbacks.ModelCheckpoint(filepath=str(tmp_path / "mymodel_{epoch}.keras"),
                                        save_best_only=True, monitor="val_loss", verbose=0),
        keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"), histogram_freq=0,
                                    embeddings_freq=0, update_freq="epoch"),
    ]
    model.fit(x_train, y_train, epochs=2, batch_size=64, callbacks=callbacks, validation_split=0.2,
              verbose=0)
    assert (tmp_path / "mymodel_1.keras").exists()
    assert os.listdir(tmp_path / "logs")
    reloaded = keras.models.load_model(str(tmp_path / "mymodel_1.keras"))
    assert reloaded.evaluate(x_train[:200], y_train[:200], verbose=0)[1] > 0.5

    initial_learning_rate = 0.1
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True)
    optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
    assert optimizer is not None

    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    hist = LossHistory()
    model = get_compiled_model()
    model.fit(x_train[:640], y_train[:640], batch_size=64, epochs=1, callbacks=[hist], verbose=0)
    assert len(hist.per_batch_losses) == 10


def test_tf_data_datasets_and_a_learning_rate_schedule():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _data()
    train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    train_dataset = train_dataset.shuffle(buffer_size=1024).batch(64)
    val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(64)
    test_dataset = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(64)
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=50, decay_rate=0.5,
                                                              staircase=True)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
                  loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    history = model.fit(train_dataset, epochs=2, validation_data=val_dataset, verbose=0)
    assert history.history["val_sparse_categorical_accuracy"][-1] > 0.5
    result = dict(zip(["loss", "acc"], model.evaluate(test_dataset, verbose=0)))
    assert result["acc"] > 0.5
    # the schedule has decayed: 2 epochs of 79 steps are 3 whole halvings
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3 * 0.5 ** 3, rel=1e-6)
