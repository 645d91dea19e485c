"""Progress for people: the phases of a long step, timed."""

import contextlib
import time


@contextlib.contextmanager
def phase(text, verbose=1, indent=""):
    """Prints `indent + text ...`, then on the same line the seconds the
    block took: progress for a step that shows none of its own (a compiled
    loop, a dataset load). With `verbose` 0 it prints nothing."""
    if not verbose:
        yield
        return
    print(f"{indent}{text} ...", end="", flush=True)
    start = time.perf_counter()
    try:
        yield
    finally:
        print(f" {time.perf_counter() - start:.1f} s", flush=True)
