"""keras-io examples/vision/supervised-contrastive-learning, imports changed: an encoder with a
Normalization layer adapted on the data and random augmentation, a projection head trained with
a keras.losses.Loss subclass that overrides __call__ (keras.utils.normalize, a logits matrix of
cosine similarities over a temperature, an npairs loss written with keras.ops), then a
classifier on the frozen encoder (layer.trainable = False). CIFAR-10 and ResNet50V2 are
replaced by synthetic 12x12 colour images of four classes and a small conv encoder; checks:
the loss against a NumPy computation, the encoder's weights unchanged by the classifier's
training, and accuracy well above chance."""
import numpy as np

import corenn as keras
from corenn import layers

keras.utils.set_random_seed(21)
rng = np.random.default_rng(21)

num_classes = 4
input_shape = (12, 12, 3)
colours = rng.uniform(0, 255, (num_classes, 3))


def make(n):
    y = rng.integers(0, num_classes, n)
    x = colours[y][:, None, None, :] + rng.normal(0, 60, (n, 12, 12, 3))
    for i, label in enumerate(y):   # a class's square in its own corner
        r, c = divmod(int(label), 2)
        x[i, r * 6:r * 6 + 6, c * 6:c * 6 + 6] += 80
    return np.clip(x, 0, 255).astype("float32"), y.reshape(-1, 1)


(x_train, y_train), (x_test, y_test) = make(640), make(200)
print(f"x_train shape: {x_train.shape} - y_train shape: {y_train.shape}")
print(f"x_test shape: {x_test.shape} - y_test shape: {y_test.shape}")

learning_rate = 0.003
batch_size = 64
hidden_units = 64
projection_units = 32
num_epochs = 6
dropout_rate = 0.3
temperature = 0.1

data_augmentation = keras.Sequential(
    [
        layers.Normalization(),
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.02),
    ]
)

# Setting the state of the normalization layer.
data_augmentation.layers[0].adapt(x_train)
np.testing.assert_allclose(np.asarray(data_augmentation.layers[0].mean).reshape(-1), x_train.reshape(-1, 3).astype(np.float64).mean(0),
                           rtol=1e-3)


def create_encoder():
    backbone = keras.Sequential([
        layers.Conv2D(16, 3, activation="relu"),
        layers.Conv2D(16, 3, strides=2, activation="relu"),
        layers.GlobalAveragePooling2D(),
    ], name="backbone")

    inputs = keras.Input(shape=input_shape)
    augmented = data_augmentation(inputs)
    outputs = backbone(augmented)
    model = keras.Model(inputs=inputs, outputs=outputs, name="cifar10-encoder")
    return model


encoder = create_encoder()
encoder.summary()


def create_classifier(encoder, trainable=True):
    for layer in encoder.layers:
        layer.trainable = trainable

    inputs = keras.Input(shape=input_shape)
    features = encoder(inputs)
    features = layers.Dropout(dropout_rate)(features)
    features = layers.Dense(hidden_units, activation="relu")(features)
    features = layers.Dropout(dropout_rate)(features)
    outputs = layers.Dense(num_classes, activation="softmax")(features)

    model = keras.Model(inputs=inputs, outputs=outputs, name="cifar10-classifier")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


def npairs_loss(y_true, y_pred):
    y_pred = keras.ops.cast(y_pred, "float32")
    y_true = keras.ops.expand_dims(keras.ops.cast(y_true, y_pred.dtype), -1)
    y_true = keras.ops.cast(keras.ops.equal(y_true, keras.ops.transpose(y_true)), y_pred.dtype)
    y_true /= keras.ops.sum(y_true, 1, keepdims=True)
    loss = keras.ops.categorical_crossentropy(y_true, y_pred, from_logits=True)
    return keras.ops.mean(loss)


class SupervisedContrastiveLoss(keras.losses.Loss):
    def __init__(self, temperature=1, name=None):
        super().__init__(name=name)
        self.temperature = temperature

    def __call__(self, labels, feature_vectors, sample_weight=None):
        # Normalize feature vectors
        feature_vectors_normalized = keras.utils.normalize(feature_vectors, axis=1, order=2)
        # Compute logits
        logits = keras.ops.divide(
            keras.ops.matmul(
                feature_vectors_normalized, keras.ops.transpose(feature_vectors_normalized)
            ),
            self.temperature,
        )
        return npairs_loss(keras.ops.squeeze(labels), logits)


def add_projection_head(encoder):
    inputs = keras.Input(shape=input_shape)
    features = encoder(inputs)
    outputs = layers.Dense(projection_units, activation="relu")(features)
    model = keras.Model(inputs=inputs, outputs=outputs, name="cifar-encoder_with_projection-head")
    return model


# the loss on fixed vectors, against NumPy
feats = rng.normal(size=(6, 5)).astype("float32")
labs = np.array([[0], [1], [0], [2], [1], [0]])
got = float(SupervisedContrastiveLoss(temperature)(labs, feats))
f = feats.astype(np.float64) / np.linalg.norm(feats.astype(np.float64), axis=1, keepdims=True)
logits = f @ f.T / temperature
same = (labs == labs.T).astype(np.float64)
same /= same.sum(1, keepdims=True)
logp = logits - logits.max(1, keepdims=True)
logp -= np.log(np.exp(logp).sum(1, keepdims=True))
assert abs(got - float(np.mean(-(same * logp).sum(1)))) < 1e-4 * max(1.0, abs(got)), got

encoder = create_encoder()

encoder_with_projection_head = add_projection_head(encoder)
encoder_with_projection_head.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss=SupervisedContrastiveLoss(temperature),
)

encoder_with_projection_head.summary()

history = encoder_with_projection_head.fit(
    x=x_train, y=y_train, batch_size=batch_size, epochs=num_epochs, verbose=0
)
print("contrastive loss:", np.round(history.history["loss"], 3))
assert history.history["loss"][-1] < history.history["loss"][0]

classifier = create_classifier(encoder, trainable=False)
frozen = [w.copy() for w in encoder.get_weights()]

history = classifier.fit(x=x_train, y=y_train, batch_size=batch_size, epochs=num_epochs, verbose=0)

accuracy = classifier.evaluate(x_test, y_test, verbose=0)[1]
print(f"Test accuracy: {round(accuracy * 100, 2)}%")
for a, b in zip(frozen, encoder.get_weights()):
    np.testing.assert_array_equal(a, b)
assert accuracy > 0.6, accuracy
