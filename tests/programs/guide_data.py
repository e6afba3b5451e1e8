"""Small Fashion-MNIST subsets for the guide programs (the guides use MNIST; Fashion-MNIST is what
the test machines ship). Loaded once per process."""
import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def fashion(n_train=6000, n_test=1000):
    from corenn import keras
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    return ((x_train[:n_train].copy(), y_train[:n_train].copy()),
            (x_test[:n_test].copy(), y_test[:n_test].copy()))
