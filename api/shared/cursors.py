"""Opaque keyset cursors over a table's increasing integer id (the list endpoints backed by the store).

The client sees base64 of `<prefix><id>`; the prefix tells one list's cursors from another's, so a
cursor of one list given to another is a 422 rather than a silent jump.
"""

from api.orders.search import decode_cursor, encode_cursor
from api.shared.problems import validation_problem


class IdCursor:
    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix

    def encode(self, last_id: int) -> str:
        return encode_cursor(self.prefix + str(last_id).encode()) or ""

    def after_id(self, cursor: str | None) -> int | None:
        """The id to continue after; None for the first page; a 422 problem for a foreign cursor."""
        raw = decode_cursor(cursor)
        if raw is None:
            return None
        number = raw.removeprefix(self.prefix)
        if raw == number or not number.isdigit():
            raise validation_problem([{"loc": ("query", "cursor"), "msg": "not a cursor returned by this API"}])
        return int(number)
