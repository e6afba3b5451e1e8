"""Quick side-by-side of a GradientTape loop, model.fit and PyTorch eager on the seed MLP.

    python bench/tape_quick.py THREADS

12,800 Fashion-MNIST images per epoch, batch 32 and 128, alternated (tape, fit, torch), best of
5 epochs each; prints samples/s and the ratios. bench/tape_loop.py is the full version (60,000
images, metrics kept, waits for an idle host).

Each epoch starts after a 0.1 s pause, and the order of the three contenders rotates every round.
Why: PyTorch's OpenMP threads keep spinning for a while after its epoch, and an epoch here lasts
only 20-40 ms, so whichever contender ran right after PyTorch shared the cores with those spins
for most of its epoch (measured: the tape loop, always run right after PyTorch, read 0.75-0.80 of
fit; with fit in that slot instead, 0.92-0.97).
"""
import numpy as np, time, sys, torch, torch.nn as nn
import corenn as tf
T = int(sys.argv[1]); tf.set_num_threads(T); torch.set_num_threads(T)
(x, y), _ = tf.keras.datasets.fashion_mnist.load_data()
x = (x[:12800] / 255.0).astype(np.float32)[..., None]; y = y[:12800]
class MyModel(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = tf.keras.layers.Flatten(); self.d1 = tf.keras.layers.Dense(64, activation="relu"); self.d2 = tf.keras.layers.Dense(10)
    def call(self, x):
        return self.d2(self.d1(self.flatten(x)))
for B in (32, 128):
    model = MyModel(); lo = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True); opt = tf.keras.optimizers.Adam()
    def tape_epoch():
        for i in range(0, len(x), B):
            with tf.GradientTape() as t:
                l = lo(y[i:i+B], model(x[i:i+B], training=True))
            g = t.gradient(l, model.trainable_variables); opt.apply_gradients(zip(g, model.trainable_variables))
    seq = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(64, activation="relu"), tf.keras.layers.Dense(10)])
    seq.compile(tf.keras.optimizers.Adam(), lo)
    tm = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)); topt = torch.optim.Adam(tm.parameters(), 1e-3, eps=1e-7); tl = nn.CrossEntropyLoss()
    tx, ty = torch.tensor(x), torch.tensor(y.astype(np.int64))
    def torch_epoch():
        for i in range(0, len(x), B):
            topt.zero_grad(); l = tl(tm(tx[i:i+B]), ty[i:i+B]); l.backward(); topt.step()
    best = {"tape": 1e9, "fit": 1e9, "torch": 1e9}
    runs = [("tape", tape_epoch), ("fit", lambda: seq.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False)), ("torch", torch_epoch)]
    for r in range(5):
        for name, f in runs[r % 3:] + runs[:r % 3]:
            time.sleep(0.1)
            t0 = time.perf_counter(); f(); best[name] = min(best[name], time.perf_counter() - t0)
    sps = {k: len(x) / v for k, v in best.items()}
    print(f"threads {T} batch {B}: tape {sps['tape']:.0f}, fit {sps['fit']:.0f}, torch {sps['torch']:.0f} samples/s; tape/fit {sps['tape']/sps['fit']:.2f}, tape/torch {sps['tape']/sps['torch']:.2f}, fit/torch {sps['fit']/sps['torch']:.2f}")
