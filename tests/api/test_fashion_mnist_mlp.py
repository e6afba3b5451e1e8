"""An MLP on a 10k-sample Fashion-MNIST subset reaches a fixed test accuracy."""
import numpy as np
import pytest

import corenn
from corenn import Sequential, layers


@pytest.mark.slow
def test_mlp_fashion_mnist_subset():
    try:
        (x_train, y_train), (x_test, y_test) = corenn.datasets.fashion_mnist.load_data()
    except (OSError, RuntimeError) as exc:  # pragma: no cover - data missing and offline
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    corenn.utils.random.set_random_seed(42)
    x_train = x_train[:10000].reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test[:2000].reshape(-1, 784).astype("float32") / 255.0
    model = Sequential([
        layers.Input(shape=(784,)),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.1),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train[:10000], batch_size=64, epochs=5, verbose=0,
                        validation_split=0.1)
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x_test, y_test[:2000], verbose=0)
    assert acc >= 0.80, acc
