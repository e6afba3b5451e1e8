"""VGG16 / VGG19 (Simonyan & Zisserman 2014): five stages of 3x3 convolutions and 2x2 max
pooling, then three dense layers; Keras' layer names."""
from .. import layers
from . import _builder as B
from . import imagenet_utils

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"


def vgg(convs_per_stage, file_stem, hashes, include_top, weights, input_tensor, input_shape,
        pooling, classes, classifier_activation, name):
    B.check_weights(weights, include_top, classes, name)
    B.check_pooling(pooling, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=B.backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = B.model_input(input_shape, input_tensor, name)
    x = img_input
    for stage, (filters, n) in enumerate(zip((64, 128, 256, 512, 512), convs_per_stage), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{stage}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{stage}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = B.pool(x, pooling)

    def imagenet_weights():
        suffix = "" if include_top else "_notop"
        file_name = f"{file_stem}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        return B.imagenet_file(file_name, f"{_BASE}{file_stem}/{file_name}",
                               hashes[0 if include_top else 1])
    return B.finish(img_input, x, name, weights, imagenet_weights, input_tensor)


def preprocess_input(x, data_format=None):
    """'caffe' mode: RGB -> BGR, minus the ImageNet mean pixel, no scaling."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
