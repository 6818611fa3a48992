"""Keep freed heap memory inside the process, so per-frame tensors do not page-fault on CPU.

PyTorch's CPU allocator is plain ``malloc``. With glibc's defaults a tracker frame frees tens of
megabytes at the top of the heap (returned to the OS: "trimmed") or in chunks above the
(dynamic, 128 KiB .. 32 MiB) mmap threshold (unmapped), so the next frame maps them again and
touches every page: measured ~3,600 minor page faults (15 MB) per HCTrack frame, ~13 ms per frame
on the 2-vCPU KVM development machine (~4 % of the frame). Raising glibc's mmap and trim
thresholds once per process makes the same pages be reused frame after frame (0 faults/frame).

Cost: the process keeps up to `trim_threshold` bytes of freed memory instead of returning it.
Only glibc (Linux) is touched; elsewhere this is a no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1          # glibc mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
_applied: bool | None = None


def retain_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD`` (once per process; later calls are no-ops).

    Args:
        mmap_threshold: allocations up to this many bytes come from the heap (glibc max: 32 MiB).
        trim_threshold: free memory at the heap top kept before it is returned to the OS.
    Returns:
        True when the thresholds are in effect (now or from an earlier call), False where this
        is not glibc.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or no libc found: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _applied = bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
    return _applied
