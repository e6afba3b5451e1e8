"""keras.preprocessing.text (tf.keras 2): Tokenizer's index, conversions, matrices and JSON
round trip against hand-worked examples of Keras' rules."""
import numpy as np
import pytest

from corenn.keras.preprocessing.text import Tokenizer, hashing_trick, text_to_word_sequence, tokenizer_from_json

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "My cat, my dog."]


def test_word_sequence_and_index_order():
    assert text_to_word_sequence("Hello, World! hello") == ["hello", "world", "hello"]
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    # counts: the 3, my 3, cat 2, dog 2, then the rest once in first-seen order
    assert list(tok.word_index)[:4] == ["the", "my", "cat", "dog"]
    assert tok.word_index["the"] == 1 and tok.index_word[2] == "my"
    assert tok.document_count == 3 and tok.word_docs["cat"] == 2
    assert tok.texts_to_sequences(["the cat ate"]) == [[1, 3, tok.word_index["ate"]]]


def test_num_words_and_oov():
    tok = Tokenizer(num_words=4, oov_token="<OOV>")
    tok.fit_on_texts(TEXTS)
    assert tok.word_index["<OOV>"] == 1 and tok.word_index["the"] == 2
    # indices >= num_words become the OOV index, unknown words too
    assert tok.texts_to_sequences(["the my cat zebra"]) == [[2, 3, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 9]]) == ["the my <OOV>"]
    plain = Tokenizer(num_words=3)
    plain.fit_on_texts(TEXTS)
    assert plain.texts_to_sequences(["the my cat"]) == [[1, 2]]   # dropped without an OOV token


def test_matrices():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    seqs = tok.texts_to_sequences(["my cat my", ""])
    n = len(tok.word_index) + 1
    binary = tok.sequences_to_matrix(seqs, mode="binary")
    assert binary.shape == (2, n) and binary[0, 2] == 1 and binary[0, 3] == 1 and binary[1].sum() == 0
    count = tok.texts_to_matrix(["my cat my"], mode="count")
    assert count[0, 2] == 2 and count[0, 3] == 1
    freq = tok.texts_to_matrix(["my cat my"], mode="freq")
    np.testing.assert_allclose(freq[0, 2], 2 / 3)
    tfidf = tok.texts_to_matrix(["my cat my"], mode="tfidf")
    docs_with_my = tok.index_docs[2]
    np.testing.assert_allclose(tfidf[0, 2], (1 + np.log(2)) * np.log(1 + 3 / (1 + docs_with_my)))
    with pytest.raises(ValueError, match="mode"):
        tok.texts_to_matrix(["x"], mode="onehot")


def test_char_level_json_round_trip_and_hashing():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["abca"])
    assert tok.word_index["a"] == 1 and tok.texts_to_sequences(["cab"]) == [[3, 1, 2]]
    assert tok.sequences_to_texts([[3, 1, 2]]) == ["cab"]
    words = Tokenizer(num_words=5, oov_token="?")
    words.fit_on_texts(TEXTS)
    again = tokenizer_from_json(words.to_json())
    assert again.word_index == words.word_index and again.num_words == 5
    assert again.texts_to_sequences(TEXTS) == words.texts_to_sequences(TEXTS)
    h = hashing_trick("the cat the", 10, hash_function="md5")
    assert len(h) == 3 and h[0] == h[2] and all(1 <= i < 10 for i in h)
    with pytest.raises(TypeError):
        Tokenizer().fit_on_texts("one string")


def test_keras2_import_paths():
    from corenn.keras.preprocessing import text
    from corenn.keras.utils import np_utils
    assert text.Tokenizer is Tokenizer
    np.testing.assert_array_equal(np_utils.to_categorical([1, 0], 2), [[0, 1], [1, 0]])
