"""The cyclic garbage collector paused while a run is built, stored and answered."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a run builds, stores and answers its results.

    A national run makes about 100,000 small acyclic dicts and lists (one per leaf per zone);
    with the collector on, its full passes walk all of them again and again, about a third of
    the run's computing time. Reference counting frees them as usual; the collector resumes
    when the last overlapping pause ends (and only if it was on to begin with).
    """
    global _gc_pauses, _gc_was_enabled
    if _gc_pauses == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()
