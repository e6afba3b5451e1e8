"""keras.distribution on one process: Keras 3.15's classes (values, attributes, the errors and
their messages, read from keras/src/distribution/distribution_lib.py and checked against Keras
with devices=["cpu:0"]), one CPU device "cpu:0" as Keras' JAX backend names it, fit under
set_distribution(DataParallel()) identical to fit without it, and model parallelism refused."""
import re

import numpy as np
import pytest

from corenn import keras
from corenn.keras import distribution as kd


@pytest.fixture(autouse=True)
def _no_distribution():
    kd.set_distribution(None)
    yield
    kd.set_distribution(None)


def test_one_cpu_device_per_process():
    assert kd.list_devices() == ["cpu:0"] == kd.list_devices("CPU")
    assert kd.list_devices("gpu") == [] and kd.get_device_count("tpu") == 0
    assert kd.get_device_count() == 1
    with pytest.raises(ValueError, match="device_type"):
        kd.list_devices("npu")
    import corenn.keras.distribution as same   # importable as a submodule
    assert same is keras.distribution


def test_device_mesh_values_and_errors():
    mesh = kd.DeviceMesh((1,), ["batch"])
    assert repr(mesh) == "<DeviceMesh shape=(1,), axis_names=['batch']>" == str(mesh)
    assert isinstance(mesh.devices, np.ndarray) and mesh.devices.tolist() == ["cpu:0"]
    assert mesh.shape == (1,) and mesh.axis_names == ["batch"]
    two = kd.DeviceMesh((2, 1), ["data", "model"], devices=["cpu:0", "cpu:1"])
    assert two.devices.shape == (2, 1) and two.devices[1, 0] == "cpu:1"
    with pytest.raises(ValueError, match=re.escape("Shape and axis_names cannot be empty. Received: shape=(), "
                                                   "axis_names=['a']")):
        kd.DeviceMesh((), ["a"])
    with pytest.raises(ValueError, match="Shape and axis_names should have same size"):
        kd.DeviceMesh((1,), ["a", "b"])
    with pytest.raises(ValueError, match=re.escape("Shape does not match the number of devices. Received: "
                                                   "shape=(2,); devices.shape=(1,)")):
        kd.DeviceMesh((2,), ["a"])


def test_tensor_layout():
    mesh = kd.DeviceMesh((1,), ["batch"])
    layout = kd.TensorLayout(["batch", None], mesh)
    assert layout.axes == ("batch", None) and layout.device_mesh is mesh
    assert repr(layout) == "<TensorLayout axes=('batch', None), device_mesh=<DeviceMesh shape=(1,), axis_names=['batch']>>"
    with pytest.raises(ValueError, match="Invalid axis names for Layout"):
        kd.TensorLayout(("batch", "model"), mesh)
    with pytest.raises(ValueError, match="Cannot override device mesh value"):
        layout.device_mesh = mesh
    late = kd.TensorLayout(("model",))
    assert late.device_mesh is None
    with pytest.raises(ValueError, match="Invalid axis names"):
        late.device_mesh = mesh   # validated when the mesh arrives


def test_layout_map_is_a_regex_dict():
    mesh = kd.DeviceMesh((1,), ["batch"])
    layout_map = kd.LayoutMap(mesh)
    layout_map[".*dense.*kernel"] = (None, "batch")
    layout_map[".*dense.*bias"] = ("batch",)
    kernel = layout_map["dense_1/kernel"]
    assert isinstance(kernel, kd.TensorLayout) and kernel.axes == (None, "batch") and kernel.device_mesh is mesh
    assert layout_map["my_model/dense_2/bias"].axes == ("batch",)
    assert layout_map["conv2d/kernel"] is None and layout_map.get("conv2d/kernel") is None
    assert len(layout_map) == 2 and list(layout_map) == [".*dense.*kernel", ".*dense.*bias"]
    with pytest.raises(ValueError, match="already exist in the LayoutMap"):
        layout_map[".*dense.*kernel"] = (None,)
    with pytest.raises(ValueError, match="should be a TensorLayout type"):
        layout_map["x"] = ["batch"]   # a list is not converted, as in Keras
    layout_map[".*"] = (None,)
    with pytest.raises(ValueError, match="matches multiple layout specification keys"):
        layout_map["dense/kernel"]
    assert layout_map["other"].axes == (None,)
    del layout_map[".*"]
    assert len(layout_map) == 2 and layout_map.device_mesh is mesh


def test_data_parallel_attributes():
    dp = kd.DataParallel()
    assert dp.batch_dim_name == "batch" and dp.device_mesh.shape == (1,) and dp.device_mesh.axis_names == ["batch"]
    assert dp.num_processes == 1 and dp.num_model_replicas == 1 and dp.data_shard_id == 0 and dp.auto_shard_dataset
    assert repr(dp) == "<DataParallel device_mesh=<DeviceMesh shape=(1,), axis_names=['batch']>>"
    assert dp.get_data_layout((4, 3)).axes == ("batch", None) and dp.get_tensor_layout("x") is None
    w = keras.Variable(np.zeros((2, 3), np.float32))
    assert dp.get_variable_layout(w).axes == (None, None)
    mesh = kd.DeviceMesh((1,), ["data"])
    assert kd.DataParallel(device_mesh=mesh).batch_dim_name == "data"
    assert kd.DataParallel(devices=["cpu:0"], auto_shard_dataset=False).auto_shard_dataset is False
    with pytest.raises(ValueError, match="Expect `mesh` to be an instance of `DeviceMesh`"):
        kd.DataParallel(device_mesh="x")
    with pytest.warns(UserWarning, match="Expect the input mesh to be 1D"):
        kd.DataParallel(device_mesh=kd.DeviceMesh((1, 1), ["a", "b"]))
    data = np.arange(6)
    assert dp.distribute_dataset(data) is data


def test_model_parallel_validation_and_refusal():
    with pytest.raises(ValueError, match="You must specify a layout_map argument"):
        kd.ModelParallel()
    with pytest.raises(ValueError, match="must be a `LayoutMap` instance"):
        kd.ModelParallel(layout_map={})
    one = kd.LayoutMap(kd.DeviceMesh((1, 1), ["batch", "model"]))
    one[".*dense.*kernel"] = (None, "model")           # over one device: splits nothing
    mp = kd.ModelParallel(layout_map=one, batch_dim_name="batch")
    assert mp.num_model_replicas == 1 and mp.batch_dim_name == "batch"
    assert mp.get_tensor_layout("d/dense/kernel").axes == (None, "model")
    kd.set_distribution(mp)
    assert kd.distribution() is mp
    split = kd.LayoutMap(kd.DeviceMesh((1, 2), ["batch", "model"], devices=["cpu:0", "cpu:1"]))
    split["d1/kernel"] = (None, "model")
    with pytest.raises(NotImplementedError, match="data parallelism only"):
        kd.ModelParallel(layout_map=split)
    unsplit = kd.LayoutMap(kd.DeviceMesh((1, 1), ["batch", "model"]))
    mp = kd.ModelParallel(layout_map=unsplit)
    assert mp.batch_dim_name == "batch"                # the mesh's first axis by default


def test_set_distribution_scope_and_errors():
    assert kd.distribution() is None
    dp = kd.DataParallel()
    kd.set_distribution(dp)
    assert kd.distribution() is dp
    other = kd.DataParallel(devices=["cpu:0"])
    with other.scope():
        assert kd.distribution() is other
    assert kd.distribution() is dp
    keras.utils.clear_session()          # Keras' global state holds the distribution
    assert kd.distribution() is None
    with pytest.raises(TypeError, match="DataParallel"):
        kd.set_distribution(3)
    with pytest.raises(ValueError, match=re.escape("['cpu:1']")):
        kd.set_distribution(kd.DataParallel(devices=["cpu:0", "cpu:1"]))   # this job has one device
    assert kd.distribution() is None


def test_distribute_tensor():
    mesh = kd.DeviceMesh((1,), ["batch"])
    x = keras.ops.ones((4, 2))
    assert kd.distribute_tensor(x, kd.TensorLayout(("batch", None), mesh)) is x
    symbolic = keras.Input((3,))
    assert kd.distribute_tensor(symbolic, "anything") is symbolic
    with pytest.raises(ValueError, match="device mesh is not set"):
        kd.distribute_tensor(x, kd.TensorLayout(("batch", None)))
    with pytest.raises(TypeError, match="TensorLayout"):
        kd.distribute_tensor(x, ("batch", None))
    wide = kd.DeviceMesh((2,), ["batch"], devices=["cpu:0", "cpu:1"])
    with pytest.raises(NotImplementedError, match="data parallelism only"):
        kd.distribute_tensor(x, kd.TensorLayout(("batch", None), wide))


def test_initialize_on_one_process(monkeypatch):
    kd.initialize()
    kd.initialize(job_addresses="10.0.0.1:1234", num_processes=1, process_id=0)
    with pytest.raises(ValueError, match=re.escape("mpiexec -n 2")):
        kd.initialize(num_processes=2)         # processes come from the launcher
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    with pytest.raises(ValueError, match="process_id=1"):
        kd.initialize()
    monkeypatch.delenv("KERAS_DISTRIBUTION_PROCESS_ID")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "3")
    with pytest.raises(ValueError, match="num_processes=3"):
        kd.initialize()


def _model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), loss="mse")
    return model


def test_fit_under_data_parallel_is_fit_on_one_process():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = x[:, :2].sum(axis=1, keepdims=True)
    plain = _model()
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0)
    kd.set_distribution(kd.DataParallel(devices=kd.list_devices()))
    distributed = _model()
    history = distributed.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    for a, b in zip(plain.get_weights(), distributed.get_weights()):
        np.testing.assert_array_equal(b, a)
