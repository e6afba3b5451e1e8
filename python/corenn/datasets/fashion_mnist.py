"""Fashion-MNIST (Zalando Research): 70,000 28x28 grayscale images of clothing, 10 classes.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot. Offline source: Debian's `dataset-fashion-mnist` package.
"""
from . import _loader

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")

# The md5s are those published in the Fashion-MNIST README for the S3 files. Debian
# recompresses the same data, so we also accept the sha256 of the decompressed content,
# computed from the Debian package's files.
SPEC = _loader.DatasetSpec(
    name="fashion-mnist",
    mirrors=["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    checksums={
        "train-images-idx3-ubyte.gz": (
            "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "content-sha256:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train-labels-idx1-ubyte.gz": (
            "md5:25c81989df183df01b3e8a0aad5dffbe",
            "content-sha256:bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "t10k-images-idx3-ubyte.gz": (
            "md5:bef4ecab320f06d8554ea6380940ec79",
            "content-sha256:5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "t10k-labels-idx1-ubyte.gz": (
            "md5:bb300cfdad3c16e7a12a480ee83cd310",
            "content-sha256:0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
    system_dirs=["/usr/share/datasets/fashion-mnist"],
    install_hint="install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu)",
)


def load_data(path=None, download=True):
    """Load Fashion-MNIST as Keras does.

    Args:
        path: a directory holding the four IDX files (gzipped or not); default: search
            $CORENN_DATA, ~/.cache/corenn/datasets/fashion-mnist, /usr/share/datasets, then
            download into the cache.
        download: allow the download step.

    Returns:
        ((x_train, y_train), (x_test, y_test)): uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28), (10000,).
    """
    return _loader.load(SPEC, path, download)
