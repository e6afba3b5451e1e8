"""model.save / models.load_model: round trips over every layer type, continued training with
the saved optimizer state, atomic writes, and truncated / tampered / hostile files."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import corenn
from corenn import layers, optimizers, saving
from corenn.models import load_model


def image_model():
    """Every image/sequence layer on main, in one stack."""
    return corenn.Sequential([
        layers.Input(shape=(8, 8, 3)),
        layers.Conv2D(4, 3, padding="same", activation="relu", kernel_regularizer="l2"),
        layers.ZeroPadding2D(1),
        layers.BatchNormalization(momentum=0.9),
        layers.SpatialDropout2D(0.2),
        layers.AveragePooling2D(2),                        # (5, 5, 4)
        layers.Reshape((25, 4)),
        layers.Conv1D(6, 3, activation="tanh"),            # (23, 6)
        layers.MaxPooling1D(2),                            # (11, 6)
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(3),
        layers.Activation("softmax"),
    ])


def pooling_model():
    return corenn.Sequential([
        layers.Conv2D(5, (3, 2), activation="relu", input_shape=(10, 9, 2)),  # relu folded into the pool
        layers.MaxPooling2D(2),
        layers.GlobalMaxPooling2D(keepdims=True),
        layers.Reshape((5, 1)),
        layers.AveragePooling1D(2, strides=1),
        layers.GlobalAveragePooling1D(),
        layers.Dense(3, activation="softmax", bias_initializer="ones"),
    ])


def mlp_model():
    return corenn.Sequential([layers.Dense(7, activation="elu", input_shape=(12,)),
                              layers.Dropout(0.1), layers.Dense(3, activation="softmax")])


def sequence_model():
    """Embedding, recurrent layers and wrappers (loadable once layers/__init__ exports them)."""
    return corenn.Sequential([
        layers.Embedding(30, 6, input_shape=(7,)),
        layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
        layers.GRU(4, return_sequences=True),
        layers.SimpleRNN(4, return_sequences=True),
        layers.TimeDistributed(layers.Dense(3)),
        layers.GlobalAveragePooling1D(),
        layers.Activation("softmax"),
    ])


SEQUENCE_LAYERS = ("Embedding", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed")
MODELS = {"image": image_model, "pooling": pooling_model, "mlp": mlp_model, "sequence": sequence_model}
OPTIMIZERS = {
    "image": lambda: optimizers.Adam(1e-2, amsgrad=True),
    "pooling": lambda: optimizers.SGD(optimizers.schedules.CosineDecay(
        0.05, 20, warmup_target=0.1, warmup_steps=3), momentum=0.9),
    "mlp": lambda: optimizers.RMSprop(1e-2, clipnorm=1.0),
    "sequence": lambda: optimizers.AdamW(1e-2, weight_decay=0.01),
}


def data(model, n=24):
    rng = np.random.default_rng(3)
    if type(model.layers[0]).__name__ == "Embedding":
        x = rng.integers(0, 30, (n,) + tuple(model.input_shape[1:])).astype(np.float32)
    else:
        x = rng.standard_normal((n,) + tuple(model.input_shape[1:])).astype(np.float32)
    return x, rng.integers(0, 3, n)


def trained(kind):
    corenn.utils.set_random_seed(0)
    model = MODELS[kind]()
    model.compile(optimizer=OPTIMIZERS[kind](), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = data(model)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model, x, y


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trip_predicts_and_trains_identically(tmp_path, kind):
    if kind == "sequence" and not set(SEQUENCE_LAYERS) <= set(layers.__all__):
        pytest.skip("corenn.layers does not export the sequence layers yet")
    model, x, y = trained(kind)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for a, b in zip(model.get_weights(), loaded.get_weights()):  # incl. BN moving statistics
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 6
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # one more epoch on each, with the same shuffling and dropout draws: identical weights
    hist = []
    for m in (model, loaded):
        corenn.utils.set_random_seed(11)
        hist.append(m.fit(x, y, batch_size=8, epochs=1, verbose=0).history)
    assert hist[0] == hist[1]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_file_layout_and_load_options(tmp_path):
    model, x, _ = trained("mlp")
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
        compiled = json.loads(zf.read("compile.json"))
    assert names[:3] == ["metadata.json", "config.json", "compile.json"]
    assert meta["format"] == "corenn.model" and meta["format_version"] == 1
    assert [e["member"] for e in meta["arrays"] if e["member"].startswith("weights/")] == \
        [f"weights/{k}.npy" for k in range(4)]
    assert config["class_name"] == "Sequential"
    assert [l["class_name"] for l in config["config"]["layers"]] == ["Dense", "Dropout", "Dense"]
    assert compiled["optimizer"]["class_name"] == "RMSprop"
    assert compiled["loss"] == "sparse_categorical_crossentropy" and compiled["metrics"] == ["accuracy"]
    # not compiled on request; weights still load
    bare = load_model(path, compile=False)
    assert not bare.compiled
    np.testing.assert_array_equal(bare.predict(x), model.predict(x))
    # load_weights takes a .keras file
    other = mlp_model()
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    # the same model saves to the same bytes (fixed timestamps)
    model.save(tmp_path / "again.keras")
    assert (tmp_path / "again.keras").read_bytes() == path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        model.save(path, overwrite=False)


def test_uncompiled_and_optimizer_free_saves(tmp_path):
    corenn.utils.set_random_seed(1)
    model = mlp_model()
    model.save(tmp_path / "plain.keras")
    loaded = load_model(tmp_path / "plain.keras")
    assert not loaded.compiled
    x = np.ones((2, 12), np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    model.compile(optimizer="sgd", loss="mse")  # compiled, never trained: iterations only
    model.save(tmp_path / "fresh.keras")
    assert load_model(tmp_path / "fresh.keras").optimizer.iterations == 0


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model, _, _ = trained("mlp")
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    real = saving._write_array
    calls = []

    def dying_writer(zf, member, array):
        calls.append(member)
        if len(calls) == 3:  # some arrays written, then half of one, then the process "dies"
            with zf.open(saving._zip_info(member, False), "w") as f:
                f.write(array.tobytes()[: array.nbytes // 2])
            raise KeyboardInterrupt("killed mid-save")
        real(zf, member, array)

    monkeypatch.setattr(saving, "_write_array", dying_writer)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]  # no temporary file left behind


def test_unsavable_optimizer_config_raises_before_writing(tmp_path):
    model = mlp_model()
    model.compile(optimizer=optimizers.SGD(learning_rate=lambda: 0.1), loss="mse")
    with pytest.raises(ValueError, match="callable"):
        model.save(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []


# ---- hostile and damaged files ------------------------------------------------------------------

def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def saved(tmp_path):
    model, _, _ = trained("mlp")
    path = tmp_path / "m.keras"
    model.save(path)
    return path


def test_truncated_file(saved):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100):
        saved.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"m\.keras.*(truncated|corrupt|not a valid)"):
            load_model(saved)


def test_flipped_byte_fails_the_crc(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("weights/0.npy")
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # inside the array data
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"m\.keras.*(CRC|corrupt)"):
        load_model(saved)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update({"config.json": b'{"class_name": "Sequential", "config": {'}), "config.json.*not valid JSON"),
    (lambda m: m.update({"compile.json": b"[1, 2"}), "compile.json.*not valid JSON"),
    (lambda m: m.pop("config.json"), "'config.json' is missing"),
    (lambda m: m.update({"metadata.json": m["metadata.json"].replace(b'"format_version": 1', b'"format_version": 9')}),
     "format_version 9 is newer"),
    (lambda m: m.update({"metadata.json": m["metadata.json"].replace(b'"corenn.model"', b'"other"')}),
     "does not name the format"),
    (lambda m: m.pop("weights/1.npy"), "do not match"),
    (lambda m: m.update({"weights/0.npy": m["weights/1.npy"]}), "weights/0.npy: array of shape"),
    (lambda m: m.update({"payload.pkl": b"\x80\x04K\x01."}), "unexpected member 'payload.pkl'"),
    (lambda m: m.update({"../weights/9.npy": b"x"}), "not a plain relative path"),
    (lambda m: m.update({"/abs.json": b"{}"}), "not a plain relative path"),
])
def test_tampered_members(saved, edit, message):
    members = members_of(saved)
    edit(members)
    write_zip(saved, members)
    with pytest.raises(ValueError, match=r"m\.keras.*" + message):
        load_model(saved)


def retarget_config(saved, fn):
    members = members_of(saved)
    config = json.loads(members["config.json"])
    fn(config)
    members["config.json"] = json.dumps(config).encode()
    write_zip(saved, members)


@pytest.mark.parametrize("class_name", ["Lambda", "os.system", "Layer", "Sequential", None])
def test_unknown_layer_class(saved, class_name):
    retarget_config(saved, lambda c: c["config"]["layers"][1].update(class_name=class_name))
    # a Lambda is a known class that is never loaded (its function would be code from the file)
    match = r"m\.keras.*Lambda layer is refused" if class_name == "Lambda" else r"m\.keras.*layer 1 has unknown class"
    if class_name == "Sequential":   # a nested model (Keras 3's nesting) is checked as one: a Dense's config is not
        match = r"m\.keras.*no 'layers' list"
    with pytest.raises(ValueError, match=match):
        load_model(saved)


def test_bad_layer_config_and_unknown_optimizer(saved):
    retarget_config(saved, lambda c: c["config"]["layers"][0]["config"].update(units=-3))
    with pytest.raises(ValueError, match=r"m\.keras: config.json does not describe a valid"):
        load_model(saved)
    retarget_config(saved, lambda c: c["config"]["layers"][0]["config"].update(units=7, evil="x"))
    with pytest.raises(ValueError, match=r"unexpected keyword"):
        load_model(saved)


def test_unknown_optimizer_or_initializer_class(saved):
    members = members_of(saved)
    compiled = json.loads(members["compile.json"])
    compiled["optimizer"]["class_name"] = "subprocess.Popen"
    members["compile.json"] = json.dumps(compiled).encode()
    write_zip(saved, members)
    with pytest.raises(ValueError, match=r"m\.keras: compile.json.*Unknown optimizer"):
        load_model(saved)
    retarget_config(saved, lambda c: c["config"]["layers"][0]["config"].update(
        kernel_initializer={"class_name": "builtins.eval", "config": {}}))
    with pytest.raises(ValueError, match=r"unknown initializer"):
        load_model(saved)


class Payload:
    """Unpickling this creates the marker directory: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def pickled_npy(marker):
    buf = io.BytesIO()
    np.save(buf, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize("declare_object", [False, True])
def test_planted_pickle_executes_nothing(saved, tmp_path, declare_object):
    marker = str(tmp_path / "pwned")
    members = members_of(saved)
    members["weights/0.npy"] = pickled_npy(marker)
    if declare_object:  # the attacker also edits the metadata to declare an object array
        meta = json.loads(members["metadata.json"])
        meta["arrays"][0].update(dtype="object", shape=[1])
        members["metadata.json"] = json.dumps(meta).encode()
    write_zip(saved, members)
    with pytest.raises(ValueError, match=r"m\.keras.*(dtype object|bad array entry)"):
        load_model(saved)
    with pytest.raises(ValueError):
        corenn.models.Sequential([layers.Dense(7, input_shape=(12,))]).load_weights(saved)
    assert not os.path.exists(marker)
    # the same payload as a weights .npz is refused by load_weights too
    npz = tmp_path / "w.npz"
    np.savez(npz, **{"0:dense/0": np.array([Payload(marker)], dtype=object)})
    with pytest.raises(ValueError):
        mlp_model().load_weights(npz)
    assert not os.path.exists(marker)


def test_zip_bomb_is_refused_before_inflating(saved):
    members = members_of(saved)
    members["config.json"] = b" " * (20 << 20)  # 20 MiB of spaces deflates ~1000x
    write_zip(saved, members, zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"m\.keras.*zip bomb"):
        load_model(saved)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.keras")


def test_random_corruption_raises_only_value_error(saved):
    data = saved.read_bytes()
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(data), size=60, replace=False):
        damaged = bytearray(data)
        damaged[pos] ^= 1 << int(rng.integers(8))
        saved.write_bytes(bytes(damaged))
        try:
            load_model(saved)  # a flip in an unchecked field (a timestamp) may load fine
        except ValueError as exc:
            assert "m.keras" in str(exc)


def test_loss_and_metric_objects_are_restored(tmp_path):
    corenn.utils.set_random_seed(2)
    model = corenn.Sequential([layers.Dense(4, input_shape=(12,)), layers.Dense(3)])
    model.compile(optimizer="adagrad", metrics=[corenn.metrics.SparseCategoricalAccuracy(name="acc")],
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data(model)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded._loss_obj.from_logits
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)
    assert loaded.metrics_names == model.metrics_names == ["loss", "acc"]
