"""A frozen model whose inner layer is set back to trainable, as Keras 3.15 does it (checked
against Keras 3.15 on the torch backend): the frozen model's own ``trainable_weights`` is empty
and its ``non_trainable_weights`` holds every weight, while a model around it lists (and fit
trains) the inner layer's weights by their own flag."""
import numpy as np
import pytest

from corenn import keras, layers


def _nested(kind):
    if kind == "sequential":
        base = keras.Sequential([keras.Input((3,)), layers.Dense(4, name="a"), layers.Dense(4, name="b")],
                                name="base")
        model = keras.Sequential([keras.Input((3,)), base, layers.Dense(1, name="head")])
        inner = base.layers[0]
    else:
        i = keras.Input((3,))
        base = keras.Model(i, layers.Dense(4, name="b")(layers.Dense(4, name="a")(i)), name="base")
        i2 = keras.Input((3,))
        model = keras.Model(i2, layers.Dense(1, name="head")(base(i2)))
        inner = base.layers[1]
    base.trainable = False
    inner.trainable = True
    return model, base, inner


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_frozen_base_lists_no_trainable_weights_but_the_outer_model_does(kind):
    model, base, inner = _nested(kind)
    assert inner.name == "a" and inner.trainable and not base.trainable
    assert base.trainable_weights == [] and base.trainable_variables == []
    assert len(base.non_trainable_weights) == 4   # a's and b's kernel and bias
    head = model.get_layer("head")
    tw = model.trainable_weights
    assert [id(w) for w in tw] == [id(w) for w in inner.weights + head.weights]
    assert [id(w) for w in model.non_trainable_weights] == [id(w) for w in base.get_layer("b").weights]


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_fit_trains_the_inner_layer_set_back_to_trainable_only(kind):
    model, base, inner = _nested(kind)
    frozen = base.get_layer("b")
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before_a = [np.array(w) for w in inner.weights]
    before_b = [np.array(w) for w in frozen.weights]
    x, y = np.ones((8, 3), np.float32), np.ones((8, 1), np.float32)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert all(not np.allclose(b, np.asarray(w)) for b, w in zip(before_a, inner.weights))
    assert all(np.array_equal(b, np.asarray(w)) for b, w in zip(before_b, frozen.weights))


def test_a_frozen_model_fit_directly_changes_no_weight():
    base = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(1)])
    base.trainable = False
    base.layers[0].trainable = True
    assert base.trainable_weights == [] and len(base.non_trainable_weights) == 4
    base.compile(keras.optimizers.SGD(0.1), "mse")
    before = [np.array(w) for w in base.weights]
    base.fit(np.ones((8, 3), np.float32), np.ones((8, 1), np.float32), epochs=2, verbose=0)
    assert all(np.array_equal(b, np.asarray(w)) for b, w in zip(before, base.weights))


def test_setting_trainable_sets_the_input_layers_and_back():
    model, base, inner = _nested("functional")
    assert [l.trainable for l in base.layers] == [False, True, False]   # InputLayer, a, b
    base.trainable = True
    assert [l.trainable for l in base.layers] == [True, True, True]
    assert len(model.trainable_weights) == 6
    base.trainable = False
    assert [l.trainable for l in base.layers] == [False, False, False]
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
