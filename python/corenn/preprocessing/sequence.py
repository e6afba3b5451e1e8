"""``keras.preprocessing.sequence``: padding variable-length sequences, the skip-gram pairs
of word2vec (``skipgrams``, ``make_sampling_table``) and the deprecated ``TimeseriesGenerator``
(still exported by tf.keras) with Keras' semantics."""
import numpy as np

from ..utils.py_dataset import PyDataset
from ..utils.random import get_generator
from ..utils.sequence import pad_sequences

__all__ = ["pad_sequences", "skipgrams", "make_sampling_table", "TimeseriesGenerator"]


class TimeseriesGenerator(PyDataset):
    """Batches of (window, target) pairs cut from one series, by index (a PyDataset, so ``fit``,
    ``evaluate`` and ``predict`` take it). The sample ending at row ``r`` is
    ``data[r - length:r:sampling_rate]`` and its target is ``targets[r]``: the window holds the
    ``length`` steps *before* the step it predicts. Rows run from ``start_index + length`` to
    ``end_index`` (default: the last row) every ``stride`` steps, ``batch_size`` rows a batch
    (the last batch may be short); ``shuffle`` draws each batch's rows at random instead
    (with replacement, from the global NumPy generator, as Keras does) and ``reverse`` puts
    each window's steps in reverse order."""

    def __init__(self, data, targets, length, sampling_rate=1, stride=1, start_index=0, end_index=None,
                 shuffle=False, reverse=False, batch_size=128, **kwargs):
        super().__init__(**kwargs)
        if len(data) != len(targets):
            raise ValueError(f"TimeseriesGenerator: data and targets must have the same length; data has "
                             f"{len(data)} steps, targets {len(targets)}")
        for name, value in (("length", length), ("sampling_rate", sampling_rate), ("stride", stride),
                            ("batch_size", batch_size)):
            if int(value) != value or value < 1:
                raise ValueError(f"TimeseriesGenerator: {name} must be a positive integer, got {value!r}")
        self.data = data
        self.targets = targets
        self.length = int(length)
        self.sampling_rate = int(sampling_rate)
        self.stride = int(stride)
        # the first row that has `length` steps of history before it
        self.start_index = int(start_index) + self.length
        self.end_index = len(data) - 1 if end_index is None else int(end_index)
        self.shuffle = shuffle
        self.reverse = reverse
        self.batch_size = int(batch_size)
        if self.start_index > self.end_index:
            raise ValueError(f"TimeseriesGenerator: start_index + length = {self.start_index} > end_index = "
                             f"{self.end_index}: no step is left to predict")

    def __len__(self):
        span = self.batch_size * self.stride
        # ceil((end - start + 1) / span): the rows start..end, `span` steps of them a batch
        return (self.end_index - self.start_index + span) // span

    def __getitem__(self, index):
        if self.shuffle:
            rows = np.random.randint(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            if not 0 <= index < len(self):
                raise IndexError(f"TimeseriesGenerator: batch index {index} out of range [0, {len(self)})")
            first = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(first, min(first + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[r - self.length:r:self.sampling_rate] for r in rows])
        targets = np.array([self.targets[r] for r in rows])
        if self.reverse:
            samples = samples[:, ::-1, ...]
        return samples, targets


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
