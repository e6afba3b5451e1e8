"""Keras guide "The Functional API" (keras.io/guides/functional_api), as a Keras user writes it,
with only the imports changed. Fashion-MNIST subsets instead of MNIST / CIFAR-10."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops

from guide_data import fashion


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1)


def test_mlp_trains_saves_and_reloads(tmp_path):
    inputs = keras.Input(shape=(784,))
    assert inputs.shape == (None, 784)
    assert inputs.dtype == "float32"
    dense = layers.Dense(64, activation="relu")
    x = dense(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.summary()
    keras.utils.plot_model(model, str(tmp_path / "my_first_model.png"))
    keras.utils.plot_model(model, str(tmp_path / "my_first_model_with_shape_info.png"), show_shapes=True)
    assert (tmp_path / "my_first_model_with_shape_info.png").stat().st_size > 0

    (x_train, y_train), (x_test, y_test) = fashion()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert test_scores[1] > 0.7, test_scores             # chance is 0.1

    model.save(str(tmp_path / "my_model.keras"))
    reloaded = keras.models.load_model(str(tmp_path / "my_model.keras"))
    np.testing.assert_allclose(reloaded.predict(x_test[:32], verbose=0),
                               model.predict(x_test[:32], verbose=0), rtol=1e-6, atol=1e-6)


def _encoder_decoder():
    encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")

    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    x = layers.Reshape((4, 4, 1))(decoder_input)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    decoder = keras.Model(decoder_input, decoder_output, name="decoder")
    return encoder, decoder


def test_models_are_callable_like_layers():
    encoder, decoder = _encoder_decoder()
    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    encoded_img = encoder(autoencoder_input)
    decoded_img = decoder(encoded_img)
    autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
    autoencoder.summary()
    assert autoencoder.output_shape == (None, 28, 28, 1)

    (x_train, _), _ = fashion()
    x = x_train[:512, :, :, None].astype("float32") / 255
    autoencoder.compile(optimizer="adam", loss="mse")
    before = autoencoder.evaluate(x, x, verbose=0)
    autoencoder.fit(x, x, epochs=2, batch_size=64, verbose=0)
    assert autoencoder.evaluate(x, x, verbose=0) < before
    # the inner models share their weights with the autoencoder
    code = encoder.predict(x[:8], verbose=0)
    np.testing.assert_allclose(decoder.predict(code, verbose=0), autoencoder.predict(x[:8], verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_ensemble_of_models_averages_them():
    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1)(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    y1, y2, y3 = model1(inputs), model2(inputs), model3(inputs)
    outputs = layers.average([y1, y2, y3])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    x = np.random.default_rng(0).normal(size=(16, 128)).astype("float32")
    expected = np.mean([m.predict(x, verbose=0) for m in (model1, model2, model3)], axis=0)
    np.testing.assert_allclose(ensemble_model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_multiple_inputs_and_outputs():
    num_tags, num_words, num_departments = 12, 1000, 4
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 16)(title_input)
    body_features = layers.Embedding(num_words, 16)(body_input)
    title_features = layers.LSTM(32)(title_features)
    body_features = layers.LSTM(8)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input],
                        outputs=[priority_pred, department_pred])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                        "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2})

    rng = np.random.default_rng(0)
    title_data = rng.integers(num_words, size=(640, 10))
    body_data = rng.integers(num_words, size=(640, 20))
    tags_data = rng.integers(2, size=(640, num_tags)).astype("float32")
    priority_targets = tags_data[:, :1]                       # learnable from the tags input
    dept_targets = keras.utils.to_categorical(tags_data[:, 1:3] @ np.array([1, 2]), num_departments)
    history = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                        {"priority": priority_targets, "department": dept_targets},
                        epochs=8, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.85 * history.history["loss"][0], history.history["loss"]


def test_toy_resnet():
    inputs = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(32, 3, activation="relu")(block_2_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")

    (x_train, y_train), _ = fashion()
    x_train = x_train[:2000, :, :, None].astype("float32") / 255.0
    y_train = keras.utils.to_categorical(y_train[:2000], 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
    assert history.history["val_acc"][-1] > 0.25, history.history     # chance is 0.1


def test_shared_layers_and_feature_extraction():
    shared_embedding = layers.Embedding(1000, 16)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    both = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])
    a = np.array([[1, 2, 3]])
    out_a, out_b = both.predict([a, a], verbose=0)
    np.testing.assert_array_equal(out_a, out_b)

    inputs = keras.Input(shape=(8,))
    h = layers.Dense(4, activation="relu")(inputs)
    outputs = layers.Dense(2)(h)
    base = keras.Model(inputs, outputs)
    features_list = [layer.output for layer in base.layers]
    feat_extraction_model = keras.Model(inputs=base.input, outputs=features_list)
    img = np.random.default_rng(0).random((3, 8)).astype("float32")
    extracted_features = feat_extraction_model(img)
    assert len(extracted_features) == 3
    np.testing.assert_allclose(extracted_features[-1].numpy(), base(img).numpy(), rtol=1e-6)


class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return tf.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


def test_custom_layer_config_round_trip():
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    new_model.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    np.testing.assert_allclose(new_model.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_mix_and_match_custom_rnn_with_a_functional_model():
    units, timesteps, input_dim, batch_size = 8, 6, 5, 16
    inputs = keras.Input((None, units))
    x = layers.GlobalAveragePooling1D()(inputs)
    outputs = layers.Dense(1)(x)
    classifier = keras.Model(inputs, outputs)

    class CustomRNN(layers.Layer):
        def __init__(self):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = classifier

        def call(self, inputs):
            outputs = []
            state = tf.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            features = tf.stack(outputs, axis=1)
            return self.classifier(features)

    rnn_model = CustomRNN()
    out = rnn_model(tf.zeros((1, timesteps, input_dim)))
    assert tuple(out.shape) == (1, 1)

    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Conv1D(units, 3)(inputs)
    outputs = CustomRNN()(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    data = rng.normal(size=(batch_size, timesteps, input_dim)).astype("float32")
    target = data.mean(axis=(1, 2))[:, None]
    model.compile("adam", "mse")
    before = model.evaluate(data, target, batch_size=batch_size, verbose=0)
    model.fit(data, target, batch_size=batch_size, epochs=20, verbose=0)
    assert model.evaluate(data, target, batch_size=batch_size, verbose=0) < before
