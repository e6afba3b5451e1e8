"""MNIST handwritten digits: 70,000 28x28 grayscale images, labels 0-9."""
from . import _loader

__all__ = ["load_data"]

# The long-published md5s of the original gzip files (as served by these mirrors).
SPEC = _loader.DatasetSpec(
    name="mnist",
    mirrors=["https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    checksums={
        "train-images-idx3-ubyte.gz": ("md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",),
        "train-labels-idx1-ubyte.gz": ("md5:d53e105ee54ea40749a09fcbcd1e9432",),
        "t10k-images-idx3-ubyte.gz": ("md5:9fb629c4189551a2d022fa330f9573f3",),
        "t10k-labels-idx1-ubyte.gz": ("md5:ec29112dd5afa0611ce80d1b7f02629c",),
    },
    system_dirs=["/usr/share/datasets/mnist"],
    install_hint="download the four files from a public MNIST mirror "
                 "(e.g. https://ossci-datasets.s3.amazonaws.com/mnist/)",
)


def load_data(path=None, download=True):
    """Load MNIST as Keras does.

    Args:
        path: a directory holding the four IDX files (gzipped or not); default: search
            $CORENN_DATA, ~/.cache/corenn/datasets/mnist, /usr/share/datasets/mnist, then
            download into the cache.
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28), (10000,).
    """
    return _loader.load(SPEC, path, download)
