"""Compiled Keras files load compiled (optimizer, loss, metrics from Keras 3's compile_config or
the legacy training_config) with the optimizer's state (Keras 3: optimizer/vars in
model.weights.h5; legacy: optimizer_weights), so that training goes on where Keras stopped: one
more step from the loaded file gives the weights Keras' own next step gave (the fixtures hold
them: tools/make_keras_fixtures.py, Keras 3.15 and tf_keras 2.21). A compile config naming what
corenn lacks loads uncompiled with a warning; a bad optimizer state raises ValueError."""
import io
import json
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import corenn  # noqa: E402

from test_keras_files import edit_h5, fixture, rewrite_archive  # noqa: E402

COMPILED = [("compiled_adam", "keras", "Adam"), ("compiled_sgd", "keras", "SGD"),
            ("compiled_rmsprop", "keras", "RMSprop"), ("compiled_adamw", "keras", "AdamW"),
            ("tf_compiled_adam", "h5", "Adam"), ("tf_compiled_sgd", "h5", "SGD"),
            ("tf_compiled_rmsprop", "h5", "RMSprop"), ("tf_compiled_adamw", "h5", "AdamW")]


def step_data(name):
    with np.load(fixture(f"{name}.expected.npz"), allow_pickle=False) as data:
        nexts = [data[f"next_{i}"] for i in range(sum(k.startswith("next_") for k in data.files))]
        return data["step_x"], data["step_y"], nexts


@pytest.mark.parametrize("name,ext,optimizer", COMPILED)
def test_one_more_step_matches_keras_next_step(name, ext, optimizer):
    model = corenn.models.load_model(fixture(f"{name}.{ext}"))
    assert model.compiled and type(model.optimizer).__name__ == optimizer
    assert int(model.optimizer.iterations) == 4   # Keras' steps before saving
    x, y, keras_next = step_data(name)
    model.train_on_batch(x, y)
    for got, want in zip(model.get_weights(), keras_next, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ext", [("compiled_adam", "keras"), ("tf_compiled_rmsprop", "h5")])
def test_a_fresh_optimizer_takes_another_step(name, ext):
    """What the test above checks: without the file's state the step differs."""
    model = corenn.models.load_model(fixture(f"{name}.{ext}"), compile=False)
    assert not model.compiled
    again = corenn.models.load_model(fixture(f"{name}.{ext}"))
    model.compile(optimizer=again.optimizer.from_config(again.optimizer.get_config()), loss="mse")
    x, y, keras_next = step_data(name)
    model.train_on_batch(x, y)
    assert max(np.max(np.abs(a - b)) for a, b in zip(model.get_weights(), keras_next)) > 1e-4


def test_loss_and_metrics_come_from_the_file():
    model = corenn.models.load_model(fixture("tf_compiled_sgd.h5"))
    x, y, _ = step_data("tf_compiled_sgd")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"}
    np.testing.assert_allclose(logs["loss"], np.mean((model.predict(x, verbose=0) - y) ** 2), rtol=1e-5)
    assert model.optimizer.nesterov and model.optimizer.momentum == pytest.approx(0.9)


def edit_compile_config(edit):
    return lambda config: edit(config["compile_config"])


@pytest.mark.parametrize("edit,named", [
    (lambda c: c["optimizer"].update(class_name="FancyOptimizer", registered_name="FancyOptimizer"),
     r"optimizer 'FancyOptimizer'"),
    (lambda c: c.update(loss={"module": "keras.losses", "class_name": "FancyLoss", "config": {},
                              "registered_name": None}), r"loss 'FancyLoss'"),
    (lambda c: c.update(metrics=["mae", "fancy_metric"]), r"metric 'fancy_metric'"),
    (lambda c: c["optimizer"]["config"].update(fancy_option=1), r"option\(s\) fancy_option"),
])
def test_what_corenn_lacks_loads_uncompiled_with_a_warning(tmp_path, edit, named):
    path = rewrite_archive(fixture("compiled_adam.keras"), tmp_path / "m.keras", edit_compile_config(edit))
    with pytest.warns(UserWarning, match=named + r".*call compile\(\)"):
        model = corenn.models.load_model(path)
    assert not model.compiled


def rewrite_weights(src, dst, edit):
    """A copy of a .keras archive with model.weights.h5 edited by ``edit(h5 file)``."""
    with zipfile.ZipFile(src) as zin:
        members = {info.filename: zin.read(info) for info in zin.infolist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        edit(f)
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


def replace(f, path, value):
    del f[path]
    f[path] = value


@pytest.mark.parametrize("edit,message", [
    (lambda f: replace(f, "optimizer/vars/3", np.zeros((5, 6), np.float32)), r"optimizer variable of shape \(5, 6\)"),
    (lambda f: replace(f, "optimizer/vars/3", np.zeros((4, 6), np.int32)), r"optimizer variable of shape"),
    (lambda f: f.__delitem__("optimizer/vars/9"), r"optimizer variable of shape \(\) \(float32\) for weight"),
    (lambda f: [f.__delitem__(f"optimizer/vars/{i}") for i in (9, 8, 7)], r"holds 7 optimizer variables"),
    (lambda f: f.__delitem__("optimizer/vars/0"), r"not numbered"),
    (lambda f: replace(f, "optimizer/vars/0", np.int64(-3)), r"step count is -3"),
    (lambda f: replace(f, "optimizer/vars/1", np.float32(np.nan)), r"learning rate is nan"),
    (lambda f: replace(f, "optimizer/vars/0", np.zeros(3, np.int64)), r"must be a number"),
    (lambda f: f.create_dataset("optimizer/extra", data=np.zeros(2, np.float32)), r"unexpected dataset"),
])
def test_a_bad_optimizer_state_in_an_archive_is_refused(tmp_path, edit, message):
    path = rewrite_weights(fixture("compiled_adam.keras"), tmp_path / "m.keras", edit)
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)
    corenn.models.load_model(path, compile=False)   # the state is only read when compiling


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["optimizer"]["config"].update(learning_rate=-1.0), r"learning_rate = -1.0 is out of range"),
    (lambda c: c.update(optimizer=10 ** 7), r"bad optimizer"),
    (lambda c: c.update(loss=[1, 2]), r"bad loss"),
    (lambda c: c["optimizer"].update(module="my_project.optimizers"), r"module 'my_project.optimizers'"),
])
def test_a_bad_compile_config_is_refused(tmp_path, edit, message):
    path = rewrite_archive(fixture("compiled_adam.keras"), tmp_path / "m.keras", edit_compile_config(edit))
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)


def test_a_bad_legacy_optimizer_state_is_refused(tmp_path):
    def drop(f):
        del f["optimizer_weights/Adam/v/dense_4/bias:0"]
    with pytest.raises(ValueError, match=r"listed in weight_names, missing"):
        corenn.models.load_model(edit_h5(fixture("tf_compiled_adam.h5"), tmp_path / "m.h5", drop))

    def training_config(f):
        config = json.loads(f.attrs["training_config"])
        config["optimizer_config"]["class_name"] = "Custom>Yogi"
        f.attrs["training_config"] = json.dumps(config)
    with pytest.warns(UserWarning, match=r"optimizer 'Yogi'"):
        model = corenn.models.load_model(edit_h5(fixture("tf_compiled_adam.h5"), tmp_path / "n.h5", training_config))
    assert not model.compiled


@pytest.mark.parametrize("optimizer", [lambda: corenn.optimizers.Adam(1e-2),
                                       lambda: corenn.optimizers.SGD(0.05, momentum=0.9),
                                       lambda: corenn.optimizers.RMSprop(1e-2, momentum=0.5)])
def test_a_legacy_h5_corenn_writes_goes_on_training_where_it_stopped(tmp_path, optimizer):
    """model.save('m.h5') writes the optimizer's state as TF-Keras 2 lists it (optimizer_weights:
    iteration, then the slots per variable); loading it and taking one more step gives the step
    the saved model itself takes next."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 5)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    model = corenn.Sequential([corenn.layers.Input((5,)), corenn.layers.Dense(4, activation="tanh"),
                               corenn.layers.Dense(2)])
    model.compile(optimizer=optimizer(), loss="mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    path = tmp_path / "m.h5"
    model.save(path)
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["optimizer_weights"].attrs["weight_names"]]
        assert names[0] == "iteration:0" and f["optimizer_weights/iteration:0"][()] == 3
        assert len(names) > 1
    loaded = corenn.models.load_model(path)
    assert int(loaded.optimizer.iterations) == 3
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["compiled_adam", "compiled_sgd", "compiled_rmsprop", "compiled_adamw"])
def test_optimizer_variables_are_the_files_in_keras_order(name):
    """Keras 3 stores optimizer/vars/<i> in the order of its ``optimizer.variables``
    (iteration, learning_rate, the slots): corenn's list, after loading, is the same one to one."""
    model = corenn.models.load_model(fixture(f"{name}.keras"))
    with zipfile.ZipFile(fixture(f"{name}.keras")) as z, \
            h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        group = f["optimizer/vars"]
        stored = [np.asarray(group[str(i)]) for i in range(len(group))]
    got = model.optimizer.variables
    assert [v.name for v in got[:2]] == ["iteration", "learning_rate"]
    assert len(got) == len(stored)
    for v, want in zip(got, stored, strict=True):
        np.testing.assert_allclose(np.asarray(v, np.float64), want, rtol=1e-6)
