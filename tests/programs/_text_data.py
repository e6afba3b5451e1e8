"""Synthetic movie reviews for the text tutorials: sentences of neutral filler words with a few
sentiment words, some HTML line breaks and punctuation, labels 1 (positive) / 0 (negative)."""
import numpy as np

POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "enjoyable"]
NEGATIVE = ["awful", "boring", "terrible", "waste", "dull", "worst"]
FILLER = ["the", "movie", "film", "was", "a", "and", "plot", "actor", "i", "it", "this", "story",
          "scene", "really", "quite", "very", "with", "of"]


def reviews(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(6, 14)))
        for _ in range(rng.integers(1, 3)):
            words.insert(rng.integers(0, len(words) + 1),
                         rng.choice(POSITIVE if label else NEGATIVE))
        text = " ".join(words).capitalize() + rng.choice([".", "!", "?"])
        if rng.random() < 0.3:
            text += "<br /><br />" + " ".join(rng.choice(FILLER, 3)) + "."
        texts.append(text)
    return np.array(texts), labels.astype("int64")
