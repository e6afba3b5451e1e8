"""Run under mpiexec by test_keras_distribution_mpi.py: keras.distribution.set_distribution(DataParallel())
against corenn.distributed.DataParallel on the same model and data; results into OUT_DIR.

    mpiexec -n 2 python tests/distributed/_keras_distribution_mpi_worker.py <out_dir>
"""
import json
import os
import sys

import numpy as np

import corenn
import corenn.distributed as dist
from corenn import keras, layers
from corenn.utils import set_random_seed


def mlp():
    set_random_seed(0)
    model = corenn.Sequential([layers.Input(shape=(20,)), layers.Dense(16, activation="relu"), layers.Dense(3)])
    model.compile(optimizer=corenn.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main(out):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 20)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    # before any corenn.distributed call: the devices come from the launcher's environment
    info = {"devices": keras.distribution.list_devices(), "count": keras.distribution.get_device_count()}
    rank = dist.rank()

    ref = mlp()                                   # corenn.distributed's own data-parallel fit
    with dist.DataParallel():
        ref.fit(x, y, batch_size=64, epochs=2, verbose=0)

    keras.distribution.initialize()
    data_parallel = keras.distribution.DataParallel()
    info.update(num_processes=data_parallel.num_processes, data_shard_id=data_parallel.data_shard_id,
                replicas=data_parallel.num_model_replicas)
    keras.distribution.set_distribution(data_parallel)
    model = mlp()
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    keras.distribution.set_distribution(None)
    alone = mlp()                                 # after set_distribution(None): each rank alone
    alone.fit(x[rank::2], y[rank::2], batch_size=32, epochs=1, verbose=0, shuffle=False)
    np.savez(os.path.join(out, f"ref.rank{rank}.npz"), *ref.get_weights())
    np.savez(os.path.join(out, f"keras.rank{rank}.npz"), *model.get_weights())
    np.savez(os.path.join(out, f"alone.rank{rank}.npz"), *alone.get_weights())
    with open(os.path.join(out, f"info.rank{rank}.json"), "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main(sys.argv[1])
