"""keras-io examples/vision/siamese_contrastive (image similarity with a Siamese network and a
contrastive loss), imports changed only (`import keras`, `from keras import ops` -> corenn).
MNIST is replaced by synthetic 28x28 "digits"; pairs, the shared tower, the Lambda euclidean
distance and the contrastive loss are the example's."""
import random

import numpy as np
import corenn as keras
from corenn.keras import ops

keras.utils.set_random_seed(6)
random.seed(6)
epochs = 3
batch_size = 16
margin = 1

rng = np.random.default_rng(3)
templates = (rng.uniform(0, 1, (10, 28, 28)) > 0.75).astype("float32")


def digits(n):
    y = rng.integers(0, 10, n)
    x = np.clip(templates[y] * 200 + rng.normal(40, 40, (n, 28, 28)), 0, 255).astype("uint8")
    return x, y


(x_train_val, y_train_val), (x_test, y_test) = digits(450), digits(150)
x_train_val = x_train_val.astype("float32")
x_test = x_test.astype("float32")
x_train, x_val = x_train_val[:350], x_train_val[350:]
y_train, y_val = y_train_val[:350], y_train_val[350:]
del x_train_val, y_train_val


def make_pairs(x, y):
    """Each sample paired with one of the same class (label 0) and one of another (label 1)."""
    num_classes = max(y) + 1
    digit_indices = [np.where(y == i)[0] for i in range(num_classes)]
    pairs = []
    labels = []
    for idx1 in range(len(x)):
        x1 = x[idx1]
        label1 = y[idx1]
        idx2 = random.choice(digit_indices[label1])
        x2 = x[idx2]
        pairs += [[x1, x2]]
        labels += [0]
        label2 = random.randint(0, num_classes - 1)
        while label2 == label1:
            label2 = random.randint(0, num_classes - 1)
        idx2 = random.choice(digit_indices[label2])
        x2 = x[idx2]
        pairs += [[x1, x2]]
        labels += [1]
    return np.array(pairs), np.array(labels).astype("float32")


pairs_train, labels_train = make_pairs(x_train, y_train)
pairs_val, labels_val = make_pairs(x_val, y_val)
pairs_test, labels_test = make_pairs(x_test, y_test)
x_train_1 = pairs_train[:, 0]
x_train_2 = pairs_train[:, 1]
x_val_1 = pairs_val[:, 0]
x_val_2 = pairs_val[:, 1]
x_test_1 = pairs_test[:, 0]
x_test_2 = pairs_test[:, 1]
print(pairs_train.shape, labels_train.shape)


def euclidean_distance(vects):
    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))


input = keras.layers.Input((28, 28, 1))
x = keras.layers.BatchNormalization()(input)
x = keras.layers.Conv2D(4, (5, 5), activation="tanh")(x)
x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)
x = keras.layers.Conv2D(16, (5, 5), activation="tanh")(x)
x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)
x = keras.layers.Flatten()(x)
x = keras.layers.BatchNormalization()(x)
x = keras.layers.Dense(10, activation="tanh")(x)
embedding_network = keras.Model(input, x)

input_1 = keras.layers.Input((28, 28, 1))
input_2 = keras.layers.Input((28, 28, 1))
# the same network on both inputs: the towers share their weights
tower_1 = embedding_network(input_1)
tower_2 = embedding_network(input_2)
merge_layer = keras.layers.Lambda(euclidean_distance, output_shape=(1,))([tower_1, tower_2])
normal_layer = keras.layers.BatchNormalization()(merge_layer)
output_layer = keras.layers.Dense(1, activation="sigmoid")(normal_layer)
siamese = keras.Model(inputs=[input_1, input_2], outputs=output_layer)


def loss(margin=1):
    def contrastive_loss(y_true, y_pred):
        square_pred = ops.square(y_pred)
        margin_square = ops.square(ops.maximum(margin - (y_pred), 0))
        return ops.mean((1 - y_true) * square_pred + (y_true) * margin_square)

    return contrastive_loss


siamese.compile(loss=loss(margin=margin), optimizer="RMSprop", metrics=["accuracy"])
siamese.summary()
history = siamese.fit(
    [x_train_1, x_train_2], labels_train,
    validation_data=([x_val_1, x_val_2], labels_val),
    batch_size=batch_size, epochs=epochs, verbose=0,
)
print({k: [round(v, 3) for v in vs] for k, vs in history.history.items()})
results = siamese.evaluate([x_test_1, x_test_2], labels_test, verbose=0)
print("test loss, test acc:", results)
assert history.history["loss"][-1] < history.history["loss"][0]
assert results[1] > 0.8, results          # pairs are half same-class, half different
# one weight set serves both towers
assert len(siamese.trainable_weights) == len(embedding_network.trainable_weights) + 4
predictions = siamese.predict([x_test_1, x_test_2])
assert predictions.shape == (len(labels_test), 1)
# a pair of identical images is predicted "same" (label 0)
same = siamese.predict([x_test_1[:20], x_test_1[:20]])
assert np.mean(same < 0.5) >= 0.9, same.ravel()
