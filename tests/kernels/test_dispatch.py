"""The per-op dispatch table (csrc/core/dispatch.h): every op has a reference kernel, the CPU slot
follows the active ISA with its fallbacks, CORENN_ISA picks the ISA at import, and the op entries
and the GEMM driver name no instruction set and no CUDA build flag."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import corenn
from corenn import _C

from conftest import ISAS
from reference import activation as ref_activation

ROOT = Path(__file__).resolve().parents[2]
SLOTS = ("cpu_ref", "avx2", "avx512", "cuda")

# Ops whose entries dispatch through a stub, and the inner per-ISA kernel sets: a rename or a
# dropped registration (a kernel file that no longer links) shows up here.
EXPECTED_OPS = {
    "activation_forward", "activation_backward", "gemm", "loss_forward", "bias_grad",
    "dropout_forward", "dropout_backward", "embedding_forward", "embedding_backward",
    "zero_pad2d_forward", "zero_pad2d_backward", "regularizer", "sparse_categorical_hits",
    "categorical_hits", "binary_hits", "batch_norm_forward_train", "batch_norm_forward_infer",
    "batch_norm_backward", "sgd_update", "adam_update", "rmsprop_update", "adagrad_update",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d_forward", "global_avg_pool2d_backward", "global_max_pool2d_forward",
    "global_max_pool2d_backward", "conv2d_forward", "conv2d_backward_data",
    "conv2d_backward_weights", "conv2d_relu_max_pool2d_forward",
    "conv2d_relu_max_pool2d_backward_weights", "conv2d_transpose_forward",
    "conv2d_transpose_backward_data", "conv2d_transpose_backward_weights",
    # inner kernel sets chosen per ISA
    "gemm.packed_kernel", "gemm.sgemm_kernel", "max_pool2d.cells", "batch_norm.loops",
    "masked_softmax.rows", "rnn.default_cells", "depthwise_conv2d.rows", "conv2d.kernels",
    "avg_pool2d.cells", "layer_norm.rows", "loss.rows",
    # the ops that were CPU-only entries before they got stubs
    "unary_forward", "unary_backward", "binary_forward", "binary_backward", "reduce_forward",
    "reduce_backward", "sum_n", "scale", "concat", "split", "batched_matmul", "transpose",
    "layer_norm_forward", "layer_norm_backward", "group_norm_forward", "group_norm_backward",
    "prelu_forward", "prelu_backward", "depthwise_conv2d_forward",
    "depthwise_conv2d_backward_data", "depthwise_conv2d_backward_weights", "resize2d_forward",
    "resize2d_backward", "image_transform_forward", "image_transform_backward",
    "upsample2d_forward", "upsample2d_backward", "repeat_vector_forward",
    "repeat_vector_backward", "unit_norm_forward", "unit_norm_backward",
    "gaussian_noise_forward", "gaussian_dropout_forward", "alpha_dropout_forward",
    "spatial_dropout_forward", "spatial_dropout_backward", "masked_softmax_forward",
    "masked_softmax_backward", "additive_attention_scores_forward",
    "additive_attention_scores_backward", "rnn_forward", "rnn_backward", "lstm_cell_forward",
    "lstm_cell_backward", "top_k_hits",
    "confusion_counts", "ctc_loss",
}
# Ops with a vector kernel of their own on x86-64 builds (the slot must be filled there).
X86_AVX2 = {"activation_forward", "activation_backward", "dropout_forward", "sgd_update",
            "adam_update", "gemm.packed_kernel", "gemm.sgemm_kernel", "max_pool2d.cells",
            "batch_norm.loops", "masked_softmax.rows", "rnn.default_cells",
            "depthwise_conv2d.rows", "conv2d.kernels", "layer_norm.rows"}
X86_AVX512 = {"gemm.sgemm_kernel", "gemm.packed_kernel", "conv2d.kernels", "batch_norm.loops",
              "sgd_update", "adam_update", "rmsprop_update", "adagrad_update",
              "activation_forward", "activation_backward", "max_pool2d.cells", "avg_pool2d.cells",
              "rnn.default_cells", "masked_softmax.rows", "depthwise_conv2d.rows",
              "dropout_forward", "dropout_backward", "layer_norm.rows", "loss.rows"}


@pytest.fixture
def table():
    return _C.dispatch_table()


def test_every_op_has_a_reference_kernel(table):
    missing = sorted(EXPECTED_OPS - set(table))
    assert not missing, f"ops missing from the dispatch table: {missing}"
    for op, row in table.items():
        assert set(SLOTS) <= set(row), op
        assert row["cpu_ref"], f"{op} has no cpu_ref kernel: {row}"


def test_x86_builds_register_their_vector_kernels(table):
    if "avx2" not in _C.isas_built:
        pytest.skip("this build has no x86 kernels")  # the aarch64 build runs cpu_ref only
    for op in X86_AVX2:
        assert table[op]["avx2"], op
    for op in X86_AVX512:
        assert table[op]["avx512"], op


def test_cuda_slot_follows_the_build(table):
    cuda_ops = [op for op, row in table.items() if row["cuda"]]
    if getattr(_C, "cuda_built", False):
        assert {"gemm", "conv2d_forward", "adam_update", "loss_forward"} <= set(cuda_ops)
    else:
        assert cuda_ops == []


@pytest.mark.parametrize("isa", ISAS)
def test_chosen_slot_falls_back_to_the_next_lower_isa(isa):
    old = _C.get_isa()
    _C.set_isa(isa)
    try:
        table = _C.dispatch_table()
    finally:
        _C.set_isa(old)
    order = ["cpu_ref", "avx2", "avx512"]
    want = {"ref": 0, "avx2": 1, "avx512": 2}[isa]
    for op, row in table.items():
        expected = next(order[s] for s in range(want, -1, -1) if row[order[s]])
        assert row["chosen"] == expected, (op, row)
        if expected == order[want]:
            assert row["reason"] == f"the active ISA is {isa}", (op, row)
        elif not row["avx2"] and not row["avx512"]:
            assert row["reason"].startswith("the one CPU kernel"), (op, row)
        else:
            assert row["reason"].startswith("no ") and "kernel registered" in row["reason"], row


def test_kernels_agree_on_every_isa(rng):
    """One op with a kernel per ISA, run under each: all match the float64 reference."""
    x = rng.standard_normal((33, 70)).astype(np.float32)
    a = rng.standard_normal((37, 53)).astype(np.float32)
    b = rng.standard_normal((53, 45)).astype(np.float32)
    old = _C.get_isa()
    try:
        for isa in ISAS:
            _C.set_isa(isa)
            for kind in ("gelu", "softmax", "tanh"):
                y = np.empty_like(x)
                corenn.kernels.activation_forward(kind, x, y)
                np.testing.assert_allclose(y, ref_activation(kind, x.astype(np.float64)),
                                           rtol=1e-5, atol=1e-6, err_msg=f"{kind} on {isa}")
            c = np.empty((37, 45), np.float32)
            corenn.kernels.gemm(a, b, c)
            np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4,
                                       err_msg=f"gemm on {isa}")
    finally:
        _C.set_isa(old)


def _isa_in_subprocess(value):
    env = dict(os.environ)
    if value is None:
        env.pop("CORENN_ISA", None)
    else:
        env["CORENN_ISA"] = value
    # the last word: whether every op with an AVX2 kernel and no AVX-512 one runs its AVX2 kernel
    code = ("import corenn._C as C; t = C.dispatch_table(); "
            "low = all(r['chosen'] == 'avx2' for r in t.values() if r['avx2'] and not r['avx512']); "
            "print(C.get_isa(), t['gemm.sgemm_kernel']['chosen'], t['masked_softmax.rows']['chosen'],"
            " low)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split(), out.stderr


def test_corenn_isa_forces_the_isa_at_import():
    best = ISAS[-1]
    words, err = _isa_in_subprocess(None)
    assert words[0] == best and "ignored" not in err
    words, err = _isa_in_subprocess("ref")
    assert words[:3] == ["ref", "cpu_ref", "cpu_ref"], (words, err)
    if "avx2" in ISAS:
        words, _ = _isa_in_subprocess("avx2")
        assert words == ["avx2", "avx2", "avx2", "True"]
    if "avx512" in ISAS:
        words, _ = _isa_in_subprocess("avx512")
        # and every op with an AVX2 kernel but no AVX-512 one runs the AVX2 kernel
        assert words == ["avx512", "avx512", "avx512", "True"]


def test_corenn_isa_that_cannot_run_falls_back_with_a_note():
    words, err = _isa_in_subprocess("sse9")
    assert words[0] == ISAS[-1]
    assert "CORENN_ISA=sse9 ignored" in err and "RuntimeWarning" in err
    if "avx512" not in ISAS:
        words, err = _isa_in_subprocess("avx512")
        assert words[0] == ISAS[-1] and "CORENN_ISA=avx512 ignored" in err


def test_show_config_prints_the_kernel_of_each_op(capsys):
    cfg = corenn.show_config()
    out = capsys.readouterr().out
    assert "kernels (op:" in out
    line = next(l for l in out.splitlines() if l.split() and l.split()[0] == "activation_forward")
    assert cfg["dispatch"]["activation_forward"]["chosen"] in line
    assert "cpu_ref" in line


def _sources(*patterns):
    files = [p for pattern in patterns for p in sorted(ROOT.glob(pattern))]
    assert files, f"no sources under {ROOT} for {patterns}"
    return files


def test_op_entries_and_gemm_driver_name_no_isa_and_no_cuda_flag():
    assert (ROOT / "csrc").is_dir(), "the source check runs from the repository checkout"
    bad = []
    for path in _sources("csrc/ops/*.cpp", "csrc/ops/*.h", "csrc/cpu/gemm/gemm.cpp"):
        text = path.read_text()
        for needle in ("Isa::", "CORENN_WITH_CUDA", "active_isa", "CORENN_X86_64"):
            if needle in text:
                bad.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not bad, bad


# Host-side checks an entry may call directly: they read CPU inputs to validate them or pick an
# option before the kernel runs (loss: whether the hinge labels are 0/1; max pooling: whether a
# given argmax names cells of its windows), and are not kernels.
HOST_HELPERS = {"all_zero_or_one", "max_pool2d_first_bad_argmax"}


def _code(path):
    return "\n".join(line.split("//")[0] for line in path.read_text().splitlines())


def test_every_op_entry_dispatches_through_a_stub(table):
    """Every op entry file in csrc/ops defines the stubs of its entries and calls no CPU kernel
    directly, so every op is in the table and a device without a kernel meets its one error."""
    # checks shared by the tensor-math entries, and by layer_norm / rms_norm: no op
    shared = {"tensor_math_common.cpp", "trailing_norm_common.cpp"}
    no_stub, direct = [], []
    for path in _sources("csrc/ops/*.cpp"):
        if path.name in shared:
            continue
        code = _code(path)
        if "CORENN_DEFINE_DISPATCH(" not in code:
            no_stub.append(path.name)
        for m in re.finditer(r"\bcpu::(\w+)\s*(?:<[^<>()]*>)?\s*\(", code):
            if m.group(1) not in HOST_HELPERS:
                direct.append(f"{path.name}: cpu::{m.group(1)}")
    assert not no_stub, f"op entries without a dispatch stub: {no_stub}"
    assert not direct, f"op entries calling a CPU kernel around the table: {direct}"
    # every stub defined anywhere is listed, under the name it was defined with, with cpu_ref
    defined = set()
    for path in _sources("csrc/**/*.cpp"):
        defined |= set(re.findall(r'CORENN_DEFINE_DISPATCH\([^;]*?"([\w.]+)"\)', _code(path), re.S))
    assert defined and defined <= set(table), sorted(defined - set(table))
    assert all(table[op]["cpu_ref"] for op in defined), [op for op in defined if not table[op]["cpu_ref"]]


def test_one_spelling_of_the_missing_device_error():
    """Only core/dispatch.cpp words the 'no kernel for device' error; everything else calls it."""
    spelled = []
    for path in _sources("csrc/**/*.cpp", "csrc/**/*.h", "csrc/**/*.cu"):
        code = "\n".join(line.split("//")[0] for line in path.read_text().splitlines())
        if re.search(r"no kernel for|has no kernel|not built with", code):
            spelled.append(str(path.relative_to(ROOT)))
    assert spelled == ["csrc/core/dispatch.cpp"], spelled


# Load-time code in a file compiled with -mavx2 / -mavx512* runs on every CPU (cpu/isa_kernels.h):
# such files may define constant tables only, never a registration or another dynamic initializer.
_DYNAMIC_INIT = re.compile(r"CORENN_REGISTER_KERNEL|CORENN_DEFINE_DISPATCH|^\s*(?:static\s+)?(?:const\s+)?"
                           r"(?:std::(?:vector|string|function|map|unordered_map|mutex)\b)[^;(]*\w+\s*(?:=|\{|\()",
                           re.M)


def test_isa_files_have_no_load_time_code():
    bad = []
    for path in _sources("csrc/cpu/**/*_avx2*.cpp", "csrc/cpu/**/*_avx512*.cpp"):
        code = _code(path)
        for m in _DYNAMIC_INIT.finditer(code):
            # a local inside a function body is not load-time code: only brace depth 0 (namespaces
            # do not count) is checked
            depth = 0
            for line in code[:m.start()].splitlines():
                s = line.strip()
                if s.startswith("namespace") or s.startswith("}  // namespace") or s == "}  // namespace":
                    continue
                depth += line.count("{") - line.count("}")
            if depth <= 0:
                bad.append(f"{path.relative_to(ROOT)}: {m.group(0).strip()[:60]}")
    assert not bad, f"load-time code in ISA files (see cpu/isa_kernels.h): {bad}"


def test_every_isa_table_is_installed():
    """cpu/isa_registry.cpp installs every table cpu/isa_kernels.h declares, in its own ISA's slot."""
    header = (ROOT / "csrc/cpu/isa_kernels.h").read_text()
    registry = _code(ROOT / "csrc/cpu/isa_registry.cpp")
    declared = set()
    for block in re.finditer(r"namespace corenn::cpu::(avx2|avx512) \{(.*?)\}  // namespace", header, re.S):
        for name in re.findall(r"extern const [\w:]+ (k\w+);", block.group(2)):
            declared.add((block.group(1), name))
    assert len(declared) >= 20
    installed = set(re.findall(r"install\(Slot::(avx2|avx512), &?(?:\1)::(k\w+)\)", registry))
    assert installed == declared, (declared - installed, installed - declared)
