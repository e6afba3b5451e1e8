"""keras-io examples/vision/reptile ("Few-Shot learning with Reptile"), imports changed: a
Dataset class sampling N-way K-shot tasks into tf.data mini datasets (from_tensor_slices,
shuffle, batch, repeat), a conv_bn model compiled with SGD, the Reptile meta loop (get_weights,
an inner loop of GradientTape steps with apply_gradients, an interpolated set_weights) and the
evaluation on new tasks after fine-tuning a few steps. Omniglot is replaced by synthetic 14x14
"characters" (one random stroke pattern per class, noisy samples); checks: the meta step is
exactly old + (new - old) * step, and accuracy after adaptation on held-out classes is above
the 1/classes chance."""
import random

import numpy as np

import corenn as keras
import corenn as tf
from corenn import layers

keras.utils.set_random_seed(3)
random.seed(3)

learning_rate = 0.003
meta_step_size = 0.25

inner_batch_size = 10
eval_batch_size = 10

meta_iters = 120
eval_iters = 10
inner_iters = 4

eval_interval = 40
train_shots = 10
shots = 5
classes = 5
img = 14

rng = np.random.default_rng(3)
patterns = (rng.random((60, img, img)) < 0.25).astype("float32")


class Dataset:
    # This class will facilitate the creation of a few-shot dataset
    # from the synthetic characters that can be sampled from quickly while also
    # allowing to create new labels at the same time.
    def __init__(self, training):
        # Download the tfrecord files containing the omniglot data and convert to a
        # dataset.
        self.data = {}
        label_range = range(0, 40) if training else range(40, 60)
        for label in label_range:
            noisy = np.clip(patterns[label] + rng.normal(0, 0.35, (20, img, img)), 0, 1)
            self.data[str(label)] = list(noisy[..., None].astype("float32"))
        self.labels = list(self.data.keys())

    def get_mini_dataset(self, batch_size, repetitions, shots, num_classes, split=False):
        temp_labels = np.zeros(shape=(num_classes * shots))
        temp_images = np.zeros(shape=(num_classes * shots, img, img, 1))
        if split:
            test_labels = np.zeros(shape=(num_classes))
            test_images = np.zeros(shape=(num_classes, img, img, 1))

        # Get a random subset of labels from the entire label set.
        label_subset = random.choices(self.labels, k=num_classes)
        for class_idx, class_obj in enumerate(label_subset):
            # Use enumerated index value as a temporary label for mini-batch in
            # few shot learning.
            temp_labels[class_idx * shots : (class_idx + 1) * shots] = class_idx
            # If creating a split dataset for testing, select an extra sample from each
            # label to create the test dataset.
            if split:
                test_labels[class_idx] = class_idx
                images_to_split = random.choices(self.data[label_subset[class_idx]], k=shots + 1)
                test_images[class_idx] = images_to_split[-1]
                temp_images[class_idx * shots : (class_idx + 1) * shots] = images_to_split[:-1]
            else:
                # For each index in the randomly selected label_subset, sample the
                # necessary number of images.
                temp_images[class_idx * shots : (class_idx + 1) * shots] = random.choices(
                    self.data[label_subset[class_idx]], k=shots)

        dataset = tf.data.Dataset.from_tensor_slices((temp_images.astype(np.float32), temp_labels.astype(np.int32)))
        dataset = dataset.shuffle(100).batch(batch_size).repeat(repetitions)
        if split:
            return dataset, test_images, test_labels
        return dataset


train_dataset = Dataset(training=True)
test_dataset = Dataset(training=False)


def conv_bn(x):
    x = layers.Conv2D(filters=16, kernel_size=3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


inputs = layers.Input(shape=(img, img, 1))
x = conv_bn(inputs)
x = conv_bn(x)
x = layers.Flatten()(x)
outputs = layers.Dense(classes, activation="softmax")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile()
optimizer = keras.optimizers.SGD(learning_rate=learning_rate)

training = []
testing = []
for meta_iter in range(meta_iters):
    frac_done = meta_iter / meta_iters
    cur_meta_step_size = (1 - frac_done) * meta_step_size
    # Temporarily save the weights from the model.
    old_vars = model.get_weights()
    # Get a sample from the full dataset.
    mini_dataset = train_dataset.get_mini_dataset(inner_batch_size, inner_iters, train_shots, classes)
    for images, labels in mini_dataset:
        with tf.GradientTape() as tape:
            preds = model(images)
            loss = keras.losses.sparse_categorical_crossentropy(labels, preds)
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    new_vars = model.get_weights()
    # Perform SGD for the meta step.
    for var in range(len(new_vars)):
        new_vars[var] = old_vars[var] + ((new_vars[var] - old_vars[var]) * cur_meta_step_size)
    # After the meta-learning step, reload the newly-trained weights into the model.
    model.set_weights(new_vars)
    for got, want in zip(model.get_weights(), new_vars):
        np.testing.assert_array_equal(got, want)
    # Evaluation loop
    if meta_iter % eval_interval == 0 or meta_iter == meta_iters - 1:
        accuracies = []
        for dataset in (train_dataset, test_dataset):
            # Sample a mini dataset from the full dataset.
            train_set, test_images, test_labels = dataset.get_mini_dataset(
                eval_batch_size, eval_iters, shots, classes, split=True)
            old_vars = model.get_weights()
            # Train on the samples and get the resulting accuracies.
            for images, labels in train_set:
                with tf.GradientTape() as tape:
                    preds = model(images)
                    loss = keras.losses.sparse_categorical_crossentropy(labels, preds)
                grads = tape.gradient(loss, model.trainable_weights)
                optimizer.apply_gradients(zip(grads, model.trainable_weights))
            test_preds = model.predict(test_images, verbose=0)
            test_preds = tf.argmax(test_preds, axis=1).numpy()
            num_correct = (test_preds == test_labels).sum()
            # Reset the weights after getting the evaluation accuracies.
            model.set_weights(old_vars)
            accuracies.append(num_correct / classes)
        training.append(accuracies[0])
        testing.append(accuracies[1])
        print("batch %d: train=%f test=%f" % (meta_iter, accuracies[0], accuracies[1]))

# adaptation on many new tasks of held-out classes: above chance on average
scores = []
for _ in range(12):
    train_set, test_images, test_labels = test_dataset.get_mini_dataset(eval_batch_size, eval_iters, shots, classes,
                                                                         split=True)
    old_vars = model.get_weights()
    for images, labels in train_set:
        with tf.GradientTape() as tape:
            preds = model(images)
            loss = keras.losses.sparse_categorical_crossentropy(labels, preds)
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    scores.append(float(np.mean(np.argmax(model.predict(test_images, verbose=0), 1) == test_labels)))
    model.set_weights(old_vars)
print("mean accuracy on new tasks:", np.mean(scores))
assert np.mean(scores) > 2.0 / classes, scores
