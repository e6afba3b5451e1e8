"""keras.io guide "Multi-GPU distributed training with TensorFlow" (guides/
distributed_training_with_tensorflow), imports changed (`import tensorflow as tf` / `import keras`
-> `import corenn as tf` / `from corenn import keras`): a MirroredStrategy (the one replica of a
machine without GPUs, as TensorFlow runs it), a model built, compiled, fit and evaluated on
tf.data datasets inside strategy.scope(), then the fault-tolerance pattern: ModelCheckpoint
writing `ckpt-{epoch}.keras` every epoch, and `make_or_restore_model` reloading the newest file of
the directory (max by os.path.getctime) with keras.models.load_model when training runs again.
MNIST is replaced by 1200 synthetic 784-pixel "digits" (1000 train / 200 validation, the guide's
split proportions), the test set by 200 more. Checked: accuracy after training, that the second
run restored the first run's file (same weights, same optimizer step) and went on training."""
import os

import numpy as np

import corenn as tf
from corenn import keras

keras.utils.set_random_seed(3)


def get_compiled_model():
    # Make a simple 2-layer densely-connected neural network.
    inputs = keras.Input(shape=(784,))
    x = keras.layers.Dense(256, activation="relu")(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


def _synthetic_mnist(n, rng):
    templates = np.zeros((10, 28, 28))
    for k in range(10):
        templates[k, 2 + 2 * k: 5 + 2 * k, 4:24] = 255
        templates[k, 4:24, 2 + 2 * k: 5 + 2 * k] = 160
    y = rng.integers(0, 10, n).astype("uint8")
    x = np.clip(templates[y] + rng.normal(0, 60, (n, 28, 28)), 0, 255).astype("uint8")
    return x, y


def get_dataset():
    batch_size = 32
    num_val_samples = 200

    # Return the MNIST dataset in the form of a `tf.data.Dataset`.
    rng = np.random.default_rng(0)
    (x_train, y_train), (x_test, y_test) = _synthetic_mnist(1200, rng), _synthetic_mnist(200, rng)

    # Preprocess the data (these are Numpy arrays)
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255
    y_train = y_train.astype("float32")
    y_test = y_test.astype("float32")

    # Reserve num_val_samples samples for validation
    x_val = x_train[-num_val_samples:]
    y_val = y_train[-num_val_samples:]
    x_train = x_train[:-num_val_samples]
    y_train = y_train[:-num_val_samples]
    return (
        tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(batch_size),
        tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size),
        tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size),
    )


# Create a MirroredStrategy.
strategy = tf.distribute.MirroredStrategy()
print("Number of devices: {}".format(strategy.num_replicas_in_sync))

# Open a strategy scope.
with strategy.scope():
    # Everything that creates variables should be under the strategy scope.
    # In general this is only model construction & `compile()`.
    model = get_compiled_model()

    # Train the model on all available devices.
    train_dataset, val_dataset, test_dataset = get_dataset()
    model.fit(train_dataset, epochs=2, validation_data=val_dataset)

    # Test the model on all available devices.
    test_loss, test_acc = model.evaluate(test_dataset)

print("test accuracy", test_acc)
assert test_acc > 0.9, test_acc

# Prepare a directory to store all the checkpoints.
checkpoint_dir = "./ckpt"
if not os.path.exists(checkpoint_dir):
    os.makedirs(checkpoint_dir)

restored = []


def make_or_restore_model():
    # Either restore the latest model, or create a fresh one
    # if there is no checkpoint available.
    checkpoints = [checkpoint_dir + "/" + name for name in os.listdir(checkpoint_dir)]
    if checkpoints:
        latest_checkpoint = max(checkpoints, key=os.path.getctime)
        print("Restoring from", latest_checkpoint)
        restored.append(latest_checkpoint)
        return keras.models.load_model(latest_checkpoint)
    print("Creating a new model")
    return get_compiled_model()


models = []


def run_training(epochs=1):
    # Create a MirroredStrategy.
    strategy = tf.distribute.MirroredStrategy()

    # Open a strategy scope and create/restore the model
    with strategy.scope():
        model = make_or_restore_model()
        models.append((model, [w.copy() for w in model.get_weights()], int(model.optimizer.iterations.numpy())))

        callbacks = [
            # This callback saves a SavedModel every epoch
            # We include the current epoch in the folder name.
            keras.callbacks.ModelCheckpoint(
                filepath=checkpoint_dir + "/ckpt-{epoch}.keras",
                save_freq="epoch",
            )
        ]
        model.fit(
            train_dataset,
            epochs=epochs,
            callbacks=callbacks,
            validation_data=val_dataset,
            verbose=2,
        )


# Running the first time creates the model
run_training(epochs=1)

# Calling the same function again will resume from where we left off
run_training(epochs=1)

# the check: the second run restored the first run's checkpoint (its weights and its Adam step
# count: 1000 samples / 32 = 32 steps) and trained on from there
assert restored == ["./ckpt/ckpt-1.keras"], restored
(first, _, _), (second, start_weights, start_step) = models
assert start_step == 32, start_step
for w_saved, w_first in zip(start_weights, first.get_weights()):
    np.testing.assert_array_equal(w_saved, w_first)
assert int(second.optimizer.iterations.numpy()) == 64
assert any(not np.array_equal(a, b) for a, b in zip(start_weights, second.get_weights()))
assert sorted(os.listdir(checkpoint_dir)) == ["ckpt-1.keras"]   # epoch numbering restarts at 1
