"""keras.io example "Class Attention Image Transformers with LayerScale" (CaiT), imports changed:
LayerScale, StochasticDepth with a SeedGenerator, ClassAttention and TalkingHeadAttention
layers, the blocks as functional sub-models returning (output, attention scores), the CaiT
subclassed model returning logits and dicts of attention maps, trained here at a tiny size with
a GradientTape loop on synthetic two-class images."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops

keras.utils.set_random_seed(0)

class LayerScale(layers.Layer):
    def __init__(self, init_values: float, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.gamma = self.add_weight(shape=(projection_dim,), initializer=keras.initializers.Constant(init_values))
    def call(self, x, training=False):
        return x * self.gamma

class StochasticDepth(layers.Layer):
    def __init__(self, drop_prop, **kwargs):
        super().__init__(**kwargs)
        self.drop_prob = drop_prop
        self.seed_generator = keras.random.SeedGenerator(1337)
    def call(self, x, training=False):
        if training:
            keep_prob = 1 - self.drop_prob
            shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
            random_tensor = keep_prob + keras.random.uniform(shape, 0, 1, seed=self.seed_generator)
            random_tensor = ops.floor(random_tensor)
            return (x / keep_prob) * random_tensor
        return x

class ClassAttention(layers.Layer):
    def __init__(self, projection_dim: int, num_heads: int, dropout_rate: float, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        head_dim = projection_dim // num_heads
        self.scale = head_dim**-0.5
        self.q = layers.Dense(projection_dim)
        self.k = layers.Dense(projection_dim)
        self.v = layers.Dense(projection_dim)
        self.attn_drop = layers.Dropout(dropout_rate)
        self.proj = layers.Dense(projection_dim)
        self.proj_drop = layers.Dropout(dropout_rate)
    def call(self, x, training=False):
        batch_size, num_patches, num_channels = (ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2])
        q = ops.expand_dims(self.q(x[:, 0]), axis=1)
        q = ops.reshape(q, (batch_size, 1, self.num_heads, num_channels // self.num_heads))
        q = ops.transpose(q, axes=[0, 2, 1, 3])
        scale = ops.cast(self.scale, dtype=q.dtype)
        q = q * scale
        k = self.k(x)
        k = ops.reshape(k, (batch_size, num_patches, self.num_heads, num_channels // self.num_heads))
        k = ops.transpose(k, axes=[0, 2, 1, 3])
        v = self.v(x)
        v = ops.reshape(v, (batch_size, num_patches, self.num_heads, num_channels // self.num_heads))
        v = ops.transpose(v, axes=[0, 2, 1, 3])
        attn = ops.matmul(q, ops.transpose(k, axes=[0, 1, 3, 2]))
        attn = ops.nn.softmax(attn, axis=-1)
        attn = self.attn_drop(attn, training=training)
        x_cls = ops.matmul(attn, v)
        x_cls = ops.transpose(x_cls, axes=[0, 2, 1, 3])
        x_cls = ops.reshape(x_cls, (batch_size, 1, num_channels))
        x_cls = self.proj(x_cls)
        x_cls = self.proj_drop(x_cls, training=training)
        return x_cls, attn

class TalkingHeadAttention(layers.Layer):
    def __init__(self, projection_dim: int, num_heads: int, dropout_rate: float, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        head_dim = projection_dim // self.num_heads
        self.scale = head_dim**-0.5
        self.qkv = layers.Dense(projection_dim * 3)
        self.attn_drop = layers.Dropout(dropout_rate)
        self.proj = layers.Dense(projection_dim)
        self.proj_l = layers.Dense(self.num_heads)
        self.proj_w = layers.Dense(self.num_heads)
        self.proj_drop = layers.Dropout(dropout_rate)
    def call(self, x, training=False):
        B, N, C = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        qkv = self.qkv(x)
        qkv = ops.reshape(qkv, (B, N, 3, self.num_heads, C // self.num_heads))
        qkv = ops.transpose(qkv, axes=[2, 0, 3, 1, 4])
        scale = ops.cast(self.scale, dtype=qkv.dtype)
        q, k, v = qkv[0] * scale, qkv[1], qkv[2]
        attn = ops.matmul(q, ops.transpose(k, axes=[0, 1, 3, 2]))
        attn = self.proj_l(ops.transpose(attn, axes=[0, 2, 3, 1]))
        attn = ops.transpose(attn, axes=[0, 3, 1, 2])
        attn = ops.nn.softmax(attn, axis=-1)
        attn = self.proj_w(ops.transpose(attn, axes=[0, 2, 3, 1]))
        attn = ops.transpose(attn, axes=[0, 3, 1, 2])
        attn = self.attn_drop(attn, training=training)
        x = ops.matmul(attn, v)
        x = ops.transpose(x, axes=[0, 2, 1, 3])
        x = ops.reshape(x, (B, N, C))
        x = self.proj(x)
        x = self.proj_drop(x, training=training)
        return x, attn

def mlp(x, dropout_rate: float, hidden_units):
    for idx, units in enumerate(hidden_units):
        x = layers.Dense(units, activation=ops.nn.gelu if idx == 0 else None, bias_initializer=keras.initializers.RandomNormal(stddev=1e-6))(x)
        x = layers.Dropout(dropout_rate)(x)
    return x

def LayerScaleBlockClassAttention(projection_dim, num_heads, layer_norm_eps, init_values, mlp_units, dropout_rate, sd_prob, name):
    x = keras.Input((None, projection_dim))
    x_cls = keras.Input((None, projection_dim))
    inputs = keras.layers.Concatenate(axis=1)([x_cls, x])
    x1 = layers.LayerNormalization(epsilon=layer_norm_eps)(inputs)
    attn_output, attn_scores = ClassAttention(projection_dim, num_heads, dropout_rate)(x1)
    attn_output = (LayerScale(init_values, projection_dim)(attn_output) if init_values else attn_output)
    attn_output = StochasticDepth(sd_prob)(attn_output) if sd_prob else attn_output
    x2 = keras.layers.Add()([x_cls, attn_output])
    x3 = layers.LayerNormalization(epsilon=layer_norm_eps)(x2)
    x4 = mlp(x3, hidden_units=mlp_units, dropout_rate=dropout_rate)
    x4 = LayerScale(init_values, projection_dim)(x4) if init_values else x4
    x4 = StochasticDepth(sd_prob)(x4) if sd_prob else x4
    outputs = keras.layers.Add()([x2, x4])
    return keras.Model([x, x_cls], [outputs, attn_scores], name=name)

def LayerScaleBlock(projection_dim, num_heads, layer_norm_eps, init_values, mlp_units, dropout_rate, sd_prob, name):
    encoded_patches = keras.Input((None, projection_dim))
    x1 = layers.LayerNormalization(epsilon=layer_norm_eps)(encoded_patches)
    attn_output, attn_scores = TalkingHeadAttention(projection_dim, num_heads, dropout_rate)(x1)
    attn_output = (LayerScale(init_values, projection_dim)(attn_output) if init_values else attn_output)
    attn_output = StochasticDepth(sd_prob)(attn_output) if sd_prob else attn_output
    x2 = layers.Add()([encoded_patches, attn_output])
    x3 = layers.LayerNormalization(epsilon=layer_norm_eps)(x2)
    x4 = mlp(x3, hidden_units=mlp_units, dropout_rate=dropout_rate)
    x4 = LayerScale(init_values, projection_dim)(x4) if init_values else x4
    x4 = StochasticDepth(sd_prob)(x4) if sd_prob else x4
    outputs = layers.Add()([x2, x4])
    return keras.Model(encoded_patches, [outputs, attn_scores], name=name)

class CaiT(keras.Model):
    def __init__(self, projection_dim, patch_size, num_patches, init_values, mlp_units, sa_ffn_layers, ca_ffn_layers,
                 num_heads, layer_norm_eps, dropout_rate, sd_prob, global_pool, pre_logits, num_classes, **kwargs):
        if global_pool not in ["token", "avg"]:
            raise ValueError(f'Invalid value received for `global_pool`, should be either `"token"` or `"avg"`.')
        super().__init__(**kwargs)
        self.projection = keras.Sequential([layers.Conv2D(filters=projection_dim, kernel_size=(patch_size, patch_size),
                                                          strides=(patch_size, patch_size), padding="VALID",
                                                          name="conv_projection", kernel_initializer="lecun_normal"),
                                            layers.Reshape(target_shape=(-1, projection_dim), name="flatten_projection")],
                                           name="projection")
        self.cls_token = self.add_weight(shape=(1, 1, projection_dim), initializer="zeros")
        self.pos_embed = self.add_weight(shape=(1, num_patches, projection_dim), initializer="zeros")
        self.pos_drop = layers.Dropout(dropout_rate, name="projection_dropout")
        self.sa_ffn_block = [LayerScaleBlock(projection_dim=projection_dim, num_heads=num_heads, layer_norm_eps=layer_norm_eps,
                                             init_values=init_values, mlp_units=mlp_units, dropout_rate=dropout_rate,
                                             sd_prob=sd_prob, name=f"sa_ffn_block_{i}") for i in range(sa_ffn_layers)]
        self.ca_ffn_block = [LayerScaleBlockClassAttention(projection_dim=projection_dim, num_heads=num_heads,
                                                           layer_norm_eps=layer_norm_eps, init_values=init_values,
                                                           mlp_units=mlp_units, dropout_rate=dropout_rate,
                                                           name=f"ca_ffn_block_{i}", sd_prob=0.0) for i in range(ca_ffn_layers)]
        self.norm = layers.LayerNormalization(epsilon=layer_norm_eps, name="head_norm")
        self.global_pool = global_pool
        self.pre_logits = pre_logits
        self.num_classes = num_classes
        if not pre_logits:
            self.head = layers.Dense(num_classes, name="classification_head")
    def call(self, x, training=False):
        x = self.projection(x)
        x = x + self.pos_embed
        x = self.pos_drop(x)
        sa_ffn_attn = {}
        for blk in self.sa_ffn_block:
            (x, attn_scores) = blk(x)
            sa_ffn_attn[f"{blk.name}_att"] = attn_scores
        ca_ffn_attn = {}
        cls_tokens = ops.tile(self.cls_token, (ops.shape(x)[0], 1, 1))
        for blk in self.ca_ffn_block:
            (cls_tokens, attn_scores) = blk([x, cls_tokens])
            ca_ffn_attn[f"{blk.name}_att"] = attn_scores
        x = ops.concatenate([cls_tokens, x], axis=1)
        x = self.norm(x)
        if self.global_pool:
            x = (ops.reduce_mean(x[:, 1:], axis=1) if self.global_pool == "avg" else x[:, 0])
        return (x, sa_ffn_attn, ca_ffn_attn) if self.pre_logits else (self.head(x), sa_ffn_attn, ca_ffn_attn)

image_size = 16; patch_size = 4; num_patches = (image_size // patch_size) ** 2; projection_dim = 32
config = dict(projection_dim=projection_dim, patch_size=patch_size, num_patches=num_patches, init_values=0.1,
              mlp_units=[projection_dim * 4, projection_dim], sa_ffn_layers=2, ca_ffn_layers=1, num_heads=4,
              layer_norm_eps=1e-6, dropout_rate=0.0, sd_prob=0.05, global_pool="token", pre_logits=False,
              num_classes=2)
cait_xxs24_224 = CaiT(**config)
dummy_inputs = ops.ones((2, image_size, image_size, 3))
_ = cait_xxs24_224(dummy_inputs)
logits, sa_atn_score_dict, ca_atn_score_dict = cait_xxs24_224(dummy_inputs, training=False)
print(logits.shape, sorted(sa_atn_score_dict), {k: v.shape for k, v in ca_atn_score_dict.items()})
assert tuple(ca_atn_score_dict["ca_ffn_block_0_att"].shape) == (2, 4, 1, num_patches + 1)
assert tuple(sa_atn_score_dict["sa_ffn_block_0_att"].shape) == (2, 4, num_patches, num_patches)
# train the classifier head with a custom step: class = bright left half vs bright right half
rng = np.random.default_rng(0)
y = rng.integers(0, 2, 64)
x = rng.normal(0, .3, (64, image_size, image_size, 3)).astype("float32")
for i in range(64):
    if y[i]: x[i, :, :8] += 1.
    else: x[i, :, 8:] += 1.
opt = keras.optimizers.Adam(3e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
losses = []
for epoch in range(12):
    for s in range(0, 64, 16):
        with tf.GradientTape() as tape:
            lg, _, _ = cait_xxs24_224(x[s:s + 16], training=True)
            l = loss_fn(y[s:s + 16], lg)
        g = tape.gradient(l, cait_xxs24_224.trainable_variables)
        opt.apply_gradients(zip(g, cait_xxs24_224.trainable_variables))
        losses.append(float(l))
print(losses[0], losses[-1])
lg, _, _ = cait_xxs24_224(x, training=False)
acc = np.mean(np.argmax(np.asarray(lg), -1) == y)
print("acc", acc)
assert acc > 0.9
