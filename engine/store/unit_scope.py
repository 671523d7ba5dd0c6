"""What a write unit's session holds for the unit: its Connection, and the token its state is kept under.

A unit of work (engine/run/unit.py `write_session`) runs on a Connection of its own, begun at its first
statement, and its Session (a UnitSession) is bound to that Connection: the Session begins a transaction of
its own, joining the unit's, only when something asks it for the ORM. A step that needs none runs on the
Connection alone and never pays for the Session's transaction life cycle (docs/performance.md, "Round 8").
What the engine keeps in `session.info` for the length of a transaction (held instance records, the open rows
a lock read, ...) is keyed by `transaction_token`: the unit for a unit, the Session's transaction for any
other session, so the same state holds whether or not the ORM joined in the middle of the unit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session

from engine.store.kept_connections import KeptConnections

UNIT = "tourflow_unit"
ROLLED_BACK = "the unit of work's transaction was rolled back inside it; nothing more can run or commit in it"


class UnitConnection:
    """A unit of work's Connection and transaction, begun at the unit's first statement (a unit that ends
    before it runs one takes no connection, nor on SQLite the write lock). With `kept` (a SQLite file), the
    Connection is the one the thread's last unit committed on when there is one, and is kept for the next
    once this unit committed (engine/store/kept_connections.py)."""

    __slots__ = ("engine", "kept", "connection", "transaction", "committed")

    def __init__(self, engine: Engine, kept: KeptConnections | None = None) -> None:
        self.engine = engine
        self.kept = kept
        self.connection: Connection | None = None
        self.transaction = None
        self.committed = False

    def get(self) -> Connection:
        """The unit's Connection, in its transaction (begun now if this is the unit's first statement)."""
        if self.connection is None:
            connection = self.kept.take() if self.kept is not None else None
            if connection is None:
                connection = self.engine.connect()
            try:
                self.transaction = connection.begin()
            except BaseException:
                connection.close()
                raise
            self.connection = connection
        elif not self.transaction.is_active:
            # Rolled back inside the unit (its Session's rollback ends it): a statement now would run outside any
            # transaction (on SQLite each would commit on its own), so the unit fails instead.
            raise InvalidRequestError(ROLLED_BACK)
        return self.connection

    def commit(self) -> None:
        if self.transaction is not None:
            if not self.transaction.is_active:
                raise InvalidRequestError(ROLLED_BACK)
            try:
                self.transaction.commit()
            except BaseException:
                # The driver's connection may still be inside the transaction after a failed COMMIT (SQLite
                # leaves it open on some errors), and the pool would lend it out so: it is dropped instead.
                self.connection.invalidate()
                raise
            self.committed = True

    def close(self) -> None:
        """Kept for the thread's next unit once committed, else back to the pool, what is still open rolled back."""
        if self.connection is not None and not (self.committed and self.kept is not None
                                                and self.kept.keep(self.connection)):
            self.connection.close()


class UnitSession(Session):
    """A write session: inside a unit of work it is bound to the unit's Connection (what SQLAlchemy asks
    `get_bind` for); outside one, to its engine as any Session."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        unit = self.info.get(UNIT)
        if unit is not None and kwargs.get("bind") is None:
            return unit.get()
        return super().get_bind(*args, **kwargs)


def transaction_token(session: Session) -> Any:
    """What identifies the session's current transaction: its unit inside a unit of work (one transaction from
    its start to its end), else the Session's own transaction (None before it begins)."""
    return session.info.get(UNIT) or session.get_transaction()


__all__ = ["ROLLED_BACK", "UNIT", "UnitConnection", "UnitSession", "transaction_token"]
