"""``keras.preprocessing.text`` (tf.keras 2): Tokenizer and the small text helpers that the
older text tutorials build their vocabularies with (Keras 3 has TextVectorization for this).

Tokenizer: words are split on ``split`` after the characters of ``filters`` are replaced by it
and the text lower-cased (``lower``); ``fit_on_texts`` counts words and documents; word indices
start at 1 in order of decreasing count (ties: first seen first), the ``oov_token`` (if any)
taking index 1; ``num_words`` keeps only the indices below it when texts are converted.

Reference: tf.keras.preprocessing.text (Keras 2.x).
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict

import numpy as np

__all__ = ["Tokenizer", "text_to_word_sequence", "one_hot", "hashing_trick", "tokenizer_from_json"]

_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(input_text, filters=_FILTERS, lower=True, split=" "):
    """The words of ``input_text``: lower-cased, the ``filters`` characters turned into
    ``split``, split on it, empty pieces dropped."""
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


def hashing_trick(text, n, hash_function=None, filters=_FILTERS, lower=True, split=" "):
    """Each word hashed to an index in [1, n): Python's ``hash`` by default (not stable across
    runs, as in Keras), 'md5' for a stable one, or any function of a string."""
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(w):
            return int(hashlib.md5(w.encode()).hexdigest(), 16)
    return [hash_function(w) % (n - 1) + 1 for w in text_to_word_sequence(text, filters, lower, split)]


def one_hot(input_text, n, filters=_FILTERS, lower=True, split=" ", analyzer=None):
    """hashing_trick with Python's hash (Keras' ``one_hot``: word indices, not one-hot vectors)."""
    return hashing_trick(input_text, n, hash_function=hash, filters=filters, lower=lower, split=split)


class Tokenizer:
    """A word (or character) vocabulary fitted on texts, and the conversions it allows."""

    def __init__(self, num_words=None, filters=_FILTERS, lower=True, split=" ", char_level=False, oov_token=None,
                 analyzer=None, document_count=0, **kwargs):
        if kwargs:
            raise TypeError(f"Tokenizer: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        if num_words is not None and (isinstance(num_words, bool) or not isinstance(num_words, int) or num_words < 1):
            raise ValueError(f"Tokenizer: num_words must be a positive int or None, got {num_words!r}")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token, self.analyzer = char_level, oov_token, analyzer
        self.document_count = document_count
        self.word_counts = OrderedDict()
        self.word_docs = defaultdict(int)
        self.index_docs = defaultdict(int)
        self.word_index, self.index_word = {}, {}

    def _words(self, text):
        if self.char_level:
            return list(text.lower() if self.lower else text) if isinstance(text, str) else list(text)
        if not isinstance(text, str):   # a list of words already
            return [w.lower() if self.lower else w for w in text]
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """Count the words of ``texts`` (strings, or lists of words) and rebuild the index."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.fit_on_texts: pass a list of texts, not one string")
        for text in texts:
            self.document_count += 1
            words = self._words(text)
            for w in words:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(words):
                self.word_docs[w] += 1
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)   # stable: ties keep order
        vocab = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in ranked]
        self.word_index = {w: i for i, w in enumerate(vocab, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = defaultdict(int, {self.word_index[w]: c for w, c in self.word_docs.items()})

    def fit_on_sequences(self, sequences):
        """Document frequencies of indices (for texts_to_matrix / sequences_to_matrix 'tfidf')."""
        for seq in sequences:
            self.document_count += 1
            for i in set(seq):
                self.index_docs[i] += 1

    def _keep(self, i):
        return self.num_words is None or i < self.num_words

    def texts_to_sequences(self, texts):
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in texts:
            seq = []
            for w in self._words(text):
                i = self.word_index.get(w)
                if i is not None and self._keep(i):
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            yield seq

    def sequences_to_texts(self, sequences):
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        joiner = "" if self.char_level else " "
        for seq in sequences:
            words = []
            for i in seq:
                w = self.index_word.get(i)
                if w is not None and self._keep(i):
                    words.append(w)
                elif oov is not None:
                    words.append(self.index_word[oov])
            yield joiner.join(words)

    def texts_to_matrix(self, texts, mode="binary"):
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """(len(sequences), num_words) rows: 'binary' (present), 'count', 'freq' (count / length),
        'tfidf' ((1 + log count) * log(1 + documents / (1 + documents with the word)))."""
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError(f"Tokenizer: mode must be binary, count, freq or tfidf, got {mode!r}")
        n = self.num_words or (len(self.word_index) + 1)
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: fit the tokenizer on data before using tfidf mode")
        out = np.zeros((len(sequences), n))
        for row, seq in enumerate(sequences):
            if not seq:
                continue
            counts = defaultdict(int)
            for i in seq:
                if i < n:
                    counts[i] += 1
            for i, c in counts.items():
                if mode == "count":
                    out[row, i] = c
                elif mode == "freq":
                    out[row, i] = c / len(seq)
                elif mode == "binary":
                    out[row, i] = 1.0
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(i, 0)))
                    out[row, i] = (1 + np.log(c)) * idf
        return out

    def get_config(self):
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
                "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps({str(k): v for k, v in self.index_docs.items()}),
                "index_word": json.dumps({str(k): v for k, v in self.index_word.items()}),
                "word_index": json.dumps(self.word_index)}

    def to_json(self, **kwargs):
        """A JSON string (Keras' format) that tokenizer_from_json reads back."""
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    """A Tokenizer from Tokenizer.to_json's string (plain JSON: nothing is executed)."""
    data = json.loads(json_string)
    config = dict(data.get("config", {}))
    fields = {k: json.loads(config.pop(k)) for k in ("word_counts", "word_docs", "index_docs", "index_word",
                                                      "word_index") if k in config}
    tok = Tokenizer(**config)
    tok.word_counts = OrderedDict(fields.get("word_counts", {}))
    tok.word_docs = defaultdict(int, fields.get("word_docs", {}))
    tok.index_docs = defaultdict(int, {int(k): v for k, v in fields.get("index_docs", {}).items()})
    tok.index_word = {int(k): v for k, v in fields.get("index_word", {}).items()}
    tok.word_index = dict(fields.get("word_index", {}))
    return tok
