"""keras.io example "Using the Forward-Forward Algorithm for Image Classification", imports
changed: each FFDense layer owns its optimizer and learns locally with its own GradientTape from
the goodness (mean squared activation) of positive samples (image with its true label overlaid in
the first pixels) against negative samples (a wrong label overlaid); the FFNetwork's train_step
runs the layers one after another with stop-gradient between them, and prediction picks the label
whose overlay gives the highest total goodness. MNIST becomes small synthetic 8x8 digits. The
example's three casts to float64 are float32 here, as in its Keras 3 version (the overlay values
and label indices are exact in either)."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import ops

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)

# -- synthetic "digits": 4 classes of noisy prototypes, flattened ---------------------------------
num_classes, side = 4, 8
protos = rng.uniform(0, 1, size=(num_classes, side * side)) > 0.6
def make(n):
    y = rng.integers(0, num_classes, n)
    x = np.clip(protos[y] * 0.9 + rng.normal(0, 0.15, (n, side * side)), 0, 1).astype("float32")
    return x, y.astype("int32")
x_train, y_train = make(512)
x_test, y_test = make(128)


class FFDense(keras.layers.Layer):
    """A Dense layer trained by the forward-forward rule with its own optimizer."""

    def __init__(self, units, init_optimizer, loss_metric, num_epochs=50, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units=units, use_bias=use_bias)
        self.relu = keras.layers.ReLU()
        self.optimizer = init_optimizer()
        self.loss_metric = loss_metric
        self.threshold = 1.5
        self.num_epochs = num_epochs

    def call(self, x):
        x_norm = ops.norm(x, ord=2, axis=1, keepdims=True)
        x_norm = x_norm + 1e-4
        x_dir = x / x_norm
        res = self.dense(x_dir)
        return self.relu(res)

    def forward_forward(self, x_pos, x_neg):
        for i in range(self.num_epochs):
            with tf.GradientTape() as tape:
                g_pos = ops.mean(ops.power(self.call(x_pos), 2), 1)
                g_neg = ops.mean(ops.power(self.call(x_neg), 2), 1)
                loss = ops.log(1 + ops.exp(ops.concatenate([-g_pos + self.threshold, g_neg - self.threshold], 0)))
                mean_loss = ops.cast(ops.mean(loss), dtype="float32")
                self.loss_metric.update_state([mean_loss])
            gradients = tape.gradient(mean_loss, self.dense.trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, self.dense.trainable_weights))
        return (ops.stop_gradient(self.call(x_pos)), ops.stop_gradient(self.call(x_neg)),
                self.loss_metric.result())


class FFNetwork(keras.Model):
    def __init__(self, dims, init_layer_optimizer=lambda: keras.optimizers.Adam(learning_rate=0.03), **kwargs):
        super().__init__(**kwargs)
        self.init_layer_optimizer = init_layer_optimizer
        self.loss_var = keras.Variable(0.0, trainable=False, dtype="float32")
        self.loss_count = keras.Variable(0.0, trainable=False, dtype="float32")
        self.layer_list = [keras.Input(shape=(dims[0],))]
        for d in range(len(dims) - 1):
            self.layer_list += [FFDense(dims[d + 1], init_optimizer=self.init_layer_optimizer,
                                        loss_metric=keras.metrics.Mean())]

    def overlay_y_on_x(self, data):
        X_sample, y_sample = data
        max_sample = ops.amax(X_sample, axis=0, keepdims=True)
        max_sample = ops.cast(max_sample, dtype="float32")
        X_zeros = ops.zeros([num_classes], dtype="float32")
        X_update = ops.where(ops.arange(num_classes) == ops.cast(y_sample, "int32"),
                             ops.reshape(max_sample, ()), X_zeros)
        X_sample = ops.concatenate([ops.cast(X_update, X_sample.dtype), X_sample[num_classes:]], 0)
        return X_sample, y_sample

    def predict_one_sample(self, x):
        goodness_per_label = []
        x = ops.reshape(x, [ops.shape(x)[0] * ops.shape(x)[1]])
        for label in range(num_classes):
            h, label = self.overlay_y_on_x(data=(x, label))
            h = ops.reshape(h, [-1, ops.shape(h)[0]])
            goodness = []
            for layer_idx in range(1, len(self.layer_list)):
                layer = self.layer_list[layer_idx]
                h = layer(h)
                goodness += [ops.mean(ops.power(h, 2), 1)]
            goodness_per_label += [ops.expand_dims(ops.sum(goodness, keepdims=True), 1)]
        goodness_per_label = tf.concat(goodness_per_label, 1)
        return ops.cast(ops.argmax(goodness_per_label, 1), dtype="float32")

    def predict(self, data):
        x = data
        preds = list()
        preds = ops.vectorized_map(self.predict_one_sample, x)
        return np.asarray(preds, dtype=int)

    def train_step(self, data):
        x, y = data
        x = ops.reshape(x, [-1, ops.shape(x)[1] * ops.shape(x)[2]])
        x_pos, y = ops.vectorized_map(self.overlay_y_on_x, (x, y))
        random_y = tf.random.shuffle(y)
        x_neg, y = tf.map_fn(self.overlay_y_on_x, (x, random_y))
        h_pos, h_neg = x_pos, x_neg
        for idx, layer in enumerate(self.layers):
            if isinstance(layer, FFDense):
                h_pos, h_neg, loss = layer.forward_forward(h_pos, h_neg)
                self.loss_var.assign_add(loss)
                self.loss_count.assign_add(1.0)
            else:
                h_pos = layer(h_pos)
        mean_res = ops.divide(self.loss_var, self.loss_count)
        return {"FinalLoss": mean_res}


x_train_img = x_train.reshape(-1, side, side)
train_dataset = tf.data.Dataset.from_tensor_slices((x_train_img, y_train)).batch(len(x_train))
model = FFNetwork(dims=[side * side, 64, 64], init_layer_optimizer=lambda: keras.optimizers.Adam(0.03))
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.03), run_eagerly=True)
history = model.fit(train_dataset, epochs=6, verbose=0)
final_loss = history.history["FinalLoss"]
print("FinalLoss", final_loss[0], "->", final_loss[-1])
assert final_loss[-1] < final_loss[0], final_loss

preds = model.predict(ops.convert_to_tensor(x_test.reshape(-1, side, side)))
preds = preds.reshape((preds.shape[0], preds.shape[1])) if preds.ndim > 1 else preds
accuracy = float((preds.reshape(-1) == y_test).mean())
print("test accuracy", accuracy)
assert accuracy > 0.8, accuracy
