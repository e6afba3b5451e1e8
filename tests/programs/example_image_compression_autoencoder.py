"""keras.io example "Image Compression using Autoencoders" (vision/image_compression), imports
changed: `layers.Input(shape=(INPUT_SHAPE))` with an int shape (tf.keras accepted one), Dense /
LeakyReLU encoder and decoder models to a 2-number code, an autoencoder that calls both models
on an Input, MSE with Adam(0.0005), fit with shuffle and validation data, then
`encoder.predict` followed by `decoder.predict`, reshaped with NumPy's `newshape=`. A 3000-image
Fashion-MNIST subset (guide_data) stands in for MNIST; 8 epochs. The check: the decoder's output
is the autoencoder's prediction, and reconstructions beat the mean image."""
import numpy as np
import corenn as tf

from corenn.keras import layers
from corenn.keras.models import Model
from corenn.keras.optimizers import Adam

from guide_data import fashion

np.random.seed(42)
tf.random.set_seed(42)

(x_train_orig, y_train), (x_test_orig, y_test) = fashion(3000, 500)

x_train_orig = x_train_orig.astype("float32") / 255.0
x_test_orig = x_test_orig.astype("float32") / 255.0

# NumPy 2.4 removed reshape's `newshape=` keyword (the page passes it by name): the
# reshape keeps its positional form, the only change outside the imports
x_train = np.reshape(
    x_train_orig, (x_train_orig.shape[0], np.prod(x_train_orig.shape[1:]))
)
x_test = np.reshape(
    x_test_orig, (x_test_orig.shape[0], np.prod(x_test_orig.shape[1:]))
)

print(x_train.shape)
print(y_train.shape)
print(x_test.shape)
print(y_test.shape)

INPUT_SHAPE = 784
BATCH_SIZE = 256
EPOCHS = 8


def get_encoder_model():
    x = layers.Input(shape=(INPUT_SHAPE), name="encoder_input")

    encoder_dense_layer1 = layers.Dense(units=300, name="encoder_dense_1")(x)
    encoder_activ_layer1 = layers.LeakyReLU(name="encoder_leakyrelu_1")(
        encoder_dense_layer1
    )

    encoder_dense_layer2 = layers.Dense(units=2, name="encoder_dense_2")(
        encoder_activ_layer1
    )
    encoder_output = layers.LeakyReLU(name="encoder_output")(encoder_dense_layer2)

    encoder = Model(x, encoder_output, name="encoder_model")
    return encoder


encoder = get_encoder_model()
encoder.summary()


def get_decoder_model():
    decoder_input = layers.Input(shape=(2), name="decoder_input")

    decoder_dense_layer1 = layers.Dense(units=300, name="decoder_dense_1")(
        decoder_input
    )
    decoder_activ_layer1 = layers.LeakyReLU(name="decoder_leakyrelu_1")(
        decoder_dense_layer1
    )

    decoder_dense_layer2 = layers.Dense(units=INPUT_SHAPE, name="decoder_dense_2")(
        decoder_activ_layer1
    )
    decoder_output = layers.LeakyReLU(name="decoder_output")(decoder_dense_layer2)

    decoder = Model(decoder_input, decoder_output, name="decoder_model")
    return decoder


decoder = get_decoder_model()
decoder.summary()


def get_autoencoder_model():
    ae_input = layers.Input(shape=(INPUT_SHAPE), name="autoencoder_input")
    ae_encoder_output = encoder(ae_input)
    ae_decoder_output = decoder(ae_encoder_output)

    ae_model = Model(ae_input, ae_decoder_output, name="autoencoder")
    return ae_model


autoencoder_model = get_autoencoder_model()
autoencoder_model.summary()
assert [layer.name for layer in autoencoder_model.layers] == ["autoencoder_input", "encoder_model", "decoder_model"]

autoencoder_model.compile(loss="mse", optimizer=Adam(learning_rate=0.0005))

history = autoencoder_model.fit(
    x_train,
    x_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    shuffle=True,
    validation_data=(x_test, x_test),
    verbose=0,
)
print({k: [round(v, 4) for v in vs] for k, vs in history.history.items()})

encoded_images = encoder.predict(x_train, verbose=0)  # Representing the vectors of training images
decoded_images = decoder.predict(encoded_images, verbose=0)

decoded_images_orig = np.reshape(
    decoded_images, (decoded_images.shape[0], 28, 28)
)  # The output of the decoder is reshaped as 28x28

assert encoded_images.shape == (3000, 2) and decoded_images_orig.shape == (3000, 28, 28)
# the two halves run one after the other are the autoencoder itself (shared weights)
np.testing.assert_allclose(decoded_images, autoencoder_model.predict(x_train, verbose=0), rtol=1e-4, atol=1e-5)
mse = float(np.mean((decoded_images - x_train) ** 2))
baseline = float(np.mean((x_train.mean(0) - x_train) ** 2))
print("reconstruction MSE:", mse, "mean-image MSE:", baseline)
assert mse < 0.75 * baseline, (mse, baseline)
assert history.history["val_loss"][-1] < history.history["val_loss"][0]
