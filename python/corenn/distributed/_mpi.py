"""The MPI process group: lazy mpi4py import, init, ranks, the failure policy, timed waits.

Nothing here runs at ``import corenn``: mpi4py (and the MPI library under it) is imported by the
first call that needs it, so a machine without MPI never loads it.

Failure policy (README "Training on several processes"): a rank whose Python code raises prints
its traceback and calls ``MPI.COMM_WORLD.Abort(1)`` from ``sys.excepthook``, which makes mpiexec
kill every rank; a rank killed by a signal is torn down by mpiexec (Open MPI and Slurm both end
the job when one process dies). As a last line, every wait on a collective this package starts
polls with a deadline (``CORENN_DISTRIBUTED_TIMEOUT`` seconds, default 300): a peer that neither
answers nor dies makes the waiting rank print which collective timed out and abort the job.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

_state = {"comm": None, "local_size": None, "local_rank": None}
DEFAULT_TIMEOUT_S = 300.0


def mpi():
    """The mpi4py.MPI module, or ImportError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "corenn.distributed needs mpi4py and an MPI library: pip install 'corenn[distributed]' "
            "(or, for a cluster's own MPI, MPICC=mpicc pip install --no-binary mpi4py mpi4py)") from exc
    return MPI


def init():
    """Join the MPI job (idempotent): import mpi4py, install the abort-on-exception hook when there
    is more than one rank, and divide the machine's cores between the ranks sharing it."""
    if _state["comm"] is not None:
        return
    MPI = mpi()
    comm = MPI.COMM_WORLD
    local_size, local_rank = _local_group(MPI, comm)
    _state.update(comm=comm, local_size=local_size, local_rank=local_rank)
    if comm.Get_size() > 1:
        _install_abort_hook(comm)
    _default_threads(local_size)


def comm():
    init()
    return _state["comm"]


def rank():
    return comm().Get_rank()


def size():
    return comm().Get_size()


def local_rank():
    init()
    return _state["local_rank"]


def local_size():
    init()
    return _state["local_size"]


def _local_group(MPI, world):
    """(size, rank) among the ranks on this machine: MPI-3's shared-memory split, else the
    launcher's environment (Open MPI, Slurm), else (1, 0)."""
    try:
        node = world.Split_type(MPI.COMM_TYPE_SHARED)
        try:
            return node.Get_size(), node.Get_rank()
        finally:
            node.Free()
    except (AttributeError, NotImplementedError, MPI.Exception):
        pass
    for size_var, rank_var in (("OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
                               ("SLURM_NTASKS_PER_NODE", "SLURM_LOCALID"),
                               ("MPI_LOCALNRANKS", "MPI_LOCALRANKID")):
        if os.environ.get(size_var, "").isdigit():
            return int(os.environ[size_var]), int(os.environ.get(rank_var, "0") or 0)
    return 1, 0


def threads_per_rank(local_size, affinity, cpu_count):
    """The default thread count of one rank: the cores it may run on, divided by the ranks on
    the machine when the launcher did not bind it (its affinity is the whole machine)."""
    if affinity < cpu_count:   # bound by mpirun / srun to its own cores already
        return max(1, affinity)
    return max(1, affinity // max(1, local_size))


def _default_threads(local_size):
    if os.environ.get("CORENN_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        return   # the user chose
    from .. import kernels
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 1
    kernels.set_num_threads(threads_per_rank(local_size, affinity, os.cpu_count() or affinity))


def _install_abort_hook(world):
    previous = sys.excepthook
    rank = world.Get_rank()

    def abort_job(kind, value, tb):
        sys.stderr.write(f"corenn.distributed: rank {rank} raised {kind.__name__}; aborting the MPI job\n")
        previous(kind, value, tb)
        sys.stderr.flush()
        sys.stdout.flush()
        world.Abort(1)
    sys.excepthook = abort_job


def timeout_s():
    value = os.environ.get("CORENN_DISTRIBUTED_TIMEOUT")
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"CORENN_DISTRIBUTED_TIMEOUT must be a number of seconds, got {value!r}") from None


def wait(requests, what):
    """Wait for the MPI ``requests`` (a list), polling so that a peer that never answers ends the
    job after the timeout instead of hanging it. Polling also drives Open MPI's progress of the
    non-blocking collectives."""
    MPI = mpi()
    if not requests or MPI.Request.Testall(requests):
        return
    start = time.monotonic()
    deadline = start + timeout_s()
    while not MPI.Request.Testall(requests):
        now = time.monotonic()
        if now > deadline:
            world = comm()
            sys.stderr.write(f"corenn.distributed: rank {world.Get_rank()} waited {now - start:.0f} s for "
                             f"{what}; a peer rank is gone or stuck (CORENN_DISTRIBUTED_TIMEOUT); "
                             "aborting the MPI job\n")
            sys.stderr.flush()
            world.Abort(1)
        # yield the core: on a shared machine the peer we wait for may need it
        time.sleep(0 if now - start < 1e-3 else 5e-5)


def allgather_json(value, what):
    """[value of rank 0, value of rank 1, ...] for a JSON-able ``value`` (small: shapes, names).
    Sent as UTF-8 JSON bytes, so nothing a peer sends is ever unpickled."""
    MPI = mpi()
    world = comm()
    data = np.frombuffer(json.dumps(value).encode(), np.uint8)
    sizes = np.empty(world.Get_size(), np.int64)
    wait([world.Iallgather(np.array([data.size], np.int64), sizes)], what)
    out = np.empty(int(sizes.sum()), np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    wait([world.Iallgatherv(data, [out, sizes, displs, MPI.UNSIGNED_CHAR])], what)
    return [json.loads(out[lo:lo + n].tobytes().decode()) for lo, n in zip(displs, sizes)]
