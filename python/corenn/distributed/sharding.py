"""Which samples each rank trains on: pure functions, no MPI (unit-tested on their own).

An epoch's order (a permutation of the n samples, the same on every rank) is cut into global
batches of ``batch_size`` as in a single process; each global batch is split into ``size``
contiguous shards whose sizes differ by at most one (the first ``len % size`` ranks take one
more). So the ranks together see every sample of the epoch exactly once, each global step is
the single-process step's batch, and a rank's weight in the step is its shard's share of it.
A final global batch smaller than ``size`` cannot give every rank a sample and is dropped (a
warning says so): every rank must take part in every step's reduction.
"""
from __future__ import annotations


def shard_range(n, size, rank):
    """[lo, hi) of rank ``rank``'s contiguous share of ``n`` items split over ``size`` ranks."""
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"shard_range: need 0 <= rank < size, got rank={rank}, size={size}")
    if n < 0:
        raise ValueError(f"shard_range: n must be >= 0, got {n}")
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def global_batch_shards(n, batch_size, size, rank, steps=None, first=0):
    """This rank's [lo, hi) positions in the epoch order for each global step from ``first``,
    with the global batch's size: [(lo, hi, global_size)]. ``steps`` caps the steps
    (steps_per_epoch)."""
    if batch_size < size:
        raise ValueError(f"DataParallel: the global batch_size ({batch_size}) must be at least the number "
                         f"of ranks ({size}); batch_size is the global batch, split over the ranks")
    n_steps = -(-n // batch_size)
    if steps is not None:
        n_steps = min(n_steps, first + steps)
    out = []
    for step in range(first, n_steps):
        g_lo, g_hi = step * batch_size, min(n, (step + 1) * batch_size)
        if g_hi - g_lo < size:
            break
        lo, hi = shard_range(g_hi - g_lo, size, rank)
        out.append((g_lo + lo, g_lo + hi, g_hi - g_lo))
    return out
