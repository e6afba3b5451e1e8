"""keras.io recipe "Estimating required sample size for model training"
(keras_recipes/sample_size_estimate), imports changed: a MobileNetV2 classifier built on an
augmentation Sequential through `input_tensor=`, frozen with `model.trainable = False`, trained
on the top layers, then unfrozen from the layers named "block_10" on (BatchNormalization kept
frozen) and trained again, with an `AUC` metric and `EarlyStopping(monitor="val_auc",
mode="max", restore_best_weights=True)`; `keras.backend.clear_session()` between runs; the
learning curve `a * x**b` fitted to the mean accuracies with two `tf.Variable`s, a
`MeanSquaredError` loss object and a GradientTape (`x` a Python list of sample sizes), then
extrapolated. The TF Flowers images are replaced by synthetic 32x32 images of three classes
(a coloured blob whose hue is the class), the ImageNet weights by random ones (`alpha=0.35`), and
the splits, repetitions, epochs and curve-fitting steps are shrunk; the plots are left out."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(42)

IMG_SIZE = 32
num_classes = 3
batch_size = 32
image_size = (IMG_SIZE, IMG_SIZE)

rng = np.random.default_rng(42)
COLOURS = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0]], "float32")


def make_images(n):
    yy, xx = np.mgrid[:IMG_SIZE, :IMG_SIZE]
    labels = rng.integers(0, num_classes, n)
    imgs = rng.uniform(0, 60, (n, IMG_SIZE, IMG_SIZE, 3)).astype("float32")
    for i, c in enumerate(labels):
        cy, cx, r = rng.uniform(10, 22), rng.uniform(10, 22), rng.uniform(5, 9)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r)[..., None]
        imgs[i] += blob * COLOURS[c] * rng.uniform(150, 190)
    return imgs, keras.utils.to_categorical(labels, num_classes)


img_train, label_train = make_images(240)
img_test, label_test = make_images(90)
num_train_samples = len(img_train)

img_augmentation = keras.Sequential(
    [
        layers.RandomRotation(factor=0.15),
        layers.RandomTranslation(height_factor=0.1, width_factor=0.1),
        layers.RandomFlip(),
        layers.RandomContrast(factor=0.1),
    ],
    name="img_augmentation",
)


def build_model(num_classes, img_size=image_size[0], top_dropout=0.3):
    """Creates a classifier based on pre-trained MobileNetV2.

    Arguments:
        num_classes: Int, number of classese to use in the softmax layer.
        img_size: Int, square size of input images (defaults is 224).
        top_dropout: Int, value for dropout layer (defaults is 0.3).

    Returns:
        Uncompiled Keras model.
    """

    # Create input and pre-processing layers for MobileNetV2
    inputs = layers.Input(shape=(img_size, img_size, 3))
    x = layers.Rescaling(scale=1.0 / 127.5, offset=-1)(inputs)
    x = img_augmentation(x)
    model = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_tensor=x, alpha=0.35
    )

    # Freeze the pretrained weights
    model.trainable = False

    # Rebuild top
    x = layers.GlobalAveragePooling2D(name="avg_pool")(model.output)
    x = layers.Dropout(top_dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    print("Trainable weights:", len(model.trainable_weights))
    print("Non_trainable_weights:", len(model.non_trainable_weights))
    return model


def compile_and_train(
    model,
    training_data,
    training_labels,
    metrics=[keras.metrics.AUC(name="auc"), "acc"],
    optimizer=keras.optimizers.Adam(),
    patience=5,
    epochs=5,
):
    """Compiles and trains the model.

    Arguments:
        model: Uncompiled Keras model.
        training_data: NumPy Array, training data.
        training_labels: NumPy Array, training labels.
        metrics: Keras/TF metrics, requires at least 'auc' metric (default is
                `[keras.metrics.AUC(name='auc'), 'acc']`).
        optimizer: Keras/TF optimizer (defaults is `keras.optimizers.Adam()).
        patience: Int, epochsfor EarlyStopping patience (defaults is 5).
        epochs: Int, number of epochs to train (default is 5).

    Returns:
        Training history for trained Keras model.
    """

    stopper = keras.callbacks.EarlyStopping(
        monitor="val_auc",
        mode="max",
        min_delta=0,
        patience=patience,
        verbose=1,
        restore_best_weights=True,
    )

    model.compile(
        optimizer=optimizer, loss="categorical_crossentropy", metrics=metrics
    )

    history = model.fit(
        x=training_data,
        y=training_labels,
        batch_size=batch_size,
        epochs=epochs,
        validation_split=0.1,
        callbacks=[stopper],
        verbose=0,
    )
    return history


def unfreeze(model, block_name, verbose=0):
    """Unfreezes Keras model layers.

    Arguments:
        model: Keras model.
        block_name: Str, layer name for example block_name = 'block4'.
                    Checks if supplied string is in the layer name.
        verbose: Int, 0 means silent, 1 prints out layers trainability status.

    Returns:
        Keras model with all layers after (and including) the specified
        block_name to trainable, excluding BatchNormalization layers.
    """

    # Unfreeze from block_name onwards
    set_trainable = False

    for layer in model.layers:
        if block_name in layer.name:
            set_trainable = True
        if set_trainable and not isinstance(layer, layers.BatchNormalization):
            layer.trainable = True
            if verbose == 1:
                print(layer.name, "trainable")
        else:
            if verbose == 1:
                print(layer.name, "NOT trainable")
    print("Trainable weights:", len(model.trainable_weights))
    print("Non-trainable weights:", len(model.non_trainable_weights))
    return model


TRAINABLE_COUNTS = []


def train_model(training_data, training_labels):
    """Trains the model as follows:

    - Trains only the top layers for 10 epochs.
    - Unfreezes deeper layers.
    - Train for 20 more epochs.

    Arguments:
        training_data: NumPy Array, training data.
        training_labels: NumPy Array, training labels.

    Returns:
        Model accuracy.
    """

    model = build_model(num_classes)
    TRAINABLE_COUNTS.append(len(model.trainable_weights))

    # Compile and train top layers
    history = compile_and_train(
        model,
        training_data,
        training_labels,
        metrics=[keras.metrics.AUC(name="auc"), "acc"],
        optimizer=keras.optimizers.Adam(),
        patience=3,
        epochs=3,
    )

    # Unfreeze model from block 10 onwards
    model = unfreeze(model, "block_10")
    TRAINABLE_COUNTS.append(len(model.trainable_weights))

    # Compile and train for 20 epochs with a lower learning rate
    fine_tune_epochs = 3
    total_epochs = history.epoch[-1] + fine_tune_epochs

    history_fine = compile_and_train(
        model,
        training_data,
        training_labels,
        metrics=[keras.metrics.AUC(name="auc"), "acc"],
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        patience=5,
        epochs=total_epochs,
    )

    # Calculate model accuracy on weighted test set
    _, _, acc = model.evaluate(img_test, label_test, verbose=0)
    keras.backend.clear_session()
    return np.round(acc, 4)


def train_iteratively(sample_splits=[0.05, 0.1, 0.25, 0.5], iter_per_split=5):
    """Trains a model iteratively over several sample splits.

    Arguments:
        sample_splits: List/NumPy array, contains fractions of the trainins set
                        to train over.
        iter_per_split: Int, number of times to train a model per sample split.

    Returns:
        Training accuracy for all splits and iterations and the number of samples
        used for training at each split.
    """
    # Train all the sample models and calculate accuracy
    train_acc = []
    sample_sizes = []

    for fraction in sample_splits:
        print(f"Fraction split: {fraction}")
        # Repeat training 3 times for each sample size
        sample_accuracy = []
        num_samples = int(num_train_samples * fraction)
        for i in range(iter_per_split):
            print(f"Run {i+1} out of {iter_per_split}:")
            # Create fractional subsets
            rand_idx = np.random.randint(num_train_samples, size=num_samples)
            train_img_subset = img_train[rand_idx, :]
            train_label_subset = label_train[rand_idx, :]
            # Train model and calculate accuracy
            accuracy = train_model(train_img_subset, train_label_subset)
            print(f"Accuracy: {accuracy}")
            sample_accuracy.append(accuracy)
        train_acc.append(sample_accuracy)
        sample_sizes.append(num_samples)
    return train_acc, sample_sizes


# Running the above function produces the following outputs
train_acc, sample_sizes = train_iteratively(sample_splits=[0.25, 0.5, 1.0], iter_per_split=1)
print(train_acc, sample_sizes)
assert sample_sizes == [60, 120, 240]
assert all(0.0 <= a[0] <= 1.0 for a in train_acc)
# frozen: only the new Dense head trains; unfrozen from block_10: the convolutions there train too
# (their BatchNormalization layers stay frozen)
assert TRAINABLE_COUNTS[0] == 2 and TRAINABLE_COUNTS[1] > TRAINABLE_COUNTS[0], TRAINABLE_COUNTS

CURVE = {}


def fit_and_predict(train_acc, sample_sizes, pred_sample_size):
    """Fits a learning curve to model training accuracy results.

    Arguments:
        train_acc: List/Numpy Array, training accuracy for all model
                    training splits and iterations.
        sample_sizes: List/Numpy array, number of samples used for training at
                    each split.
        pred_sample_size: Int, sample size to predict model accuracy based on
                        fitted learning curve.
    """
    x = sample_sizes
    mean_acc = tf.convert_to_tensor([np.mean(i) for i in train_acc])
    error = [np.std(i) for i in train_acc]

    # Define mean squared error cost and exponential curve fit functions
    mse = keras.losses.MeanSquaredError()

    def exp_func(x, a, b):
        return a * x**b

    # Define variables, learning rate and number of epochs for fitting with TF
    a = tf.Variable(0.0)
    b = tf.Variable(0.0)
    learning_rate = 0.01
    training_epochs = 1000

    # Fit the exponential function to the data
    for epoch in range(training_epochs):
        with tf.GradientTape() as tape:
            y_pred = exp_func(x, a, b)
            cost_function = mse(y_pred, mean_acc)
        # Get gradients and compute adjusted weights
        gradients = tape.gradient(cost_function, [a, b])
        a.assign_sub(gradients[0] * learning_rate)
        b.assign_sub(gradients[1] * learning_rate)
    print(f"Curve fit weights: a = {a.numpy()} and b = {b.numpy()}.")

    # We can now estimate the accuracy for pred_sample_size
    max_acc = exp_func(pred_sample_size, a, b).numpy()

    # Print predicted x value and append to plot values
    print(f"A model accuracy of {max_acc} is predicted for {pred_sample_size} samples.")
    x_cont = np.linspace(x[0], pred_sample_size, 100)
    CURVE.update(a=float(a.numpy()), b=float(b.numpy()), max_acc=float(max_acc), cost=float(cost_function))
    return mean_acc, error


mean_acc, error = fit_and_predict(train_acc, sample_sizes, pred_sample_size=num_train_samples * 2)

# the same gradient descent written out in NumPy (float64): d/da, d/db of mean((a x^b - y)^2)
xs = np.array(sample_sizes, float)
ys = np.array([np.mean(i) for i in train_acc], float)
a, b = 0.0, 0.0
for _ in range(1000):
    p = a * xs ** b
    r = 2 * (p - ys) / len(xs)
    a, b = a - 0.01 * np.sum(r * xs ** b), b - 0.01 * np.sum(r * a * xs ** b * np.log(xs))
print("NumPy fit:", a, b)
assert abs(CURVE["a"] - a) < 2e-3 and abs(CURVE["b"] - b) < 2e-3, (CURVE, a, b)
assert abs(CURVE["max_acc"] - a * (2 * num_train_samples) ** b) < 5e-3
assert CURVE["cost"] < float(np.mean(ys ** 2))   # the fit beats the starting curve (a = 0)
