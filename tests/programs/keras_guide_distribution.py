"""The Keras 3 guide "Distributed training with Keras 3" (keras.distribution) as one program:
list the devices, describe them as a DeviceMesh, lay tensors out with TensorLayout, train with
DataParallel set as the global distribution, then with ModelParallel and a LayoutMap. The guide
writes its meshes for the devices it finds (8 there); corenn has one CPU device per process (N
under `mpiexec -n N`), so the meshes here are sized from list_devices() and ModelParallel's model
axis spans one device (a split over more devices raises NotImplementedError: corenn is data
parallel only). Only the imports changed; the checks at the end are this program's own."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras.distribution import (DataParallel, DeviceMesh, LayoutMap, ModelParallel, TensorLayout,
                                       list_devices, set_distribution)

# every device of the job; the guide's 8 accelerators, one CPU per process here
devices = list_devices()
print(devices)

# a 2-d mesh: a data axis and a model axis over the same devices
mesh_2d = DeviceMesh(shape=(len(devices), 1), axis_names=["data", "model"], devices=devices)
# a 2-d tensor split along the mesh's model axis (rows) and data axis (columns)
layout_2d = TensorLayout(axes=("model", "data"), device_mesh=mesh_2d)
# a 4-d image batch split along the batch dimension only
layout_4d = TensorLayout(axes=("data", None, None, None), device_mesh=mesh_2d)

# data parallelism from a list of devices, or from a 1-d mesh
data_parallel = DataParallel(devices=devices)
mesh_1d = DeviceMesh(shape=(len(devices),), axis_names=["data"], devices=devices)
data_parallel = DataParallel(device_mesh=mesh_1d)

inputs = np.random.default_rng(0).normal(size=(128, 28, 28, 1)).astype("float32")
labels = np.random.default_rng(1).normal(size=(128, 10)).astype("float32")
dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(16)

# every model built and trained from here on uses the distribution
set_distribution(data_parallel)


def build_model():
    keras.utils.set_random_seed(7)
    inputs = keras.Input(shape=(28, 28, 1))
    y = keras.layers.Flatten()(inputs)
    y = keras.layers.Dense(units=200, use_bias=False, activation="relu", name="d1")(y)
    y = keras.layers.Dropout(0.4)(y)
    y = keras.layers.Dense(units=10, activation="softmax", name="d2")(y)
    return keras.Model(inputs=inputs, outputs=y)


model = build_model()
model.compile(loss="mse")
history = model.fit(dataset, epochs=3)
data_parallel_loss = model.evaluate(dataset)

# model parallelism: weights are laid out by a LayoutMap keyed by variable paths (regexes)
layout_map = LayoutMap(mesh_2d)
layout_map["d1/kernel"] = TensorLayout(("model", "data"))
layout_map["d1/bias"] = TensorLayout(("model",))
layout_map["d2/output"] = TensorLayout(("data", None))
model_parallel = ModelParallel(layout_map=layout_map, batch_dim_name="data")
set_distribution(model_parallel)

model = build_model()
model.compile(loss="mse")
model.fit(dataset, epochs=3)
model_parallel_loss = model.evaluate(dataset)

# -- checks (not in the guide) -------------------------------------------------------------------
assert devices == ["cpu:0"] and layout_2d.axes == ("model", "data") and layout_4d.device_mesh is mesh_2d
assert data_parallel.batch_dim_name == "data" and model_parallel.batch_dim_name == "data"
assert keras.distribution.distribution() is model_parallel
assert history.history["loss"][-1] < history.history["loss"][0]
# on one device both distributions train exactly as no distribution would
set_distribution(None)
reference = build_model()
reference.compile(loss="mse")
reference.fit(dataset, epochs=3, verbose=0)
assert abs(reference.evaluate(dataset, verbose=0) - model_parallel_loss) == 0.0
assert abs(data_parallel_loss - model_parallel_loss) == 0.0
# a layout that splits a weight over several devices is refused with a clear error
wide = LayoutMap(DeviceMesh(shape=(1, 2), axis_names=["data", "model"], devices=["cpu:0", "cpu:1"]))
wide["d1/kernel"] = TensorLayout((None, "model"))
try:
    ModelParallel(layout_map=wide, batch_dim_name="data")
    raise AssertionError("ModelParallel over two devices should raise")
except NotImplementedError as exc:
    assert "data parallelism only" in str(exc)
