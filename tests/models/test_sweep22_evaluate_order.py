"""Sweep 22 (keras.io "MoE for MNIST"): evaluate's list puts a custom test_step's extra logs after
the model's own (loss, compiled metrics), sorted by name, as Keras 3's _flatten_metrics_in_order:
``score[1]`` is the accuracy, not the step's ``moe_loss``."""
import numpy as np

from corenn import keras


class Extra(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        return self.d(x)

    def test_step(self, data):
        x, y = data[0], data[1]
        y_pred = self(x)
        loss = self.compute_loss(x, y, y_pred)
        for m in self.metrics:
            if m.name != "loss":
                m.update_state(y, y_pred)
        return {"zz": 3.0, "loss": loss, "aa": 1.0, **{m.name: m.result() for m in self.metrics if m.name != "loss"}}


def test_evaluate_list_orders_custom_logs_after_compiled_metrics():
    m = Extra()
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.ones((4, 3), "float32")
    y = np.array([0, 1, 0, 1])
    logs = m.evaluate(x, y, verbose=0, return_dict=True)
    score = m.evaluate(x, y, verbose=0)
    assert score == [logs["loss"], logs["accuracy"], 1.0, 3.0]
    assert m.test_on_batch(x, y) == score


def test_plain_model_order_unchanged():
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    m.compile("adam", "mse", metrics=["mae"])
    logs = m.evaluate(np.ones((4, 3)), np.ones((4, 2)), verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae"]
    assert m.evaluate(np.ones((4, 3)), np.ones((4, 2)), verbose=0) == [logs["loss"], logs["mae"]]
