"""keras.io example "Classification using Attention-based Deep Multiple Instance Learning (MIL)",
imports changed: bags of BAG_SIZE images are BAG_SIZE model inputs through shared Dense towers; a
`MILAttentionLayer` written with `add_weight` (regularized, gated) takes the list of embeddings and
returns a *list* of attention weights (`ops.stack`, `ops.softmax(axis=0)`, `alpha[i]`), each
multiplied into its embedding; class weights, `ModelCheckpoint(save_best_only,
save_weights_only)` to a `.weights.h5` file, `EarlyStopping`, then an intermediate model on
`model.get_layer("alpha").output`. MNIST is Fashion-MNIST here (positive class: trousers), cut down."""
import numpy as np

import corenn as keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(7)
np.random.seed(7)

POSITIVE_CLASS = 1
BAG_COUNT = 300
VAL_BAG_COUNT = 100
BAG_SIZE = 3
ENSEMBLE_AVG_COUNT = 1

(x_train, y_train), (x_val, y_val) = keras.datasets.fashion_mnist.load_data()
x_train, y_train = x_train[:3000], y_train[:3000]
x_val, y_val = x_val[:1000], y_val[:1000]


def create_bags(input_data, input_labels, positive_class, bag_count, instance_count):
    bags = []
    bag_labels = []
    input_data = np.divide(input_data, 255.0)
    count = 0
    for _ in range(bag_count):
        index = np.random.choice(input_data.shape[0], instance_count, replace=False)
        instances_data = input_data[index]
        instances_labels = input_labels[index]
        bag_label = 0
        if positive_class in instances_labels:
            bag_label = 1
            count += 1
        bags.append(instances_data)
        bag_labels.append(np.array([bag_label]))
    print(f"Positive bags: {count}")
    print(f"Negative bags: {bag_count - count}")
    return (list(np.swapaxes(bags, 0, 1)), np.array(bag_labels))


train_data, train_labels = create_bags(x_train, y_train, POSITIVE_CLASS, BAG_COUNT, BAG_SIZE)
val_data, val_labels = create_bags(x_val, y_val, POSITIVE_CLASS, VAL_BAG_COUNT, BAG_SIZE)


class MILAttentionLayer(layers.Layer):
    """Implementation of the attention-based Deep MIL layer."""

    def __init__(self, weight_params_dim, kernel_initializer="glorot_uniform", kernel_regularizer=None,
                 use_gated=False, **kwargs):
        super().__init__(**kwargs)
        self.weight_params_dim = weight_params_dim
        self.use_gated = use_gated
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.v_init = self.kernel_initializer
        self.w_init = self.kernel_initializer
        self.u_init = self.kernel_initializer
        self.v_regularizer = self.kernel_regularizer
        self.w_regularizer = self.kernel_regularizer
        self.u_regularizer = self.kernel_regularizer

    def build(self, input_shape):
        # Input shape: list of 2D tensors with shape (batch_size, input_dim).
        input_dim = input_shape[0][1]
        self.v_weight_params = self.add_weight(shape=(input_dim, self.weight_params_dim), initializer=self.v_init,
                                               name="v", regularizer=self.v_regularizer, trainable=True)
        self.w_weight_params = self.add_weight(shape=(self.weight_params_dim, 1), initializer=self.w_init,
                                               name="w", regularizer=self.w_regularizer, trainable=True)
        if self.use_gated:
            self.u_weight_params = self.add_weight(shape=(input_dim, self.weight_params_dim), initializer=self.u_init,
                                                   name="u", regularizer=self.u_regularizer, trainable=True)
        else:
            self.u_weight_params = None
        self.input_built = True

    def call(self, inputs):
        # Assigning variables from the number of inputs.
        instances = [self.compute_attention_scores(instance) for instance in inputs]
        # Stack instances into a single tensor.
        instances = ops.stack(instances)
        # Apply softmax over instances such that the output summation is equal to 1.
        alpha = ops.softmax(instances, axis=0)
        # Split to recreate the same array of tensors we had as inputs.
        return [alpha[i] for i in range(alpha.shape[0])]

    def compute_attention_scores(self, instance):
        # Reserve in-case "gated mechanism" used.
        original_instance = instance
        # tanh(v*h_k^T)
        instance = ops.tanh(ops.tensordot(instance, self.v_weight_params, axes=1))
        # for learning non-linear relations efficiently.
        if self.use_gated:
            instance = instance * ops.sigmoid(ops.tensordot(original_instance, self.u_weight_params, axes=1))
        # w^T*(tanh(v*h_k^T)) / w^T*(tanh(v*h_k^T)*sigmoid(u*h_k^T))
        return ops.tensordot(instance, self.w_weight_params, axes=1)


def create_model(instance_shape):
    # Extract features from inputs.
    inputs, embeddings = [], []
    shared_dense_layer_1 = layers.Dense(64, activation="relu")
    shared_dense_layer_2 = layers.Dense(32, activation="relu")
    for _ in range(BAG_SIZE):
        inp = layers.Input(instance_shape)
        flatten = layers.Flatten()(inp)
        dense_1 = shared_dense_layer_1(flatten)
        dense_2 = shared_dense_layer_2(dense_1)
        inputs.append(inp)
        embeddings.append(dense_2)

    # Invoke the attention layer.
    alpha = MILAttentionLayer(weight_params_dim=64, kernel_regularizer=keras.regularizers.L2(0.01),
                              use_gated=True, name="alpha")(embeddings)

    # Multiply attention weights with the input layers.
    multiply_layers = [layers.multiply([alpha[i], embeddings[i]]) for i in range(len(alpha))]

    # Concatenate layers.
    concat = layers.concatenate(multiply_layers, axis=1)

    # Classification output node.
    output = layers.Dense(2, activation="softmax")(concat)

    return keras.Model(inputs, output)


def compute_class_weights(labels):
    # Count number of postive and negative bags.
    negative_count = len(np.where(labels == 0)[0])
    positive_count = len(np.where(labels == 1)[0])
    total_count = negative_count + positive_count

    # Build class weight dictionary.
    return {
        0: (1 / negative_count) * (total_count / 2),
        1: (1 / positive_count) * (total_count / 2),
    }


def train(train_data, train_labels, val_data, val_labels, model):
    # Take the file name from the wrapper.
    file_path = "best_model.weights.h5"

    # Initialize model checkpoint callback.
    model_checkpoint = keras.callbacks.ModelCheckpoint(file_path, monitor="val_loss", verbose=0, mode="min",
                                                       save_best_only=True, save_weights_only=True)

    # Initialize early stopping callback.
    # The model performance is monitored across the validation data and stops training
    # when the generalization error cease to decrease.
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, mode="min")

    # Compile model.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    # Fit model.
    history = model.fit(train_data, train_labels, validation_data=(val_data, val_labels), epochs=8,
                        class_weight=compute_class_weights(train_labels), batch_size=8,
                        callbacks=[early_stopping, model_checkpoint], verbose=0)

    # Load best weights.
    model.load_weights(file_path)
    return model, history


# Building model(s).
instance_shape = train_data[0][0].shape
models = [create_model(instance_shape) for _ in range(ENSEMBLE_AVG_COUNT)]

# Show single model architecture.
print(models[0].summary())

# Training model(s).
trained = [train(train_data, train_labels, val_data, val_labels, model) for model in models]
trained_models = [t[0] for t in trained]
history = trained[0][1]


def predict(data, labels, trained_models):
    # Collect info per model.
    models_predictions = []
    models_attention_weights = []
    models_losses = []
    models_accuracies = []

    for model in trained_models:
        # Predict output classes on data.
        predictions = model.predict(data)
        models_predictions.append(predictions)

        # Create intermediate model to get MIL attention layer weights.
        intermediate_model = keras.Model(model.input, model.get_layer("alpha").output)

        # Predict MIL attention layer weights.
        intermediate_predictions = intermediate_model.predict(data)

        attention_weights = np.squeeze(np.swapaxes(intermediate_predictions, 1, 0))
        models_attention_weights.append(attention_weights)

        loss, accuracy = model.evaluate(data, labels, verbose=0)
        models_losses.append(loss)
        models_accuracies.append(accuracy)

    print(f"The average loss and accuracy are {np.sum(models_losses, axis=0) / ENSEMBLE_AVG_COUNT:.2f}"
          f" and {100 * np.sum(models_accuracies, axis=0) / ENSEMBLE_AVG_COUNT:.2f} % resp.")

    return (np.sum(models_predictions, axis=0) / ENSEMBLE_AVG_COUNT,
            np.sum(models_attention_weights, axis=0) / ENSEMBLE_AVG_COUNT,
            np.sum(models_accuracies, axis=0) / ENSEMBLE_AVG_COUNT)


# Evaluate and predict classes and attention scores on validation data.
class_predictions, attention_params, val_accuracy = predict(val_data, val_labels, trained_models)

assert class_predictions.shape == (VAL_BAG_COUNT, 2)
assert attention_params.shape == (VAL_BAG_COUNT, BAG_SIZE), attention_params.shape
# the attention weights of a bag are a softmax over its instances
np.testing.assert_allclose(attention_params.sum(axis=1), 1.0, rtol=1e-5)
assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
majority = max(val_labels.mean(), 1 - val_labels.mean())
assert val_accuracy > max(0.75, majority), (val_accuracy, majority)
