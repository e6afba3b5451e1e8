"""keras.io example "Invariant Information Clustering (IIC)" (vision/IIC_cluster), imports
changed: `tf.keras.preprocessing.image_dataset_from_directory(label_mode=None)` with
`prefetch(32).repeat()`, source / target augmentation Sequentials of
`keras.layers.experimental.preprocessing` layers, a ResNet50 backbone with four softmax sub-heads
and four auxiliary over-clustering heads as a functional model whose outputs are the nested list
`[outmaps, auxmaps]`, a subclassed model overriding `compile(optimizer, loss)` and `train_step`
(two backbone calls unpacked as `m1, a1 = self.backbone(xin)`, `tf.reduce_mean` of a Python list
of per-head loss Tensors), a `keras.losses.Loss` subclass built with
`reduction=keras.losses.Reduction.AUTO` whose `call` computes the mutual information of the
symmetrized joint distribution, a TensorBoard callback and a callback saving the backbone's
weights to "saved_best.h5" on a better loss, then `load_img` / `img_to_array` inference with
`predict` giving the nested lists back. The toy_data download is replaced by 32 small
synthetic PNG images (six kinds of coloured patterns) written to toy_data/copys; the images are
32x32 instead of 256x256, ResNet50 gets `weights=None` instead of downloading ImageNet
weights, and 2 epochs instead of 200. Checked: the loss is the mutual information computed with
NumPy, the heads trained, a legacy .h5 weights file loads back, and the inference assigns every
image a main-head cluster."""
import os

import numpy as np
from glob import glob
import corenn as tf
from corenn import keras
from collections import defaultdict
from corenn.keras.preprocessing.image import load_img, img_to_array
from corenn.keras.applications.resnet50 import ResNet50
from PIL import Image

sub_heads = 4
main_classes = 6
auxilary_classes = 10
image_h, image_w = 32, 32
batch_size = 8
learning_rate = 5e-6
epochs = 2
dataset = "toy_data"
logdir = "./logs"  # Tensorboard directory

# the toy_data.zip download: six kinds of pictures (stripes, a square, a disc, in two colours)
rng = np.random.default_rng(0)
os.makedirs(os.path.join(dataset, "copys"), exist_ok=True)
yy, xx = np.mgrid[0:48, 0:48]
for i in range(32):
    kind = i % 6
    colour = np.array([220, 40, 40]) if kind < 3 else np.array([40, 60, 220])
    shape = [(xx // 6) % 2 == 0, (abs(xx - 24) < 12) & (abs(yy - 24) < 12), (xx - 24) ** 2 + (yy - 24) ** 2 < 150][kind % 3]
    img = np.where(shape[..., None], colour, 255 - colour // 2) + rng.integers(0, 30, (48, 48, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(dataset, "copys", f"img_{i:02d}.png"))

train_ds = tf.keras.preprocessing.image_dataset_from_directory(
    dataset, label_mode=None, batch_size=batch_size, image_size=(image_h, image_w)
)
train_ds = train_ds.prefetch(32).repeat()
test_path = sorted(glob(dataset + "/copys/*"))

for img in train_ds.take(1):
    for w in range(1, batch_size + 1):
        image = img[w - 1, :, :, :]
        image = image.numpy().astype(np.uint8)
        assert image.shape == (image_h, image_w, 3)

# Source augument has only normalizing effect
source_augument = keras.Sequential(
    [keras.layers.experimental.preprocessing.Rescaling(1.0 / 255),]
)

# Target augment can be augmented with respect to the dataset pattern
target_augment = keras.Sequential(
    [
        keras.layers.experimental.preprocessing.RandomFlip("horizontal"),
        keras.layers.experimental.preprocessing.RandomRotation(0.1),
        keras.layers.experimental.preprocessing.RandomZoom(0.4),
        keras.layers.experimental.preprocessing.Rescaling(1.0 / 255),
    ]
)


# Backbone Network
def resnet_backbone(subheads, classes, auxilary_branch=True, auxilary_classes=10):
    base_full = ResNet50(include_top=False, input_shape=(image_h, image_w, 3), weights=None)
    base_outp = base_full.output
    gpool = keras.layers.GlobalAveragePooling2D()(base_outp)
    outmaps = []
    auxmaps = []
    for w in range(subheads):
        main_out = keras.layers.Dense(classes, activation="softmax")(gpool)
        outmaps.append(main_out)
    if auxilary_branch:
        for w in range(subheads):
            aux_out = keras.layers.Dense(auxilary_classes, activation="softmax")(gpool)
            auxmaps.append(aux_out)
        fmodel = keras.models.Model(
            base_full.input, [outmaps, auxmaps], name="IIC_aux_node"
        )
        return fmodel, auxilary_branch

    else:
        fmodel = Model(base_full.input, outmaps, name="IIC_main_node")  # noqa: F821 (the page's)
        return fmodel, auxilary_branch


# Clustering network
class cluster_IIC(keras.models.Model):
    def __init__(self, backbone, auxilary_flag=False):
        super(cluster_IIC, self).__init__()
        self.backbone = backbone
        self.auxilary = auxilary_flag

    def compile(self, optimizer, loss):
        super(cluster_IIC, self).compile()
        self.optimizer_fn = optimizer
        self.loss_fn = loss

    def train_step(self, x):
        xin, xin_ = source_augument(x), target_augment(x)
        with tf.GradientTape() as t:
            if self.auxilary:
                # trains with auxilary branch combined
                m1, a1 = self.backbone(xin)
                m2, a2 = self.backbone(xin_)
                iicm = tf.reduce_mean([self.loss_fn(x, y) for (x, y) in zip(m1, m2)])
                iica = tf.reduce_mean([self.loss_fn(x, y) for (x, y) in zip(a1, a2)])
                iicc = iicm + iica
            else:
                m1 = self.backbone(xin)
                m2 = self.backbone(xin_)
                iicc = tf.reduce_mean([self.loss_fn(x, y) for (x, y) in zip(m1, m2)])

        grad = t.gradient(iicc, self.backbone.trainable_weights)
        self.optimizer_fn.apply_gradients(zip(grad, self.backbone.trainable_weights))
        return {"loss": iicc}


class IIC_loss(keras.losses.Loss):
    def __init__(self, epsilon=1e-6, lamb=1.0, reduction=keras.losses.Reduction.AUTO):
        super(IIC_loss, self).__init__(reduction=reduction)
        self.epsilon = epsilon
        self.lamb = lamb

    def call(self, x, x_):
        c = tf.shape(x)[-1]  # class labels
        i = tf.reshape(x, (-1, c, 1))
        j = tf.reshape(x_, (-1, 1, c))
        j_prob = tf.matmul(i, j)  # compute joint probability
        j_prob = tf.reduce_sum(j_prob, axis=0)  # sum the sub_heads
        j_prob = (j_prob + tf.transpose(j_prob)) / 2  # impose invariant compute
        j_prob = tf.clip_by_value(j_prob, self.epsilon, 1e9)
        j_prob /= tf.reduce_sum(j_prob)
        pi_ = tf.reduce_sum(j_prob, axis=0)
        pi_ = tf.reshape(pi_, (-1, 1))
        pi_ = tf.broadcast_to(pi_, (c, c))
        pj_ = tf.reduce_sum(j_prob, axis=1)
        pj_ = tf.reshape(pj_, (1, -1))
        pj_ = tf.broadcast_to(pj_, (c, c))
        loss_ = -tf.reduce_sum(
            j_prob * (tf.math.log(j_prob) - tf.math.log(pi_) - tf.math.log(pj_))
        )
        return loss_


class custom_checkpoint(keras.callbacks.Callback):
    def __init__(self, model_func, loss_track=0):
        self.model_ = model_func
        self.track = loss_track

    def on_epoch_end(self, epoch, logs=None):
        track_obj = logs["loss"]
        if track_obj < self.track:
            print(f" Model saved at for best loss: {track_obj}")
            self.model_.save_weights("saved_best.h5")
            self.track = track_obj


# the loss against the mutual information of the symmetrized joint, in NumPy (float64)
p = rng.dirichlet(np.ones(main_classes), size=8).astype("float32")
q = rng.dirichlet(np.ones(main_classes), size=8).astype("float32")
joint = (p[:, :, None] * q[:, None, :]).sum(0).astype(np.float64)
joint = np.clip((joint + joint.T) / 2, 1e-6, 1e9)
joint /= joint.sum()
mi = (joint * (np.log(joint) - np.log(joint.sum(0))[:, None] - np.log(joint.sum(1))[None, :])).sum()
np.testing.assert_allclose(float(IIC_loss()(p, q)), -mi, rtol=1e-4, atol=1e-6)

backbone, auxilary_flag = resnet_backbone(
    subheads=sub_heads,
    classes=main_classes,
    auxilary_branch=True,
    auxilary_classes=auxilary_classes,
)
cluster_model = cluster_IIC(backbone, auxilary_flag=auxilary_flag)
loss = IIC_loss()
tensor_board = keras.callbacks.TensorBoard(logdir)
ckpt = custom_checkpoint(backbone)
optimizer = tf.keras.optimizers.Adam(learning_rate)
cluster_model.compile(optimizer=optimizer, loss=loss)
head_before = [w.copy() for w in backbone.get_layer(index=-1).get_weights()]
history = cluster_model.fit(
    train_ds,
    batch_size=batch_size,
    epochs=epochs,
    steps_per_epoch=len(test_path) // batch_size,
    callbacks=[tensor_board, ckpt],
)
losses = history.history["loss"]
print("losses:", losses)
# the untrained ResNet50 in inference mode (a train_step's call without training=, as in Keras)
# gives nearly the same features for every image, so the heads agree and the mutual information
# starts near 0; it is at most log(classes) per branch
assert len(losses) == epochs and all(np.isfinite(losses)), losses
assert all(-np.log(main_classes) - np.log(auxilary_classes) - 1e-3 < v < 1e-3 for v in losses), losses
# the gradients of tf.reduce_mean over the per-head losses reached the heads
assert any(np.abs(a - b).max() > 0 for a, b in zip(head_before, backbone.get_layer(index=-1).get_weights()))


class infernce:
    def __init__(self, model, path, mode):
        self.model = model  # Load bakcbone as infernce model
        self.path = path  # Image_directory path
        self.mode = mode  # Predict using auxilary or main branch
        self.clusters = defaultdict(list)

    def predict(self, image_name):
        """for each image predict their clusters"""
        if self.mode not in {"aux", "main"}:
            raise ValueError("allowed modes {aux or main}")
        im = load_img(image_name, target_size=(image_h, image_w))
        im = img_to_array(im) / 255.0
        im = np.expand_dims(im, axis=0)
        pred1, pred2 = self.model.predict(im)
        if self.mode == "aux":
            predf = np.array(pred2)
        if self.mode == "main":
            predf = np.array(pred1)
        predf = np.sum(predf, axis=0)
        predf = np.argmax(predf, axis=-1)
        return predf[0]

    def get_cluster_keys(self):
        dirs = self.path
        for files in dirs:
            pred = self.predict(files)
            self.clusters[pred].append(files)
        cluster_keys = list(self.clusters.keys())
        print(f"available predicted keys... {cluster_keys}")
        return cluster_keys


cluster_inf = infernce(backbone, test_path, "main")  #
keys_out = cluster_inf.get_cluster_keys()
assert all(0 <= int(k) < main_classes for k in keys_out), keys_out
assert sum(len(v) for v in cluster_inf.clusters.values()) == len(test_path)

# a legacy .h5 weights file (tf.keras 2's, as the callback writes) loads back into a fresh backbone
backbone.save_weights("saved_last.h5")
restored, _ = resnet_backbone(sub_heads, main_classes, True, auxilary_classes)
restored.load_weights("saved_last.h5")
im = np.expand_dims(img_to_array(load_img(test_path[0], target_size=(image_h, image_w))) / 255.0, 0)
out_a, out_b = restored.predict(im), backbone.predict(im)
assert len(out_a) == 2 and len(out_a[0]) == sub_heads and out_a[1][0].shape == (1, auxilary_classes)
for a, b in zip(out_a[0] + out_a[1], out_b[0] + out_b[1]):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
