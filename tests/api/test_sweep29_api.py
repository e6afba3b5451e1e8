"""Sweep 29: what the programs added to tests/programs in sweep 29 found missing, each checked on
its own against TensorFlow 2.21's behaviour (the values written here are what TensorFlow gave for
the same calls)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


# ---- TF guide "Use a GPU" (tutorial_use_a_gpu.py): tf.config device lists and placement ----

@pytest.fixture
def restore_config(monkeypatch):
    from corenn import config
    monkeypatch.setattr(config, "_VISIBLE", [None])
    monkeypatch.setattr(config, "_SOFT_PLACEMENT", [True])


def test_logical_devices_have_tensorflow_names(restore_config):
    cpu = tf.config.list_logical_devices("CPU")
    assert cpu == [tf.config.LogicalDevice(name="/device:CPU:0", device_type="CPU")]
    assert tf.config.get_visible_devices("CPU") == tf.config.list_physical_devices("CPU")
    assert len(tf.config.list_logical_devices("GPU")) == len(tf.config.list_physical_devices("GPU"))
    cfg = tf.config.LogicalDeviceConfiguration(memory_limit=1024)
    assert (cfg.memory_limit, cfg.experimental_priority, cfg.experimental_device_ordinal) == (1024, None, None)
    assert tf.config.get_logical_device_configuration(tf.config.list_physical_devices("CPU")[0]) is None


def test_set_visible_devices_hides_gpus_not_the_cpu(restore_config):
    # TF 2.21: hiding every GPU is allowed (list_logical_devices('GPU') is then empty); hiding the
    # CPU is a RuntimeError
    tf.config.set_visible_devices([], "GPU")
    assert tf.config.list_logical_devices("GPU") == []
    assert tf.config.get_visible_devices() == tf.config.list_physical_devices("CPU")
    with pytest.raises(RuntimeError, match="CPU cannot be hidden"):
        tf.config.set_visible_devices([], "CPU")
    with pytest.raises(ValueError, match="not one of list_physical_devices"):
        tf.config.set_visible_devices([tf.config.PhysicalDevice("/physical_device:GPU:7", "GPU")], "GPU")
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(ValueError, match="not of device_type 'GPU'"):
        tf.config.set_visible_devices(cpu, "GPU")
    tf.config.set_visible_devices(tf.config.list_physical_devices())
    assert tf.config.get_visible_devices() == tf.config.list_physical_devices()


def test_logical_device_configuration_is_refused_as_tensorflow_refuses_it(restore_config):
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(RuntimeError, match="cannot split a device"):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    with pytest.raises(ValueError, match="unknown device"):
        tf.config.set_logical_device_configuration(tf.config.PhysicalDevice("/physical_device:XLA:0", "XLA"), [])


def test_soft_device_placement(restore_config):
    assert tf.config.get_soft_device_placement() is True
    with tf.device("/device:GPU:2"):    # soft: runs where it can, as TensorFlow's eager default
        c = tf.matmul(tf.ones((2, 3)), tf.ones((3, 2)))
    np.testing.assert_array_equal(c.numpy(), np.full((2, 2), 3.0))
    tf.config.set_soft_device_placement(False)
    assert tf.config.get_soft_device_placement() is False
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not satisfy device specification "
                                                             "'/device:GPU:2'.*enable_soft_placement=0"):
        with tf.device("/device:GPU:2"):
            pass
    with tf.device("/CPU:0"):   # a device the machine has is still fine
        pass


# ---- TF guide "Graph optimization with Grappler" (tutorial_graph_optimization.py) ----

@pytest.fixture
def restore_grappler(monkeypatch):
    from corenn import config
    monkeypatch.setattr(config.optimizer, "_options", dict(config.optimizer._options))
    monkeypatch.setattr(config.optimizer, "_jit", [""])


def test_grappler_options_merge_as_tensorflow(restore_grappler):
    opt = tf.config.optimizer
    assert opt.get_experimental_options() == {"disable_model_pruning": False, "disable_meta_optimizer": False}
    opt.set_experimental_options({"constant_folding": False})
    opt.set_experimental_options({"debug_stripper": True})
    opt.set_experimental_options({})   # TF 2.21: merging nothing unsets nothing
    assert opt.get_experimental_options() == {"constant_folding": False, "debug_stripper": True,
                                              "disable_model_pruning": False, "disable_meta_optimizer": False}
    with pytest.raises(ValueError, match="unknown option.*'bogus'"):
        opt.set_experimental_options({"bogus": True})
    assert opt.get_jit() == ""
    opt.set_jit(True)
    assert opt.get_jit() == "autoclustering"
    with pytest.raises(ValueError, match="set_jit"):
        opt.set_jit("xla")


def test_debug_stripper_removes_checks_inside_tf_function_only(restore_grappler):
    @tf.function
    def checked(x):
        tf.debugging.check_numerics(x, "Bad!")
        tf.debugging.assert_positive(x)
        tf.Assert(x > 0, [x])
        return x * 2

    with pytest.raises(tf.errors.InvalidArgumentError, match="Bad!"):
        checked(tf.constant(float("inf")))
    tf.config.optimizer.set_experimental_options({"debug_stripper": True})
    # TF 2.21 returns -inf: check_numerics, assert_positive and Assert are all stripped
    assert float(checked(tf.constant(float("-inf")))) == float("-inf")
    with pytest.raises(tf.errors.InvalidArgumentError):   # eager code still checks
        tf.debugging.check_numerics(tf.constant(float("inf")), "eager")
    tf.config.optimizer.set_experimental_options({"debug_stripper": False})
    with pytest.raises(tf.errors.InvalidArgumentError):
        checked(tf.constant(-1.0))


# ---- TF tutorial "Multi-worker training with Keras" (tutorial_multi_worker_keras.py) ----

def test_backup_and_restore_every_n_batches_resumes_the_interrupted_epoch(tmp_path):
    # Keras 3.15 (torch) on the same run: 10 batches an epoch, a backup every 4 batches (the
    # counter runs across epochs), interrupted after batch 5 of epoch 1 -> the backup of that
    # batch; the resumed fit runs epochs [1, 2] from it and ends at optimizer step 16 + 20 = 36
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = x.sum(1, keepdims=True)
    backup = str(tmp_path / "bk")

    def make():
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        m.compile("sgd", "mse")
        return m

    class Stop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (1, 5):
                self.weights = [w.copy() for w in self.model.get_weights()]
                raise RuntimeError("interrupted")

    stop = Stop()
    m = make()
    with pytest.raises(RuntimeError, match="interrupted"):
        m.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=4), stop])
    seen = []
    m2 = make()
    started = []
    rec = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(epoch),
        on_train_begin=lambda logs: None)

    class Start(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if not started:
                started.append([w.copy() for w in self.model.get_weights()])

    bar = keras.callbacks.BackupAndRestore(backup, save_freq=4)
    m2.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[bar, rec, Start()])
    assert seen == [1, 2] and bar.resumed_from_epoch == 1
    assert int(m2.optimizer.iterations) == 36
    for a, b in zip(started[0], stop.weights):   # resumed from the backup of epoch 1, batch 5
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "bk").exists() or not any((tmp_path / "bk").iterdir())


def test_backup_and_restore_refuses_a_bad_save_freq(tmp_path):
    for bad in (0, -3, 2.5, True, "batch"):
        with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive number of batches"):
            keras.callbacks.BackupAndRestore(str(tmp_path), save_freq=bad)


def test_cluster_resolver_reads_tf_config(monkeypatch):
    # TF 2.21: without TF_CONFIG MultiWorkerMirroredStrategy's resolver has task_type / task_id
    # None, an empty ClusterSpec and master ''; MirroredStrategy has no resolver
    monkeypatch.delenv("TF_CONFIG", raising=False)
    r = tf.distribute.MultiWorkerMirroredStrategy().cluster_resolver
    assert isinstance(r, tf.distribute.cluster_resolver.TFConfigClusterResolver)
    assert (r.task_type, r.task_id, r.cluster_spec().as_dict(), r.master(), r.rpc_layer) == (None, None, {}, "", None)
    assert tf.distribute.MirroredStrategy().cluster_resolver is None
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:12345"]}, "task": {"type": "worker", "index": 0}}')
    r = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    assert (r.task_type, r.task_id, r.cluster_spec().as_dict(), r.master()) == (
        "worker", 0, {"worker": ["localhost:12345"]}, "localhost:12345")
    s = tf.distribute.MultiWorkerMirroredStrategy()
    assert (s.cluster_resolver.task_type, s.cluster_resolver.task_id) == ("worker", 0)
    spec = r.cluster_spec()
    assert spec.jobs == ["worker"] and spec.num_tasks("worker") == 1
    with pytest.raises(ValueError, match="no such job 'chief'"):
        spec.num_tasks("chief")
    # a resolver naming two tasks is a cluster corenn does not run through tf.distribute
    two = tf.distribute.cluster_resolver.SimpleClusterResolver(
        {"worker": ["a:1", "b:2"]}, task_type="worker", task_id=1)
    assert two.master() == "b:2" and two.master(rpc_layer="grpc") == "grpc://b:2"
    with pytest.raises(NotImplementedError, match="corenn.distributed"):
        tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=two)


# ---- TF tutorial "Custom training loop with Keras and MultiWorkerMirroredStrategy"
#      (tutorial_multi_worker_ctl.py): tf.train.ClusterSpec ----

def test_cluster_spec_as_tensorflow():
    spec = tf.train.ClusterSpec({"worker": ["localhost:12345", "localhost:23456"]})
    # TF 2.21: as_dict() gives the lists back, jobs in order, "chief" not in it
    assert spec.as_dict() == {"worker": ["localhost:12345", "localhost:23456"]}
    assert "chief" not in spec.as_dict() and spec.jobs == ["worker"]
    assert spec.num_tasks("worker") == 2 and spec.task_address("worker", 1) == "localhost:23456"
    sparse = tf.train.ClusterSpec({"ps": {0: "p:1", 3: "p:4"}})
    assert sparse.as_dict() == {"ps": {0: "p:1", 3: "p:4"}}
    assert tf.train.ClusterSpec(spec) == spec and not tf.train.ClusterSpec({})
    with pytest.raises(ValueError, match="no task 5 in job 'worker'"):
        spec.task_address("worker", 5)
    with pytest.raises(TypeError, match="task addresses"):
        tf.train.ClusterSpec({"worker": "localhost:1"})


# ---- TF guide "Migrate evaluation" (tutorial_migrate_evaluator.py): SidecarEvaluator ----

def _small_model():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    return m


def test_checkpoints_iterator_yields_each_new_checkpoint_then_times_out(tmp_path):
    step = tf.Variable(0)
    ckpt = tf.train.Checkpoint(step=step)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    manager.save()
    it = tf.train.checkpoints_iterator(str(tmp_path), timeout=0.2)
    first = next(it)
    assert first.endswith("ckpt-1")
    manager.save()
    assert next(it).endswith("ckpt-2")
    with pytest.raises(StopIteration):   # nothing new within the timeout
        next(it)
    calls = []
    it = tf.train.checkpoints_iterator(str(tmp_path), timeout=0.1, timeout_fn=lambda: calls.append(1) or len(calls) > 1)
    assert next(it).endswith("ckpt-2")
    assert list(it) == [] and len(calls) == 2   # timeout_fn False once: waited again


def test_sidecar_evaluator_follows_checkpoints(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0)
    trained = _small_model()
    ckpt = tf.train.Checkpoint(model=trained, optimizer=trained.optimizer)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=None)
    expected = []
    for _ in range(2):
        trained.fit(x, y, batch_size=16, epochs=1, verbose=0)
        manager.save()
        expected.append(trained.evaluate(x, y, return_dict=True, verbose=0))
    fresh = _small_model()
    fresh.build((None, 4))
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ev = keras.utils.SidecarEvaluator(fresh, data, str(tmp_path), max_evaluations=2)
    # the iterator yields the newest checkpoint only: ckpt-2, whose name ends the loop
    ev.start()
    assert [p.rsplit("/", 1)[-1] for p, _ in ev.results] == ["ckpt-2"]
    np.testing.assert_allclose(ev.results[0][1]["loss"], expected[1]["loss"], rtol=1e-6)
    assert int(fresh.optimizer.iterations) == 8
    with pytest.raises(ValueError, match="max_evaluations"):
        keras.utils.SidecarEvaluator(fresh, data, str(tmp_path), max_evaluations=0)


def test_sidecar_evaluator_needs_the_training_step(tmp_path):
    m = _small_model()
    m.build((None, 4))
    tf.train.Checkpoint(model=m).save(str(tmp_path / "ckpt"))   # weights only, no optimizer
    with pytest.raises(RuntimeError, match="`iterations` cannot be loaded"):
        keras.utils.SidecarEvaluator(m, np.zeros((2, 4), "float32"), str(tmp_path), max_evaluations=1).start()


def test_prefix_weights_carry_the_optimizer_step_and_still_load(tmp_path):
    # tf.keras 2's TF-format save_weights tracks the compiled optimizer with the model
    m = _small_model()
    x = np.ones((8, 4), "float32")
    m.fit(x, np.zeros(8, "int32"), epochs=1, batch_size=4, verbose=0)
    m.save_weights(str(tmp_path / "w"))
    names = dict(tf.train.list_variables(str(tmp_path / "w")))
    assert names["optimizer.iterations"] == [] and "model.w0" in names
    other = _small_model()
    other.build((None, 4))
    other.load_weights(str(tmp_path / "w"))
    for a, b in zip(other.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(other.optimizer.iterations) == 0   # load_weights restores the weights only


# ---- keras.io "How to train a Keras model on TFRecord files" (example_tfrecord_melanoma.py):
#      a functional model calling nested models, saved to a legacy .h5 ----

def test_legacy_h5_of_a_functional_model_calling_nested_models(tmp_path):
    import h5py
    import json
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"),
                              keras.layers.BatchNormalization(name="bn")], name="inner")
    fi = keras.Input((3,))
    finner = keras.Model(fi, keras.layers.Dense(2, name="fd")(fi), name="finner")
    finner.trainable = False
    inp = keras.Input((4,), name="x")
    h = finner(inner(inp))
    out = keras.layers.Add(name="add")([keras.layers.Dense(2, name="side")(inp), h])
    m = keras.Model(inp, keras.layers.Dense(1, name="top")(out), name="outer")
    m.compile("adam", "mse")
    m.fit(np.random.default_rng(0).normal(size=(16, 4)).astype("float32"), np.ones((16, 1), "float32"),
          epochs=2, verbose=0)
    path = str(tmp_path / "m.h5")
    m.save(path)
    with h5py.File(path) as f:
        config = json.loads(f.attrs["model_config"])
        # TF-Keras 2's numbering: a nested model's calls count from node 1 (node 0 is its own
        # graph), so references to 'inner' and 'finner' name node 1; other layers node 0
        refs = {layer["name"]: layer["inbound_nodes"] for layer in config["config"]["layers"]}
        assert refs["finner"] == [[["inner", 1, 0, {}]]]
        assert refs["add"] == [[["side", 0, 0, {}], ["finner", 1, 0, {}]]]
        specs = {layer["name"]: layer for layer in config["config"]["layers"]}
        assert specs["inner"]["class_name"] == "Sequential" and specs["finner"]["class_name"] == "Functional"
        assert specs["finner"]["config"]["trainable"] is False
        # a nested model's weights in one group, trainable ones first (the BN statistics last)
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights/inner"].attrs["weight_names"]]
        assert names == ["d1/kernel:0", "d1/bias:0", "bn/gamma:0", "bn/beta:0", "bn/moving_mean:0",
                         "bn/moving_variance:0"]
    back = keras.models.load_model(path)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))
    assert back.get_layer("finner").trainable is False
    assert int(back.optimizer.iterations) == int(m.optimizer.iterations) == 2


# ---- TF guide "Migration examples: Canned Estimators" (tutorial_migrate_canned_estimators.py):
#      tf.keras 2's premade LinearModel / WideDeepModel ----

def test_linear_model_is_a_sum_of_bias_free_dense_layers_and_one_bias():
    LinearModel = tf.compat.v1.keras.experimental.LinearModel
    assert LinearModel is keras.experimental.LinearModel
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype("float32")
    m = LinearModel(units=2)
    np.testing.assert_array_equal(m(x), np.zeros((6, 2)))   # TF-Keras 2: zeros-initialized
    kernel = rng.normal(size=(3, 2)).astype("float32")
    m.dense_layers[0].set_weights([kernel])
    m.bias.assign(np.array([0.5, -1.0], "float32"))
    np.testing.assert_allclose(m(x), x @ kernel + [0.5, -1.0], rtol=1e-6)
    # a dict: one kernel per key, in sorted key order, named by key; a list: one per element
    d = LinearModel(activation="sigmoid")
    a, b = rng.normal(size=(4, 2)).astype("float32"), rng.normal(size=(4, 1)).astype("float32")
    d({"b": b, "a": a})
    assert [layer.name for layer in d.dense_layers] == ["a", "b"]
    d.dense_layers[0].set_weights([np.ones((2, 1), "float32")])
    d.dense_layers[1].set_weights([2 * np.ones((1, 1), "float32")])
    np.testing.assert_allclose(d({"a": a, "b": b}), 1 / (1 + np.exp(-(a.sum(1, keepdims=True) + 2 * b))), rtol=1e-6)
    with pytest.raises(ValueError, match=r"lacks \['b'\]"):
        d({"a": a})
    l2 = LinearModel(use_bias=False)
    out = l2([a, b])
    assert len(l2.dense_layers) == 2 and l2.bias is None and out.shape == (4, 1)
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LinearModel(units=0)


def test_wide_deep_model_trains_each_part_with_its_optimizer():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    linear = keras.experimental.LinearModel()
    dnn = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model = keras.experimental.WideDeepModel(linear, dnn)
    np.testing.assert_allclose(model([x, x]), linear(x) + dnn(x), rtol=1e-6)
    w0 = dnn.get_weights()
    # one full-batch step, lr 0.1 for the linear part and 0.01 for the DNN: plain SGD by hand
    model.compile(optimizer=[keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.01)], loss="mse")
    model.fit([x, x], y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    err = 2 * (x @ w0[0] + w0[1] - y) / 8          # d mse / d prediction (the linear part is 0)
    np.testing.assert_allclose(linear.dense_layers[0].get_weights()[0], -0.1 * x.T @ err, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(linear.bias.numpy(), -0.1 * err.sum(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dnn.get_weights()[0], w0[0] - 0.01 * x.T @ err, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="a list of two"):
        model.compile(optimizer=["sgd", "sgd", "sgd"], loss="mse")


# ---- `import corenn as keras`: Keras 3's top-level modules quantizers / dtype_policies /
#      distribution / export (the quantization guides write keras.quantizers.AbsMaxQuantizer) ----

def test_keras_top_level_modules_under_import_corenn_as_keras():
    import corenn
    for name in ("quantizers", "dtype_policies", "distribution", "export"):
        assert getattr(corenn, name) is getattr(keras, name), name
        assert name in corenn.__all__
    q, scale = corenn.quantizers.abs_max_quantize(np.array([[1.0, -2.0]], "float32"), axis=-1)
    # Keras 3.15: scale 127 / (2 + 1e-7), values round(x * scale) = [64, -127] (63.5 rounds to even)
    np.testing.assert_array_equal(np.asarray(q), [[64, -127]])
    np.testing.assert_allclose(np.asarray(scale), [[63.5]], rtol=1e-6)


def test_tpu_cluster_resolver_raises_value_error_as_without_a_tpu():
    # TF 2.21 on a machine without a TPU: ValueError("Please provide a TPU Name to connect to.")
    # from the constructor and connect(); keras.io examples fall back with `except ValueError`
    with pytest.raises(ValueError, match="Please provide a TPU Name to connect to"):
        tf.distribute.cluster_resolver.TPUClusterResolver()
    with pytest.raises(ValueError, match="Please provide a TPU Name to connect to"):
        tf.distribute.cluster_resolver.TPUClusterResolver.connect()
    with pytest.raises(ValueError, match="cannot connect to TPU 'grpc://10.0.0.2:8470'"):
        tf.distribute.cluster_resolver.TPUClusterResolver(tpu="grpc://10.0.0.2:8470")
    try:
        tpu = tf.distribute.cluster_resolver.TPUClusterResolver.connect()
        strategy = tf.distribute.TPUStrategy(tpu)
    except ValueError:
        strategy = tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1
