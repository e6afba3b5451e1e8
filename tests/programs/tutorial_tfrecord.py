"""TF tutorial "TFRecord and tf.train.Example" (load_data/tfrecord), imports changed: the
`_bytes_feature` / `_float_feature` / `_int64_feature` helpers (`isinstance(value,
type(tf.constant(0)))`), `SerializeToString`, `tf.train.Example.FromString`, a dataset of
features mapped through `tf.py_function(serialize_example, ..., tf.string)` and the
`from_generator` version, `tf.data.experimental.TFRecordWriter`, reading back with
`TFRecordDataset` + `tf.io.parse_single_example`, the same with `tf.io.TFRecordWriter` in Python
and `example.ParseFromString` / `WhichOneof`, then the image walkthrough (`image_example` with
`tf.io.decode_jpeg(...).shape`, the JPEG bytes back through `parse_single_example`). The two
downloaded photos are replaced by small JPEGs made with `tf.io.encode_jpeg`; 1000 observations
instead of 10000."""
import numpy as np

import corenn as tf


# The following functions can be used to convert a value to a type compatible
# with tf.train.Example.

def _bytes_feature(value):
    """Returns a bytes_list from a string / byte."""
    if isinstance(value, type(tf.constant(0))):
        value = value.numpy()  # BytesList won't unpack a string from an EagerTensor.
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _float_feature(value):
    """Returns a float_list from a float / double."""
    return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def _int64_feature(value):
    """Returns an int64_list from a bool / enum / int / uint."""
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


print(_bytes_feature(b'test_string'))
print(_bytes_feature(u'test_bytes'.encode('utf-8')))

print(_float_feature(np.exp(1)))

print(_int64_feature(True))
print(_int64_feature(1))

feature = _float_feature(np.exp(1))

serialized_float = feature.SerializeToString()
print(serialized_float)
# field 2 (float_list), a packed float: TensorFlow writes b'\x12\x06\n\x04T\xf8-@'
assert serialized_float == b'\x12\x06\n\x04T\xf8-@', serialized_float

# The number of observations in the dataset.
n_observations = int(1e3)

# Boolean feature, encoded as False or True.
feature0 = np.random.choice([False, True], n_observations)

# Integer feature, random from 0 to 4.
feature1 = np.random.randint(0, 5, n_observations)

# String feature.
strings = np.array([b'cat', b'dog', b'chicken', b'horse', b'goat'])
feature2 = strings[feature1]

# Float feature, from a standard normal distribution.
feature3 = np.random.randn(n_observations)


def serialize_example(feature0, feature1, feature2, feature3):
    """
    Creates a tf.train.Example message ready to be written to a file.
    """
    # Create a dictionary mapping the feature name to the tf.train.Example-compatible
    # data type.
    feature = {
        'feature0': _int64_feature(feature0),
        'feature1': _int64_feature(feature1),
        'feature2': _bytes_feature(feature2),
        'feature3': _float_feature(feature3),
    }

    # Create a Features message using tf.train.Example.

    example_proto = tf.train.Example(features=tf.train.Features(feature=feature))
    return example_proto.SerializeToString()


# This is an example observation from the dataset.

example_observation = []

serialized_example = serialize_example(False, 4, b'goat', 0.9876)
print(serialized_example)

example_proto = tf.train.Example.FromString(serialized_example)
print(example_proto)
assert example_proto.features.feature['feature2'].bytes_list.value[0] == b'goat'
assert example_proto.features.feature['feature1'].int64_list.value[0] == 4
np.testing.assert_allclose(example_proto.features.feature['feature3'].float_list.value[0], 0.9876, rtol=1e-6)

print(tf.data.Dataset.from_tensor_slices(feature1))

features_dataset = tf.data.Dataset.from_tensor_slices((feature0, feature1, feature2, feature3))
print(features_dataset)

# Use `take(1)` to only pull one example from the dataset.
for f0, f1, f2, f3 in features_dataset.take(1):
    print(f0)
    print(f1)
    print(f2)
    print(f3)

print(serialize_example(f0, f1, f2, f3))


def tf_serialize_example(f0, f1, f2, f3):
    tf_string = tf.py_function(
        serialize_example,
        (f0, f1, f2, f3),  # Pass these args to the above function.
        tf.string)      # The return type is `tf.string`.
    return tf.reshape(tf_string, ())  # The result is a scalar.


print(tf_serialize_example(f0, f1, f2, f3))

serialized_features_dataset = features_dataset.map(tf_serialize_example)
print(serialized_features_dataset)


def generator():
    for features in features_dataset:
        yield serialize_example(*features)


serialized_features_dataset = tf.data.Dataset.from_generator(generator, output_types=tf.string, output_shapes=())
print(serialized_features_dataset)

filename = 'test.tfrecord'
writer = tf.data.experimental.TFRecordWriter(filename)
writer.write(serialized_features_dataset)

filenames = [filename]
raw_dataset = tf.data.TFRecordDataset(filenames)
print(raw_dataset)

for raw_record in raw_dataset.take(10):
    print(repr(raw_record))

# Create a description of the features.
feature_description = {
    'feature0': tf.io.FixedLenFeature([], tf.int64, default_value=0),
    'feature1': tf.io.FixedLenFeature([], tf.int64, default_value=0),
    'feature2': tf.io.FixedLenFeature([], tf.string, default_value=''),
    'feature3': tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
}


def _parse_function(example_proto):
    # Parse the input `tf.train.Example` proto using the dictionary above.
    return tf.io.parse_single_example(example_proto, feature_description)


parsed_dataset = raw_dataset.map(_parse_function)
print(parsed_dataset)

for parsed_record in parsed_dataset.take(10):
    print(repr(parsed_record))

parsed = list(parsed_dataset)
assert len(parsed) == n_observations
np.testing.assert_array_equal([int(np.asarray(r['feature1'])) for r in parsed], feature1)
np.testing.assert_array_equal([int(np.asarray(r['feature0'])) for r in parsed], feature0.astype(int))
np.testing.assert_allclose([float(np.asarray(r['feature3'])) for r in parsed], feature3, rtol=1e-6)
assert [np.asarray(r['feature2']).item() for r in parsed[:5]] == list(feature2[:5])

# Write the `tf.train.Example` observations to the file.
with tf.io.TFRecordWriter(filename) as writer:
    for i in range(n_observations):
        example = serialize_example(feature0[i], feature1[i], feature2[i], feature3[i])
        writer.write(example)

filenames = [filename]
raw_dataset = tf.data.TFRecordDataset(filenames)
print(raw_dataset)

for raw_record in raw_dataset.take(1):
    example = tf.train.Example()
    example.ParseFromString(raw_record.numpy())
    print(example)

result = {}
# example.features.feature is the dictionary
for key, feature in example.features.feature.items():
    # The values are the Feature objects which contain a `kind` which contains:
    # one of three fields: bytes_list, float_list, int64_list

    kind = feature.WhichOneof('kind')
    result[key] = np.array(getattr(feature, kind).value)

print(result)
assert result['feature1'][0] == feature1[0] and result['feature2'][0] == feature2[0]
assert result['feature0'].dtype.kind == 'i' and result['feature3'].dtype.kind == 'f'

# --- Walkthrough: Reading and writing image data ----------------------------------------------
rng = np.random.default_rng(0)
cat_in_snow = 'cat_in_snow.jpg'
williamsburg_bridge = 'williamsburg_bridge.jpg'
for path, size in ((cat_in_snow, (21, 32)), (williamsburg_bridge, (24, 18))):
    pixels = rng.integers(0, 255, size + (3,)).astype(np.uint8)
    tf.io.write_file(path, tf.io.encode_jpeg(pixels, quality=90))

image_labels = {
    cat_in_snow: 0,
    williamsburg_bridge: 1,
}

# This is an example, just using the cat image.
with open(cat_in_snow, 'rb') as f:   # (the tutorial leaves the file to the garbage collector)
    image_string = f.read()

label = image_labels[cat_in_snow]


# Create a dictionary with features that may be relevant.
def image_example(image_string, label):
    image_shape = tf.io.decode_jpeg(image_string).shape

    feature = {
        'height': _int64_feature(image_shape[0]),
        'width': _int64_feature(image_shape[1]),
        'depth': _int64_feature(image_shape[2]),
        'label': _int64_feature(label),
        'image_raw': _bytes_feature(image_string),
    }

    return tf.train.Example(features=tf.train.Features(feature=feature))


for line in str(image_example(image_string, label)).split('\n')[:15]:
    print(line)
print('...')

# Write the raw image files to `images.tfrecords`.
# First, process the two images into `tf.train.Example` messages.
# Then, write to a `.tfrecords` file.
record_file = 'images.tfrecords'
with tf.io.TFRecordWriter(record_file) as writer:
    for filename, label in image_labels.items():
        with open(filename, 'rb') as f:
            image_string = f.read()
        tf_example = image_example(image_string, label)
        writer.write(tf_example.SerializeToString())

raw_image_dataset = tf.data.TFRecordDataset('images.tfrecords')

# Create a dictionary describing the features.
image_feature_description = {
    'height': tf.io.FixedLenFeature([], tf.int64),
    'width': tf.io.FixedLenFeature([], tf.int64),
    'depth': tf.io.FixedLenFeature([], tf.int64),
    'label': tf.io.FixedLenFeature([], tf.int64),
    'image_raw': tf.io.FixedLenFeature([], tf.string),
}


def _parse_image_function(example_proto):
    # Parse the input tf.train.Example proto using the dictionary above.
    return tf.io.parse_single_example(example_proto, image_feature_description)


parsed_image_dataset = raw_image_dataset.map(_parse_image_function)
print(parsed_image_dataset)

shapes = []
for image_features in parsed_image_dataset:
    image_raw = image_features['image_raw'].numpy()
    decoded = tf.io.decode_jpeg(image_raw)
    shapes.append((int(image_features['height']), int(image_features['width']), tuple(decoded.shape)))
print(shapes)
assert shapes == [(21, 32, (21, 32, 3)), (24, 18, (24, 18, 3))], shapes
