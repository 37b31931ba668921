"""A training curve as CSV (``step``, ``loss`` and every other logged value), the data of ``dvc plots``.

The file survives an interrupted run (the train stage declares it ``persist``): rows at or after the first step
logged again are replaced, so a resumed run continues the curve and a restarted one (changed schedule) rewrites it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from denoisebench.fsutil import write_text_atomic

#: Columns every curve file has, first; other logged values follow in name order.
FIRST_COLUMNS = ("step", "loss")


def read_step_csv(path: Path) -> dict[int, dict[str, float]]:
    """``step -> {column: value}`` of a step table written by :func:`write_step_csv` ({} when absent)."""
    if not path.is_file():
        return {}
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return {int(row["step"]): {k: float(v) for k, v in row.items() if k != "step" and v} for row in rows}


def write_step_csv(path: Path, rows: dict[int, dict[str, float]], columns: list[str]) -> None:
    """Write ``step`` and ``columns`` (``%.6g``, empty when missing), one line per step in order, atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["step", *columns])
    for step in sorted(rows):
        writer.writerow([step, *[("%.6g" % rows[step][c]) if c in rows[step] else "" for c in columns]])
    write_text_atomic(path, buf.getvalue())


class CurveLog:
    """Trainer callback (``(step, logs)``) that records each log step's averaged values in ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = read_step_csv(self.path)
        self._fresh = True

    def __call__(self, step: int, logs: dict[str, float]) -> None:
        """Record the logs of ``step`` (steps without logs are ignored) and rewrite the file."""
        if not logs:
            return
        if self._fresh:  # first step of this run: drop what a previous run logged from here on
            self.rows = {s: r for s, r in self.rows.items() if s < step}
            self._fresh = False
        self.rows[step] = {k: float(v) for k, v in logs.items()}
        self.write()

    def write(self) -> Path:
        """Write the CSV (header only when nothing was logged) and return its path."""
        others = sorted({k for row in self.rows.values() for k in row} - set(FIRST_COLUMNS))
        write_step_csv(self.path, self.rows, [*FIRST_COLUMNS[1:], *others])
        return self.path
