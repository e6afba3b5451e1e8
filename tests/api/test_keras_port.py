"""A Keras-style script runs with only its imports changed."""
import numpy as np

# from tensorflow import keras / from keras import layers, Sequential  ->
from corenn import Sequential, layers, losses, metrics, optimizers, callbacks, regularizers
import corenn as keras


def test_keras_script_runs_unchanged(capsys):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 10))                # float64, as users often pass
    y = (x[:, :2].sum(1) > 0).astype("uint8")     # binary labels, shape (n,)
    model = Sequential()
    model.add(layers.Dense(16, activation="relu", input_dim=10,
                           kernel_regularizer=regularizers.l2(1e-4)))
    model.add(layers.Dropout(0.2))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss=losses.BinaryCrossentropy(),
                  metrics=["acc"])
    model.summary()
    hist = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=1,
                     callbacks=[callbacks.EarlyStopping(monitor="val_loss", patience=3)])
    out = capsys.readouterr().out
    assert "Epoch 1/8" in out and "Total params" in out
    assert set(hist.history) >= {"loss", "acc", "val_loss", "val_acc"}
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.85
    probs = model.predict(x[:4])
    assert probs.shape == (4, 1) and np.all((probs > 0) & (probs < 1))
    assert isinstance(metrics.BinaryAccuracy(), metrics.Metric)


def test_functional_loss_and_activation_names():
    y_true = np.array([[0.0, 1.0], [1.0, 0.0]])
    y_pred = np.array([[0.2, 0.8], [0.6, 0.4]])
    ref = -(np.log(0.8) + np.log(0.6)) / 2
    # Keras 3: the function form (and get of its name) gives one loss per sample; the class
    # (and get of the class name) the batch mean
    np.testing.assert_allclose(losses.categorical_crossentropy(y_true, y_pred),
                               [-np.log(0.8), -np.log(0.6)], rtol=1e-5)
    np.testing.assert_allclose(losses.get("categorical_crossentropy")(y_true, y_pred),
                               [-np.log(0.8), -np.log(0.6)], rtol=1e-5)
    assert np.isclose(losses.get("CategoricalCrossentropy")(y_true, y_pred), ref, rtol=1e-5)
    np.testing.assert_allclose(keras.activations.relu(np.array([-1.0, 2.0])), [0.0, 2.0])


def test_tensorflow_advanced_quickstart_runs_with_import_changed():
    # TensorFlow's "advanced quickstart" loop, its imports pointed at corenn (no Conv2D: small)
    import corenn as tf
    from corenn.keras.layers import Dense, Flatten
    from corenn.keras import Model

    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.random((256, 28, 28)).astype("float32")
    y_train = (x_train[:, :14].mean((1, 2)) > x_train[:, 14:].mean((1, 2))).astype("int64")
    x_train = x_train[..., tf.newaxis]

    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.flatten = Flatten()
            self.d1 = Dense(32, activation="relu")
            self.d2 = Dense(10)

        def call(self, x):
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    model = MyModel()
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    train_loss = tf.keras.metrics.Mean(name="train_loss")
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)

    losses_by_epoch = []
    for _ in range(5):
        train_loss.reset_state()
        train_accuracy.reset_state()
        for i in range(0, len(x_train), 32):
            train_step(x_train[i:i + 32], y_train[i:i + 32])
        losses_by_epoch.append(train_loss.result())
    assert losses_by_epoch[-1] < 0.8 * losses_by_epoch[0]
    assert train_accuracy.result() > 0.7
