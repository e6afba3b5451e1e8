"""Run under mpiexec by test_distributed.py: one scenario per launch, results into OUT_DIR.

    mpiexec -n 2 python tests/distributed/_worker.py <scenario> <out_dir>
"""
import os
import sys

import numpy as np

import corenn
import corenn.distributed as dist
from corenn import layers
from corenn.utils import set_random_seed


def mlp(seed=0, hidden=32):
    set_random_seed(seed)
    model = corenn.Sequential([layers.Input(shape=(20,)), layers.Dense(hidden, activation="relu"),
                               layers.Dense(hidden, activation="relu"), layers.Dense(3)])
    model.compile(optimizer=corenn.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def data(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def save(out, name, arrays):
    np.savez(os.path.join(out, f"{name}.rank{dist.rank()}.npz"), *arrays)


def scenario_train(out):
    """DataParallel fit vs one process; checkpoints both ways; tape loop; mismatch detection."""
    rank = dist.rank()
    x, y = data(501)        # 4 global batches of 128 (the last 117: shards 59 / 58)
    xv, yv = data(101, seed=2)
    if rank == 0:           # the single-process reference: same seed, same batches
        ref = mlp()
        hist = ref.fit(x, y, batch_size=128, epochs=2, verbose=0, validation_data=(xv, yv))
        save(out, "single", weights(ref))
        np.save(os.path.join(out, "single_history.npy"), np.array(
            [hist.history[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")]))
        ref.save(os.path.join(out, "single.keras"))
    model = mlp()
    log_csv = os.path.join(out, f"log.csv")
    ckpt = os.path.join(out, "dist.keras")
    strategy = dist.DataParallel(bucket_bytes=2048)   # several buckets even for this small model
    with strategy:
        hist = model.fit(x, y, batch_size=128, epochs=2, verbose=0, validation_data=(xv, yv),
                         callbacks=[corenn.callbacks.CSVLogger(log_csv),
                                    corenn.callbacks.ModelCheckpoint(ckpt)])
    save(out, "dist", weights(model))
    stats = model.optimizer._reducer.stats if hasattr(model.optimizer, "_reducer") else None
    assert stats is None   # the model's own optimizer is back after fit
    st = strategy.reducer.stats
    np.save(os.path.join(out, f"buckets.rank{rank}.npy"), np.array([st.steps, st.buckets, st.buckets_early]))
    np.save(os.path.join(out, f"dist_history.rank{rank}.npy"), np.array(
        [hist.history[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")]))
    # the same fit with every bucket reduced after backward: the same bits (timing-independent)
    again = mlp()
    with dist.DataParallel(bucket_bytes=2048, overlap=False):
        again.fit(x, y, batch_size=128, epochs=2, verbose=0, validation_data=(xv, yv))
    save(out, "dist_after_backward", weights(again))
    dist.barrier()
    # rank 0's checkpoint loads in every process; a single-process file loads in a distributed one
    loaded = corenn.saving.load_model(ckpt)
    save(out, "loaded_dist_ckpt", weights(loaded))
    if rank == 0:
        single = corenn.saving.load_model(os.path.join(out, "single.keras"))
        single_w = weights(single)
    else:
        single = mlp(seed=5)   # different weights: broadcast must replace them
        single_w = None
    dist.broadcast_weights(single)
    save(out, "broadcast", weights(single))

    # a GradientTape loop with DistributedOptimizer: each rank its own half of the data
    model = mlp(seed=3)
    opt = dist.DistributedOptimizer(corenn.optimizers.SGD(learning_rate=0.1))
    dist.broadcast_weights(model)
    loss_fn = corenn.losses.SparseCategoricalCrossentropy(from_logits=True)
    lo, hi = dist.shard_range(len(x), dist.size(), rank)
    first = last = None
    for step in range(30):
        with corenn.GradientTape() as tape:
            loss = loss_fn(y[lo:hi], model(x[lo:hi], training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        value = float(dist.allreduce(np.asarray(loss, np.float64).reshape(())))
        first = value if first is None else first
        last = value
    save(out, "tape", weights(model) + [np.array([first, last])])

    # allreduce of each op on (rank + 1): 2 ranks -> average 1.5, sum 3, min 1, max 2
    np.save(os.path.join(out, f"allreduce.rank{rank}.npy"), np.array(
        [dist.allreduce(np.array([rank + 1.0, -(rank + 1.0)], np.float32), op) for op in ("average", "sum", "min", "max")]))

    # mismatched models are detected on every rank
    other = mlp(hidden=32 if rank == 0 else 16)
    try:
        dist.broadcast_weights(other)
        message = "no error"
    except ValueError as exc:
        message = str(exc)
    with open(os.path.join(out, f"mismatch.rank{rank}.txt"), "w") as f:
        f.write(message)


def scenario_three(out):
    """3 ranks, uneven shards of every global batch (43 / 43 / 42, last batch 117: 39 each)."""
    x, y = data(501)
    if dist.rank() == 0:
        ref = mlp()
        ref.fit(x, y, batch_size=128, epochs=1, verbose=0)
        save(out, "single3", weights(ref))
    model = mlp()
    with dist.DataParallel():
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    save(out, "dist3", weights(model))

    class StopOnLastRank(corenn.callbacks.Callback):   # one rank decides alone: all must stop
        def on_epoch_end(self, epoch, logs=None):
            if dist.rank() == dist.size() - 1:
                self.model.stop_training = True
    with dist.DataParallel():
        hist = model.fit(x, y, batch_size=128, epochs=3, verbose=0, callbacks=[StopOnLastRank()])
    np.save(os.path.join(out, f"stopped_epochs.rank{dist.rank()}.npy"), np.array(hist.epoch))


class Subclassed(corenn.Model):
    """A subclassed model: its step runs under the GradientTape, reduced after backward."""

    def __init__(self):
        super().__init__()
        self.hidden, self.head = layers.Dense(16, activation="relu"), layers.Dense(3)

    def call(self, inputs, training=None):
        return self.head(self.hidden(inputs))


def scenario_subclassed(out):
    x, y = data(300)

    def build():
        set_random_seed(0)
        model = Subclassed()
        model.compile(optimizer=corenn.optimizers.SGD(learning_rate=0.1),
                      loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
        model(x[:2])
        return model
    if dist.rank() == 0:
        ref = build()
        ref.fit(x, y, batch_size=100, epochs=1, verbose=0)
        save(out, "single_sub", weights(ref))
    model = build()
    with dist.DataParallel():
        model.fit(x, y, batch_size=100, epochs=1, verbose=0)
    save(out, "dist_sub", weights(model))


def scenario_backup(out):
    """BackupAndRestore in a distributed fit: PHASE=interrupt stops the job after epoch 1 (the
    backup of epoch 1 is on disk); PHASE=resume finishes it, then trains the same 3 epochs
    without interruption for comparison."""
    x, y = data(384)
    backup = os.path.join(out, "backup")

    class Interrupt(corenn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            # rank 0 only, after its BackupAndRestore wrote epoch 1 (a raise on another rank could
            # abort the job while rank 0 is still writing)
            if epoch == 1 and dist.rank() == 0:
                raise RuntimeError("interrupted on purpose")
    cbs = [corenn.callbacks.BackupAndRestore(backup)]
    if os.environ["PHASE"] == "interrupt":
        cbs.append(Interrupt())
    model = mlp()
    with dist.DataParallel():
        hist = model.fit(x, y, batch_size=64, epochs=3, verbose=0, callbacks=cbs)
    save(out, "resumed", weights(model))
    np.save(os.path.join(out, f"resumed_epochs.rank{dist.rank()}.npy"), np.array(hist.epoch))
    model = mlp()
    with dist.DataParallel():
        model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    save(out, "uninterrupted", weights(model))


def scenario_die(out):
    """Rank 1 fails mid-training (killed by a signal, or raising); the job must end, not hang."""
    how = os.environ["DIE_HOW"]
    x, y = data(512)
    model = mlp()

    class Die(corenn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1 and dist.rank() == 1:
                if how == "kill":
                    os.kill(os.getpid(), 9)
                raise RuntimeError("rank 1 fails on purpose")
    with dist.DataParallel():
        model.fit(x, y, batch_size=64, epochs=50, verbose=0, callbacks=[Die()])


def scenario_dataset_shard(out):
    """What DataParallel's refusal of a Dataset advises: each rank fits its own shard outside
    DataParallel with a DistributedOptimizer. Rank r's batch k (every other sample) and the other
    rank's make up one process's batch k of twice the size, so the weights match one process."""
    x, y = data(256)
    if dist.rank() == 0:
        ref = mlp()
        ref.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
        save(out, "single_shard", weights(ref))
    model = mlp()
    model.compile(optimizer=dist.DistributedOptimizer(corenn.optimizers.SGD(learning_rate=0.1, momentum=0.9)),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = corenn.data.Dataset.from_tensor_slices((x, y)).shard(dist.size(), dist.rank()).batch(64 // dist.size())
    with dist.DataParallel():
        try:
            model.fit(ds, epochs=1, verbose=0)
            message = "no error"
        except ValueError as exc:
            message = str(exc)
    with open(os.path.join(out, f"refusal.rank{dist.rank()}.txt"), "w") as f:
        f.write(message)
    dist.broadcast_weights(model)
    model.fit(ds, epochs=2, verbose=0)
    save(out, "dataset_shard", weights(model))


def scenario_float64(out):
    """A float64 model (set_floatx): DataParallel fit on the ranks vs one process; the gradients
    are reduced in float64 buckets, so the two agree to float64's rounding, not float32's."""
    corenn.keras.backend.set_floatx("float64")
    x, y = data(256)
    x = x.astype(np.float64)
    if dist.rank() == 0:
        ref = mlp()
        ref.fit(x, y, batch_size=64, epochs=2, verbose=0, shuffle=False)
        save(out, "single64", weights(ref))
    model = mlp()
    with dist.DataParallel(bucket_bytes=2048):
        model.fit(x, y, batch_size=64, epochs=2, verbose=0, shuffle=False)
    save(out, "dist64", weights(model))


if __name__ == "__main__":
    globals()[f"scenario_{sys.argv[1]}"](sys.argv[2])
