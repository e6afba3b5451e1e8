"""tf.audio.decode_wav / encode_wav: TensorFlow 2.21's 16-bit PCM codec (values read from
TensorFlow by hand: s / 32768 on decode, round-half-away(x * 32768) clamped on encode), the
channel / sample options, and malformed files refused by name."""
import io
import struct
import wave

import numpy as np
import pytest

import corenn as tf


def _wav(pcm, rate=100, channels=1, width=2):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def test_round_trip_and_tensorflow_scaling():
    a = np.stack([np.linspace(-1, 1, 7), np.linspace(1, -1, 7)], 1).astype("float32")
    data = tf.audio.encode_wav(a, 8000)
    assert isinstance(data, bytes) and data[:4] == b"RIFF" and len(data) == 44 + 7 * 2 * 2
    audio, rate = tf.audio.decode_wav(data)
    assert audio.dtype == "float32" and audio.shape == (7, 2)
    assert rate.dtype == "int32" and int(rate) == 8000
    # TensorFlow's values: 1.0 -> 32767 -> 0.9999695, 1/3 -> 10923 / 32768
    expect = np.clip(np.sign(a) * np.floor(np.abs(a.astype(np.float64) * 32768) + 0.5), -32768, 32767) / 32768
    np.testing.assert_array_equal(audio.numpy(), expect.astype(np.float32))
    assert audio.numpy()[6, 0] == np.float32(32767 / 32768)


def test_encode_clamps_and_rounds_half_away_from_zero():
    data = tf.audio.encode_wav(np.array([[2.0], [-3.0], [0.5], [1.5 / 32768], [-1.5 / 32768]], "float32"), 100)
    assert np.frombuffer(data[44:], "<i2").tolist() == [32767, -32768, 16384, 2, -2]


def test_desired_channels_and_samples():
    a = np.stack([np.arange(5), -np.arange(5)], 1).astype("float32") / 8
    data = tf.audio.encode_wav(a, 50)
    x, _ = tf.audio.decode_wav(data, 1, 8)   # first channel, zero-padded to 8 samples
    np.testing.assert_array_equal(x.numpy()[:, 0], np.r_[a[:, 0], np.zeros(3)])
    x, _ = tf.audio.decode_wav(data, desired_channels=3, desired_samples=2)   # extra channels repeat the last
    np.testing.assert_array_equal(x.numpy(), a[:2][:, [0, 1, 1]])
    mono = tf.audio.encode_wav(a[:, :1], 50)
    x, _ = tf.audio.decode_wav(mono, desired_channels=2)
    np.testing.assert_array_equal(x.numpy(), a[:, [0, 0]])


def test_reads_files_of_pythons_wave_module_and_skips_other_chunks():
    pcm = np.array([0, 1000, -1000, 32767], "<i2").tobytes()
    data = _wav(pcm, rate=22050)
    x, rate = tf.audio.decode_wav(data)
    np.testing.assert_array_equal(x.numpy()[:, 0], np.array([0, 1000, -1000, 32767]) / 32768)
    assert int(rate) == 22050
    # a LIST chunk (odd length, padded) between fmt and data is skipped
    fmt_end = 12 + 8 + 16
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    patched = data[:fmt_end] + extra + data[fmt_end:]
    patched = patched[:4] + struct.pack("<I", len(patched) - 8) + patched[8:]
    np.testing.assert_array_equal(tf.audio.decode_wav(patched)[0].numpy(), x.numpy())


def test_decode_wav_in_a_dataset_map(tmp_path):
    paths = []
    for k in range(3):
        p = str(tmp_path / f"{k}.wav")
        tf.io.write_file(p, tf.audio.encode_wav(np.full((4, 1), k / 4, "float32"), 16))
        paths.append(p)
    ds = tf.data.Dataset.from_tensor_slices(paths).map(lambda p: tf.audio.decode_wav(tf.io.read_file(p), 1, 4)[0])
    got = np.stack([np.asarray(x) for x in ds])
    np.testing.assert_array_equal(got[:, 0, 0], [0, 0.25, 0.5])


@pytest.mark.parametrize("data, match", [
    (b"xxxx", "too short"),
    (b"RIFX" + b"\0" * 40, "expected RIFF"),
    (_wav(bytes([0, 128, 255]), width=1), "16-bit"),
    (_wav(np.zeros(2, "<i4").tobytes(), width=4), "16-bit"),
    (_wav(np.zeros(4, "<i2").tobytes())[:-20], "truncated"),
])
def test_malformed_files_are_refused_by_name(data, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"decode_wav.*{match}"):
        tf.audio.decode_wav(data)


def test_encode_wav_checks_its_arguments():
    with pytest.raises(tf.errors.InvalidArgumentError, match="encode_wav: audio must be 2-dimensional"):
        tf.audio.encode_wav(np.zeros(3, "float32"), 100)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sample_rate"):
        tf.audio.encode_wav(np.zeros((3, 1), "float32"), -5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="desired_channels"):
        tf.audio.decode_wav(tf.audio.encode_wav(np.zeros((3, 1), "float32"), 100), desired_channels=0)
