"""What the TF text-generation tutorial needs beyond layers: string tensors with TensorFlow's
numpy() (bytes), ragged rows with to_tensor(), SparseTensor / tf.sparse.to_dense, an RNN's
get_initial_state, keyword options handed to a subclassed model's call, and the
`super().__init__(self)` idiom. The tutorial itself runs in tests/programs."""
import numpy as np
import pytest

import corenn as tf
from tests import reference as ref


def test_string_tensor_numpy_is_bytes_like_tensorflow():
    t = tf.constant(["ab", "c"])
    assert isinstance(t, tf.strings.StringTensor)
    out = t.numpy()
    assert out.dtype == object and list(out) == [b"ab", b"c"]
    assert t[0].numpy() == b"ab" and t[0] == "ab"   # still a str
    assert tf.constant("x").numpy() == b"x"
    # comparisons give plain arrays, not string tensors
    eq = t == "ab"
    assert type(eq) is np.ndarray and eq.tolist() == [True, False]


def test_unicode_split_lookup_and_back_round_trip():
    vocab = list("abcde")
    to_ids = tf.keras.layers.StringLookup(vocabulary=vocab, mask_token=None)
    to_chars = tf.keras.layers.StringLookup(vocabulary=to_ids.get_vocabulary(), invert=True, mask_token=None)
    chars = tf.strings.unicode_split(["abz", "ed"], input_encoding="UTF-8")
    assert isinstance(chars, tf.strings.RaggedTensor)
    assert chars.to_list() == [[b"a", b"b", b"z"], [b"e", b"d"]]
    ids = to_ids(chars)
    assert isinstance(ids, tf.strings.RaggedTensor)
    dense = ids.to_tensor()
    # index 0 is [UNK]; rows padded at the end with 0
    assert np.asarray(dense).tolist() == [[1, 2, 0], [5, 4, 0]]
    assert np.asarray(ids.row_lengths()).tolist() == [3, 2]
    back = tf.strings.reduce_join(to_chars(ids), axis=-1)
    assert list(back.numpy()) == [b"ab[UNK]", b"ed"]
    joined = tf.strings.join([tf.constant(["a", "b"]), tf.constant(["c", "d"])])
    assert joined[1].numpy() == b"bd"


def test_ragged_to_tensor_of_strings_and_shape():
    r = tf.strings.unicode_split(["abc", "d"])
    t = r.to_tensor(default_value="-", shape=[None, 2])
    assert np.asarray(t).tolist() == [["a", "b"], ["d", "-"]]
    assert t.numpy()[1, 1] == b"-"


def test_sparse_to_dense_against_numpy():
    sp = tf.SparseTensor(indices=[[0, 1], [2, 0]], values=[-np.inf, 3.0], dense_shape=[3, 2])
    d = np.asarray(tf.sparse.to_dense(sp))
    want = np.zeros((3, 2), np.float32)
    want[0, 1], want[2, 0] = -np.inf, 3.0
    assert d.dtype == np.float32 and np.array_equal(d, want)
    back = tf.sparse.from_dense(want)
    assert np.array_equal(np.asarray(tf.sparse.to_dense(back)), want)
    with pytest.raises(ValueError, match="outside dense_shape"):
        tf.SparseTensor(indices=[[3, 0]], values=[1.0], dense_shape=[3, 2])
    with pytest.raises(ValueError, match="one per index"):
        tf.SparseTensor(indices=[[0, 0]], values=[1.0, 2.0], dense_shape=[3, 2])
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.sparse.to_dense(np.zeros(3))


@pytest.mark.parametrize("layer", ["GRU", "LSTM", "SimpleRNN"])
def test_get_initial_state_takes_batch_size_or_inputs(layer):
    rnn = getattr(tf.keras.layers, layer)(5, return_state=True)
    x = np.random.default_rng(0).normal(size=(3, 4, 2)).astype("float32")
    n_states = 2 if layer == "LSTM" else 1
    for arg in (3, x):
        states = rnn.get_initial_state(arg)
        assert len(states) == n_states and all(np.asarray(s).shape == (3, 5) for s in states)
        assert all(not np.asarray(s).any() for s in states)
    # zero initial states give the same result as none
    out_a = rnn(x, initial_state=rnn.get_initial_state(x))
    out_b = rnn(x)
    for a, b in zip(out_a, out_b):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="get_initial_state"):
        rnn.get_initial_state(2.5)


class _CharModel(tf.keras.Model):
    def __init__(self):
        super().__init__(self)   # the tutorial's idiom
        self.embedding = tf.keras.layers.Embedding(7, 3)
        self.gru = tf.keras.layers.GRU(4, return_sequences=True, return_state=True)
        self.dense = tf.keras.layers.Dense(7)

    def call(self, inputs, states=None, return_state=False, training=False):
        x = self.embedding(inputs, training=training)
        if states is None:
            states = self.gru.get_initial_state(x)
        x, states = self.gru(x, initial_state=states, training=training)
        x = self.dense(x, training=training)
        return (x, states) if return_state else x


def _reference_logits(model, ids, h0):
    """The model's forward in float64 with tests/reference.py's GRU step."""
    emb, = model.embedding.get_weights()
    k, rk, b = model.gru.get_weights()
    w, bd = model.dense.get_weights()
    step = lambda xt, st: ref.rnn_cell_step("gru", xt, st, k, rk, b)  # noqa: E731
    ys, (h,) = ref.rnn_sequence(step, emb[ids], [h0], return_sequences=True)
    return ys @ w.astype(np.float64) + bd, h


def test_states_passed_back_in_continue_the_sequence():
    tf.keras.utils.set_random_seed(0)
    model = _CharModel()
    ids = np.random.default_rng(1).integers(0, 7, size=(2, 6))
    whole = np.asarray(model(ids))
    want, h_want = _reference_logits(model, ids, np.zeros((2, 4)))
    np.testing.assert_allclose(whole, want, rtol=1e-4, atol=1e-5)
    first, states = model(ids[:, :4], return_state=True)
    second, _ = model(inputs=ids[:, 4:], states=states, return_state=True)
    np.testing.assert_allclose(np.asarray(states), _reference_logits(model, ids[:, :4], np.zeros((2, 4)))[1],
                               rtol=1e-4, atol=1e-5)
    # running the sequence in two pieces with the state carried equals running it at once
    np.testing.assert_allclose(np.concatenate([np.asarray(first), np.asarray(second)], axis=1), whole,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="takes no argument"):
        model(ids, bogus=1)


def test_subclass_with_get_initial_state_trains_through_a_traced_graph():
    tf.keras.utils.set_random_seed(0)
    model = _CharModel()
    # each row counts up modulo 7 from a random start: the next id is learnable
    ids = (np.random.default_rng(2).integers(0, 7, size=(32, 1)) + np.arange(9)) % 7
    x, y = ids[:, :-1], ids[:, 1:]
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0], hist.history["loss"]
    assert not model.__dict__.get("_untraceable")   # the zero-state node kept the call traceable


def test_functional_model_refuses_call_options():
    inp = tf.keras.Input((3,))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2)(inp))
    with pytest.raises(TypeError, match="keyword"):
        model(np.zeros((1, 3), np.float32), states=None)
