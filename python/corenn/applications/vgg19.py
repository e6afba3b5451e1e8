"""``keras.applications.vgg19``."""
from ._vgg import decode_predictions, preprocess_input, vgg


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19 (143,667,240 parameters with the classifier). Inputs: ``vgg19.preprocess_input``."""
    return vgg((2, 2, 4, 4, 4), "vgg19",
               ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
               include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
