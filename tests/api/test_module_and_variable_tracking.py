"""tf.Module's variable collection, tf.Variables held by Keras models and layers (their weights:
fit trains them, save_weights keeps them), and numpy() of a variable as a snapshot."""
import numpy as np

import corenn as tf
from corenn import keras


class Inner(tf.Module):
    def __init__(self):
        super().__init__()
        self.k = tf.Variable(np.ones((2, 2)), name="k")
        self.frozen = tf.Variable(0.0, trainable=False, name="frozen")


class Outer(tf.Module):
    def __init__(self):
        super().__init__(name="outer")
        self.a = tf.Variable(1.0, name="a")
        self.parts = [Inner(), {"dense": keras.layers.Dense(1)}]
        self.parts[1]["dense"].build((None, 2))
        self.same = self.a   # counted once


def test_module_collects_variables_and_submodules():
    m = Outer()
    assert m.name == "outer"
    names = [v.name for v in m.variables]
    assert names[0] == "a:0" and "k:0" in names and "frozen:0" in names and len(names) == 5   # + kernel, bias
    assert len(m.trainable_variables) == 4 and [v.name for v in m.non_trainable_variables] == ["frozen:0"]
    assert [type(s).__name__ for s in m.submodules] == ["Inner", "Dense"]
    with m.name_scope:
        pass


class Line(keras.Model):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(2.0)
        self.b = tf.Variable(-1.0)

    def call(self, x):
        return self.w * x + self.b


def test_model_variables_are_its_weights_and_fit_trains_them(tmp_path):
    model = Line()
    assert [float(v.numpy()) for v in model.trainable_variables] == [2.0, -1.0]
    x = np.linspace(-1, 1, 64).astype(np.float32)
    y = 3 * x + 0.5
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, epochs=60, batch_size=64, verbose=0)
    np.testing.assert_allclose([model.w.numpy(), model.b.numpy()], [3.0, 0.5], atol=1e-3)
    model.save_weights(str(tmp_path / "line.weights.npz"))
    other = Line()
    other.load_weights(str(tmp_path / "line.weights.npz"))
    np.testing.assert_allclose([other.w.numpy(), other.b.numpy()], [model.w.numpy(), model.b.numpy()])


class Scale(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.s = tf.Variable(np.ones(3), name="s")

    def call(self, x):
        return x * self.s


def test_layer_variables_are_its_weights_in_a_graph():
    inp = keras.Input((3,))
    layer = Scale()
    model = keras.Model(inp, layer(inp))
    assert [v.name for v in layer.trainable_weights] == ["s:0"]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    model.fit(x, x * np.array([2.0, -1.0, 0.5], np.float32), epochs=40, batch_size=64, verbose=0)
    np.testing.assert_allclose(layer.s.numpy(), [2.0, -1.0, 0.5], atol=1e-3)


def test_numpy_of_a_variable_is_a_snapshot_and_of_a_tensor_a_view():
    v = tf.Variable(1.0)
    history = []
    for _ in range(3):
        history.append(v.numpy())
        v.assign_sub(0.5)
    assert history == [1.0, 0.5, 0.0] and isinstance(history[0], np.float32)
    t = tf.constant([1.0, 2.0])
    view = t.numpy()
    t.fill_(7.0)
    assert view.tolist() == [7.0, 7.0]


def test_nested_python_lists_are_one_input_and_submodules():
    layer = keras.layers.Dense(2, kernel_initializer="ones")
    out = layer([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(np.asarray(out), [[6.0, 6.0]])

    class Two(keras.Model):
        def __init__(self):
            super().__init__()
            self.first = keras.layers.Dense(2)
            self.rest = keras.Sequential([keras.layers.Dense(2), keras.layers.Dense(1)])
            self.v = tf.Variable(1.0)

        def call(self, x):
            return self.rest(self.first(x)) * self.v

    m = Two()
    m(np.ones((1, 3), np.float32))
    kinds = [type(s).__name__ for s in m.submodules]
    assert kinds.count("Dense") == 3 and "Sequential" in kinds and "_VariableHolder" not in kinds
    assert len(m.trainable_variables) == 7   # 3 Dense x (kernel, bias) + v
