"""keras.io examples/vision/nerf, shrunk to a toy scene: rays from a pinhole camera
(`tf.meshgrid`, `tf.stack`, `tf.reduce_sum` with broadcasting), stratified sample points along
them (`tf.linspace`, `tf.random.uniform`), the positional encoding (sin / cos of 2^i x),
volume rendering with `tf.math.cumprod(exclusive=True)` and `tf.image.psnr`, and a NeRF MLP
with a skip connection trained by a custom `train_step` with a `keras.metrics.Mean` tracker.
The scene is a colored sphere whose images are rendered analytically; the rendering ops are
checked against NumPy and the model must fit the views. Only the imports changed."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(1)
tf.random.set_seed(1)
H = W = 12
focal = 14.0
NUM_SAMPLES = 16
POS_ENCODE_DIMS = 4
BATCH_SIZE = 2


def pose_looking_at_origin(angle, radius=3.0):
    cam = np.array([radius * np.sin(angle), 0.3, radius * np.cos(angle)])
    forward = -cam / np.linalg.norm(cam)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, up, -forward], axis=1)
    pose[:3, 3] = cam
    return pose.astype("float32")


def encode_position(x):
    positions = [x]
    for i in range(POS_ENCODE_DIMS):
        for fn in [tf.sin, tf.cos]:
            positions.append(fn(2.0 ** i * x))
    return tf.concat(positions, axis=-1)


def get_rays(height, width, focal, pose):
    i, j = tf.meshgrid(tf.range(width, dtype=tf.float32), tf.range(height, dtype=tf.float32), indexing="xy")
    transformed_i = (i - width * 0.5) / focal
    transformed_j = (j - height * 0.5) / focal
    directions = tf.stack([transformed_i, -transformed_j, -tf.ones_like(i)], axis=-1)
    camera_matrix = pose[:3, :3]
    height_width_focal = pose[:3, -1]
    transformed_dirs = directions[..., None, :]
    camera_dirs = transformed_dirs * camera_matrix
    ray_directions = tf.reduce_sum(camera_dirs, axis=-1)
    ray_origins = tf.broadcast_to(height_width_focal, tf.shape(ray_directions))
    return (ray_origins, ray_directions)


def render_flat_rays(ray_origins, ray_directions, near, far, num_samples, rand=False):
    t_vals = tf.linspace(near, far, num_samples)
    if rand:
        shape = list(ray_origins.shape[:-1]) + [num_samples]
        noise = tf.random.uniform(shape=shape) * (far - near) / num_samples
        t_vals = t_vals + noise
    rays = ray_origins[..., None, :] + (ray_directions[..., None, :] * t_vals[..., None])
    rays_flat = tf.reshape(rays, [-1, 3])
    rays_flat = encode_position(rays_flat)
    return (rays_flat, t_vals)


def render_rgb_depth(model, rays_flat, t_vals, rand=True, train=True):
    if train:
        predictions = model(rays_flat)
    else:
        predictions = model.predict(rays_flat, verbose=0)
    predictions = tf.reshape(predictions, shape=(BATCH_SIZE, H, W, NUM_SAMPLES, 4))
    rgb = tf.sigmoid(predictions[..., :-1])
    sigma_a = tf.nn.relu(predictions[..., -1])
    delta = t_vals[..., 1:] - t_vals[..., :-1]
    if rand:
        delta = tf.concat([delta, tf.broadcast_to([1e10], shape=(BATCH_SIZE, H, W, 1))], axis=-1)
        alpha = 1.0 - tf.exp(-sigma_a * delta)
    else:
        delta = tf.concat([delta, tf.broadcast_to([1e10], shape=(BATCH_SIZE, 1))], axis=-1)
        alpha = 1.0 - tf.exp(-sigma_a * delta[:, None, None, :])
    exp_term = 1.0 - alpha
    epsilon = 1e-10
    transmittance = tf.math.cumprod(exp_term + epsilon, axis=-1, exclusive=True)
    weights = alpha * transmittance
    rgb = tf.reduce_sum(weights[..., None] * rgb, axis=-2)
    if rand:
        depth_map = tf.reduce_sum(weights * t_vals, axis=-1)
    else:
        depth_map = tf.reduce_sum(weights * t_vals[:, None, None], axis=-1)
    return (rgb, depth_map)


def render_sphere(pose):
    """The analytic image of a unit sphere colored by its surface normal, black background."""
    origins, dirs = [np.asarray(a, np.float64) for a in get_rays(H, W, focal, pose)]
    d = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    b = np.sum(origins * d, -1)
    c = np.sum(origins ** 2, -1) - 0.8 ** 2
    disc = b ** 2 - c
    hit = disc > 0
    t = -b - np.sqrt(np.where(hit, disc, 0))
    normal = (origins + t[..., None] * d) / 0.8
    return np.where(hit[..., None], 0.5 + 0.5 * normal, 0.0).astype("float32")


# the ops against NumPy: the rays of the camera at angle 0 and the exclusive cumulative product
pose0 = pose_looking_at_origin(0.0)
ro, rd = get_rays(H, W, focal, pose0)
ii, jj = np.meshgrid(np.arange(W), np.arange(H), indexing="xy")
dirs_np = np.stack([(ii - W / 2) / focal, -(jj - H / 2) / focal, -np.ones((H, W))], -1) @ pose0[:3, :3].T
np.testing.assert_allclose(np.asarray(rd), dirs_np, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(np.asarray(ro)[3, 4], pose0[:3, 3])
v = np.array([[0.5, 0.25, 2.0]], "float32")
np.testing.assert_allclose(np.asarray(tf.math.cumprod(v, axis=-1, exclusive=True)), [[1.0, 0.5, 0.125]])
flat, tv = render_flat_rays(ro, rd, near=1.0, far=5.0, num_samples=NUM_SAMPLES)
assert tuple(flat.shape) == (H * W * NUM_SAMPLES, 3 + 3 * 2 * POS_ENCODE_DIMS)
np.testing.assert_allclose(np.asarray(flat)[0, 3:6], np.sin(np.asarray(flat)[0, :3]), rtol=1e-5)

angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
images = np.stack([render_sphere(pose_looking_at_origin(a)) for a in angles])
poses = np.stack([pose_looking_at_origin(a) for a in angles])


def map_fn(pose):
    (ray_origins, ray_directions) = get_rays(height=H, width=W, focal=focal, pose=pose)
    (rays_flat, t_vals) = render_flat_rays(ray_origins=ray_origins, ray_directions=ray_directions, near=1.0,
                                           far=5.0, num_samples=NUM_SAMPLES, rand=True)
    return (rays_flat, t_vals)


train_img_ds = tf.data.Dataset.from_tensor_slices(images)
train_pose_ds = tf.data.Dataset.from_tensor_slices(poses)
train_ray_ds = train_pose_ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE)
training_ds = tf.data.Dataset.zip((train_img_ds, train_ray_ds))
train_ds = training_ds.shuffle(8, seed=1).batch(BATCH_SIZE, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def get_nerf_model(num_layers, num_pos):
    inputs = keras.Input(shape=(num_pos, 2 * 3 * POS_ENCODE_DIMS + 3))
    x = inputs
    for i in range(num_layers):
        x = layers.Dense(units=64, activation="relu")(x)
        if i % 4 == 0 and i > 0:
            x = layers.concatenate([x, inputs], axis=-1)
    outputs = layers.Dense(units=4)(x)
    return keras.Model(inputs=inputs, outputs=outputs)


class NeRF(keras.Model):
    def __init__(self, nerf_model):
        super().__init__()
        self.nerf_model = nerf_model

    def compile(self, optimizer, loss_fn):
        super().compile()
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.psnr_metric = keras.metrics.Mean(name="psnr")

    def train_step(self, inputs):
        (images, rays) = inputs
        (rays_flat, t_vals) = rays
        with tf.GradientTape() as tape:
            rgb, _ = render_rgb_depth(model=self.nerf_model, rays_flat=rays_flat, t_vals=t_vals, rand=True)
            loss = self.loss_fn(images, rgb)
        trainable_variables = self.nerf_model.trainable_variables
        gradients = tape.gradient(loss, trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, trainable_variables))
        psnr = tf.image.psnr(images, rgb, max_val=1.0)
        self.loss_tracker.update_state(loss)
        self.psnr_metric.update_state(psnr)
        return {"loss": self.loss_tracker.result(), "psnr": self.psnr_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.psnr_metric]


num_pos = H * W * NUM_SAMPLES
nerf_model = get_nerf_model(num_layers=6, num_pos=num_pos)
model = NeRF(nerf_model)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss_fn=keras.losses.MeanSquaredError())
history = model.fit(train_ds.map(lambda img, rays: (img, (tf.reshape(rays[0], (BATCH_SIZE, num_pos, -1)), rays[1]))),
                    epochs=25, verbose=0)
print("loss", round(history.history["loss"][0], 4), "->", round(history.history["loss"][-1], 4),
      "psnr", round(history.history["psnr"][-1], 2))
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
assert history.history["psnr"][-1] > history.history["psnr"][0] + 3

# psnr as tf.image.psnr defines it
a, b = images[:2], np.clip(images[:2] + 0.1, 0, 1)
np.testing.assert_allclose(np.asarray(tf.image.psnr(a, b, max_val=1.0)),
                           10 * np.log10(1.0 / np.mean((a - b) ** 2, axis=(1, 2, 3))), rtol=1e-4)
