"""keras.io example "Probabilistic Bayesian Neural Networks" (Khalid Salama), without
TensorFlow Probability: the variational Dense layer is written by hand (mean-field Gaussian
posterior, standard-normal prior, reparameterization trick, the KL term added with add_loss), and
the probabilistic head outputs a mean and a softplus scale whose Gaussian negative log-likelihood
is the loss. Imports changed only; the wine-quality CSV is replaced by a synthetic regression
set with input-dependent noise."""
import numpy as np

from corenn import keras
from corenn.keras import layers
import corenn as tf

keras.utils.set_random_seed(7)

FEATURE_NAMES = ["fixed_acidity", "volatile_acidity", "citric_acid", "residual_sugar",
                 "chlorides", "free_sulfur_dioxide", "total_sulfur_dioxide", "density",
                 "pH", "sulphates", "alcohol"]
rng = np.random.default_rng(0)
dataset_size = 1200
X = rng.normal(size=(dataset_size, len(FEATURE_NAMES))).astype("float32")
true_w = rng.normal(size=(len(FEATURE_NAMES),)).astype("float32")
noise_scale = 0.3 + 0.4 * (X[:, 10] > 0)            # heteroscedastic: noisier when "alcohol" > 0
y = (X @ true_w * 0.5 + 6.0 + noise_scale * rng.normal(size=dataset_size)).astype("float32")


def get_train_and_test_splits(train_size, batch_size=1):
    features = {name: X[:, i:i + 1] for i, name in enumerate(FEATURE_NAMES)}
    dataset = tf.data.Dataset.from_tensor_slices((features, y)).cache()
    train_dataset = dataset.take(train_size).shuffle(buffer_size=train_size).batch(batch_size)
    test_dataset = dataset.skip(train_size).batch(batch_size)
    return train_dataset, test_dataset


hidden_units = [8, 8]
learning_rate = 0.01


def run_experiment(model, loss, train_dataset, test_dataset, num_epochs):
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate), loss=loss,
                  metrics=[keras.metrics.RootMeanSquaredError()])
    print("Start training the model...")
    history = model.fit(train_dataset, epochs=num_epochs, validation_data=test_dataset, verbose=0)
    print("Model training finished.")
    _, rmse = model.evaluate(train_dataset, verbose=0)
    print(f"Train RMSE: {round(rmse, 3)}")
    print("Evaluating model performance...")
    _, rmse = model.evaluate(test_dataset, verbose=0)
    print(f"Test RMSE: {round(rmse, 3)}")
    return history, rmse


def create_model_inputs():
    inputs = {}
    for feature_name in FEATURE_NAMES:
        inputs[feature_name] = layers.Input(name=feature_name, shape=(1,), dtype="float32")
    return inputs


# -- Experiment 1: standard neural network --------------------------------------------------------
def create_baseline_model():
    inputs = create_model_inputs()
    input_values = [value for _, value in sorted(inputs.items())]
    features = keras.layers.concatenate(input_values)
    features = layers.BatchNormalization()(features)
    for units in hidden_units:
        features = layers.Dense(units, activation="sigmoid")(features)
    outputs = layers.Dense(units=1)(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


train_size = int(dataset_size * 0.85)
batch_size = 64
train_dataset, test_dataset = get_train_and_test_splits(train_size, batch_size)
mse_loss = keras.losses.MeanSquaredError()
baseline_model = create_baseline_model()
_, baseline_rmse = run_experiment(baseline_model, mse_loss, train_dataset, test_dataset, 30)
assert baseline_rmse < float(np.std(y)), (baseline_rmse, np.std(y))

sample = 10
examples, targets = list(test_dataset.unbatch().shuffle(batch_size * 10).batch(sample))[0]
predicted = baseline_model(examples).numpy()
assert predicted.shape == (sample, 1)


# -- Experiment 2: Bayesian neural network (BNN), variational layers by hand ----------------------
class DenseVariational(layers.Layer):
    """Mean-field Gaussian posterior over the kernel and bias, N(0, 1) prior; the KL divergence
    (closed form), scaled by 1 / train_size as tfp's kl_weight, goes to add_loss."""

    def __init__(self, units, kl_weight, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kl_weight = kl_weight
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        n_in = input_shape[-1]
        self.kernel_mu = self.add_weight(name="kernel_mu", shape=(n_in, self.units),
                                         initializer="glorot_uniform")
        self.kernel_rho = self.add_weight(name="kernel_rho", shape=(n_in, self.units),
                                          initializer=keras.initializers.Constant(-3.0))
        self.bias_mu = self.add_weight(name="bias_mu", shape=(self.units,), initializer="zeros")
        self.bias_rho = self.add_weight(name="bias_rho", shape=(self.units,),
                                        initializer=keras.initializers.Constant(-3.0))
        self.seed_generator = keras.random.SeedGenerator(1337)

    def kl(self, mu, sigma):
        return keras.ops.sum(0.5 * (keras.ops.square(sigma) + keras.ops.square(mu) - 1.0)
                             - keras.ops.log(sigma))

    def call(self, inputs):
        kernel_sigma = keras.ops.softplus(self.kernel_rho)
        bias_sigma = keras.ops.softplus(self.bias_rho)
        kernel = self.kernel_mu + kernel_sigma * keras.random.normal(
            keras.ops.shape(self.kernel_mu), seed=self.seed_generator)
        bias = self.bias_mu + bias_sigma * keras.random.normal(
            keras.ops.shape(self.bias_mu), seed=self.seed_generator)
        self.add_loss(self.kl_weight * (self.kl(self.kernel_mu, kernel_sigma)
                                        + self.kl(self.bias_mu, bias_sigma)))
        return self.activation(keras.ops.matmul(inputs, kernel) + bias)


def create_bnn_model(train_size):
    inputs = create_model_inputs()
    features = keras.layers.concatenate(list(inputs.values()))
    features = layers.BatchNormalization()(features)
    for units in hidden_units:
        features = DenseVariational(units=units, kl_weight=1 / train_size,
                                    activation="sigmoid")(features)
    outputs = layers.Dense(units=1)(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


bnn_model = create_bnn_model(train_size)
_, bnn_rmse = run_experiment(bnn_model, mse_loss, train_dataset, test_dataset, 40)
assert bnn_rmse < float(np.std(y)), (bnn_rmse, np.std(y))
assert len(bnn_model.losses) == 2                   # one KL term per variational layer
assert all(float(l) > 0 for l in bnn_model.losses)


def compute_predictions(model, iterations=20):
    predicted = []
    for _ in range(iterations):
        predicted.append(model(examples).numpy())
    predicted = np.concatenate(predicted, axis=1)
    prediction_mean = np.mean(predicted, axis=1).tolist()
    prediction_min = np.min(predicted, axis=1).tolist()
    prediction_max = np.max(predicted, axis=1).tolist()
    prediction_range = (np.max(predicted, axis=1) - np.min(predicted, axis=1)).tolist()
    for idx in range(sample):
        print(f"Predictions mean: {round(prediction_mean[idx], 2)}, "
              f"min: {round(prediction_min[idx], 2)}, "
              f"max: {round(prediction_max[idx], 2)}, "
              f"range: {round(prediction_range[idx], 2)} - "
              f"Actual: {targets[idx]}")
    return np.asarray(prediction_range)


ranges = compute_predictions(bnn_model)
assert np.all(ranges > 0), "a Bayesian layer samples new weights on every call"


# -- Experiment 3: probabilistic Bayesian neural network ------------------------------------------
class IndependentNormal(layers.Layer):
    """The distribution head: the first unit is the mean, the softplus of the second the scale."""

    def call(self, inputs):
        loc = inputs[..., :1]
        scale = 1e-3 + keras.ops.softplus(inputs[..., 1:])
        return keras.ops.concatenate([loc, scale], axis=-1)


def create_probablistic_bnn_model(train_size):
    inputs = create_model_inputs()
    features = keras.layers.concatenate(list(inputs.values()))
    features = layers.BatchNormalization()(features)
    for units in hidden_units:
        features = DenseVariational(units=units, kl_weight=1 / train_size,
                                    activation="sigmoid")(features)
    distribution_params = layers.Dense(units=2)(features)
    outputs = IndependentNormal()(distribution_params)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def negative_loglikelihood(targets, estimated_distribution):
    loc = estimated_distribution[:, :1]
    scale = estimated_distribution[:, 1:]
    targets = keras.ops.reshape(targets, (-1, 1))
    return keras.ops.mean(keras.ops.log(scale) + 0.5 * keras.ops.square((targets - loc) / scale)
                          + 0.5 * np.log(2 * np.pi))


prob_bnn_model = create_probablistic_bnn_model(train_size)
prob_bnn_model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                       loss=negative_loglikelihood)
history = prob_bnn_model.fit(train_dataset, epochs=60, validation_data=test_dataset, verbose=0)
nll = history.history["loss"]
print("NLL first/last:", nll[0], nll[-1])
assert nll[-1] < nll[0] - 0.5, nll

prediction_distribution = prob_bnn_model(examples).numpy()
prediction_mean = prediction_distribution[:, 0].round(2)
prediction_stdv = prediction_distribution[:, 1].round(2)
upper = (prediction_mean + (1.96 * prediction_stdv)).tolist()
lower = (prediction_mean - (1.96 * prediction_stdv)).tolist()
for idx in range(sample):
    print(f"Prediction mean: {round(prediction_mean[idx], 2)}, "
          f"stddev: {round(prediction_stdv[idx], 2)}, "
          f"95% CI: [{round(upper[idx], 2)} - {round(lower[idx], 2)}]"
          f" - Actual: {targets[idx]}")
assert np.all(prediction_stdv > 0)

# the learned scale follows the noise: larger where "alcohol" > 0 (averaged over the test set)
test_x = X[train_size:]
test_features = {name: test_x[:, i:i + 1] for i, name in enumerate(FEATURE_NAMES)}
scales = np.mean([prob_bnn_model.predict(test_features, verbose=0)[:, 1] for _ in range(5)], axis=0)
hi, lo = scales[test_x[:, 10] > 0].mean(), scales[test_x[:, 10] <= 0].mean()
print("predicted scale, noisy half vs quiet half:", hi, lo)
assert hi > lo, (hi, lo)
