"""``keras.preprocessing.sequence``: padding variable-length sequences, and the skip-gram pairs
of word2vec (``skipgrams``, ``make_sampling_table``) with Keras' semantics."""
import numpy as np

from ..utils.random import get_generator
from ..utils.sequence import pad_sequences

__all__ = ["pad_sequences", "skipgrams", "make_sampling_table"]


def make_sampling_table(size, sampling_factor=1e-5):
    """p[i]: the probability of keeping a word of frequency rank i (0 = most frequent) when
    sampling skip-grams, word2vec's subsampling min(1, sqrt(t / f)) with the word frequencies f
    that Zipf's law gives a rank (Keras' approximation: f ~ 1 / (i (ln i + gamma)))."""
    n = int(size)
    if n <= 0:
        raise ValueError(f"make_sampling_table: size must be positive, got {size}")
    rank = np.arange(n, dtype=np.float64)
    rank[0] = 1.0
    euler = 0.577
    inverse_freq = rank * (np.log(rank) + euler) + 0.5 - 1.0 / (12.0 * rank)
    f = sampling_factor * inverse_freq
    return np.minimum(1.0, f / np.sqrt(f))


def skipgrams(sequence, vocabulary_size, window_size=4, negative_samples=1.0, shuffle=True,
              categorical=False, sampling_table=None, seed=None):
    """(couples, labels): every (word, context word) pair within ``window_size`` of each other,
    label 1, then ``negative_samples`` times as many (word, random word in [1, vocabulary_size))
    pairs, label 0 (``[1, 0]`` / ``[0, 1]`` one-hot when ``categorical``). Index 0 is padding and
    never paired; with ``sampling_table`` a word at index w is kept with probability
    sampling_table[w]. Shuffled unless ``shuffle=False`` (``seed`` fixes the order)."""
    if int(vocabulary_size) < 2:
        raise ValueError(f"skipgrams: vocabulary_size must be >= 2, got {vocabulary_size}")
    rng = get_generator() if seed is None else np.random.default_rng(int(seed))
    seq = [int(w) for w in sequence]
    couples, labels = [], []
    pos, neg = ([0, 1], [1, 0]) if categorical else (1, 0)
    for i, w in enumerate(seq):
        if not w:
            continue
        if sampling_table is not None and sampling_table[w] < rng.random():
            continue
        for j in range(max(0, i - window_size), min(len(seq), i + window_size + 1)):
            if j != i and seq[j]:
                couples.append([w, seq[j]])
                labels.append(pos)
    if negative_samples > 0 and couples:
        count = int(len(labels) * negative_samples)
        words = [c[0] for c in couples]
        rng.shuffle(words)
        noise = rng.integers(1, int(vocabulary_size), size=count)
        couples += [[words[k % len(words)], int(noise[k])] for k in range(count)]
        labels += [neg] * count
    if shuffle and couples:
        order = rng.permutation(len(couples))
        couples = [couples[k] for k in order]
        labels = [labels[k] for k in order]
    return couples, labels
