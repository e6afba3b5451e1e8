"""tf.keras 2's premade models, ``tf.keras.experimental.LinearModel`` and ``WideDeepModel``
(also ``tf.compat.v1.keras.experimental``), which the TensorFlow guide "Migrate from canned
Estimators" puts in place of LinearEstimator and DNNLinearCombinedEstimator. Keras 3 dropped them;
these follow TF-Keras 2.15's behaviour (tf_keras/premade_models).

LinearModel: y = activation(sum_i x_i W_i + b): one bias-free Dense of ``units`` per input (a
single tensor, a list of tensors, or a dict of them, taken in sorted key order and named by key),
plus one bias; kernels and bias start at zero, as TF-Keras 2's defaults.

WideDeepModel(linear_model, dnn_model): y = activation(linear(x_linear) + dnn(x_dnn)), where a
two-element list / tuple input is split between the two and any other input goes to both.
``compile(optimizer=[linear_optimizer, dnn_optimizer], ...)`` trains each part with its own
optimizer (one optimizer: all weights with it), as TF-Keras 2's train_step does.
"""
from __future__ import annotations

from .. import activations as _activations
from .. import initializers as _initializers
from .. import ops
from .. import regularizers as _regularizers
from .model import Model

__all__ = ["LinearModel", "WideDeepModel"]


class LinearModel(Model):
    """A linear (or generalized linear, with ``activation``) model of its inputs (module docstring)."""

    def __init__(self, units=1, activation=None, use_bias=True, kernel_initializer="zeros",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"LinearModel: units must be a positive integer, got {units!r}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self._input_names = None
        self.dense_layers = None

    def _dense(self, name=None):
        from ..layers import Dense
        kwargs = {"name": name} if name is not None else {}
        return Dense(self.units, use_bias=False, kernel_initializer=self.kernel_initializer,
                     kernel_regularizer=self.kernel_regularizer, **kwargs)

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            self._input_names = sorted(input_shape)
            shapes = [input_shape[k] for k in self._input_names]
            self.dense_layers = [self._dense(name) for name in self._input_names]
        elif isinstance(input_shape, (list, tuple)) and input_shape and \
                all(isinstance(s, (list, tuple)) or s is None for s in input_shape):
            shapes = list(input_shape)
            self.dense_layers = [self._dense() for _ in shapes]
        else:
            shapes = [input_shape]
            self.dense_layers = [self._dense()]
        for layer, shape in zip(self.dense_layers, shapes):
            layer.build(tuple(shape))
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        if getattr(self, "dense_layers", None) is None:   # first call: build from the inputs' shapes
            shape = lambda t: tuple(ops.shape(t))   # noqa: E731
            self.build({k: shape(v) for k, v in inputs.items()} if isinstance(inputs, dict) else
                       [shape(v) for v in inputs] if isinstance(inputs, (list, tuple)) else shape(inputs))
        if isinstance(inputs, dict):
            if self._input_names is None:
                raise ValueError("LinearModel: built for a single input or a list, called with a dict")
            missing = sorted(set(self._input_names) - set(inputs))
            if missing:
                raise ValueError(f"LinearModel: the inputs dict lacks {missing}; the model was built for "
                                 f"{self._input_names}")
            inputs = [inputs[name] for name in self._input_names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        if len(inputs) != len(self.dense_layers):
            raise ValueError(f"LinearModel: built for {len(self.dense_layers)} input(s), called with {len(inputs)}")
        result = None
        for x, layer in zip(inputs, self.dense_layers):
            out = layer(ops.cast(x, "float32"))
            result = out if result is None else result + out
        if self.bias is not None:
            result = result + self.bias
        return self.activation(result) if self.activation is not None else result

    def get_config(self):
        return {"name": self.name, "units": self.units,
                "activation": _activations.serialize(self.activation) if self.activation is not None else None,
                "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer)
                if self.kernel_regularizer is not None else None,
                "bias_regularizer": _regularizers.serialize(self.bias_regularizer)
                if self.bias_regularizer is not None else None}


class WideDeepModel(Model):
    """The sum of a linear model and a deep model (module docstring)."""

    def __init__(self, linear_model, dnn_model, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.linear_model = linear_model
        self.dnn_model = dnn_model
        self.activation = _activations.get(activation)
        self._optimizers = None

    def call(self, inputs, training=None):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
            linear_inputs, dnn_inputs = inputs
        else:
            linear_inputs = dnn_inputs = inputs
        out = self.linear_model(linear_inputs) + self.dnn_model(dnn_inputs, training=training)
        return self.activation(out) if self.activation is not None else out

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """As Model.compile; ``optimizer`` may also be [linear_optimizer, dnn_optimizer]."""
        if isinstance(optimizer, (list, tuple)):
            if len(optimizer) != 2:
                raise ValueError(f"WideDeepModel.compile: optimizer must be one optimizer or a list of two "
                                 f"(linear, dnn), got {len(optimizer)}")
            from .. import optimizers
            pair = [optimizers.get(o) for o in optimizer]
            super().compile(optimizer=pair[0], loss=loss, metrics=metrics, **kwargs)
            self._optimizers = pair
        else:
            super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
            self._optimizers = None

    def train_step(self, data):
        from ..autodiff import GradientTape
        from ..utils import unpack_x_y_sample_weight
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, sample_weight, regularization_losses=self.losses)
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
        if self._optimizers is not None:
            linear_vars = self.linear_model.trainable_variables
            dnn_vars = self.dnn_model.trainable_variables
            linear_grads, dnn_grads = tape.gradient(loss, (linear_vars, dnn_vars))
            self._optimizers[0].apply_gradients(zip(linear_grads, linear_vars))
            self._optimizers[1].apply_gradients(zip(dnn_grads, dnn_vars))
        else:
            variables = self.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {m.name: m.result() for m in self.metrics}
