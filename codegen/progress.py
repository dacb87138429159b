"""Progress bars of the long runs (cosim, bench, the fuzzer, generate and doc of many
specs): tqdm on standard error, with the count, the rate and the time left.

A bar is drawn only when standard error is a terminal and the run is not `--quiet`;
otherwise nothing at all is written (no bar, no per-tenth lines): a log or a pipe gets
the results and the diagnostics only. Messages printed while a bar is shown go through
`write()`, which clears the bar, prints the message and draws the bar again.
"""
from __future__ import annotations

import sys

from tqdm import tqdm

# count, rate (never inverted into seconds per step) and time left:
# "spec:  42%|████▏     | 420/1000 [00:03<00:04, 131.52 walks/s]"
BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"


def _terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """A bar of `total` steps named `desc`, counting `unit`s (walks, events, inputs...).

    Call it as `progress(done, total)` (the callback of cosim.run and fuzz.fuzz), or
    `progress.advance()` for one step; use it as a context manager, or close() it, to
    take the bar off the terminal at the end."""

    def __init__(self, total: int, desc: str, unit: str = "it", quiet: bool = False, stream=None):
        stream = stream or sys.stderr
        self.bar = None
        if not quiet and _terminal(stream):
            self.bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=stream, leave=False,
                            dynamic_ncols=True, smoothing=0.1, bar_format=BAR)

    def __call__(self, done: int, total: int | None = None) -> None:
        if self.bar is None:
            return
        if total is not None and total != self.bar.total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def advance(self, steps: int = 1, desc: str | None = None) -> None:
        if self.bar is None:
            return
        if desc is not None:
            self.bar.set_description_str(desc, refresh=False)
        self.bar.update(steps)

    def describe(self, desc: str) -> None:
        """Rename the bar (the step under way)."""
        if self.bar is not None:
            self.bar.set_description_str(desc)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write(text: str, stream=None) -> None:
    """Print `text` (and a newline) to standard error without tearing a bar that is
    shown: the bar is cleared first and drawn again after."""
    tqdm.write(text, file=stream or sys.stderr)
