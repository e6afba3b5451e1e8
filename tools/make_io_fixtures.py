"""Write the tf.io fixture files that tests/io reads: real files from real TensorFlow 2.

    pip install tensorflow pillow
    TF_CPP_MIN_LOG_LEVEL=3 python tools/make_io_fixtures.py [out_dir]

Files (tests/io/fixtures/ by default):

    examples.tfrecord       three tf.train.Examples written by tf.io.TFRecordWriter: a bytes, a
                            float and an int64 feature each (several values, negative and 64-bit
                            ints, an empty list, a feature missing from one example)
    examples.gz.tfrecord    the same records, GZIP compressed
    sequence.tfrecord       one tf.train.SequenceExample (an int64 context feature, an int64 list of
                            2 per step and a bytes list of 0..2 per step over 3 steps)
    gray.png gray_alpha.png rgb.png rgba.png   8-bit PNGs of each colour type (tf.io.encode_png)
    palette.png palette_trns.png gray1.png     palette (without / with tRNS) and 1-bit gray (Pillow)
    rgb16.png               a 16-bit PNG (corenn refuses it clearly)
    small.jpg               a JPEG from tf.io.encode_jpeg (quality 90)
    decoded.npz             TensorFlow's decode of each image file for channels 0, 1, 3, 4 where
                            allowed (keys '<file>:<channels>'; the JPEG also with
                            dct_method="INTEGER_ACCURATE", '<file>:accurate:<channels>'), plain
                            arrays (np.savez, no pickle)
"""
import os
import sys

import numpy as np
import tensorflow as tf
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "io", "fixtures")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def feature(kind, values):
    cls = {"bytes": tf.train.BytesList, "float": tf.train.FloatList, "int64": tf.train.Int64List}[kind]
    return tf.train.Feature(**{f"{kind}_list": cls(value=values)})


examples = [
    {"name": feature("bytes", [b"cat"]), "scores": feature("float", [0.5, -1.25, 3.0]),
     "ids": feature("int64", [1, -2, 2 ** 40]), "tags": feature("bytes", [b"a", b"bc"])},
    {"name": feature("bytes", [b"dog"]), "scores": feature("float", [1.0, 2.0, 3.5]),
     "ids": feature("int64", [7, 8, 9]), "tags": feature("bytes", [])},
    {"name": feature("bytes", [b"\x00\xffbin"]), "scores": feature("float", [0.0, 0.0, -0.0]),
     "ids": feature("int64", [-(2 ** 63), 2 ** 63 - 1, 0])},          # no 'tags'
]
for fname, options in (("examples.tfrecord", None), ("examples.gz.tfrecord", "GZIP")):
    with tf.io.TFRecordWriter(os.path.join(out, fname), options) as w:
        for e in examples:
            w.write(tf.train.Example(features=tf.train.Features(feature=e)).SerializeToString())

seq = tf.train.SequenceExample(
    context=tf.train.Features(feature={"id": feature("int64", [42])}),
    feature_lists=tf.train.FeatureLists(feature_list={
        "tokens": tf.train.FeatureList(feature=[feature("int64", [3, 4]), feature("int64", [5, 6]),
                                                feature("int64", [7, 8])]),
        "words": tf.train.FeatureList(feature=[feature("bytes", [b"a"]), feature("bytes", []),
                                               feature("bytes", [b"b", b"c"])])}))
with tf.io.TFRecordWriter(os.path.join(out, "sequence.tfrecord")) as w:
    w.write(seq.SerializeToString())

images = {
    "gray.png": rng.integers(0, 256, (5, 7, 1), dtype=np.uint8),
    "gray_alpha.png": rng.integers(0, 256, (6, 4, 2), dtype=np.uint8),
    "rgb.png": rng.integers(0, 256, (9, 8, 3), dtype=np.uint8),
    "rgba.png": rng.integers(0, 256, (4, 11, 4), dtype=np.uint8),
}
for fname, a in images.items():
    tf.io.write_file(os.path.join(out, fname), tf.io.encode_png(a))
# a smooth image (so the filters Pillow picks include Sub / Up / Average / Paeth) as a palette PNG
yy, xx = np.mgrid[0:12, 0:10]
smooth = np.stack([yy * 20, xx * 25, (yy + xx) * 10], -1).astype(np.uint8)
pal = Image.fromarray(smooth).convert("P", palette=Image.ADAPTIVE, colors=16)
pal.save(os.path.join(out, "palette.png"))
pal.info["transparency"] = bytes(range(0, 255, 17))[:16]
pal.save(os.path.join(out, "palette_trns.png"), transparency=bytes(range(0, 255, 17))[:16])
Image.fromarray(((yy + xx) % 3 == 0).astype(np.uint8) * 255).convert("1").save(os.path.join(out, "gray1.png"))
Image.fromarray(smooth).save(os.path.join(out, "smooth_rgb.png"), optimize=True)
tf.io.write_file(os.path.join(out, "rgb16.png"),
                 tf.io.encode_png(rng.integers(0, 65536, (3, 3, 3), dtype=np.uint16)))
tf.io.write_file(os.path.join(out, "small.jpg"), tf.io.encode_jpeg(np.repeat(np.repeat(smooth, 2, 0), 2, 1),
                                                                 quality=90))

decoded = {}
for fname in ("gray.png", "gray_alpha.png", "rgb.png", "rgba.png", "palette.png", "palette_trns.png",
              "gray1.png", "smooth_rgb.png", "small.jpg"):
    data = tf.io.read_file(os.path.join(out, fname))
    for ch in ((0, 1, 3) if fname.endswith(".jpg") else (0, 1, 3, 4)):
        fn = tf.io.decode_jpeg if fname.endswith(".jpg") else tf.io.decode_png
        decoded[f"{fname}:{ch}"] = fn(data, channels=ch).numpy()
        if fname.endswith(".jpg"):   # TF's default IDCT is libjpeg's fast one; Pillow's the accurate one
            decoded[f"{fname}:accurate:{ch}"] = fn(data, channels=ch, dct_method="INTEGER_ACCURATE").numpy()
np.savez(os.path.join(out, "decoded.npz"), **decoded)
print("wrote", sorted(os.listdir(out)))
