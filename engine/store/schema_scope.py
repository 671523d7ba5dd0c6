"""Indexes built on one database only.

The schema is one for both databases, except an index whose only readers are one database's plans
(a partial index SQLite's planner never picks for a bound state): the model marks it with `only_on`,
the migration creates it there, and the comparison of the migrated schema with the models (and
Alembic's autogenerate) leaves it out on the other database (`include_object`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Index


def only_on(dialect: str, index: Index) -> Index:
    index.info["only_on"] = dialect
    return index.ddl_if(dialect=dialect)


def include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` for a database of this dialect: an index marked for another is not its."""
    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (type_ == "index" and not reflected and obj.info.get("only_on", dialect) != dialect)
    return include
