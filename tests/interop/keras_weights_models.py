"""Models whose Keras 3 ``.weights.h5`` layout is easy to get wrong, written once for both
frameworks: ``builders(keras)`` takes Keras 3's ``keras`` module (tools/make_keras_fixtures.py
writes the fixtures with it) or corenn's (tests/interop/test_keras_weights_layouts.py), so the
class code is the same and only the import differs.

- own_variables: custom layers that make their own variables (add_weight in build and in
  __init__, keras.Variable attributes), non-trainable ones before trainable ones, a layer mixing its own variables with
  layers it holds, and such layers nested in another (Keras writes each layer's own variables
  trainable first: ``_trainable_variables + _non_trainable_variables``).
- own_variables_subclassed: a subclassed model with variables of its own (a non-trainable one
  first) holding those layers.
- backbone_cuts: two models cut out of one backbone (``keras.Model(backbone.input,
  backbone.get_layer(name).output)``) used in a bigger model; they share their first layers,
  which Keras writes once, with the first model that reaches them.
- backbone_blocks: BASNet's pattern (keras.io examples/vision/basnet_segmentation): blocks cut
  out of a ResNet-style backbone between two named layers (``Model(get_layer(a).input,
  get_layer(b).output)``), whose shortcut convolution runs before the layers Keras lists first,
  a refinement module built on ``base.output[0]``, all in a keras.Model subclass that calls
  ``super().__init__(inputs=..., outputs=...)``.
"""
import numpy as np


def builders(keras):
    layers, ops = keras.layers, keras.ops

    class NonTrainableFirst(layers.Layer):
        def build(self, input_shape):
            d = input_shape[-1]
            self.count = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="count")
            self.w = self.add_weight(shape=(d, 3), initializer="glorot_uniform", name="w")
            self.b = self.add_weight(shape=(3,), initializer="zeros", name="b")

        def call(self, x):
            return ops.matmul(x + self.count, self.w) + self.b

    class InitVariables(layers.Layer):
        def __init__(self, d=3, **kwargs):
            super().__init__(**kwargs)
            self.shift = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="shift")
            self.scale = self.add_weight(shape=(d,), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale + self.shift

    class VariableAttributes(layers.Layer):
        """keras.Variable attributes made in __init__ (a non-trainable one among them) and an
        add_weight in build: Keras lists the trainable ones in the order made, a before b."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = keras.Variable(np.full((3,), 2.0, "float32"), trainable=True, name="a")
            self.c = keras.Variable(np.full((3,), 5.0, "float32"), trainable=False, name="c")

        def build(self, input_shape):
            self.b = self.add_weight(shape=(3,), initializer="ones", name="b")

        def call(self, x):
            return x * self.a + self.b + self.c

    class Mixed(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(4)
            self.norm = layers.LayerNormalization()

        def build(self, input_shape):
            self.mask = self.add_weight(shape=(4,), initializer="ones", trainable=False, name="mask")
            self.gain = self.add_weight(shape=(4,), initializer="ones", name="gain")

        def call(self, x):
            return self.norm(self.dense(x)) * self.gain * self.mask

    class Outer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Mixed()
            self.first = NonTrainableFirst()

        def build(self, input_shape):
            self.ema = self.add_weight(shape=(3,), initializer="zeros", trainable=False, name="ema")
            self.alpha = self.add_weight(shape=(), initializer="ones", name="alpha")

        def call(self, x):
            return self.first(self.inner(x)) * self.alpha + self.ema

    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.stat = self.add_weight(shape=(5,), initializer="zeros", trainable=False, name="stat")
            self.temp = self.add_weight(shape=(), initializer="ones", name="temp")
            self.block = Outer()
            self.head = layers.Dense(2)
            self.iv = InitVariables(3)

        def call(self, x):
            return self.head(self.iv(self.block(x + self.stat))) * self.temp

    def own_variables():
        inp = keras.Input((5,))
        h = NonTrainableFirst()(inp)
        h = InitVariables(3)(h)
        h = Mixed()(h)
        return keras.Model(inp, VariableAttributes()(Outer()(h)), name="own_variables")

    def own_variables_subclassed():
        model = Net(name="own_variables_subclassed")
        model(np.zeros((2, 5), "float32"))
        return model

    def backbone(branching):
        inp = keras.Input((8, 8, 3))
        x = layers.Conv2D(4, 3, padding="same", name="stem_conv")(inp)
        for s in range(2):
            # the shortcut is made and called first, as keras_cv's ResNet v2 blocks do
            short = layers.Conv2D(4, 1, name=f"stack{s}_0_conv")(x) if branching else x
            y = layers.Conv2D(4, 3, padding="same", use_bias=False, name=f"stack{s}_1_conv")(x)
            y = layers.BatchNormalization(name=f"stack{s}_1_bn")(y)
            y = layers.Activation("relu", name=f"stack{s}_1_relu")(y)
            x = layers.Add(name=f"stack{s}_add")([short, y])
        return keras.Model(inp, x, name="backbone")

    def backbone_cuts():
        bb = backbone(branching=False)
        stage1 = keras.Model(bb.input, bb.get_layer("stack0_add").output, name="stage1")
        stage2 = keras.Model(bb.input, bb.get_layer("stack1_add").output, name="stage2")
        inp = keras.Input((8, 8, 3))
        a = layers.Conv2D(2, 1, name="head_a")(stage1(inp))
        b = layers.Conv2D(2, 1, name="head_b")(stage2(inp))
        return keras.Model(inp, layers.Add()([a, b]), name="backbone_cuts")

    def predict_module():
        inp = layers.Input((8, 8, 3))
        x = layers.Conv2D(4, 3, padding="same")(inp)
        bb = backbone(branching=True)
        outs = []
        for s in range(2):
            block = keras.Model(bb.get_layer(f"stack{s}_1_conv").input, bb.get_layer(f"stack{s}_add").output,
                                name=f"block{s + 1}")
            x = block(x)
            outs.append(layers.Conv2D(1, 1)(x))
        return keras.Model(inp, outs)

    class Blocks(keras.Model):
        def __init__(self):
            base = predict_module()
            x_in = base.output[0]
            x = layers.Conv2D(2, 3, padding="same")(x_in)
            refined = layers.Add()([x_in, layers.Conv2D(1, 1)(x)])
            outs = [layers.Activation("sigmoid")(o) for o in [refined] + list(base.output)]
            super().__init__(inputs=base.input, outputs=layers.Add()(outs))

    def backbone_blocks():
        return Blocks()

    return {"own_variables": (own_variables, (5,)),
            "own_variables_subclassed": (own_variables_subclassed, (5,)),
            "backbone_cuts": (backbone_cuts, (8, 8, 3)),
            "backbone_blocks": (backbone_blocks, (8, 8, 3))}
