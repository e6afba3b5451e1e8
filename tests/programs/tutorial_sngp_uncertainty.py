"""TensorFlow tutorial "Uncertainty-aware Deep Learning with SNGP" (understanding/sngp), imports
changed: a DeepResNet subclassed keras.Model (a frozen input projection, residual Dense blocks with
Dropout; the tutorial makes the Dropout inside call, which Keras 3 refuses in a compiled step,
so it is made once in __init__) and its SNGP variant, whose hidden layers are wrapped in SpectralNormalization and whose
output is a random-feature Gaussian process layer with a Laplace-approximated posterior
covariance (its precision matrix accumulated over each epoch's batches, reset by a callback at
on_epoch_begin); predictions use the mean-field logits logits / sqrt(1 + pi/8 * variance). The
tutorial imports the GP layer from the TF Model Garden (official.nlp.modeling.layers); here it is
written in the program with keras.ops, and the two-moons data comes from NumPy (no sklearn).
Checks: both models fit, the GP's variance is small on the data and large far from it, and the
SNGP's predictive probability falls to about 1/2 far from the data while the plain ResNet stays
overconfident."""
import math

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import ops

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)


def make_moons(n, noise=0.1):
    t = rng.uniform(0, np.pi, n // 2)
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 1 - np.sin(t) - 0.5], 1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n // 2 * 2, 2))
    y = np.concatenate([np.zeros(n // 2), np.ones(n // 2)])
    return x.astype("float32"), y.astype("int32")


train_examples, train_labels = make_moons(400)
ood_examples = rng.normal(loc=[6.0, -6.0], scale=0.3, size=(64, 2)).astype("float32")


class DeepResNet(tf.keras.Model):
    """Defines a multi-layer residual network."""

    def __init__(self, num_classes, num_layers=3, num_hidden=128, dropout_rate=0.1, **classifier_kwargs):
        super().__init__()
        self.num_hidden = num_hidden
        self.num_layers = num_layers
        self.dropout_rate = dropout_rate
        self.classifier_kwargs = classifier_kwargs
        # Defines the hidden layers.
        self.input_layer = tf.keras.layers.Dense(self.num_hidden, trainable=False)
        self.dense_layers = [self.make_dense_layer() for _ in range(num_layers)]
        self.dropout = tf.keras.layers.Dropout(self.dropout_rate)
        # Defines the output layer.
        self.classifier = self.make_output_layer(num_classes)

    def call(self, inputs):
        # Projects the 2d input data to high dimension.
        hidden = self.input_layer(inputs)
        # Computes the ResNet hidden representations.
        for i in range(self.num_layers):
            resid = self.dense_layers[i](hidden)
            resid = self.dropout(resid)
            hidden += resid
        return self.classifier(hidden)

    def make_dense_layer(self):
        """Uses the Dense layer as the hidden layer."""
        return tf.keras.layers.Dense(self.num_hidden, activation="relu")

    def make_output_layer(self, num_classes):
        """Uses the Dense layer as the output layer."""
        return tf.keras.layers.Dense(num_classes, **self.classifier_kwargs)


class RandomFeatureGaussianProcess(tf.keras.layers.Layer):
    """The Model Garden's GP output layer: random Fourier features phi = sqrt(2/D) cos(W h + b)
    (W, b fixed), a trainable Dense head on phi, and a Laplace posterior covariance from the
    precision matrix ridge * I + sum over the epoch of phi^T phi."""

    def __init__(self, units, num_inducing=256, ridge_penalty=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.num_inducing = num_inducing
        self.ridge_penalty = ridge_penalty
        self.output_layer = tf.keras.layers.Dense(units, use_bias=False, name="gp_output_weights")

    def build(self, input_shape):
        self.random_kernel = self.add_weight(name="random_kernel", shape=(input_shape[-1], self.num_inducing),
                                             initializer=tf.keras.initializers.RandomNormal(stddev=1.0),
                                             trainable=False)
        self.random_bias = self.add_weight(name="random_bias", shape=(self.num_inducing,),
                                           initializer=tf.keras.initializers.RandomUniform(0.0, 2 * math.pi),
                                           trainable=False)
        self.precision_matrix = self.add_weight(name="gp_precision_matrix",
                                                shape=(self.num_inducing, self.num_inducing),
                                                initializer=tf.keras.initializers.Identity(self.ridge_penalty),
                                                trainable=False)
        self.output_layer.build((None, self.num_inducing))

    def reset_covariance_matrix(self):
        self.precision_matrix.assign(self.ridge_penalty * np.eye(self.num_inducing, dtype="float32"))

    def random_features(self, inputs):
        phi = ops.cos(ops.matmul(inputs, self.random_kernel) + self.random_bias)
        return phi * math.sqrt(2.0 / self.num_inducing)

    def call(self, inputs, training=None, return_covmat=False):
        phi = self.random_features(inputs)
        logits = self.output_layer(phi)
        if training:
            phi_const = ops.stop_gradient(phi)
            self.precision_matrix.assign_add(ops.matmul(ops.transpose(phi_const), phi_const))
        if not return_covmat:
            return logits
        covariance = self.ridge_penalty * ops.inv(self.precision_matrix)
        covmat = ops.matmul(ops.matmul(phi, covariance), ops.transpose(phi))
        return logits, covmat


class DeepResNetSNGP(DeepResNet):
    def __init__(self, spec_norm_bound=0.9, **kwargs):
        self.spec_norm_bound = spec_norm_bound
        super().__init__(**kwargs)

    def make_dense_layer(self):
        """Applies spectral normalization to the hidden layer."""
        dense_layer = super().make_dense_layer()
        return tf.keras.layers.SpectralNormalization(dense_layer)

    def make_output_layer(self, num_classes):
        """Uses Gaussian process as the output layer."""
        return RandomFeatureGaussianProcess(num_classes, **self.classifier_kwargs)

    def call(self, inputs, training=False, return_covmat=False):
        # Gets logits and a covariance matrix from the GP layer.
        hidden = self.input_layer(inputs)
        for i in range(self.num_layers):
            resid = self.dense_layers[i](hidden, training=training)
            resid = self.dropout(resid, training=training)
            hidden += resid
        logits, covmat = self.classifier(hidden, training=training, return_covmat=True)
        # Returns only logits during training.
        if not training and return_covmat:
            return logits, covmat
        return logits


class ResetCovarianceCallback(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        """Resets covariance matrix at the beginning of the epoch."""
        if epoch > 0:
            self.model.classifier.reset_covariance_matrix()


class DeepResNetSNGPWithCovReset(DeepResNetSNGP):
    def fit(self, *args, **kwargs):
        """Adds ResetCovarianceCallback to model callbacks."""
        kwargs["callbacks"] = list(kwargs.get("callbacks", []))
        kwargs["callbacks"].append(ResetCovarianceCallback())
        return super().fit(*args, **kwargs)


def compute_posterior_mean_probability(logits, covmat, lambda_param=np.pi / 8.0):
    # Computes uncertainty-adjusted logits using the built-in method.
    variances = tf.linalg.diag_part(covmat)[:, None]
    logits_adjusted = logits / tf.sqrt(1.0 + lambda_param * variances)
    return tf.nn.softmax(logits_adjusted, axis=-1)[:, 0]


resnet_config = dict(num_classes=2, num_layers=3, num_hidden=32)
loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
metrics = (tf.keras.metrics.SparseCategoricalAccuracy(),)
optimizer = tf.keras.optimizers.Adam(learning_rate=3e-3)
train_config = dict(loss=loss, metrics=metrics, optimizer=optimizer)
fit_config = dict(batch_size=100, epochs=25, verbose=0)

resnet_model = DeepResNet(**resnet_config)
resnet_model.compile(**train_config)
history = resnet_model.fit(train_examples, train_labels, **fit_config)
resnet_acc = history.history["sparse_categorical_accuracy"][-1]
resnet_ood = tf.nn.softmax(resnet_model(ood_examples), axis=-1).numpy().max(-1)

sngp_model = DeepResNetSNGPWithCovReset(**resnet_config)
sngp_model.compile(loss=loss, metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
                   optimizer=tf.keras.optimizers.Adam(learning_rate=3e-3))
resets = []
record = tf.keras.callbacks.LambdaCallback(    # the first batch of each epoch sees the reset precision
    on_train_batch_begin=lambda batch, logs: batch == 0 and sngp_model.classifier.built and resets.append(
        float(np.trace(np.asarray(sngp_model.classifier.precision_matrix)))))
history = sngp_model.fit(train_examples, train_labels, callbacks=[record], **fit_config)
sngp_acc = history.history["sparse_categorical_accuracy"][-1]
print("accuracy resnet", resnet_acc, "sngp", sngp_acc)
assert resnet_acc > 0.85 and sngp_acc > 0.85, (resnet_acc, sngp_acc)

# the callback reset the precision before every epoch after the first: each epoch starts from ridge * I
num_inducing = sngp_model.classifier.num_inducing
assert len(resets) >= 24      # Keras builds the GP layer in the first step
np.testing.assert_allclose(resets, num_inducing * 1.0, rtol=1e-5)
# after the last epoch it holds ridge * I + sum phi^T phi over one epoch's 400 examples
hidden = sngp_model.input_layer(train_examples)
precision = np.asarray(sngp_model.classifier.precision_matrix)
assert np.trace(precision) > num_inducing + 100

# the spectral norm of every hidden kernel is about 1 after training
for layer in sngp_model.dense_layers:
    sigma = np.linalg.svd(np.asarray(layer.layer.kernel), compute_uv=False)[0]
    assert sigma < 1.2, sigma

sngp_logits, sngp_covmat = sngp_model(train_examples, return_covmat=True)
in_var = float(np.mean(np.diag(np.asarray(sngp_covmat))))
ood_logits, ood_covmat = sngp_model(ood_examples, return_covmat=True)
ood_var = float(np.mean(np.diag(np.asarray(ood_covmat))))
print("GP variance in-domain", in_var, "out-of-domain", ood_var)
assert ood_var > 5 * in_var, (in_var, ood_var)

sngp_probs = compute_posterior_mean_probability(sngp_logits, sngp_covmat).numpy()
ood_probs = compute_posterior_mean_probability(ood_logits, ood_covmat).numpy()
sngp_conf_ood = np.maximum(ood_probs, 1 - ood_probs).mean()
print("OOD confidence resnet", resnet_ood.mean(), "sngp", sngp_conf_ood)
assert ((sngp_probs < 0.5) == (train_labels == 1)).mean() > 0.85
assert sngp_conf_ood < resnet_ood.mean(), (sngp_conf_ood, resnet_ood.mean())
