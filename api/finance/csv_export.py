"""CSV for finance exports: content negotiation, safe cells, streamed rows.

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a leading
apostrophe: error messages and references come from vendors and clients, and finance opens these
files in Excel. Numbers stay numbers. Times are written in UTC as YYYY-MM-DD HH:MM:SS (whole seconds),
which LibreOffice and Excel import as dates; ISO 8601 with a T and an offset imports as text.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""Always UTC: name the column so (created_at_utc)."""


def prefers_csv(accept: str | None) -> bool:
    """True when the Accept header ranks text/csv at least as high as application/json."""
    if not accept:
        return False
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    csv_q = quality.get("text/csv", 0.0)
    return csv_q > 0 and csv_q >= quality.get("application/json", 0.0)


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(CSV_TIME_FORMAT)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_chunks(
    columns: Sequence[str], rows: Iterable[dict[str, Any]], *, rows_per_chunk: int = 500
) -> Iterator[str]:
    """The header, then the rows, a few hundred per chunk (one write per chunk, not per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    pending = 0
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
