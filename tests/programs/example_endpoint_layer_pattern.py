"""keras-io examples/keras_recipes/endpoint_layer_pattern (an "endpoint" layer that computes the
loss from targets passed as model inputs), imports changed only (`import keras`, `from keras
import ops` -> corenn). Random data as in the example, but with targets a logistic function of the
inputs so that training can be checked; the inputs, targets and sample weights come in as one
dict keyed by the Input names, the model is compiled without a loss, and the trained model is
cut at the logits for inference."""
import numpy as np
from corenn import keras
from corenn.keras import ops

keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        # Compute the training-time loss value and add it
        # to the layer using `self.add_loss()`.
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)

        # Return the inference-time prediction tensor (for `.predict()`).
        return ops.sigmoid(logits)


inputs = keras.Input((64,), name="inputs")
logits = keras.layers.Dense(1)(inputs)
targets = keras.Input((1,), name="targets")
sample_weight = keras.Input((1,), name="sample_weight")
preds = LogisticEndpoint()(targets, logits, sample_weight)
model = keras.Model([inputs, targets, sample_weight], preds)

true_w = rng.normal(size=(64, 1))
x = rng.random((1000, 64)) - 0.5
data = {
    "inputs": x,
    "targets": (x @ true_w > 0).astype("float64"),
    "sample_weight": rng.random((1000, 1)),
}

model.compile(keras.optimizers.Adam(1e-2))  # No loss argument!
history = model.fit(data, epochs=8, verbose=0)
losses = history.history["loss"]
print([round(v, 4) for v in losses])
assert losses[-1] < 0.5 * losses[0], losses

# the added loss is the weighted binary cross-entropy of the logits (Keras' sum_over_batch_size:
# the weighted sum divided by the number of samples)
logit_model = keras.Model(inputs, logits)
z = logit_model.predict(data["inputs"], verbose=0).astype("float64")
y, w = data["targets"], data["sample_weight"]
bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
want = float((bce * w).sum() / len(z))
got = float(model.evaluate(data, verbose=0))
np.testing.assert_allclose(got, want, rtol=1e-3)

# predictions are the sigmoid of the logits, and they classify the samples
p = model.predict(data, verbose=0)
np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), rtol=1e-4, atol=1e-6)
assert ((p > 0.5) == (y > 0.5)).mean() > 0.9
