"""TensorFlow's private ``tensorflow.python`` paths that real programs import from
(``from tensorflow.python.framework import tensor_shape``: keras-spp's pooling layers, keras.io's
dimension-adaptive pooling example), mapped onto corenn's public objects. Only modules a program
was found to need are here."""
