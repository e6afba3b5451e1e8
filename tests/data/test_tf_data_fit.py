"""fit / evaluate / predict fed from a corenn.data.Dataset, a utils.PyDataset and a generator:
the same batches give the same weights (bit for bit) as arrays, and bad input gets a clear error."""
import math

import numpy as np
import pytest

import corenn as tf
from corenn import layers
from corenn.data import Dataset
from corenn.models import training


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.5).astype(np.int64)
    return x, y


def model(seed=0, optimizer="adam"):
    tf.utils.set_random_seed(seed)
    m = tf.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    m.compile(optimizer=optimizer, loss=tf.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    return m


def same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(p, q) for p, q in zip(wa, wb))


# -- Dataset == arrays on the same batches ----------------------------------------------------------

@pytest.mark.parametrize("pipeline", ["slices", "per_element"])
def test_fit_from_a_dataset_equals_fit_from_arrays_bitwise(pipeline):
    x, y = data()
    ref = model()
    h_ref = ref.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    ds = Dataset.from_tensor_slices((x, y))
    if pipeline == "per_element":   # the elements are stacked one by one instead of sliced
        ds = ds.map(lambda a, b: (a, b))
    got = model()
    h = got.fit(ds.batch(16), epochs=3, verbose=0)
    assert same_weights(ref, got)
    assert h.history["loss"] == h_ref.history["loss"]
    assert h.history["accuracy"] == h_ref.history["accuracy"]


def test_a_shuffled_dataset_trains_on_its_batches_in_its_order():
    x, y = data()
    ds = Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=1).batch(16)
    seen = np.concatenate([np.asarray(b[0]) for b in ds])      # one pass: every sample once
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, x.tolist()))
    assert not np.array_equal(seen, x)
    # an order kept for every pass, fed as arrays in that order, gives the same weights
    fixed = Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=1, reshuffle_each_iteration=False).batch(16)
    m = model()
    m.fit(fixed, epochs=2, verbose=0)
    xs = np.concatenate([np.asarray(b[0]) for b in fixed])
    ys = np.concatenate([np.asarray(b[1]) for b in fixed])
    ref = model()
    ref.fit(xs, ys, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert same_weights(m, ref)


def test_evaluate_and_predict_from_a_dataset_equal_arrays():
    x, y = data()
    m = model()
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    ds = Dataset.from_tensor_slices((x, y)).batch(16)
    assert m.evaluate(ds, verbose=0) == m.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_array_equal(m.predict(ds), m.predict(x, batch_size=16))
    np.testing.assert_array_equal(m.predict(Dataset.from_tensor_slices(x).batch(7)), m.predict(x, batch_size=7))
    assert m.evaluate(ds, steps=1, verbose=0, return_dict=True) == \
        m.evaluate(x[:16], y[:16], batch_size=16, verbose=0, return_dict=True)


def test_validation_data_as_a_dataset():
    x, y = data()
    xv, yv = data(24, seed=1)
    a, b = model(), model()
    ha = a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(xv, yv),
               validation_batch_size=8)
    hb = b.fit(Dataset.from_tensor_slices((x, y)).batch(16), epochs=2, verbose=0,
               validation_data=Dataset.from_tensor_slices((xv, yv)).batch(8))
    assert ha.history == hb.history
    # validation_steps caps the validation batches
    c = model()
    hc = c.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
               validation_data=Dataset.from_tensor_slices((xv, yv)).batch(8).repeat(), validation_steps=1)
    d = model()
    hd = d.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_data=(xv[:8], yv[:8]))
    assert hc.history["val_loss"] == hd.history["val_loss"]


def test_dict_features_feed_a_two_input_model_by_name():
    x, y = data()
    def build():
        tf.utils.set_random_seed(3)
        a, b = tf.Input(shape=(3,), name="a"), tf.Input(shape=(3,), name="b")
        out = layers.Dense(3)(layers.Concatenate()([layers.Dense(4)(a), layers.Dense(4)(b)]))
        m = tf.Model([a, b], out)
        m.compile("sgd", tf.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m
    ref, got = build(), build()
    ref.fit({"a": x[:, :3], "b": x[:, 3:]}, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    got.fit(Dataset.from_tensor_slices(({"a": x[:, :3], "b": x[:, 3:]}, y)).batch(8), epochs=2, verbose=0)
    assert same_weights(ref, got)


def test_steps_per_epoch_runs_one_pass_on_across_epochs():
    x, y = data(64)
    ds = Dataset.from_tensor_slices((x, y)).batch(16)          # 4 batches
    a = model()
    a.fit(ds, epochs=2, steps_per_epoch=2, verbose=0)            # batches 0, 1 then 2, 3 (Keras 3)
    ref = model()
    ref.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert same_weights(a, ref)
    # an infinite dataset needs steps_per_epoch and takes them from its one endless pass
    b = model()
    b.fit(ds.repeat(), epochs=2, steps_per_epoch=2, verbose=0)
    assert same_weights(b, ref)
    # a pass ending inside an epoch cuts that epoch short, with a warning, and the next restarts
    c = model()
    with pytest.warns(UserWarning, match=r"ran out after 1 of the steps_per_epoch=3 batches"):
        hist = c.fit(ds, epochs=3, steps_per_epoch=3, verbose=0)
    assert len(hist.epoch) == 3


def test_progress_bar_knows_the_steps_from_the_cardinality(capsys):
    x, y = data()
    model().fit(Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=2)
    assert "3/3" in capsys.readouterr().out


def test_class_weight_applies_to_dataset_batches():
    x, y = data()
    weights = {0: 1.0, 1: 2.0, 2: 0.5}
    a, b = model(), model()
    a.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, class_weight=weights)
    b.fit(Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0, class_weight=weights)
    assert same_weights(a, b)


# -- generators --------------------------------------------------------------------------------------

def test_generator_and_dataset_from_generator_equal_arrays():
    x, y = data()

    def batches():
        for lo in range(0, len(x), 16):
            yield x[lo:lo + 16], y[lo:lo + 16]
    ref, a, b = model(), model(), model()
    ref.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    a.fit(batches(), epochs=1, verbose=0)
    sig = (tf.TensorSpec((None, 6), "float32"), tf.TensorSpec((None,), "int64"))
    b.fit(Dataset.from_generator(batches, output_signature=sig), epochs=1, verbose=0)
    assert same_weights(ref, a) and same_weights(ref, b)


# -- PyDataset ---------------------------------------------------------------------------------------

class Batches(tf.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.calls, self.begins, self.ends = [], 0, 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        self.calls.append(index)
        lo = index * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


def test_py_dataset_in_order_equals_arrays_and_calls_the_epoch_hooks():
    x, y = data()
    ref, got = model(), model()
    ref.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    seq = Batches(x, y, 16)
    got.fit(seq, epochs=3, shuffle=False, verbose=0)
    assert same_weights(ref, got)
    assert seq.calls == [0, 1, 2] * 3 and seq.begins == seq.ends == 3
    assert tf.utils.Sequence is tf.utils.PyDataset and tf.keras.utils.PyDataset is tf.utils.PyDataset


def test_py_dataset_shuffles_the_batch_order_each_epoch_and_threads_keep_it():
    x, y = data(160)
    seq = Batches(x, y, 16)
    model().fit(seq, epochs=3, verbose=0)                        # shuffle=True: Keras 3 shuffles batches
    epochs = [seq.calls[i:i + 10] for i in range(0, 30, 10)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert epochs[0] != list(range(10)) and epochs[0] != epochs[1]
    # two loader threads give the same batches in the same order, so the same weights
    one, two = model(), model()
    one.fit(Batches(x, y, 16), epochs=2, shuffle=False, verbose=0)
    two.fit(Batches(x, y, 16, workers=2, max_queue_size=3), epochs=2, shuffle=False, verbose=0)
    assert same_weights(one, two)


def test_py_dataset_evaluate_predict_validation_and_endless():
    x, y = data()
    m = model()
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    seq = Batches(x, y, 16)
    assert m.evaluate(seq, verbose=0) == m.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_array_equal(m.predict(seq), m.predict(x, batch_size=16))
    h = model().fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=Batches(x, y, 8))
    assert "val_loss" in h.history

    class Endless(tf.utils.PyDataset):
        num_batches = None

        def __init__(self):
            super().__init__()

        def __getitem__(self, index):
            return x[:8], y[:8]
    with pytest.raises(ValueError, match="infinite PyDataset, so steps_per_epoch must be given"):
        model().fit(Endless(), epochs=1, verbose=0)
    assert len(model().fit(Endless(), epochs=2, steps_per_epoch=3, verbose=0).epoch) == 2


# -- errors ----------------------------------------------------------------------------------------

def test_an_unbatched_dataset_is_refused_with_the_fix():
    x, y = data()
    m = model()
    with pytest.raises(ValueError, match=r"fit: the Dataset yields single samples .* dataset.batch\(32\)"):
        m.fit(Dataset.from_tensor_slices((x, y)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"predict: the Dataset yields single samples"):
        m.predict(Dataset.from_tensor_slices(x).map(lambda a: a * 2))
    with pytest.raises(ValueError, match=r"evaluate: the Dataset yields single samples"):
        m.evaluate(Dataset.from_tensor_slices((x, y)).shuffle(4), verbose=0)


def test_bad_dataset_input_names_the_problem():
    x, y = data()
    m = model()
    with pytest.raises(ValueError, match=r"fit: .*expects .*shape \(None, 6\), but x has shape \(16, 5\)"):
        m.fit(Dataset.from_tensor_slices((x[:, :5], y)).batch(16), epochs=1, verbose=0)
    # Keras 3 ignores batch_size for a Dataset: its batches are the Dataset's
    hist = m.fit(Dataset.from_tensor_slices((x, y)).batch(16), batch_size=4, epochs=1, verbose=0)
    assert len(hist.history["loss"]) == 1
    with pytest.raises(ValueError, match=r"fit: x is a Dataset, so y must not be given"):
        m.fit(Dataset.from_tensor_slices(x).batch(16), y, verbose=0)
    with pytest.raises(ValueError, match="infinite Dataset, so steps_per_epoch must be given"):
        m.fit(Dataset.from_tensor_slices((x, y)).batch(16).repeat(), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data\): the data is an infinite Dataset, so validation_steps"):
        m.fit(x, y, verbose=0, validation_data=Dataset.from_tensor_slices((x, y)).batch(16).repeat())
    # Keras 3: a batch that is not a tuple is x alone; the built-in step then needs a y
    with pytest.raises(ValueError, match=r"batch 0 has no targets .*x alone; batches must be \(x, y\)"):
        m.fit(Dataset.from_tensor_slices(x).batch(16), verbose=0)


def test_data_parallel_refuses_a_dataset_with_the_way_to_shard_it(monkeypatch):
    from corenn.distributed import DataParallel
    x, y = data()
    m = model()
    monkeypatch.setattr(training, "_data_parallel", DataParallel())   # as `with DataParallel():` sets it
    for source in (Dataset.from_tensor_slices((x, y)).batch(8), Batches(x, y, 8), iter([(x, y)])):
        with pytest.raises(ValueError, match=r"cannot split .*dataset\.shard\(corenn\.distributed\.size\(\), "
                                             r"corenn\.distributed\.rank\(\)\)"):
            m.fit(source, epochs=1, verbose=0)


def test_a_gradient_tape_loop_over_a_dataset_equals_one_over_array_slices():
    x, y = data()
    loss_fn = tf.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train(batches):
        m = model()
        opt = tf.optimizers.SGD(learning_rate=0.1)
        for xb, yb in batches:
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, m(xb, training=True))
            grads = tape.gradient(loss, m.trainable_weights)
            opt.apply_gradients(zip(grads, m.trainable_weights))
        return m
    from_dataset = train(Dataset.from_tensor_slices((x, y)).batch(16).repeat(2))
    from_arrays = train([(x[lo:lo + 16], y[lo:lo + 16]) for lo in range(0, len(x), 16)] * 2)
    assert same_weights(from_dataset, from_arrays)
