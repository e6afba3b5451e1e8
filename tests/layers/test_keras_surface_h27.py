"""Issue 13, "the Keras surface": differences from Keras 3.15 closed in session 18.

RMSNormalization's errors name RMSNormalization; Masking on rank-2 inputs; the 'glu' activation
(and the other activation names Keras 3.15 lists); EinsumDense keeps unknown (None) output dims
symbolic; elementwise layers on 0-d inputs. References are computed independently (NumPy,
finite differences); where a behaviour is Keras' own choice, the comment says how it was
obtained from Keras 3.15 (KERAS_BACKEND=torch)."""
import numpy as np
import pytest

import corenn
from corenn import layers


# -- 1. RMSNormalization's errors name RMSNormalization (it shares LayerNormalization's code) --

@pytest.mark.parametrize("kwargs, shape", [
    (dict(axis=3), (2, 3)), (dict(axis=0), (2, 3)), (dict(axis=[1, 1]), (2, 3, 4)),
    (dict(axis="a"), (2, 3)), (dict(epsilon=0.0), (2, 3))])
def test_rms_normalization_errors_name_rms_normalization(kwargs, shape):
    with pytest.raises((ValueError, TypeError)) as info:
        layer = layers.RMSNormalization(**kwargs)
        layer(np.ones(shape, np.float32))
    msg = str(info.value)
    assert "RMSNormalization" in msg and "LayerNormalization" not in msg, msg


def test_layer_normalization_errors_still_name_layer_normalization():
    with pytest.raises(ValueError, match=r"^LayerNormalization 'layer_normalization\w*': axis 3"):
        layers.LayerNormalization(axis=3)(np.ones((2, 3), np.float32))
