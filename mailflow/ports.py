"""The small interfaces the services depend on, so another store could stand in."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, Protocol

Record = dict[str, Any]
# "now": the commit is on disk (fsynced) when it returns; "background": it is written
# (a killed process cannot lose it) and fsynced at once by a background thread
Sync = Literal["now", "background"]


class RecordStore(Protocol):
    """Named tables of JSON-able records keyed by ``record["id"]``.

    ``put`` outside a transaction commits at once; inside one, everything is
    committed atomically when the outermost transaction exits.
    """

    def get(self, table: str, record_id: str) -> Record | None: ...

    def all(self, table: str) -> Mapping[str, Record]: ...

    def put(self, table: str, record: Record) -> None: ...

    def delete(self, table: str, record_id: str) -> None: ...

    def transaction(self, *, sync: Sync = "now") -> AbstractContextManager[None]: ...

    def backup(self, destination: Path) -> None: ...

    def close(self) -> None: ...
