"""The fuzz suite under pytest: every public op and Tensor entry, valid and invalid calls, in
child processes (a crash is a reported BAD call, not a dead pytest). See tests/fuzz/harness.py.

Fast tier (default): CORENN_FUZZ_CALLS calls (default 6000), seed CORENN_FUZZ_SEED (default 1).
Full tier: CORENN_FUZZ_CALLS=50000 python -m pytest tests/fuzz, or python -m tests.fuzz.run.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corenn import kernels

from . import harness
from .specs import SPECS, public_ops

# A failing hypothesis example makes its pytest plugin touch mypy_extensions.TypedDict, whose
# DeprecationWarning would turn the report into an INTERNALERROR under filterwarnings=error.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST_CALLS = int(os.environ.get("CORENN_FUZZ_CALLS", "6000"))
SEED = int(os.environ.get("CORENN_FUZZ_SEED", "1"))


def test_every_public_op_and_tensor_entry_has_a_spec():
    missing = [n for n in public_ops() if n not in SPECS]
    assert not missing, f"add a builder in tests/fuzz/specs.py for: {missing}"
    for entry in ("empty/zeros", "from_numpy", "from_dlpack", "reshape", "fill_", "to", "numpy"):
        assert f"Tensor.{entry}" in SPECS


@pytest.fixture(scope="module")
def worker():
    w = harness.Worker()
    yield w
    w.stop()


def test_fuzz_fast_tier_has_no_bad_calls(worker):
    keys = harness.keys_for(FAST_CALLS, SEED, sorted(SPECS))
    results = worker.run(keys)
    harness.confirm_crashes(results)
    counts, _ = harness.summarize(results)
    report = harness.format_report(results)
    print(report)
    assert counts["ok"] > FAST_CALLS // 10, report  # the generator still makes valid calls
    assert counts["bad"] == 0, report


@settings(max_examples=int(os.environ.get("CORENN_FUZZ_HYPOTHESIS", "150")), deadline=None,
          derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(op=st.sampled_from(sorted(SPECS)), seed=st.integers(0, 2**32 - 1),
       mutate=st.booleans(), data=st.data())
def test_fuzz_hypothesis(worker, op, seed, mutate, data):
    """Hypothesis picks the op, the argument and the mutation (and shrinks a failure to the
    simplest one); the call runs in the shared child."""
    key = f"{op}:{seed}"
    if mutate:
        from .worker_meta import mutable_params  # imported lazily: builds a Call in-process
        params = mutable_params(op, seed)
        if params:
            param, kinds = data.draw(st.sampled_from(params))
            kind = data.draw(st.sampled_from(kinds))
            key = f"{op}:{seed}:{param}:{kind}"
    res = worker.run([key])
    harness.confirm_crashes(res)
    assert harness.verdict(res[0]) != "bad", harness.format_report(res)


def test_nan_propagates_through_every_elementwise_activation():
    """Direct check, independent of the random generator: f(NaN) is NaN for every activation."""
    x = np.array([[np.nan, 1.0, -1.0], [0.5, np.nan, 2.0]], np.float32)
    wrong = {}
    for kind in kernels.ACTIVATIONS:
        y = kernels.activation_forward(kind, x).numpy()
        rows = [0, 1] if kind in ("softmax", "log_softmax") else None
        want = np.isnan(x) if rows is None else np.ones_like(x, bool)
        if not np.isnan(y[want]).all():
            wrong[kind] = y.tolist()
    assert not wrong, f"NaN swallowed: {wrong}"
