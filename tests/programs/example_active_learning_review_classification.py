"""keras.io example "Review Classification using Active Learning"
(nlp/active_learning_review_classification), imports changed: reviews split into a small
labelled set and negative / positive pools, a `TextVectorization` with a custom standardization
adapted on them and mapped over tf.data pipelines, a Bidirectional-LSTM classifier with
`BinaryAccuracy`, `FalseNegatives` and `FalsePositives` metrics, `EarlyStopping` and a best-only
`ModelCheckpoint` to `.keras`, then the active-learning loop: predictions thresholded with
`ops.where(ops.greater(...), 1, 0)`, the ratio of false negatives to false positives from
`evaluate` choosing how many reviews to draw from each pool (`take` / `skip` / `concatenate`,
`len(dataset)`, `cache().shuffle().batch()`), recompiling to reset the optimizer and reloading
the best model with `keras.models.load_model`. IMDB is replaced by synthetic reviews; the
vocabulary, sequence length, layer sizes, pool sizes, iterations and epochs are shrunk; the plots
are left out."""
import re
import string

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras import ops

from _text_data import reviews

keras.utils.set_random_seed(1)

texts, labels = reviews(900, 31)
# keras.io: 2500 labelled training reviews, the rest split into pools by label
x_train, y_train = texts[:150], labels[:150]
x_val, y_val = texts[150:300], labels[150:300]
x_test, y_test = texts[300:450], labels[300:450]
x_pool, y_pool = texts[450:], labels[450:]
x_pool_negatives, y_pool_negatives = x_pool[y_pool == 0], y_pool[y_pool == 0]
x_pool_positives, y_pool_positives = x_pool[y_pool == 1], y_pool[y_pool == 1]

print(f"Initial training set size: {len(x_train)}")
print(f"Validation set size: {len(x_val)}")
print(f"Testing set size: {len(x_test)}")
print(f"Unlabeled negative pool: {len(x_pool_negatives)}")
print(f"Unlabeled positive pool: {len(x_pool_positives)}")

# Creating TF Datasets for faster prefetching and parallelization
train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val))
test_dataset = tf.data.Dataset.from_tensor_slices((x_test, y_test))

pool_negatives = tf.data.Dataset.from_tensor_slices(
    (x_pool_negatives, y_pool_negatives)
)
pool_positives = tf.data.Dataset.from_tensor_slices(
    (x_pool_positives, y_pool_positives)
)


def custom_standardization(input_data):
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(
        stripped_html, f"[{re.escape(string.punctuation)}]", ""
    )


vectorizer = layers.TextVectorization(
    3000, standardize=custom_standardization, output_sequence_length=20
)
# Adapting the dataset
vectorizer.adapt(
    train_dataset.map(lambda x, y: x, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
)


def vectorize_text(text, label):
    text = vectorizer(text)
    return text, label


train_dataset = train_dataset.map(
    vectorize_text, num_parallel_calls=tf.data.AUTOTUNE
).prefetch(tf.data.AUTOTUNE)
pool_negatives = pool_negatives.map(vectorize_text, num_parallel_calls=tf.data.AUTOTUNE)
pool_positives = pool_positives.map(vectorize_text, num_parallel_calls=tf.data.AUTOTUNE)

val_dataset = val_dataset.batch(256).map(
    vectorize_text, num_parallel_calls=tf.data.AUTOTUNE
)
test_dataset = test_dataset.batch(256).map(
    vectorize_text, num_parallel_calls=tf.data.AUTOTUNE
)
assert len(train_dataset) == 150 and len(val_dataset) == 1


# Helper function for merging new history objects with older ones
def append_history(losses, val_losses, accuracy, val_accuracy, history):
    losses = losses + history.history["loss"]
    val_losses = val_losses + history.history["val_loss"]
    accuracy = accuracy + history.history["binary_accuracy"]
    val_accuracy = val_accuracy + history.history["val_binary_accuracy"]
    return losses, val_losses, accuracy, val_accuracy


def create_model():
    model = keras.models.Sequential(
        [
            layers.Input(shape=(20,)),
            layers.Embedding(input_dim=3000, output_dim=16),
            layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
            layers.GlobalMaxPool1D(),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    return model


SAMPLED = []


def train_active_learning_models(
    train_dataset,
    pool_negatives,
    pool_positives,
    val_dataset,
    test_dataset,
    num_iterations=3,
    sampling_size=5000,
):
    # Creating lists for storing metrics
    losses, val_losses, accuracies, val_accuracies = [], [], [], []

    model = create_model()
    # We will monitor the false positives and false negatives predicted by our model
    # These will decide the subsequent sampling ratio for every Active Learning loop
    model.compile(
        loss="binary_crossentropy",
        optimizer="rmsprop",
        metrics=[
            keras.metrics.BinaryAccuracy(),
            keras.metrics.FalseNegatives(),
            keras.metrics.FalsePositives(),
        ],
    )

    # Defining checkpoints.
    # The checkpoint callback is reused throughout the training since it only saves the best overall model.
    checkpoint = keras.callbacks.ModelCheckpoint(
        "AL_Model.keras", save_best_only=True, verbose=0
    )
    # Here, patience is set to 4. This can be set higher if desired.
    early_stopping = keras.callbacks.EarlyStopping(patience=4, verbose=0)

    print(f"Starting to train with {len(train_dataset)} samples")
    # Initial fit with a small subset of the training set
    history = model.fit(
        train_dataset.cache().shuffle(20000).batch(16),
        epochs=6,
        validation_data=val_dataset,
        callbacks=[checkpoint, early_stopping],
        verbose=0,
    )

    # Appending history
    losses, val_losses, accuracies, val_accuracies = append_history(
        losses, val_losses, accuracies, val_accuracies, history
    )

    for iteration in range(num_iterations):
        # Getting predictions from previously trained model
        predictions = model.predict(test_dataset, verbose=0)

        # Generating labels from the output probabilities
        rounded = ops.where(ops.greater(predictions, 0.5), 1, 0)

        # Evaluating the number of zeros and ones incorrrectly classified
        _, _, false_negatives, false_positives = model.evaluate(test_dataset, verbose=0)

        print("-" * 100)
        print(
            f"Number of zeros incorrectly classified: {false_negatives}, Number of ones incorrectly classified: {false_positives}"
        )
        r = np.asarray(rounded).reshape(-1)
        assert false_negatives == np.sum((r == 0) & (y_test == 1))
        assert false_positives == np.sum((r == 1) & (y_test == 0))

        # This technique of Active Learning demonstrates ratio based sampling where
        # Number of ones/zeros to sample = Number of ones/zeros incorrectly classified / Total incorrectly classified
        if false_negatives != 0 and false_positives != 0:
            total = false_negatives + false_positives
            sample_ratio_ones, sample_ratio_zeros = (
                false_positives / total,
                false_negatives / total,
            )
        # In the case where all samples are correctly predicted, we can sample both classes equally
        else:
            sample_ratio_ones, sample_ratio_zeros = 0.5, 0.5

        print(
            f"Sample ratio for positives: {sample_ratio_ones}, Sample ratio for negatives:{sample_ratio_zeros}"
        )

        # Sample the required number of ones and zeros
        sampled_dataset = pool_negatives.take(
            int(sample_ratio_zeros * sampling_size)
        ).concatenate(pool_positives.take(int(sample_ratio_ones * sampling_size)))

        # Skip the sampled data points to avoid repetition of sample
        pool_negatives = pool_negatives.skip(int(sample_ratio_zeros * sampling_size))
        pool_positives = pool_positives.skip(int(sample_ratio_ones * sampling_size))

        # Concatenating the train_dataset with the sampled_dataset
        train_dataset = train_dataset.concatenate(sampled_dataset).prefetch(
            tf.data.AUTOTUNE
        )

        print(f"Starting training with {len(train_dataset)} samples")
        print("-" * 100)
        SAMPLED.append((len(train_dataset), int(sample_ratio_zeros * sampling_size),
                        int(sample_ratio_ones * sampling_size)))

        # We recompile the model to reset the optimizer states and retrain the model
        model.compile(
            loss="binary_crossentropy",
            optimizer="rmsprop",
            metrics=[
                keras.metrics.BinaryAccuracy(),
                keras.metrics.FalseNegatives(),
                keras.metrics.FalsePositives(),
            ],
        )
        history = model.fit(
            train_dataset.cache().shuffle(20000).batch(16),
            validation_data=val_dataset,
            epochs=6,
            callbacks=[
                checkpoint,
                keras.callbacks.EarlyStopping(patience=4, verbose=0),
            ],
            verbose=0,
        )

        # Appending the history
        losses, val_losses, accuracies, val_accuracies = append_history(
            losses, val_losses, accuracies, val_accuracies, history
        )

        # Loading the best model from this training loop
        model = keras.models.load_model("AL_Model.keras")

    # Plotting the overall history and evaluating the final model
    print("val_loss:", [round(v, 3) for v in val_losses])
    print("-" * 100)
    print(
        "Test set evaluation: ",
        model.evaluate(test_dataset, verbose=0, return_dict=True),
    )
    print("-" * 100)
    return model, losses, val_losses


active_learning_model, losses, val_losses = train_active_learning_models(
    train_dataset, pool_negatives, pool_positives, val_dataset, test_dataset,
    num_iterations=2, sampling_size=60,
)
print(SAMPLED)
# each round adds the sampled reviews (up to 60, split by the error ratio) to the training set
assert SAMPLED[0][0] == 150 + SAMPLED[0][1] + SAMPLED[0][2] and 59 <= SAMPLED[0][1] + SAMPLED[0][2] <= 60
assert SAMPLED[1][0] == SAMPLED[0][0] + SAMPLED[1][1] + SAMPLED[1][2]
results = active_learning_model.evaluate(test_dataset, verbose=0, return_dict=True)
print(results)
# (Keras 3 numbers the names of unnamed confusion metrics made again: false_negatives_2 here)
assert len(results) == 4 and {"loss", "binary_accuracy"} <= set(results)
assert results["binary_accuracy"] > 0.8, results
assert min(val_losses) < val_losses[0]
