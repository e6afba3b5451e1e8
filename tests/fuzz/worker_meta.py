"""What hypothesis may mutate for a given (op, seed): parameter names and mutation kinds.
Builds the valid call in-process but never makes it."""
import numpy as np

from .specs import SPECS

ARRAY_KINDS = ["dtype", "rank_up", "rank_down", "shape", "zero", "noncontig", "readonly",
               "nonfinite", "none", "list", "scalar", "huge_zero_size", "nan_only"]
LIST_KINDS = ["elem", "drop", "alias", "none", "array", "tuple"]


def mutable_params(op, seed):
    call = SPECS[op](np.random.default_rng(seed))
    out = []
    for name in call.kw:
        role = call.roles.get(name, "param")
        if role == "fixed" or name == "op":  # what the harness probes, not user input (worker._params)
            continue
        if role in ("in", "out", "target", "any"):
            out.append((name, ARRAY_KINDS))
        elif role == "index":
            out.append((name, ARRAY_KINDS + ["bad_index"]))
        elif role in ("list_in", "list_out"):
            out.append((name, LIST_KINDS))
        else:
            out.append((name, [""]))  # a scalar mutation drawn from the case seed
    return out
