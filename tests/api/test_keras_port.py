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
    assert np.isclose(losses.categorical_crossentropy(y_true, y_pred), ref, rtol=1e-5)
    assert np.isclose(losses.get("categorical_crossentropy")(y_true, y_pred), ref, rtol=1e-5)
    np.testing.assert_allclose(keras.activations.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
