"""CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test).

Read from the official binary archive cifar-10-binary.tar.gz (never the pickled Python
version); see _cifar.py for the format.
"""
import numpy as np

from . import _cifar, _loader

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")

ARCHIVE = "cifar-10-binary.tar.gz"
TRAIN_MEMBERS = tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6))
TEST_MEMBER = "cifar-10-batches-bin/test_batch.bin"

# The md5 published on the CIFAR page (https://www.cs.toronto.edu/~kriz/cifar.html) and the
# sha256 of the same 170,052,171-byte file as TensorFlow Datasets records it.
SPEC = _loader.DatasetSpec(
    name="cifar-10",
    mirrors=["https://www.cs.toronto.edu/~kriz/"],
    checksums={ARCHIVE: (
        "md5:c32a1d4ab5d03f1284b67883e8d87530",
        "sha256:c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")},
    system_dirs=["/usr/share/datasets/cifar-10"],
    install_hint="download cifar-10-binary.tar.gz (the binary version) from "
                 "https://www.cs.toronto.edu/~kriz/cifar.html",
    num_classes=10,
    files=(ARCHIVE,),
)


def _check_labels(labels, limit, path, what):
    if labels.size and int(labels.max()) >= limit:
        raise ValueError(f"{path}: {what} label {int(labels.max())} out of range for "
                         f"{limit} classes")


def load_data(path=None, download=True):
    """Load CIFAR-10 as Keras does.

    Args:
        path: cifar-10-binary.tar.gz itself, or a directory holding it; default: search
            $CORENN_DATA, ~/.cache/corenn/datasets/cifar-10, /usr/share/datasets/cifar-10,
            then download into the cache (checksum verified).
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): x uint8 of shape (50000, 32, 32, 3) and
        (10000, 32, 32, 3), channels last; y uint8 of shape (50000, 1) and (10000, 1).
    """
    archive = _loader.locate_file(SPEC, path, download)
    batches = _cifar.read_archive(archive, TRAIN_MEMBERS + (TEST_MEMBER,), label_bytes=1)
    for _, labels in batches:
        _check_labels(labels, 10, archive, "a")
    x_train = np.concatenate([images for images, _ in batches[:-1]])
    y_train = np.concatenate([labels for _, labels in batches[:-1]])
    x_test, y_test = batches[-1]
    return (x_train, y_train), (x_test, y_test)
