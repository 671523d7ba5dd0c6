"""The audit log: append-only events, hash-chained per stream, and their verification.

hash = sha256(prev_hash + canonical JSON of {stream, instance_id, seq, at, actor, kind, payload})
where payload is the stored canonical JSON text itself, so verification never depends on
how a database round-trips JSON. `audit_head` keeps each stream's last seq and hash, so
deleting the newest events is caught as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.clock import iso_z, naive_utc_iso
from engine.store import audit_buffer
from engine.store.audit_kinds import READ_BY_KIND, read_by_kind
from engine.store.models import AuditEvent, AuditHead

GENESIS = "0" * 64
SYSTEM_STREAM = "system"
SYSTEM_ACTOR = "system"  # who acts when no person does: timers, retries, expiries, the CLI
# The event that ends every write of an instance, holding the hash of the state it left (state_hash.py).
STATE_EVENT = "state_written"
# Instances this transaction appended events for: {instance id: (actor, at) of the newest};
# state_hash.py appends their STATE_EVENT when the transaction commits.
TOUCHED_KEY = "tourflow_state_touched"


_string = json.encoder.encode_basestring  # a str as json.dumps(..., ensure_ascii=False) writes it
# json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str), its encoder
# built once (json.dumps builds one per call when given options; encoding keeps no state in it).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


# That encoder's C part, built once and without its check for circular references (which needs a new encoder
# per call): for values whose containers are each met once (plain data, engine/sandbox/plain.py, or a JSON
# round trip's), where it writes the same text.
_C_CANONICAL = (json.encoder.c_make_encoder(None, str, _string, None, ":", ",", True, False, True)
                if json.encoder.c_make_encoder is not None else None)


def canonical_plain_json(value: Any) -> str:
    """canonical_json of a value whose containers are each met once (a shared or cyclic one: not this)."""
    return _CANONICAL.encode(value) if _C_CANONICAL is None else "".join(_C_CANONICAL(value, 0))


# The term that lets a query read ix_audit_event_read_by_kind (audit_kinds.py); built once (~20 µs each).
READ_BY_KIND_TERM = read_by_kind(AuditEvent.kind)


def instance_stream(instance_id: int) -> str:
    return f"instance:{instance_id}"


def _digest(prev_hash: str, event: AuditEvent) -> str:
    return _digest_of(prev_hash, event.stream, event.instance_id, event.seq, event.at, event.actor, event.kind,
                      event.payload)


# (moment, its text) of the last `at` hashed: a step's events share one moment (Step.now). Swapped whole,
# so a thread reads a pair that belongs together.
_last_at: tuple[Any, str] = (None, "")


def _at_text(at: datetime) -> str:
    global _last_at
    last = _last_at
    if at is last[0]:
        return last[1]
    text = naive_utc_iso(at, timespec="microseconds")
    _last_at = (at, text)
    return text


def _digest_of(prev_hash: str, stream: str, instance_id: int | None, seq: int, at: datetime, actor: str,
               kind: str, payload: str) -> str:
    at_text = _at_text(at)
    if type(stream) is str and type(actor) is str and type(kind) is str and type(payload) is str \
            and type(seq) is int and (instance_id is None or type(instance_id) is int):
        # canonical_json of the body below, written directly (keys in sorted order): the same text
        text = (f'{{"actor":{_string(actor)},"at":{_string(at_text)},"instance_id":'
                f'{"null" if instance_id is None else int.__repr__(instance_id)},"kind":{_string(kind)},'
                f'"payload":{_string(payload)},"seq":{int.__repr__(seq)},"stream":{_string(stream)}}}')
    else:
        text = canonical_json({"stream": stream, "instance_id": instance_id, "seq": seq, "at": at_text,
                               "actor": actor, "kind": kind, "payload": payload})
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


class AppendedEvent(NamedTuple):
    """An event as appended (its row is written with the transaction's others)."""

    stream: str
    instance_id: int | None
    seq: int
    at: datetime
    actor: str
    kind: str
    payload: str
    prev_hash: str
    hash: str


def append(
    session: Session,
    *,
    kind: str,
    actor: str,
    at: datetime,
    payload: dict[str, Any],
    instance_id: int | None = None,
    plain: bool = False,
) -> AppendedEvent:
    """Append one event to its stream inside the caller's transaction (written in a batch with the
    transaction's other events: engine/store/audit_buffer.py); `plain`: the caller knows each container of
    `payload` is met once (canonical_plain_json)."""
    stream = instance_stream(instance_id) if instance_id is not None else SYSTEM_STREAM
    buffer = audit_buffer.buffer_of(session)
    head = buffer.heads.get(stream) or audit_buffer.head_of(session, stream, GENESIS)
    seq, text = head.seq + 1, canonical_plain_json(payload) if plain else _CANONICAL.encode(payload)
    digest = _digest_of(head.hash, stream, instance_id, seq, at, actor, kind, text)
    row = {"stream": stream, "instance_id": instance_id, "seq": seq, "at": at, "actor": actor, "kind": kind,
           "payload": text, "prev_hash": head.hash, "hash": digest}
    buffer.rows.append(row)
    head.seq, head.hash, head.dirty = seq, digest, True
    if instance_id is not None and kind != STATE_EVENT:
        session.info.setdefault(TOUCHED_KEY, {})[instance_id] = (actor, at)
    return AppendedEvent(stream, instance_id, seq, at, actor, kind, text, row["prev_hash"], digest)


# What a ChainBreak found wrong (`problem`), so pages can say it in their own words.
HASH_MISMATCH = "hash_mismatch"  # the row's content no longer gives its hash: altered
SEQ_GAP = "seq_gap"  # a seq is missing: a row deleted, or its seq changed
PREV_MISMATCH = "prev_hash_mismatch"  # a row does not chain onto the one before it: swapped, inserted
TAIL_MISSING = "tail_missing"  # the stream ends before the seq audit_head records: newest rows deleted
HEAD_MISMATCH = "head_mismatch"  # audit_head disagrees otherwise: rows appended outside the engine, head gone
STATE_MISMATCH = "state_mismatch"  # the chain is intact, but the instance's live state is not the one it recorded


@dataclass(frozen=True)
class ChainBreak:
    stream: str
    seq: int
    reason: str
    problem: str = ""
    found_seq: int | None = None  # seq_gap: the seq found where `seq` was expected

    def __str__(self) -> str:
        return f"{self.stream} seq {self.seq}: {self.reason}"


def recompute_hash(event: AuditEvent) -> str:
    """The hash an event must carry: sha256(its prev_hash + its canonical row)."""
    return _digest(event.prev_hash, event)


class ChainWalk:
    """Checks one stream's events link by link, in seq order, and keeps the first break.

    `feed` each event, then `finish` with the stream's audit_head row. `ok` says, per event fed,
    whether the chain is intact up to and including it: False from the first broken event on.
    """

    def __init__(self, stream: str, per_event: bool = True):
        self.stream = stream
        self.per_event = per_event  # False: keep counts only (a pass over every stream)
        self.expected_prev = GENESIS
        self.expected_seq = 1
        self.brk: ChainBreak | None = None
        self.ok: list[bool] = []
        self.seqs: list[int] = []
        self.count = 0
        self.last_seq: int | None = None

    def feed(self, event: AuditEvent) -> ChainBreak | None:
        """Check the next event; answers the stream's first break once there is one."""
        if self.brk is None:
            self.brk = self._check(event)
            if self.brk is None:
                self.expected_prev, self.expected_seq = event.hash, self.expected_seq + 1
        self.count += 1
        self.last_seq = event.seq if self.last_seq is None else max(self.last_seq, event.seq)
        if self.per_event:
            self.ok.append(self.brk is None)
            self.seqs.append(event.seq)
        return self.brk

    def _check(self, event: AuditEvent) -> ChainBreak | None:
        stream, expected = self.stream, self.expected_seq
        if event.seq != expected:
            return ChainBreak(stream, expected, f"event missing or out of order: seq {expected} expected, found seq "
                                                f"{event.seq} (a row deleted, or its seq changed)", SEQ_GAP, event.seq)
        if event.prev_hash != self.expected_prev:
            before = f"seq {expected - 1}'s hash" if expected > 1 else "the genesis hash"
            return ChainBreak(stream, event.seq, f"prev_hash does not match the previous event's hash ({before}): "
                                                 "events swapped, inserted or re-chained", PREV_MISMATCH)
        computed = recompute_hash(event)
        if computed != event.hash:
            return ChainBreak(stream, event.seq, f"event content does not match its hash (altered): stored "
                                                 f"{event.hash[:12]}…, recomputed {computed[:12]}…", HASH_MISMATCH)
        return None

    def finish(self, head: AuditHead | None) -> ChainBreak | None:
        """Compare the end of the stream with audit_head; answers the stream's first break, if any."""
        if self.brk is not None:
            return self.brk
        last = self.expected_seq - 1
        if head is None:
            if last:
                self.brk = ChainBreak(self.stream, last + 1, f"audit_head has no row for this stream (deleted): "
                                                             f"whether events after seq {last} were deleted cannot "
                                                             "be told", HEAD_MISMATCH)
        elif head.seq > last:
            self.brk = ChainBreak(self.stream, last + 1, f"events after seq {last} are missing (head is seq "
                                                         f"{head.seq}): the newest rows were deleted", TAIL_MISSING)
        elif head.seq < last:
            self.brk = ChainBreak(self.stream, head.seq + 1, f"events after seq {head.seq} are not in audit_head "
                                                             f"(head is seq {head.seq}, the stream ends at {last}): "
                                                             "appended outside the engine", HEAD_MISMATCH)
        elif head.hash != self.expected_prev:
            self.brk = ChainBreak(self.stream, last, f"seq {last}'s hash differs from audit_head's: the newest "
                                                     "row was replaced", HEAD_MISMATCH)
        if self.brk is not None:
            self.ok = [ok and seq < self.brk.seq for ok, seq in zip(self.ok, self.seqs, strict=True)]
        return self.brk


def _stream_events(session: Session, stream: str):
    return session.execute(
        select(AuditEvent).where(AuditEvent.stream == stream).order_by(AuditEvent.seq, AuditEvent.id)
    ).scalars()


def verify_stream(session: Session, stream: str) -> ChainBreak | None:
    """Walk one stream from its first event; return the first broken link, or None."""
    walk = ChainWalk(stream)
    for event in _stream_events(session, stream):
        if walk.feed(event) is not None:
            return walk.brk
    return walk.finish(session.get(AuditHead, stream))


@dataclass(frozen=True)
class StreamCheck:
    """One stream checked event by event: `ok[i]` is False from the first broken event on."""

    stream: str
    events: list[AuditEvent]
    ok: list[bool]
    head_seq: int | None
    brk: ChainBreak | None


def check_stream(session: Session, stream: str) -> StreamCheck:
    walk = ChainWalk(stream)
    events = list(_stream_events(session, stream))
    for event in events:
        walk.feed(event)
    head = session.get(AuditHead, stream)
    brk = walk.finish(head)
    return StreamCheck(stream, events, walk.ok, head.seq if head else None, brk)


@dataclass(frozen=True)
class StreamStatus:
    """The verdict on one stream, without its events (tamper evidence for every stream at once)."""

    stream: str
    instance_id: int | None
    events: int
    last_seq: int | None
    head_seq: int | None
    brk: ChainBreak | None
    # The live state against the last recorded one (state_hash.with_states): ok, differs, unrecorded.
    state: str | None = None
    state_seq: int | None = None
    state_message: str | None = None


def stream_statuses(session: Session) -> list[StreamStatus]:
    """Every stream (every audit_head row and every stream with events) checked in one ordered pass."""
    heads = {h.stream: h for h in session.execute(select(AuditHead)).scalars()}
    walks: dict[str, ChainWalk] = {}
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.stream, AuditEvent.seq, AuditEvent.id).execution_options(yield_per=500)
    ).scalars()
    for event in rows:
        walk = walks.get(event.stream)
        if walk is None:
            walk = walks[event.stream] = ChainWalk(event.stream, per_event=False)
        walk.feed(event)
        session.expunge(event)  # one pass over the whole log: keep nothing in the identity map
    result = []
    for stream in sorted(set(heads) | set(walks)):
        walk = walks.get(stream) or ChainWalk(stream, per_event=False)
        head = heads.get(stream)
        brk = walk.finish(head)
        result.append(StreamStatus(stream, stream_instance_id(stream), walk.count, walk.last_seq,
                                   head.seq if head else None, brk))
    return result


def stream_instance_id(stream: str) -> int | None:
    """`instance:12` -> 12; the system stream -> None."""
    prefix, _, rest = stream.partition(":")
    return int(rest) if prefix == "instance" and rest.isdigit() else None


def all_streams(session: Session) -> list[str]:
    heads = set(session.execute(select(AuditHead.stream)).scalars())
    heads |= set(session.execute(select(AuditEvent.stream).distinct()).scalars())
    return sorted(heads)


def verify(session: Session, streams: list[str] | None = None) -> list[ChainBreak]:
    return [b for s in (streams or all_streams(session)) if (b := verify_stream(session, s)) is not None]


def events_of(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.stream == instance_stream(instance_id)).order_by(AuditEvent.seq)
        ).scalars()
    )


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": iso_z(event.at, "microseconds"),
        "actor": event.actor,
        "kind": event.kind,
        "payload": json.loads(event.payload),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


# ---- as JSON, for the API and the audit pages ---------------------------------------------
def break_dict(brk: ChainBreak | None) -> dict[str, Any] | None:
    if brk is None:
        return None
    return {"seq": brk.seq, "problem": brk.problem, "reason": brk.reason, "found_seq": brk.found_seq}


def status_dict(status: StreamStatus) -> dict[str, Any]:
    return {"stream": status.stream, "instance_id": status.instance_id, "ok": status.brk is None,
            "events": status.events, "last_seq": status.last_seq, "head_seq": status.head_seq,
            "broken": break_dict(status.brk),
            "state": None if status.state is None else {"verdict": status.state, "seq": status.state_seq,
                                                        "message": status.state_message}}


def checked_events(check: StreamCheck) -> list[dict[str, Any]]:
    """Each event as `event_dict` plus its chain verdict: `chain_ok`, and `chain` = ok, broken (the
    first event the break shows at) or after_break (not vouched for: it follows a broken link)."""
    result = []
    first = True
    for event, ok in zip(check.events, check.ok, strict=True):
        try:
            item = event_dict(event)
        except ValueError:  # a payload someone replaced with text that is not JSON
            item = {**_event_row(event), "payload": {"unreadable": event.payload}}
        if not isinstance(item["payload"], dict):  # ... or with JSON that is not an object
            item["payload"] = {"unreadable": event.payload}
        item["computed_hash"] = recompute_hash(event)
        item["chain_ok"] = ok
        item["chain"] = "ok" if ok else ("broken" if first else "after_break")
        first = first and ok
        result.append(item)
    return result


def _event_row(event: AuditEvent) -> dict[str, Any]:
    return {"seq": event.seq, "at": iso_z(event.at, "microseconds"), "actor": event.actor,
            "kind": event.kind, "payload": event.payload, "prev_hash": event.prev_hash, "hash": event.hash}


def has_event(session: Session, kind: str) -> bool:
    """Whether any stream holds an event of this kind (e.g. `demo_loaded`): one of the kinds read by kind,
    which ix_audit_event_read_by_kind holds (engine/store/audit_kinds.py); another would read every event."""
    if kind not in READ_BY_KIND:
        raise ValueError(f"{kind!r} is not a kind read by kind: {', '.join(READ_BY_KIND)}")
    found = exists().where(READ_BY_KIND_TERM, AuditEvent.kind == kind)
    return bool(session.execute(select(found)).scalar())
