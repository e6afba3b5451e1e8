"""``keras.applications.vgg16``."""
from ._vgg import decode_predictions, preprocess_input, vgg


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16 (138,357,544 parameters with the classifier). Inputs: ``vgg16.preprocess_input``."""
    return vgg((2, 2, 3, 3, 3), "vgg16",
               ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
               include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


__all__ = ["VGG16", "preprocess_input", "decode_predictions"]
