"""TensorFlow tutorials and keras.io examples, ported with only their imports changed (issue 13:
"a Keras script runs after changing only its imports"). Each program in this directory named
tutorial_*.py / example_*.py / keras_guide_*.py trains on small synthetic data and asserts its own result; this
test runs each one in a fresh working directory (they write checkpoints and model files)."""
import pathlib
import runpy

import pytest

HERE = pathlib.Path(__file__).parent
PROGRAMS = (sorted(p.name for p in HERE.glob("tutorial_*.py")) + sorted(p.name for p in HERE.glob("example_*.py"))
            + sorted(p.name for p in HERE.glob("keras_guide_*.py")))   # guides written as one program


def test_every_program_is_collected():
    assert len(PROGRAMS) >= 14


# programs that write or read image files need Pillow, corenn's optional image reader (the
# 'plot' extra), as tests/data/test_tf_data_utils.py's image test does
NEEDS_PILLOW = {"example_image_classification_from_scratch.py", "example_dcgan.py", "tutorial_tfrecord.py",
                "example_aodnet_dehazing.py", "example_iic_clustering.py",
                "example_basnet_segmentation.py", "example_creating_tfrecords.py",
                "example_tfrecord_melanoma.py", "example_xray_pneumonia_classification.py"}
# programs that export ONNX and serve it with onnxruntime (the optional onnx extra)
NEEDS_ONNX = {"keras_guide_export_onnx_serving.py"}


# Keras 3 warns as well when steps_per_epoch cuts an epoch short at the end of a pass over arrays
# (the callbacks guide's steps_per_epoch=5 over 16 batches: "Your input ran out of data")
@pytest.mark.filterwarnings("ignore:.*steps_per_epoch=.* does not divide the .* batches of a pass:UserWarning")
# corenn's documented one-time warning that a mixed_float16 / bfloat16 policy computes in float32
# (the FCN example sets the policy as its page does)
@pytest.mark.filterwarnings("ignore:dtype policy .* corenn computes in float32:UserWarning")
@pytest.mark.parametrize("name", PROGRAMS)
def test_program(name, tmp_path, monkeypatch, capsys):
    if name in NEEDS_PILLOW:
        pytest.importorskip("PIL.Image", reason="Pillow (with matplotlib, the 'plot' extra) reads image files")
    if name in NEEDS_ONNX:
        pytest.importorskip("onnx", reason="model.export(format='onnx') needs the onnx package")
        pytest.importorskip("onnxruntime", reason="the program serves the exported model with onnxruntime")
    from corenn import _tensor_numpy
    from corenn.keras import backend
    # tnp.experimental_enable_numpy_behavior() is process-wide: undo it after the program
    monkeypatch.setitem(_tensor_numpy.NUMPY_BEHAVIOR, "enabled", False)
    # so is keras.config.set_image_data_format (the SSVEPFormer program sets channels_first)
    monkeypatch.setattr(backend, "_IMAGE_DATA_FORMAT", ["channels_last"])
    # and so are keras.config.set_floatx and the global dtype policy
    from corenn import mixed_precision
    monkeypatch.setattr(mixed_precision, "_FLOATX", ["float32"])
    monkeypatch.setattr(mixed_precision, "_GLOBAL", [None])
    # and so are tf.config's Grappler options and device settings (the Grappler and GPU guides)
    from corenn import config
    monkeypatch.setattr(config.optimizer, "_options", dict(config.optimizer._options))
    monkeypatch.setattr(config, "_SOFT_PLACEMENT", list(config._SOFT_PLACEMENT))
    monkeypatch.setattr(config, "_VISIBLE", list(config._VISIBLE))
    monkeypatch.chdir(tmp_path)
    # a program's stand-in for its dataset may replace glob.glob (the vocal-separation example
    # does); put it back afterwards, or tf.io.gfile.glob of later programs finds nothing
    import glob
    monkeypatch.setattr(glob, "glob", glob.glob)
    # tempfile.mkdtemp() (the migration guides' checkpoint directories) inside this test's
    # directory, so runs leave nothing behind in the system's temp directory
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.syspath_prepend(str(HERE))   # the programs' shared synthetic data (_text_data)
    # as in a fresh process: default names unnumbered (a program's second AUC() is 'auc_1' in
    # Keras 3, its first 'auc' whatever ran before it in this pytest process)
    from corenn import keras
    keras.backend.clear_session()
    runpy.run_path(str(HERE / name), run_name="__main__")
