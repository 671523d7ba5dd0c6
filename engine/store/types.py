"""Column types: aware UTC datetimes over naive UTC columns, StrEnums over VARCHAR columns."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator

from engine.clock import naive_utc, naive_utc_iso


class UtcDateTime(TypeDecorator[datetime]):
    """Stored naive, in UTC (the schema's DATETIME / TIMESTAMP WITHOUT TIME ZONE); read back aware UTC.

    A naive datetime is refused: whether it meant UTC or China time cannot be told."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs an aware datetime, got {value!r}")
        return naive_utc(value)  # a step's moment is bound many times: read once (engine/clock.py)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        process_bind_param = self.process_bind_param

        # SQLite's DATETIME text in one C call (isoformat), the same text as SQLAlchemy's own "%(year)04d-..."
        # formatting of the naive value (tests/test_clock_and_types.py compares them): ~10 binds a step.
        def process(value: datetime | None) -> str | None:
            if isinstance(value, datetime) and value.tzinfo is not None:
                return naive_utc_iso(value, " ", "microseconds")
            return process_bind_param(value, dialect)  # None, or refused (naive, not a datetime)

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        theirs = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return theirs
        parse = datetime.fromisoformat

        # SQLite's DATETIME text read as UTC in one C call: SQLAlchemy parses it (fromisoformat) and then
        # process_result_value's `replace(tzinfo=UTC)` costs ~0.6 µs of the ~1.5; a moment parsed with its
        # offset written after it is the same aware moment, its tzinfo the same UTC (test_clock_and_types.py
        # compares them). Anything else (an offset already written, a date alone, not a text) is theirs.
        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if type(value) is str:
                try:
                    moment = parse(value + "+00:00")
                except ValueError:
                    return theirs(value)
                if moment.tzinfo is UTC:
                    return moment
            return theirs(value)

        return process


class StrEnumType(TypeDecorator[StrEnum]):
    """A StrEnum stored as its value in a VARCHAR: unknown values are refused on the way in."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum, self.length = enum, length

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else str(self.enum(value))

    def process_result_value(self, value: str | None, dialect: Any) -> StrEnum | None:
        return None if value is None else self.enum(value)

    # The member by its value from a map of them (~0.05 µs), both ways: calling the enum costs ~0.4 µs a
    # value, a few times a step. Anything else is theirs (process_*_value): None, the same ValueError.
    def bind_processor(self, dialect: Any) -> Any:
        theirs = super().bind_processor(dialect)
        texts = {member.value: str(member) for member in self.enum}

        def process(value: Any) -> str | None:
            text = texts.get(value) if isinstance(value, str) else None
            return text if text is not None else theirs(value)

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        theirs = super().result_processor(dialect, coltype)
        members = {member.value: member for member in self.enum}

        def process(value: Any) -> StrEnum | None:
            member = members.get(value) if type(value) is str else None
            return member if member is not None else theirs(value)

        return process
