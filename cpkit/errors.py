"""Exceptions raised by cpkit.

Every error a user can cause carries a message that says what is wrong and where, in
words an auditor understands. Library code raises these, never bare ``ValueError`` with a
bare number, and never lets a NaN stand in for an answer.
"""

from __future__ import annotations

from dataclasses import dataclass


class CpkitError(Exception):
    """Base class of every error cpkit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a dataset, located as precisely as the input allows.

    ``row`` is the row number a person sees: the CSV line number (header is line 1) or
    the Excel row number. ``sheet`` is the table name (CSV file stem or workbook sheet).
    """

    file: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class DatasetError(CpkitError):
    """A dataset could not be loaded because it has problems (see ``.problems``)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:20]]
        more = len(self.problems) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more problems")
        super().__init__("invalid dataset:\n" + "\n".join(lines))


class ReferenceDataError(CpkitError):
    """A reference table under data/reference is missing or malformed."""


class BalanceError(CpkitError):
    """A balance cannot be built, solved or reconciled (e.g. an undeterminable network)."""


class FinanceError(CpkitError):
    """A financial evaluation cannot be carried out with the given inputs."""


class GradingError(CpkitError):
    """An indicator system or indicator values are inconsistent."""
