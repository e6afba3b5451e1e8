"""CIFAR-100: 60,000 32x32 colour images in 100 fine classes grouped into 20 coarse ones.

Read from the official binary archive cifar-100-binary.tar.gz (never the pickled Python
version): each record holds the coarse label byte, the fine label byte, then the pixels.
"""
from . import _cifar, _loader
from .cifar10 import _check_labels

__all__ = ["load_data"]

ARCHIVE = "cifar-100-binary.tar.gz"
TRAIN_MEMBER = "cifar-100-binary/train.bin"
TEST_MEMBER = "cifar-100-binary/test.bin"
_LABEL_COLUMN = {"coarse": 0, "fine": 1}
_NUM_CLASSES = {"coarse": 20, "fine": 100}

# The md5 published on the CIFAR page and the sha256 TensorFlow Datasets records for the same
# 168,513,733-byte file.
SPEC = _loader.DatasetSpec(
    name="cifar-100",
    mirrors=["https://www.cs.toronto.edu/~kriz/"],
    checksums={ARCHIVE: (
        "md5:03b5dce01913d631647c71ecec9e9cb8",
        "sha256:58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec")},
    system_dirs=["/usr/share/datasets/cifar-100"],
    install_hint="download cifar-100-binary.tar.gz (the binary version) from "
                 "https://www.cs.toronto.edu/~kriz/cifar.html",
    num_classes=100,
    files=(ARCHIVE,),
)


def load_data(label_mode="fine", path=None, download=True):
    """Load CIFAR-100 as Keras does.

    Args:
        label_mode: "fine" (100 classes) or "coarse" (the 20 superclasses).
        path: cifar-100-binary.tar.gz itself, or a directory holding it; default: search
            $CORENN_DATA, ~/.cache/corenn/datasets/cifar-100, /usr/share/datasets/cifar-100,
            then download into the cache (checksum verified).
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): x uint8 of shape (50000, 32, 32, 3) and
        (10000, 32, 32, 3), channels last; y uint8 of shape (50000, 1) and (10000, 1).
    """
    if label_mode not in _LABEL_COLUMN:
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', got "
                         f"{label_mode!r}")
    archive = _loader.locate_file(SPEC, path, download)
    out = []
    for images, labels in _cifar.read_archive(archive, (TRAIN_MEMBER, TEST_MEMBER),
                                              label_bytes=2):
        # Both label columns are checked, whichever is returned: a bad byte means a bad file.
        _check_labels(labels[:, 0], 20, archive, "coarse")
        _check_labels(labels[:, 1], 100, archive, "fine")
        column = _LABEL_COLUMN[label_mode]
        out.append((images, labels[:, column:column + 1].copy()))
    return tuple(out)
