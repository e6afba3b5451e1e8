"""keras.io example "Dimension-Adaptive Neural Architecture for Multivariate Sensor Data"
(examples/timeseries/dimension_adaptive_neural_architecture, Mohammad Malekzadeh; TF-Keras 2
code), imports changed (`import tensorflow as tf`, `tensorflow.keras` ..., `from
tensorflow.python.framework import tensor_shape` -> corenn): a dimension-adaptive pooling layer
whose call reads the input's size with `tf.shape` and computes its pooling regions from it (Python
`range` over a cast scalar tensor, `if A == 0` on a tensor, integer tensors divided into float
ones, `tf.math.round` / `ceil` / `maximum`, slices bounded by scalar tensors, `tf.concat` and a
`tf.reshape` to `(input_shape[0], W, H * M)`, `compute_output_shape` returning a TensorShape), on a
functional Conv2D / LSTM model of input shape (None, None, 1), and the example's dimension-adaptive
training loop: each step samples a sensor subset and a sampling rate (`tf.image.resize` of the
windows), accumulates the losses of several batches in a `tf.Variable(0.0)` under one tape, scales
the gradients, applies them with Adam, validates each (rate, sensors) combination with
`metrics.Accuracy()` called as a function, `save_weights` / `load_weights` to a checkpoint prefix
("Classifier", TF-Keras 2's format).
The UCI-HAR windows (downloaded with requests) become synthetic 128-step windows of 6 sensor
channels in 6 activity classes (each class its own per-channel levels and rhythm); sklearn's
`class_weight.compute_class_weight` becomes a NumPy stand-in with the same positional call; the
sizes are cut (64 filters -> 16, LSTM 128 -> 32, 3 epochs of batches of 32, rates 32 ... 128);
plotting is dropped."""
import numpy as np
import time

import corenn as tf
import corenn.keras as keras
from corenn.keras import regularizers
from corenn.keras.layers import *
from corenn.keras.models import Model

keras.utils.set_random_seed(1)

data_class_names = ["Walking", "Sairs-Up", "Sairs-Down", "Sitting", "Standing", "Lying"]

# the UCI-HAR download becomes synthetic windows: per class a level and a rhythm on each channel
_rng = np.random.default_rng(0)


def _windows(n):
    y = _rng.integers(0, 6, n)
    t = np.arange(128) / 50.0
    level = np.array([[0.9, -0.6, 0.3, 0.2, -0.4, 0.7], [-0.8, 0.5, 0.9, -0.3, 0.6, -0.5],
                      [0.4, 0.9, -0.7, 0.8, -0.6, 0.1], [-0.2, -0.9, 0.5, -0.8, 0.3, 0.9],
                      [0.7, 0.2, -0.9, 0.5, 0.9, -0.7], [-0.5, -0.3, -0.4, -0.6, -0.8, -0.9]])
    freq = np.array([2.0, 3.0, 1.5, 0.3, 0.2, 0.1])
    x = level[y][:, None, :] + 0.5 * np.sin(2 * np.pi * freq[y][:, None, None] * t[None, :, None]
                                            + _rng.uniform(0, 6.3, (n, 1, 6)))
    x = x + _rng.normal(0, 0.3, x.shape)
    return x.astype("float32"), np.eye(6)[y]


X_train, Y_train = _windows(400)
Y_train = Y_train.argmax(1)
X_test, Y_test = _windows(120)
Y_test = Y_test.argmax(1)

## Shufflig the training set
np.random.RandomState(seed=0).permutation(len(X_train))
indices = np.random.permutation(len(X_train))
X_train = X_train[indices]
Y_train = Y_train[indices]


class class_weight:  # sklearn.utils.class_weight, its old positional call
    @staticmethod
    def compute_class_weight(kind, classes, y):
        classes = np.asarray(list(classes))
        counts = np.array([np.sum(y == c) for c in classes])
        return len(y) / (len(classes) * counts)


## Computing the class weight for each label (in case that dataset is not balanced)
data_class_weights = class_weight.compute_class_weight(
    "balanced", range(len(data_class_names)), Y_train
)
data_class_weights = dict(
    zip(range(len(data_class_weights)), data_class_weights.round(2))
)

print(
    "- Data Shape:\n -- Training:  Data {} Labels {} \n -- Testing: Data {} Labels {}".format(
        X_train.shape, Y_train.shape, X_test.shape, Y_test.shape
    )
)
print("- Activity Weights", dict(zip(data_class_names, data_class_weights.values())))

from corenn.keras import layers
from corenn.python.framework import tensor_shape

# Parts of the code is taken from this repo: https://github.com/yhenon/keras-spp
class DimensionAdaptivePooling(layers.Layer):
    """ Dimension Adaptive Pooling layer for 2D inputs.
    # Arguments
        pool_list: a tuple (W,H)
        forRNN: binary
        operation: string
            Either `max` or `avg`.
    # Input shape
        4D tensor with shape: `(samples, w, h, M)` .
    # Output shape
        2D or 3D tensor with shape: `(samples,  W*H*M)` or `(samples,  W, H*M)`.
    """

    def __init__(
        self, pooling_parameters, forRNN=False, operation="max", name=None, **kwargs
    ):
        super(DimensionAdaptivePooling, self).__init__(name=name, **kwargs)
        self.pool_list = np.array(pooling_parameters)
        self.forRNN = forRNN
        self.W = self.pool_list[0]
        self.H = self.pool_list[1]
        self.num_outputs_per_feature_map = self.W * self.H
        if operation == "max":
            self.operation = tf.math.reduce_max
        elif operation == "avg":
            self.operation = tf.math.reduce_mean

    def build(self, input_shape):
        self.M = input_shape[3]

    def compute_output_shape(self, input_shape):
        input_shape = tensor_shape.TensorShape(input_shape).as_list()
        if self.forRNN:
            return tensor_shape.TensorShape([input_shape[0], self.W, self.H * self.M])
        else:
            return tensor_shape.TensorShape([input_shape[0], self.W * self.H * self.M])

    def get_config(self):
        config = {"dap pooling parameters": self.pool_list, "forRNN": self.forRNN}
        base_config = super(DimensionAdaptivePooling, self).get_config()
        return dict(list(base_config.items()) + list(config.items()))


class DimensionAdaptivePoolingForSensors(DimensionAdaptivePooling):
    def __init__(
        self, pooling_parameters, forRNN=False, operation="max", name=None, **kwargs
    ):
        super(DimensionAdaptivePoolingForSensors, self).__init__(
            pooling_parameters=pooling_parameters,
            forRNN=forRNN,
            operation=operation,
            name=name,
            **kwargs
        )

    def call(self, xp, mask=None):
        xp_dtype = xp.dtype
        input_shape = tf.shape(xp)
        wp = input_shape[
            1
        ]  ## This is the number of sample points in each time-window (w')
        hp = input_shape[2]  ## This is the number of sensor channels (h')

        xpp = tf.identity(xp)
        try:
            A = tf.cast(
                tf.math.maximum(tf.math.ceil((self.H - hp) / 3), 0), dtype=xp_dtype
            )
            for ia in range(tf.cast(A, tf.int32)):
                xpp = tf.concat([xpp, xp], 2)
            xpp = xpp[:, :wp, : tf.math.maximum(hp, self.H), :]
        except:
            A = tf.Variable(0, dtype=xp_dtype)
        p_w = tf.cast(wp / self.W, dtype=xp_dtype)
        p_h = tf.cast(hp / self.H, dtype=xp_dtype)
        Zp = []
        for iw in range(self.W):
            for ih in range(self.H):
                r1 = tf.cast(tf.math.round(iw * p_w), tf.int32)
                r2 = tf.cast(tf.math.round((iw + 1) * p_w), tf.int32)
                if A == 0:
                    c1 = tf.cast(tf.math.round(ih * p_h), tf.int32)
                    c2 = tf.cast(tf.math.round((ih + 1) * p_h), tf.int32)
                else:
                    c1 = tf.cast(
                        tf.math.round(ih * tf.math.floor((A + 1) * p_h)), tf.int32
                    )
                    c2 = tf.cast(
                        tf.math.round((ih + 1) * tf.math.floor((A + 1) * p_h)), tf.int32
                    )
                try:
                    Zp.append(self.operation(xpp[:, r1:r2, c1:c2, :], axis=(1, 2)))
                except:
                    Zp = []
        Zp = tf.concat(Zp, axis=-1)
        if self.forRNN:
            Zp = tf.reshape(Zp, (input_shape[0], self.W, self.H * self.M))
        else:
            Zp = tf.reshape(Zp, (input_shape[0], self.W * self.H * self.M))
        return Zp


# the example's 64 filters and LSTMs of 128 units become 16 and 32
def Classifier(inp_shape, out_shape, pool_list=(4, 6)):

    inp = Input(inp_shape)

    x = Conv2D(
        16, kernel_size=(5, 1), strides=(1, 1), padding="same", activation="relu",
    )(inp)
    x = Conv2D(
        16, kernel_size=(5, 1), strides=(1, 1), padding="same", activation="relu",
    )(x)
    x = Conv2D(
        16, kernel_size=(5, 1), strides=(1, 1), padding="same", activation="relu",
    )(x)
    x = Conv2D(
        16, kernel_size=(5, 1), strides=(1, 1), padding="same", activation="relu",
    )(x)
    #### DAP Layer
    x = DimensionAdaptivePoolingForSensors(
        pool_list, operation="max", name="DAP", forRNN=True
    )(x)

    act = LSTM(32, return_sequences=True, activation="tanh", name="lstm_1")(x)
    act = Dropout(0.5, name="dot_1")(act)
    act = LSTM(32, activation="tanh", name="lstm_2")(act)
    act = Dropout(0.5, name="dot_2")(act)
    out_act = Dense(out_shape, activation="softmax", name="act_smx")(act)

    model = keras.models.Model(inputs=inp, outputs=out_act)
    return model


dana_model = Classifier((None, None, 1), len(np.unique(Y_train)))
dana_model.summary()

EPOCH_LOG = []


def dimension_adaptive_training(
    model,
    X_train,
    Y_train,
    X_val,
    Y_val,
    data_class_weights,
    batch_size=128,
    num_epochs=128,
    save_dir=None,
    W_combinations=None,
    H_combinations=None,
    n_batch_per_train_setp=1,
):

    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    best_val_accuracy = 0.0

    for epoch in range(num_epochs):

        ## Training
        train_dataset = tf.data.Dataset.from_tensor_slices((X_train, Y_train))
        train_dataset = iter(train_dataset.shuffle(len(X_train)).batch(batch_size))
        n_iterations_per_epoch = len(X_train) // (batch_size * n_batch_per_train_setp)
        epoch_loss_avg = tf.keras.metrics.Mean()

        for i in range(n_iterations_per_epoch):
            rnd_order_H = np.random.permutation(len(H_combinations))
            rnd_order_W = np.random.permutation(len(W_combinations))
            n_samples = 0.0
            with tf.GradientTape() as tape:
                accum_loss = tf.Variable(0.0)
                for j in range(n_batch_per_train_setp):
                    try:
                        X, Y = next(train_dataset)
                    except:
                        break
                    X = X.numpy()
                    sample_weight = [data_class_weights[y] for y in Y.numpy()]

                    ### Dimension Randomization
                    ####### Random Sensor Selection
                    rnd_H = H_combinations[rnd_order_H[j % len(rnd_order_H)]]
                    X = X[:, :, rnd_H, :]
                    ####### Random Sampling Rate Selection
                    rnd_W = W_combinations[rnd_order_W[j % len(rnd_order_W)]]
                    X = tf.image.resize(X, (rnd_W, len(rnd_H)))

                    logits = model(X)
                    accum_loss = accum_loss + loss_fn(Y, logits, sample_weight)
                    n_samples = n_samples + 1.0
            gradients = tape.gradient(accum_loss, model.trainable_weights)
            gradients = [g * (1.0 / n_samples) for g in gradients]
            optimizer.apply_gradients(zip(gradients, model.trainable_weights))
            epoch_loss_avg.update_state(accum_loss * (1.0 / n_samples))

        ## Validation
        accuracy_record = np.zeros((len(W_combinations), len(H_combinations)))
        for w, W_comb in enumerate(W_combinations):
            for h, H_comb in enumerate(H_combinations):
                val_accuracy = tf.keras.metrics.Accuracy()

                X = X_val.copy()
                X = X[:, :, H_comb, :]
                X = tf.image.resize(X, (W_comb, len(H_comb)))

                logits = model(X, training=False)
                prediction = tf.argmax(logits, axis=1, output_type=tf.int32)
                val_accuracy(prediction, Y_val)
                accuracy_record[w, h] = val_accuracy.result()

        current_val_acc = accuracy_record
        if np.mean(current_val_acc) > np.mean(best_val_accuracy):
            best_val_accuracy = current_val_acc
            if save_dir:
                model.save_weights(save_dir)

        print(
            "Epoch {} -- Training Loss = {:.4f} -- Validation Mean Accuracy {:.4f}".format(
                epoch, epoch_loss_avg.result(), np.mean(current_val_acc)
            )
        )
        EPOCH_LOG.append((float(epoch_loss_avg.result()), float(np.mean(current_val_acc))))

    if save_dir:
        model.load_weights(save_dir)
    print("Best Validation Accuracy {}".format(best_val_accuracy.round(4)))
    print("Training Finished! \n------------------\n")
    return model


### These are a subset of feasible situations in both dimensions
W_combinations = list(np.arange(32, 129, 32))  # the example: np.arange(16, 129, 16)
## [Only Accelerometr, Only Gyroscope, Both Sensors]
H_combinations = [[0, 1, 2], [3, 4, 5], [0, 1, 2, 3, 4, 5]]
n_batch_per_train_setp = 5  ## This is B
X_train = np.expand_dims(X_train, 3)
X_test = np.expand_dims(X_test, 3)

dana_model = dimension_adaptive_training(
    dana_model,
    X_train[len(X_train) // 10 :],
    Y_train[len(X_train) // 10 :],
    X_train[: len(X_train) // 10],
    Y_train[: len(X_train) // 10],
    data_class_weights,
    batch_size=16,  # the example: 128
    num_epochs=12,  # the example: 64
    save_dir="Classifier",
    W_combinations=W_combinations,
    H_combinations=H_combinations,
    n_batch_per_train_setp=n_batch_per_train_setp,
)

dana_model.load_weights("Classifier")
accuracy_record = np.zeros((len(W_combinations), len(H_combinations)))
for w, W_comb in enumerate(W_combinations):
    for h, H_comb in enumerate(H_combinations):
        test_accuracy = tf.keras.metrics.Accuracy()

        X = X_test.copy()
        X = X[:, :, H_comb, :]
        X = tf.image.resize(X, (W_comb, len(H_comb)))

        logits = dana_model(X, training=False)
        prediction = tf.argmax(logits, axis=1, output_type=tf.int32)
        test_accuracy(prediction, Y_test)
        accuracy_record[w, h] = test_accuracy.result()

print("Test  Mean Accuracy {:.4f}".format(np.mean(accuracy_record)))
print("Test Accuracies {}".format((accuracy_record.round(4))))


def test_model(model, X, Y):
    test_accuracy = tf.keras.metrics.Accuracy()
    logits = model(X, training=False)
    prediction = tf.argmax(logits, axis=1, output_type=tf.int32)
    test_accuracy(prediction, Y)
    return test_accuracy.result()


# ---- checks (not in the example) -------------------------------------------------------------
dap = dana_model.get_layer("DAP")
assert tuple(dap.output.shape) == (None, 4, 6 * 16), dap.output.shape
# the DAP output has the same size for every sampling rate and sensor subset
probe = Model(dana_model.input, dap.output)
for w_len, sensors in [(32, [0, 1, 2]), (128, [0, 1, 2, 3, 4, 5]), (50, [1, 2, 3, 4])]:
    xs = tf.image.resize(X_test[:2][:, :, sensors, :], (w_len, len(sensors)))
    assert tuple(probe(xs).shape) == (2, 4, 96), (w_len, sensors)
# the pooling regions: max over rows round(i * w / 4) .. round((i + 1) * w / 4) and one column each
xs = np.asarray(tf.image.resize(X_test[:1], (64, 6)))
feats = np.asarray(Model(dana_model.input, dana_model.layers[4].output)(xs))
ref = np.stack([feats[0, 16 * i:16 * (i + 1), j, :].max(axis=0) for i in range(4) for j in range(6)])
np.testing.assert_allclose(np.asarray(probe(xs))[0].reshape(24, 16), ref, rtol=1e-6)
# training lowered the loss, and the model beats chance (1/6) on every combination on average
losses = [l for l, _ in EPOCH_LOG]
assert losses[-1] < losses[0], EPOCH_LOG
assert np.mean(accuracy_record) > 0.5, accuracy_record
assert test_model(dana_model, tf.image.resize(X_test, (128, 6)), Y_test) > 0.5
