"""Mixture density networks, after keras.io's "Approximating non-function mappings with mixture
density networks": the inverse of a noisy sine has several y for one x, so a network trained
with MSE predicts their mean (a value that is rarely right), while an MDN head (a custom layer
with nested Dense layers for the means, the sigmas (activation 1 + elu) and the mixture logits,
joined by `layers.concatenate` inside `call`) trained on the mixture's negative log-likelihood
(`ops.split`, `ops.log_softmax`, `ops.logsumexp`) puts a component on each branch. The example's
TensorFlow Probability sampling is done here with NumPy. Only the imports changed."""
import numpy as np

from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(1)
N_SAMPLES, OUTPUT_DIM, N_MIXES = 1500, 1, 4

rng = np.random.default_rng(0)
y_data = rng.uniform(-10.5, 10.5, N_SAMPLES).astype("float32")
r_data = rng.normal(size=N_SAMPLES).astype("float32")
x_data = np.sin(0.75 * y_data) * 7.0 + y_data * 0.5 + r_data * 1.0
x_data, y_data = x_data.reshape(-1, 1), y_data.reshape(-1, 1)
x_mean, x_std = x_data.mean(), x_data.std()
xs = (x_data - x_mean) / x_std


def nnelu(x):
    """Non-negative ELU: 1 + elu(x) > 0, a valid standard deviation."""
    return ops.add(ops.ones_like(x), ops.nn.elu(x))


class MixtureDensityOutput(layers.Layer):
    def __init__(self, output_dimension, num_mixtures, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dimension
        self.num_mix = num_mixtures
        self.mdn_mus = layers.Dense(self.num_mix * self.output_dim, name="mdn_mus")
        self.mdn_sigmas = layers.Dense(self.num_mix * self.output_dim, activation=nnelu, name="mdn_sigmas")
        self.mdn_pi = layers.Dense(self.num_mix, name="mdn_pi")

    def build(self, input_shape):
        self.mdn_mus.build(input_shape)
        self.mdn_sigmas.build(input_shape)
        self.mdn_pi.build(input_shape)
        super().build(input_shape)

    @property
    def trainable_weights(self):
        return self.mdn_mus.trainable_weights + self.mdn_sigmas.trainable_weights + self.mdn_pi.trainable_weights

    def call(self, x, mask=None):
        return layers.concatenate([self.mdn_mus(x), self.mdn_sigmas(x), self.mdn_pi(x)], name="mdn_outputs")


def get_mixture_loss_func(output_dim, num_mixes):
    def mdn_loss_func(y_true, y_pred):
        y_pred = ops.reshape(y_pred, [-1, (2 * num_mixes * output_dim) + num_mixes])
        y_true = ops.reshape(y_true, [-1, output_dim])
        mu, sigma, pi_logits = ops.split(y_pred, [num_mixes * output_dim, 2 * num_mixes * output_dim], axis=-1)
        z = (y_true - mu) / sigma                      # output_dim 1: y broadcasts over the mixes
        log_comp = -0.5 * ops.square(z) - ops.log(sigma) - 0.5 * np.log(2 * np.pi)
        log_mix = ops.log_softmax(pi_logits, axis=-1) + log_comp
        return -ops.mean(ops.logsumexp(log_mix, axis=-1))
    return mdn_loss_func


mdn_network = keras.Sequential([
    layers.Dense(32, activation="relu"),
    layers.Dense(32, activation="relu"),
    MixtureDensityOutput(OUTPUT_DIM, N_MIXES),
])
mdn_network.compile(loss=get_mixture_loss_func(OUTPUT_DIM, N_MIXES), optimizer=keras.optimizers.Adam(1e-2))
hist = mdn_network.fit(xs, y_data, epochs=60, batch_size=128, verbose=0)
nll = hist.history["loss"]
print("MDN NLL", round(nll[0], 3), "->", round(nll[-1], 3))
assert nll[-1] < nll[0] - 0.5, nll
assert len(mdn_network.trainable_weights) == 4 + 6

mse_network = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
                                layers.Dense(1)])
mse_network.compile(loss="mse", optimizer=keras.optimizers.Adam(1e-2))
mse_network.fit(xs, y_data, epochs=60, batch_size=128, verbose=0)

out = np.asarray(mdn_network.predict(xs, verbose=0))
assert out.shape == (N_SAMPLES, 3 * N_MIXES)
mus, sigmas, logits = out[:, :N_MIXES], out[:, N_MIXES:2 * N_MIXES], out[:, 2 * N_MIXES:]
assert (sigmas > 0).all()
pis = np.exp(logits - logits.max(1, keepdims=True))
pis /= pis.sum(1, keepdims=True)
# sample y from the mixture, as the example does with tfp: pick a component, then a normal draw
comp = np.array([rng.choice(N_MIXES, p=p) for p in pis])
rows = np.arange(N_SAMPLES)
y_sampled = rng.normal(mus[rows, comp], sigmas[rows, comp])
# the mixture reaches the right branch: its nearest mean is far closer than the MSE model's guess
mdn_err = np.abs(mus - y_data).min(axis=1).mean()
mse_err = np.abs(np.asarray(mse_network.predict(xs, verbose=0)) - y_data).mean()
print("nearest-mean error", round(mdn_err, 3), "MSE-model error", round(mse_err, 3))
assert mdn_err < 0.5 * mse_err, (mdn_err, mse_err)
# samples spread over the branches like the data: similar standard deviation
assert abs(y_sampled.std() - y_data.std()) < 0.25 * y_data.std(), (y_sampled.std(), y_data.std())
