"""Is the residual model's slow learning the framework's or the model's? Trains the graph-models
issue's residual CNN in corenn and in PyTorch from the *same* initial weights, on the same
batches in the same order (Adam lr 1e-3, eps 1e-7; from-logits sparse cross-entropy; BatchNorm
eps 1e-3, momentum 0.99 = torch 0.01), and prints both loss curves and test accuracies.

    python bench/residual_accuracy.py [--epochs 2] [--batch 32] [--threads 2] [--steps N]

Equal curves (to float32 noise) say corenn computes what PyTorch computes; then an accuracy
below a target is the model's, not the framework's.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn

import corenn
from corenn import keras, layers

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: whole epochs)")
args = p.parse_args()
corenn.set_num_threads(args.threads); torch.set_num_threads(args.threads)
corenn.utils.set_random_seed(0); torch.manual_seed(0)

(x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()
x = (x / 255.0).astype(np.float32)[..., None]; xt = (xt / 255.0).astype(np.float32)[..., None]

inputs = keras.Input(shape=(28, 28, 1))
a = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
b = layers.Conv2D(32, 3, padding="same")(a)
b = layers.BatchNormalization()(b)
h = layers.Activation("relu")(layers.Add()([a, b]))
h = layers.GlobalAveragePooling2D()(h)
model = keras.Model(inputs, layers.Dense(10)(h))
model.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
        self.bn, self.dense = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.Linear(32, 10)

    def forward(self, v):
        a = torch.relu(self.c1(v))
        return self.dense(torch.relu(a + self.bn(self.c2(a))).mean((2, 3)))


tm = Residual()
W = model.get_weights()   # Keras layouts: conv (kh, kw, in, out), dense (in, out)
with torch.no_grad():
    for conv, k, bias in ((tm.c1, W[0], W[1]), (tm.c2, W[2], W[3])):
        conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy())); conv.bias.copy_(torch.from_numpy(bias))
    tm.bn.weight.copy_(torch.from_numpy(W[4])); tm.bn.bias.copy_(torch.from_numpy(W[5]))
    tm.dense.weight.copy_(torch.from_numpy(W[8].T.copy())); tm.dense.bias.copy_(torch.from_numpy(W[9]))
opt = torch.optim.Adam(tm.parameters(), 1e-3, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()

B = args.batch
order = np.concatenate([np.random.default_rng(e).permutation(len(x)) for e in range(args.epochs)])
steps = len(order) // B if not args.steps else min(args.steps, len(order) // B)
tx, ty = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y.astype(np.int64))
ours, theirs, acc_ours, acc_theirs = [], [], [], []
for s in range(steps):
    idx = order[s * B:(s + 1) * B]
    logs = model.train_on_batch(x[idx], y[idx], return_dict=True)
    ours.append(logs["loss"]); acc_ours.append(logs["accuracy"])
    opt.zero_grad()
    logits = tm(tx[idx]); l = loss_fn(logits, ty[idx]); l.backward(); opt.step()
    theirs.append(l.item()); acc_theirs.append((logits.argmax(1) == ty[idx]).float().mean().item())
ours, theirs = np.array(ours), np.array(theirs)
chunk = max(1, steps // 10)
print(f"corenn {corenn.__version__} / torch {torch.__version__}, batch {B}, {steps} steps")
print("steps        loss corenn  loss torch")
for k in range(0, steps, chunk):
    print(f"{k:5d}-{min(steps, k + chunk) - 1:<5d}   {ours[k:k + chunk].mean():10.4f}  {theirs[k:k + chunk].mean():10.4f}")
print(f"max |loss difference| per step: first 100 steps {np.abs(ours - theirs)[:100].max():.2e}, all {np.abs(ours - theirs).max():.2e}")
tm.eval()
with torch.no_grad():
    t_acc = float((tm(torch.from_numpy(xt.transpose(0, 3, 1, 2).copy())).argmax(1).numpy() == yt).mean())
c_acc = model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]
print(f"last-epoch train accuracy (running, per batch): corenn {np.mean(acc_ours[-steps // max(1, args.epochs):]):.4f}, "
      f"torch {np.mean(acc_theirs[-steps // max(1, args.epochs):]):.4f}")
print(f"test accuracy (10,000 images): corenn {c_acc:.4f}, torch {t_acc:.4f}")
