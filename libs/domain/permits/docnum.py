"""Document numbers of the bureau's decisions (文号), e.g. ``张经审〔2026〕17号``.

Each bureau numbers its decisions in one gap-free sequence per year: the caller takes the next
number inside the transaction that issues the decision, so a rolled-back decision leaves no gap.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{1,20}$")


def valid_prefix(prefix: str) -> bool:
    """True if ``prefix`` can open a document number (1-20 CJK characters, letters or digits)."""
    return bool(_PREFIX.match(prefix))


def document_number(prefix: str, year: int, sequence: int) -> str:
    """Render ``prefix〔year〕sequence号``; raise ``ValueError`` on a bad prefix, year or sequence."""
    if not valid_prefix(prefix):
        raise ValueError(f"not a document prefix: {prefix!r}")
    if not 1900 <= year <= 2999:
        raise ValueError(f"year out of range: {year}")
    if sequence < 1:
        raise ValueError("sequence numbers start at 1")
    return f"{prefix}〔{year}〕{sequence}号"
