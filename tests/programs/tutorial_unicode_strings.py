"""TensorFlow tutorial "Unicode strings" (text/guide/unicode), imports changed only: string
scalars and vectors, unicode_decode / encode / transcode, unicode_split, byte and character
lengths, substr in UTF8_CHAR units, unicode_decode_with_offsets, unicode_script, and the
word-segmentation example built from ragged operations (tf.not_equal / tf.concat / tf.cast /
tf.reduce_sum on RaggedTensors, from_row_starts, two ragged levels)."""
import numpy as np

import corenn as tf

# -- The tf.string data type ----------------------------------------------------------------------
s = tf.constant(u"Thanks 😊")
print(s)
assert s.numpy() == u"Thanks 😊".encode("UTF-8")
v = tf.constant([u"You're", u"welcome!"])
print(v)
assert list(v.numpy()) == [b"You're", b"welcome!"]

# -- Representing Unicode -------------------------------------------------------------------------
text_utf8 = tf.constant(u"语言处理")
text_utf16be = tf.constant(u"语言处理".encode("UTF-16-BE"))
text_chars = tf.constant([ord(char) for char in u"语言处理"])
print(text_utf8, text_utf16be, text_chars)
assert text_utf16be.numpy() == u"语言处理".encode("UTF-16-BE")

# Converting between representations
decoded = tf.strings.unicode_decode(text_utf8, input_encoding='UTF-8')
np.testing.assert_array_equal(decoded.numpy(), [35821, 35328, 22788, 29702])
encoded = tf.strings.unicode_encode(text_chars, output_encoding='UTF-8')
assert encoded.numpy() == u"语言处理".encode("UTF-8")
transcoded = tf.strings.unicode_transcode(text_utf8, input_encoding='UTF8', output_encoding='UTF-16-BE')
assert transcoded.numpy() == text_utf16be.numpy()

# Batch dimensions
batch_utf8 = [s.encode('UTF-8') for s in [u'hÃllo', u'What is the weather tomorrow', u'Göödnight', u'😊']]
batch_chars_ragged = tf.strings.unicode_decode(batch_utf8, input_encoding='UTF-8')
for sentence_chars in batch_chars_ragged.to_list():
    print(sentence_chars)
assert batch_chars_ragged.to_list()[0] == [104, 195, 108, 108, 111]
assert batch_chars_ragged.to_list()[3] == [128522]

batch_chars_padded = batch_chars_ragged.to_tensor(default_value=-1)
print(batch_chars_padded.numpy())
assert batch_chars_padded.shape == (4, 28)
assert int(batch_chars_padded.numpy()[3, 1]) == -1

batch_chars_sparse = batch_chars_ragged.to_sparse()
nrows, ncols = batch_chars_sparse.dense_shape.numpy()
elements = [['_' for i in range(ncols)] for j in range(nrows)]
for (row, col), value in zip(batch_chars_sparse.indices.numpy(), batch_chars_sparse.values.numpy()):
    elements[row][col] = str(value)
value_lengths = []
for row in elements:
    for value in row:
        value_lengths.append(len(value))
max_width = max(value_lengths)
print('[%s]' % '\n '.join('[%s]' % ', '.join(value.rjust(max_width) for value in row) for row in elements))
assert elements[3][:2] == ['128522', '_']

roundtrip = tf.strings.unicode_encode([[99, 97, 116], [100, 111, 103], [99, 111, 119]], output_encoding='UTF-8')
assert list(roundtrip.numpy()) == [b'cat', b'dog', b'cow']
roundtrip_ragged = tf.strings.unicode_encode(batch_chars_ragged, output_encoding='UTF-8')
assert list(roundtrip_ragged.numpy()) == batch_utf8
roundtrip_padded = tf.strings.unicode_encode(
    tf.RaggedTensor.from_tensor(batch_chars_padded, padding=-1), output_encoding='UTF-8')
assert list(roundtrip_padded.numpy()) == batch_utf8
roundtrip_sparse = tf.strings.unicode_encode(
    tf.RaggedTensor.from_sparse(batch_chars_sparse), output_encoding='UTF-8')
assert list(roundtrip_sparse.numpy()) == batch_utf8

# -- Unicode operations ---------------------------------------------------------------------------
thanks = u'Thanks 😊'.encode('UTF-8')
num_bytes = tf.strings.length(thanks).numpy()
num_chars = tf.strings.length(thanks, unit='UTF8_CHAR').numpy()
print('{} bytes; {} UTF-8 characters'.format(num_bytes, num_chars))
assert (num_bytes, num_chars) == (11, 8)

assert tf.strings.substr(thanks, pos=7, len=1).numpy() == b'\xf0'
assert tf.strings.substr(thanks, pos=7, len=1, unit='UTF8_CHAR').numpy() == u'😊'.encode('UTF-8')

split = tf.strings.unicode_split(thanks, 'UTF-8').numpy()
assert list(split) == [b'T', b'h', b'a', b'n', b'k', b's', b' ', u'😊'.encode('UTF-8')]

codepoints, offsets = tf.strings.unicode_decode_with_offsets(u'🎈🎉🎊', 'UTF-8')
for (codepoint, offset) in zip(codepoints.numpy(), offsets.numpy()):
    print('At byte offset {}: codepoint {}'.format(offset, codepoint))
np.testing.assert_array_equal(offsets.numpy(), [0, 4, 8])
np.testing.assert_array_equal(codepoints.numpy(), [127880, 127881, 127882])

# -- Unicode scripts ------------------------------------------------------------------------------
uscript = tf.strings.unicode_script([33464, 1041])  # ['芸', 'Б']
print(uscript.numpy())  # [17, 8] == [USCRIPT_HAN, USCRIPT_CYRILLIC]
np.testing.assert_array_equal(uscript.numpy(), [17, 8])
print(tf.strings.unicode_script(batch_chars_ragged))
assert tf.strings.unicode_script(batch_chars_ragged).to_list()[1][:4] == [25, 25, 25, 25]  # Latin

# -- Example: simple segmentation -----------------------------------------------------------------
# dtype: string; shape: [num_sentences]
sentence_texts = [u'Hello, world.', u'世界こんにちは']
sentence_char_codepoint = tf.strings.unicode_decode(sentence_texts, 'UTF-8')
sentence_char_script = tf.strings.unicode_script(sentence_char_codepoint)
sentence_char_starts_word = tf.concat(
    [tf.fill([sentence_char_script.nrows(), 1], True),
     tf.not_equal(sentence_char_script[:, 1:], sentence_char_script[:, :-1])],
    axis=1)
word_starts = tf.squeeze(tf.where(sentence_char_starts_word.values), axis=1)
print(word_starts)
word_char_codepoint = tf.RaggedTensor.from_row_starts(
    values=sentence_char_codepoint.values,
    row_starts=word_starts)
print(word_char_codepoint)
sentence_num_words = tf.reduce_sum(
    tf.cast(sentence_char_starts_word, tf.int64),
    axis=1)
sentence_word_char_codepoint = tf.RaggedTensor.from_row_lengths(
    values=word_char_codepoint,
    row_lengths=sentence_num_words)
print(sentence_word_char_codepoint)
words = tf.strings.unicode_encode(sentence_word_char_codepoint, 'UTF-8').to_list()
print(words)
assert words == [[b'Hello', b', ', b'world', b'.'],
                 [b'\xe4\xb8\x96\xe7\x95\x8c',
                  b'\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf']]
