"""corenn.cuda: the CUDA device runtime.

Importable on every build. Without the CUDA backend, or on a machine without an NVIDIA driver or
GPU, ``is_available()`` is False and ``device_count()`` is 0; nothing here raises at import.

    >>> import corenn
    >>> if corenn.cuda.is_available():
    ...     t = corenn.Tensor.from_numpy(x).to("cuda")   # host -> device copy
    ...     back = t.numpy()                             # device -> host copy

Device memory comes from a caching allocator (no cudaMalloc per step once shapes repeat);
``memory_stats()`` reports it and ``empty_cache()`` returns cached blocks to the driver.
"""
from __future__ import annotations

from . import kernels

__all__ = ["is_available", "device_count", "is_built", "synchronize", "empty_cache",
           "memory_stats"]


def is_built() -> bool:
    """Whether corenn was compiled with the CUDA backend (``CORENN_CUDA=ON``)."""
    return kernels.cuda_built()


def is_available() -> bool:
    """True when corenn was built with CUDA and at least one CUDA device can be used."""
    return kernels.cuda_is_available()


def device_count() -> int:
    """Number of usable CUDA devices (0 without the backend, a driver or a GPU)."""
    return kernels.cuda_device_count()


def synchronize(device=0) -> None:
    """Wait until every kernel and copy queued on ``device`` (index or 'cuda:N') has finished."""
    kernels.cuda_synchronize(_index(device))


def empty_cache() -> None:
    """Return the allocator's cached (free) device blocks to the driver."""
    kernels.cuda_empty_cache()


def memory_stats(device=0) -> dict:
    """``allocated_bytes``, ``cached_bytes`` and ``device_mallocs`` of the caching allocator."""
    return kernels.cuda_memory_stats(_index(device))


def _index(device) -> int:
    if isinstance(device, int):
        return device
    name = kernels.parse_device(device)
    if not name.startswith("cuda:"):
        raise ValueError(f"expected a CUDA device, got '{device}'")
    return int(name[5:])
