"""Datasets in the Keras layout: `corenn.datasets.fashion_mnist.load_data()`."""
from . import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
