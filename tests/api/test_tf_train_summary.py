"""tf.train (Checkpoint, CheckpointManager, latest_checkpoint), tf.summary (TensorBoard event
files) and tf.saved_model (a clear error). Checkpoints must restore bit for bit (weights,
optimizer slots and iterations, variables) and resume a custom loop exactly; bad or mismatched
files must raise without changing anything. Event files are decoded here by a small
independent TFRecord / protobuf reader (CRCs checked)."""
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest

import corenn as tf


class Net(tf.keras.Model):
    def __init__(self, width=6):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(width, activation="relu")
        self.norm = tf.keras.layers.BatchNormalization()
        self.out = tf.keras.layers.Dense(2)

    def call(self, x, training=False):
        return self.out(self.norm(self.hidden(x), training=training))


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)


def _step(net, opt, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(net(x, training=True) - y))
    grads = tape.gradient(loss, net.trainable_variables)
    opt.apply_gradients(zip(grads, net.trainable_variables))
    return float(loss)


def _fresh(width=6, opt_cls=tf.keras.optimizers.Adam):
    net, opt = Net(width), opt_cls(learning_rate=0.05)
    return net, opt, tf.train.Checkpoint(step=tf.Variable(0), optimizer=opt, net=net)


def test_save_restore_resumes_a_custom_loop_exactly(tmp_path):
    x, y = _data()
    net, opt, ckpt = _fresh()
    for _ in range(3):
        _step(net, opt, x, y)
        ckpt.step.assign_add(1)
    path = ckpt.save(str(tmp_path / "ckpt"))
    assert path == str(tmp_path / "ckpt") + "-1" and int(ckpt.save_counter) == 1
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    saved_weights = [np.array(w) for w in net.weights]
    saved_slots = [np.array(s) for s in opt.variables]
    continued = [_step(net, opt, x, y) for _ in range(4)]
    # a new process: fresh objects, restore before the model or optimizer ever ran
    net2, opt2, ckpt2 = _fresh()
    status = ckpt2.restore(tf.train.latest_checkpoint(str(tmp_path)))
    status.assert_consumed()
    assert int(ckpt2.step) == 3 and int(opt2.iterations) == 3 and int(ckpt2.save_counter) == 1
    for a, b in zip(saved_weights, net2.weights):      # non-trainable BatchNorm statistics included
        np.testing.assert_array_equal(a, np.asarray(b))
    for a, b in zip(saved_slots, opt2.variables):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert [_step(net2, opt2, x, y) for _ in range(4)] == continued   # bit for bit
    assert ckpt2.save(str(tmp_path / "ckpt")).endswith("ckpt-2")      # numbering continues


def test_write_read_and_restore_none(tmp_path):
    v = tf.Variable([1.0, 2.0])
    ckpt = tf.train.Checkpoint(v=v, n=tf.Variable(np.int64(7), dtype="int64"))
    assert ckpt.write(str(tmp_path / "w")) == str(tmp_path / "w")
    assert not os.path.exists(tmp_path / "checkpoint")        # write() keeps no state file
    v.assign([5.0, 6.0])
    ckpt.n.assign(np.int64(1))
    ckpt.read(str(tmp_path / "w")).assert_consumed()
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    assert int(ckpt.n) == 7
    status = ckpt.restore(None)                                 # the first run of a resumable loop
    status.expect_partial()
    with pytest.raises(AssertionError):
        status.assert_consumed()
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        ckpt.restore(str(tmp_path / "missing"))


def test_checkpoint_manager_keeps_the_newest(tmp_path):
    x, y = _data(1)
    net, opt, ckpt = _fresh(opt_cls=tf.keras.optimizers.SGD)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "ckpts"), max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    assert manager.restore_or_initialize() is None
    paths = []
    for _ in range(4):
        _step(net, opt, x, y)
        paths.append(manager.save())
    assert [os.path.basename(p) for p in paths] == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"]
    assert manager.checkpoints == paths[2:] and manager.latest_checkpoint == paths[3]
    assert sorted(os.listdir(tmp_path / "ckpts")) == ["checkpoint", "ckpt-3.corenn-ckpt", "ckpt-4.corenn-ckpt"]
    assert manager.save(checkpoint_number=100).endswith("ckpt-100")
    # a new manager over the directory picks the recorded checkpoints up
    again = tf.train.CheckpointManager(_fresh(opt_cls=tf.keras.optimizers.SGD)[2], str(tmp_path / "ckpts"), 2)
    assert again.checkpoints == [paths[3], str(tmp_path / "ckpts" / "ckpt-100")]
    state = tf.train.get_checkpoint_state(str(tmp_path / "ckpts"))
    assert state.model_checkpoint_path.endswith("ckpt-100")
    with pytest.raises(ValueError, match="max_to_keep"):
        tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=0)
    assert tf.train.latest_checkpoint(str(tmp_path / "nothing-here")) is None


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "c"))
    finally:
        os.umask(old)
    assert os.stat(path + ".corenn-ckpt").st_mode & 0o777 == 0o640
    assert os.stat(tmp_path / "checkpoint").st_mode & 0o777 == 0o640


def test_mismatches_raise_before_anything_changes(tmp_path):
    x, y = _data()
    net, opt, ckpt = _fresh(width=6)
    _step(net, opt, x, y)
    path = ckpt.save(str(tmp_path / "c"))
    other, other_opt, other_ckpt = _fresh(width=5)
    _step(other, other_opt, x, y)
    before = [np.array(w) for w in other.weights]
    with pytest.raises(ValueError, match=r"net\.w0 has shape \(4, 5\) here but \(4, 6\)"):
        other_ckpt.restore(path)
    for a, b in zip(before, other.weights):
        np.testing.assert_array_equal(a, np.asarray(b))
    with pytest.raises(ValueError, match="dtype"):
        tf.train.Checkpoint(step=tf.Variable(1.0), net=Net(), optimizer=tf.keras.optimizers.Adam()).restore(path)
    built = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    layer_path = tf.train.Checkpoint(layer=built.layers[0]).write(str(tmp_path / "layer"))
    with pytest.raises(ValueError, match=r"layer has 0 weights here but 2 .*build\(\) it"):
        tf.train.Checkpoint(layer=tf.keras.layers.Dense(3)).restore(layer_path)
    with pytest.raises(TypeError, match="cannot save it= of type"):
        tf.train.Checkpoint(it=iter([1, 2]))
    with pytest.raises(TypeError, match="wrap numbers in tf.Variable"):
        tf.train.Checkpoint(step=3)


def test_damaged_files_are_rejected(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(np.arange(4.0, dtype=np.float32)))
    path = ckpt.write(str(tmp_path / "c")) + ".corenn-ckpt"
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid corenn checkpoint"):
        ckpt.read(str(tmp_path / "c"))
    # a well-formed archive whose manifest lies about a shape
    import json
    import io
    manifest = {"format": "corenn.checkpoint/1", "keys": ["save_counter", "v"], "dtypes": ["<i8", "<f4"],
                "shapes": [[], [400]], "meta": {}}
    buf = io.BytesIO()
    np.savez(buf, **{"0": np.zeros((), np.int64), "1": np.zeros(4, np.float32),
                     "manifest": np.frombuffer(json.dumps(manifest).encode(), np.uint8)})
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    with pytest.raises(ValueError, match="not a valid corenn checkpoint"):
        ckpt.read(str(tmp_path / "c"))
    # a pickled object array is never loaded
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        with zf.open("manifest.npy", "w") as f:
            np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    with pytest.raises(ValueError, match="not a valid corenn checkpoint"):
        ckpt.read(str(tmp_path / "c"))
    np.testing.assert_array_equal(ckpt.v.numpy(), np.arange(4.0))


def test_saved_model_names_the_alternatives(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    with pytest.raises(NotImplementedError, match=r"model\.save\('model\.keras'\).*format='onnx'"):
        tf.saved_model.save(model, str(tmp_path / "sm"))
    with pytest.raises(NotImplementedError, match="cannot read TensorFlow SavedModels"):
        tf.saved_model.load(str(tmp_path / "sm"))


# -- tf.summary --------------------------------------------------------------------------------------

def _crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data):
    c = _crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _records(path):
    with open(path, "rb") as f:
        raw = f.read()
    out, i = [], 0
    while i < len(raw):
        header = raw[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", raw[i + 8:i + 12])[0] == _masked(header)
        body = raw[i + 12:i + 12 + n]
        assert struct.unpack("<I", raw[i + 12 + n:i + 16 + n])[0] == _masked(body)
        out.append(body)
        i += 16 + n
    return out


def _fields(buf):
    """{field number: [values]} of one protobuf message (varints as ints, 64/32-bit as bytes)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"wire type {wire}")
        out.setdefault(field, []).append(value)
    return out


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _values(logdir):
    files = [f for f in os.listdir(logdir) if f.startswith("events.out.tfevents.")]
    assert len(files) == 1
    records = _records(os.path.join(logdir, files[0]))
    assert _fields(records[0])[3] == [b"brain.Event:2"]
    out = []
    for rec in records[1:]:
        event = _fields(rec)
        step = event.get(2, [0])[0]
        for value in _fields(event[5][0])[1]:
            out.append((step, _fields(value)))
    return out


def test_summary_scalars_histograms_images_text(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    data = np.random.default_rng(0).standard_normal(200)
    with writer.as_default():
        for step in range(3):
            assert tf.summary.scalar("loss", tf.constant(1.0 / (step + 1)), step=step)
        tf.summary.histogram("weights", data, step=5, buckets=10)
        img = np.zeros((2, 3, 4, 3), np.float32)
        img[1, 0, 0] = [1.0, 0.5, 0.0]
        tf.summary.image("sample", img, step=6, max_outputs=1)
        tf.summary.text("note", "hello corenn", step=7)
    writer.close()
    assert tf.summary.scalar("ignored", 1.0, step=0) is False     # no default writer
    values = _values(str(tmp_path / "logs"))
    scalars = [(s, v[1][0], struct.unpack("<f", v[2][0])[0]) for s, v in values if 2 in v]
    assert [(s, t) for s, t, _ in scalars] == [(0, b"loss"), (1, b"loss"), (2, b"loss")]
    np.testing.assert_allclose([x for _, _, x in scalars], [1.0, 0.5, 1 / 3], rtol=1e-6)
    (hstep, hist), = [(s, v) for s, v in values if 5 in v]
    h = _fields(hist[5][0])
    assert hstep == 5 and hist[1][0] == b"weights"
    assert struct.unpack("<d", h[3][0])[0] == 200
    np.testing.assert_allclose(struct.unpack("<d", h[1][0])[0], data.min())
    np.testing.assert_allclose(struct.unpack("<d", h[4][0])[0], data.sum())
    counts = struct.unpack("<10d", h[7][0])
    np.testing.assert_array_equal(counts, np.histogram(data, bins=10)[0])
    (istep, im), = [(s, v) for s, v in values if 4 in v]
    image = _fields(im[4][0])
    assert istep == 6 and im[1][0] == b"sample/image/0" and image[1] == [3] and image[2] == [4] and image[3] == [3]
    png = image[4][0]
    assert png.startswith(b"\x89PNG")
    idat = png[png.index(b"IDAT") + 4:]
    rows = zlib.decompressobj().decompress(idat)
    assert rows[:1 + 12] == b"\x00" + bytes(12)        # image 0 is black (max_outputs=1 wrote only it)
    (tstep, tv), = [(s, v) for s, v in values if 8 in v]
    tensor = _fields(tv[8][0])
    assert tstep == 7 and tensor[1] == [7] and tensor[8] == [b"hello corenn"]
    assert _fields(_fields(tv[9][0])[1][0])[1] == [b"text"]


def test_summary_step_rules_and_errors(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "l"))
    with writer.as_default():
        with pytest.raises(ValueError, match="tf.summary.scalar: no step"):
            tf.summary.scalar("x", 1.0)
        tf.summary.experimental.set_step(4)
        assert tf.summary.scalar("x", 1.0)
        tf.summary.experimental.set_step(None)
        with pytest.raises(ValueError, match="tf.summary.scalar: data must be a single number"):
            tf.summary.scalar("x", [1.0, 2.0], step=1)
        with pytest.raises(ValueError, match="tf.summary.image"):
            tf.summary.image("i", np.zeros((4, 4)), step=1)
        with pytest.raises(ValueError, match="tf.summary.text"):
            tf.summary.text("t", 3.0, step=1)
    with writer.as_default(step=9):
        assert tf.summary.scalar("y", 2.0)
    writer.set_as_default()
    try:
        assert tf.summary.scalar("z", 3.0, step=10)
    finally:
        tf.summary._global_default[0] = None
        writer.close()
    steps = [s for s, _ in _values(str(tmp_path / "l"))]
    assert steps == [4, 9, 10]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Lion",
                                  "Adadelta"])
def test_every_optimizer_resumes_exactly_with_ema_and_accumulation(tmp_path, name):
    """Every slot, the moving averages (use_ema) and the half-accumulated gradient sums
    (gradient_accumulation_steps) are part of the checkpoint."""
    x, y = _data(2)

    def make():
        tf.keras.utils.set_random_seed(4)
        net = Net(4)
        kwargs = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
        opt = getattr(tf.keras.optimizers, name)(learning_rate=0.01, use_ema=True, gradient_accumulation_steps=2,
                                                 **kwargs)
        return net, opt, tf.train.Checkpoint(net=net, optimizer=opt)
    net, opt, ckpt = make()
    for _ in range(3):        # an odd count: one gradient waits in the sums
        _step(net, opt, x, y)
    path = ckpt.save(str(tmp_path / "c"))
    after = [_step(net, opt, x, y) for _ in range(3)]
    net2, opt2, ckpt2 = make()
    ckpt2.restore(path).assert_consumed()
    assert [_step(net2, opt2, x, y) for _ in range(3)] == after
    assert len(opt2.ema_variables) == len(net2.trainable_variables)
    for a, b in zip(opt.ema_variables, opt2.ema_variables):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(opt.variables, opt2.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_tensorboard_callback_writes_weight_histograms(tmp_path):
    # TF guide "Migrate TensorBoard": TensorBoard(log_dir, histogram_freq=1) writes each layer
    # weight's histogram to train/ every epoch, tagged '<weight path>/histogram' (Keras 3's
    # _log_weights); it once warned and wrote scalars only
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, name="d")])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    cb = tf.keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"), histogram_freq=2)
    model.fit(x, x[:, :3], epochs=3, verbose=0, callbacks=[cb])
    values = _values(str(tmp_path / "logs" / "train"))
    hists = [(s, v[1][0].decode(), _fields(v[5][0])) for s, v in values if 5 in v]
    kernel_path = model.layers[0].weights[0].path
    bias_path = model.layers[0].weights[1].path
    assert sorted((s, t) for s, t, _ in hists) == sorted(
        (s, f"{p}/histogram") for s in (0, 2) for p in (kernel_path, bias_path))
    (h,) = [h for s, t, h in hists if s == 2 and t == f"{kernel_path}/histogram"]
    kernel = np.asarray(model.layers[0].weights[0], np.float64).reshape(-1)   # epoch 2 is the last
    assert struct.unpack("<d", h[3][0])[0] == kernel.size
    np.testing.assert_allclose(struct.unpack("<d", h[4][0])[0], kernel.sum(), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(struct.unpack("<30d", h[7][0]), np.histogram(kernel, bins=30)[0])
    with pytest.raises(ValueError, match="histogram_freq must be a non-negative integer"):
        tf.keras.callbacks.TensorBoard(histogram_freq=-1)
