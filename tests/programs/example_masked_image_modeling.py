"""keras.io example "Masked image modeling with Autoencoders" (MAE; Aritra Roy Gosthipaty, Sayak
Paul), imports changed only: patches with tf.image.extract_patches, the PatchEncoder's random
masking (tf.argsort of tf.random.uniform, tf.gather(..., axis=1, batch_dims=1)), a learned mask
token, a transformer encoder and decoder, a MaskedAutoencoder with its own train_step / test_step
computing the loss on the masked patches only, a WarmUpCosine schedule written as a
LearningRateSchedule subclass, and linear evaluation of the frozen encoder. CIFAR-10 is replaced
by small synthetic images."""
import math

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

SEED = 42
keras.utils.set_random_seed(SEED)

BUFFER_SIZE = 256
BATCH_SIZE = 32
AUTO = tf.data.AUTOTUNE
INPUT_SHAPE = (16, 16, 3)
NUM_CLASSES = 4
LEARNING_RATE = 5e-3
WEIGHT_DECAY = 1e-4
EPOCHS = 6
IMAGE_SIZE = 16
PATCH_SIZE = 4
NUM_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2
MASK_PROPORTION = 0.75
LAYER_NORM_EPS = 1e-6
ENC_PROJECTION_DIM = 32
DEC_PROJECTION_DIM = 16
ENC_NUM_HEADS = 2
ENC_LAYERS = 2
DEC_NUM_HEADS = 2
DEC_LAYERS = 1
ENC_TRANSFORMER_UNITS = [ENC_PROJECTION_DIM * 2, ENC_PROJECTION_DIM]
DEC_TRANSFORMER_UNITS = [DEC_PROJECTION_DIM * 2, DEC_PROJECTION_DIM]


def make_images(n, rng):
    labels = rng.integers(0, NUM_CLASSES, size=n)
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    images = np.zeros((n, 16, 16, 3), "float32")
    for i, c in enumerate(labels):
        base = [xx, yy, (xx + yy) / 2, np.abs(xx - yy)][c]
        images[i] = base[..., None] * rng.uniform(100, 255, size=3) + rng.uniform(0, 20, size=(16, 16, 3))
    return images, labels.astype("int64")


rng = np.random.default_rng(SEED)
x_train, y_train = make_images(256, rng)
x_val, y_val = make_images(64, rng)
x_test, y_test = make_images(64, rng)

train_ds = tf.data.Dataset.from_tensor_slices(x_train)
train_ds = train_ds.shuffle(BUFFER_SIZE).batch(BATCH_SIZE).prefetch(AUTO)
val_ds = tf.data.Dataset.from_tensor_slices(x_val).batch(BATCH_SIZE).prefetch(AUTO)
test_ds = tf.data.Dataset.from_tensor_slices(x_test).batch(BATCH_SIZE).prefetch(AUTO)


def get_train_augmentation_model():
    model = keras.Sequential(
        [layers.Rescaling(1 / 255.0), layers.RandomFlip("horizontal")],
        name="train_data_augmentation",
    )
    return model


def get_test_augmentation_model():
    model = keras.Sequential([layers.Rescaling(1 / 255.0)], name="test_data_augmentation")
    return model


class Patches(layers.Layer):
    def __init__(self, patch_size=PATCH_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.resize = layers.Reshape((-1, patch_size * patch_size * 3))

    def call(self, images):
        patches = tf.image.extract_patches(
            images=images,
            sizes=[1, self.patch_size, self.patch_size, 1],
            strides=[1, self.patch_size, self.patch_size, 1],
            rates=[1, 1, 1, 1],
            padding="VALID",
        )
        patches = self.resize(patches)
        return patches

    def reconstruct_from_patch(self, patch):
        num_patches = patch.shape[0]
        n = int(np.sqrt(num_patches))
        patch = tf.reshape(patch, (num_patches, self.patch_size, self.patch_size, 3))
        rows = tf.split(patch, n, axis=0)
        rows = [tf.concat(tf.unstack(x), axis=1) for x in rows]
        reconstructed = tf.concat(rows, axis=0)
        return reconstructed


image_batch = next(iter(train_ds))
augmentation_model = get_train_augmentation_model()
augmented_images = augmentation_model(image_batch)
patch_layer = Patches()
patches = patch_layer(images=augmented_images)
assert tuple(patches.shape) == (BATCH_SIZE, NUM_PATCHES, PATCH_SIZE * PATCH_SIZE * 3)
image = patch_layer.reconstruct_from_patch(patches[3])
np.testing.assert_allclose(np.asarray(image), np.asarray(augmented_images[3]), atol=1e-6)


class PatchEncoder(layers.Layer):
    def __init__(self, patch_size=PATCH_SIZE, projection_dim=ENC_PROJECTION_DIM,
                 mask_proportion=MASK_PROPORTION, downstream=False, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.projection_dim = projection_dim
        self.mask_proportion = mask_proportion
        self.downstream = downstream
        self.mask_token = tf.Variable(tf.random.normal([1, patch_size * patch_size * 3]), trainable=True)

    def build(self, input_shape):
        (_, self.num_patches, self.patch_area) = input_shape
        self.projection = layers.Dense(units=self.projection_dim)
        self.position_embedding = layers.Embedding(input_dim=self.num_patches, output_dim=self.projection_dim)
        self.num_mask = int(self.mask_proportion * self.num_patches)

    def call(self, patches):
        batch_size = tf.shape(patches)[0]
        positions = tf.range(start=0, limit=self.num_patches, delta=1)
        pos_embeddings = self.position_embedding(positions[tf.newaxis, ...])
        pos_embeddings = tf.tile(pos_embeddings, [batch_size, 1, 1])
        patch_embeddings = self.projection(patches) + pos_embeddings
        if self.downstream:
            return patch_embeddings
        else:
            mask_indices, unmask_indices = self.get_random_indices(batch_size)
            unmasked_embeddings = tf.gather(patch_embeddings, unmask_indices, axis=1, batch_dims=1)
            unmasked_positions = tf.gather(pos_embeddings, unmask_indices, axis=1, batch_dims=1)
            masked_positions = tf.gather(pos_embeddings, mask_indices, axis=1, batch_dims=1)
            mask_tokens = tf.repeat(self.mask_token, repeats=self.num_mask, axis=0)
            mask_tokens = tf.repeat(mask_tokens[tf.newaxis, ...], repeats=batch_size, axis=0)
            masked_embeddings = self.projection(mask_tokens) + masked_positions
            return (unmasked_embeddings, masked_embeddings, unmasked_positions,
                    mask_indices, unmask_indices)

    def get_random_indices(self, batch_size):
        rand_indices = tf.argsort(tf.random.uniform(shape=(batch_size, self.num_patches)), axis=-1)
        mask_indices = rand_indices[:, : self.num_mask]
        unmask_indices = rand_indices[:, self.num_mask:]
        return mask_indices, unmask_indices

    def generate_masked_image(self, patches, unmask_indices):
        idx = np.random.choice(patches.shape[0])
        patch = patches[idx]
        unmask_index = unmask_indices[idx]
        new_patch = np.zeros_like(patch)
        count = 0
        for i in range(unmask_index.shape[0]):
            new_patch[unmask_index[i]] = patch[unmask_index[i]]
        return new_patch, idx


patch_encoder = PatchEncoder()
(unmasked_embeddings, masked_embeddings, unmasked_positions, mask_indices,
 unmask_indices) = patch_encoder(patches=patches)
n_mask = int(MASK_PROPORTION * NUM_PATCHES)
assert tuple(unmasked_embeddings.shape) == (BATCH_SIZE, NUM_PATCHES - n_mask, ENC_PROJECTION_DIM)
assert tuple(masked_embeddings.shape) == (BATCH_SIZE, n_mask, ENC_PROJECTION_DIM)
all_idx = np.sort(np.concatenate([np.asarray(mask_indices), np.asarray(unmask_indices)], axis=1), axis=1)
np.testing.assert_array_equal(all_idx, np.tile(np.arange(NUM_PATCHES), (BATCH_SIZE, 1)))
new_patch, random_index = patch_encoder.generate_masked_image(np.asarray(patches), np.asarray(unmask_indices))
masked_image = patch_layer.reconstruct_from_patch(new_patch)
assert tuple(masked_image.shape) == INPUT_SHAPE


def mlp(x, dropout_rate, hidden_units):
    for units in hidden_units:
        x = layers.Dense(units, activation=tf.nn.gelu)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


def create_encoder(num_heads=ENC_NUM_HEADS, num_layers=ENC_LAYERS):
    inputs = layers.Input((None, ENC_PROJECTION_DIM))
    x = inputs
    for _ in range(num_layers):
        x1 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x)
        attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=ENC_PROJECTION_DIM,
                                                     dropout=0.1)(x1, x1)
        x2 = layers.Add()([attention_output, x])
        x3 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x2)
        x3 = mlp(x3, hidden_units=ENC_TRANSFORMER_UNITS, dropout_rate=0.1)
        x = layers.Add()([x3, x2])
    outputs = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x)
    return keras.Model(inputs, outputs, name="mae_encoder")


def create_decoder(num_layers=DEC_LAYERS, num_heads=DEC_NUM_HEADS, image_size=IMAGE_SIZE):
    inputs = layers.Input((NUM_PATCHES, ENC_PROJECTION_DIM))
    x = layers.Dense(DEC_PROJECTION_DIM)(inputs)
    for _ in range(num_layers):
        x1 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x)
        attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=DEC_PROJECTION_DIM,
                                                     dropout=0.1)(x1, x1)
        x2 = layers.Add()([attention_output, x])
        x3 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x2)
        x3 = mlp(x3, hidden_units=DEC_TRANSFORMER_UNITS, dropout_rate=0.1)
        x = layers.Add()([x3, x2])
    x = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x)
    x = layers.Flatten()(x)
    pre_final = layers.Dense(units=image_size * image_size * 3, activation="sigmoid")(x)
    outputs = layers.Reshape((image_size, image_size, 3))(pre_final)
    return keras.Model(inputs, outputs, name="mae_decoder")


class MaskedAutoencoder(keras.Model):
    def __init__(self, train_augmentation_model, test_augmentation_model, patch_layer,
                 patch_encoder, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.train_augmentation_model = train_augmentation_model
        self.test_augmentation_model = test_augmentation_model
        self.patch_layer = patch_layer
        self.patch_encoder = patch_encoder
        self.encoder = encoder
        self.decoder = decoder

    def calculate_loss(self, images, test=False):
        if test:
            augmented_images = self.test_augmentation_model(images)
        else:
            augmented_images = self.train_augmentation_model(images)
        patches = self.patch_layer(augmented_images)
        (unmasked_embeddings, masked_embeddings, unmasked_positions, mask_indices,
         unmask_indices) = self.patch_encoder(patches)
        encoder_outputs = self.encoder(unmasked_embeddings)
        encoder_outputs = encoder_outputs + unmasked_positions
        decoder_inputs = tf.concat([encoder_outputs, masked_embeddings], axis=1)
        decoder_outputs = self.decoder(decoder_inputs)
        decoder_patches = self.patch_layer(decoder_outputs)
        loss_patch = tf.gather(patches, mask_indices, axis=1, batch_dims=1)
        loss_output = tf.gather(decoder_patches, mask_indices, axis=1, batch_dims=1)
        total_loss = self.compute_loss(y=loss_patch, y_pred=loss_output)
        return total_loss, loss_patch, loss_output

    def train_step(self, images):
        with tf.GradientTape() as tape:
            total_loss, loss_patch, loss_output = self.calculate_loss(images)
        train_vars = [
            self.train_augmentation_model.trainable_variables,
            self.patch_layer.trainable_variables,
            self.patch_encoder.trainable_variables,
            self.encoder.trainable_variables,
            self.decoder.trainable_variables,
        ]
        grads = tape.gradient(total_loss, train_vars)
        tv_list = []
        for grad, var in zip(grads, train_vars):
            for g, v in zip(grad, var):
                tv_list.append((g, v))
        self.optimizer.apply_gradients(tv_list)
        results = {}
        for metric in self.metrics:
            metric.update_state(loss_patch, loss_output)
            results[metric.name] = metric.result()
        return results

    def test_step(self, images):
        total_loss, loss_patch, loss_output = self.calculate_loss(images, test=True)
        results = {}
        for metric in self.metrics:
            metric.update_state(loss_patch, loss_output)
            results[metric.name] = metric.result()
        return results


train_augmentation_model = get_train_augmentation_model()
test_augmentation_model = get_test_augmentation_model()
patch_layer = Patches()
patch_encoder = PatchEncoder()
encoder = create_encoder()
decoder = create_decoder()

mae_model = MaskedAutoencoder(
    train_augmentation_model=train_augmentation_model,
    test_augmentation_model=test_augmentation_model,
    patch_layer=patch_layer,
    patch_encoder=patch_encoder,
    encoder=encoder,
    decoder=decoder,
)


class TrainMonitor(keras.callbacks.Callback):
    def __init__(self, epoch_interval=None):
        self.epoch_interval = epoch_interval
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch_interval and epoch % self.epoch_interval == 0:
            test_augmented_images = self.model.test_augmentation_model(next(iter(test_ds)))
            test_patches = self.model.patch_layer(test_augmented_images)
            (test_unmasked_embeddings, test_masked_embeddings, test_unmasked_positions,
             test_mask_indices, test_unmask_indices) = self.model.patch_encoder(test_patches)
            test_encoder_outputs = self.model.encoder(test_unmasked_embeddings)
            test_encoder_outputs = test_encoder_outputs + test_unmasked_positions
            test_decoder_inputs = tf.concat([test_encoder_outputs, test_masked_embeddings], axis=1)
            test_decoder_outputs = self.model.decoder(test_decoder_inputs)
            self.seen.append(tuple(test_decoder_outputs.shape))


class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, learning_rate_base, total_steps, warmup_learning_rate, warmup_steps):
        super().__init__()
        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.pi = tf.constant(np.pi)

    def __call__(self, step):
        if self.total_steps < self.warmup_steps:
            raise ValueError("Total_steps must be larger or equal to warmup_steps.")
        cos_annealed_lr = tf.cos(
            self.pi * (tf.cast(step, tf.float32) - self.warmup_steps)
            / float(self.total_steps - self.warmup_steps))
        learning_rate = 0.5 * self.learning_rate_base * (1 + cos_annealed_lr)
        if self.warmup_steps > 0:
            if self.learning_rate_base < self.warmup_learning_rate:
                raise ValueError("Learning_rate_base must be larger or equal to warmup_learning_rate.")
            slope = (self.learning_rate_base - self.warmup_learning_rate) / self.warmup_steps
            warmup_rate = slope * tf.cast(step, tf.float32) + self.warmup_learning_rate
            learning_rate = tf.where(step < self.warmup_steps, warmup_rate, learning_rate)
        return tf.where(step > self.total_steps, 0.0, learning_rate, name="learning_rate")


total_steps = int((len(x_train) / BATCH_SIZE) * EPOCHS)
warmup_epoch_percentage = 0.15
warmup_steps = int(total_steps * warmup_epoch_percentage)
scheduled_lrs = WarmUpCosine(learning_rate_base=LEARNING_RATE, total_steps=total_steps,
                             warmup_learning_rate=0.0, warmup_steps=warmup_steps)
lrs = [float(scheduled_lrs(step)) for step in range(total_steps)]
assert lrs[0] == 0.0 and max(lrs) == max(lrs[:warmup_steps + 1])
assert abs(max(lrs) - LEARNING_RATE) < 1e-6

train_callbacks = [TrainMonitor(epoch_interval=2)]
optimizer = keras.optimizers.AdamW(learning_rate=scheduled_lrs, weight_decay=WEIGHT_DECAY)
mae_model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError(), metrics=["mae"])
history = mae_model.fit(train_ds, epochs=EPOCHS, validation_data=val_ds, callbacks=train_callbacks,
                        verbose=0)
print({k: [round(float(v), 4) for v in vs] for k, vs in history.history.items()})
loss, mae = mae_model.evaluate(test_ds, verbose=0)
print(f"Loss: {loss:.2f}")
print(f"MAE: {mae:.2f}")
# (the example's step feeds (patches, reconstruction) to every metric, the loss tracker too, so
# its "loss" log is a Mean of the patches weighted by the output, not the loss: judge by mae)
assert history.history["mae"][-1] < 0.8 * history.history["mae"][0], history.history
assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
assert train_callbacks[0].seen == [(BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3)] * (EPOCHS // 2)
# the mask token is trained: its gradient flows through the projection of the masked positions
assert not np.allclose(np.asarray(patch_encoder.mask_token), np.asarray(PatchEncoder().mask_token))

# -- Linear evaluation of the frozen encoder ------------------------------------------------------
patch_encoder.downstream = True
downstream_model = keras.Sequential(
    [
        layers.Input((IMAGE_SIZE, IMAGE_SIZE, 3)),
        patch_layer,
        patch_encoder,
        encoder,
        layers.BatchNormalization(),
        layers.GlobalAveragePooling1D(),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ],
    name="linear_probe_model",
)
for layer in downstream_model.layers[:-1]:
    layer.trainable = False


def prepare_data(images, labels, is_train=True):
    if is_train:
        augmentation_model = get_train_augmentation_model()
    else:
        augmentation_model = get_test_augmentation_model()
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if is_train:
        dataset = dataset.shuffle(BUFFER_SIZE)
    dataset = dataset.batch(BATCH_SIZE).map(lambda x, y: (augmentation_model(x), y), num_parallel_calls=AUTO)
    return dataset.prefetch(AUTO)


train_ds = prepare_data(x_train, y_train)
val_ds = prepare_data(x_train, y_train, is_train=False)
test_ds = prepare_data(x_test, y_test, is_train=False)

linear_probe_epochs = 15
linear_prob_lr = 0.1
warm_epoch_percentage = 0.1
steps = int((len(x_train) // BATCH_SIZE) * linear_probe_epochs)
warmup_steps = int(steps * warm_epoch_percentage)
scheduled_lrs = WarmUpCosine(learning_rate_base=linear_prob_lr, total_steps=steps,
                             warmup_learning_rate=0.0, warmup_steps=warmup_steps)
optimizer = keras.optimizers.SGD(learning_rate=scheduled_lrs, momentum=0.9)
downstream_model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
frozen = [w.copy() for w in encoder.get_weights()]
downstream_model.fit(train_ds, validation_data=val_ds, epochs=linear_probe_epochs, verbose=0)
loss, accuracy = downstream_model.evaluate(test_ds, verbose=0)
accuracy = round(accuracy * 100, 2)
print(f"Accuracy on the test set: {accuracy}%.")
assert accuracy > 50.0, accuracy
assert all(np.array_equal(a, b) for a, b in zip(encoder.get_weights(), frozen))
