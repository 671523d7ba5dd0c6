"""The store's tables (SQLAlchemy 2.0 typed ORM). Alembic migrations own the schema.

Runtime side (small, in flight): `process_instance`, `human_task`, `job`; history (append-only): `audit_event`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Computed, ForeignKey, Index, String, Text, UniqueConstraint, column, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.store.audit_kinds import index_where
from engine.store.schema_scope import only_on
from engine.store.states import HumanTaskState, InstanceStatus, JobKind, JobState, MessageState, OutboxStatus
from engine.store.types import StrEnumType, UtcDateTime


class Base(DeclarativeBase):
    # Every `Mapped[datetime]` column holds naive UTC and reads back aware UTC.
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime}


class Role(Base):
    __tablename__ = "role"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # What routes tasks to this user (engine/access/policy.py), e.g. {"desk": "邮轮"} or {"branch": "B01"}.
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    roles: Mapped[list[Role]] = relationship(secondary="user_role", lazy="selectin")

    @property
    def role_ids(self) -> set[str]:
        return {role.id for role in self.roles}


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("role.id"), primary_key=True)


class Deployment(Base):
    """One version of one process: the exact BPMN bytes and forms that instances run on."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("process_id", "version"), UniqueConstraint("process_id", "sha256"))
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]
    node_lanes: Mapped[dict[str, Any]]
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(80))
    # file name -> BPMN text of the other files whose processes this one calls (pinned at deploy)
    called_files: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class ProcessDraft(Base):
    """An uploaded (or edited) process file kept for a preview before it is deployed; never runs."""

    __tablename__ = "process_draft"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str | None] = mapped_column(String(100), index=True)  # None: the file does not parse
    filename: Mapped[str] = mapped_column(String(255))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]  # form file name -> its text, the current version's forms included
    saved_by: Mapped[str] = mapped_column(String(80))
    saved_at: Mapped[datetime]


class CurrentVersion(Base):
    """Which version of a process new instances start on: the newest deployed, until an owner
    activates another (engine/run/versions.py). Every change is an audit event."""

    __tablename__ = "current_version"
    process_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    since: Mapped[datetime]
    chosen_by: Mapped[str] = mapped_column(String(80))


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_business_key", "business_key",  # keyed instances only (0024)
                            sqlite_where=text("business_key IS NOT NULL"),
                            postgresql_where=text("business_key IS NOT NULL")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[InstanceStatus] = mapped_column(StrEnumType(InstanceStatus, 20), index=True)
    business_key: Mapped[str | None] = mapped_column(String(120))
    serialized: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(80))
    ended_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(default=1)
    deployment: Mapped[Deployment] = relationship(lazy="raise")  # use Runtime.deployed(): cached

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(Base):
    """Materialized user tasks: the inbox reads this table, never a serialized workflow."""

    __tablename__ = "human_task"
    __table_args__ = (
        # The inbox page in due order (NULLS LAST, id) and its keyset cursor; lane and assignee let
        # rows of other lanes be skipped in the index (migration 0014, docs/performance.md).
        Index("ix_human_task_state_due_id", "state", "due_at", "id", "lane", "assignee"),
        # The inbox counts (by lane, overdue, claimed or not, routing) and the live inbox's stamp from the index.
        Index("ix_human_task_state_lane_due", "state", "lane", "due_at", "assignee", "instance_id",
              "route_desk", "route_branch"),
        Index("ix_human_task_state_assignee", "state", "assignee", "lane"),
        # The desks of open tasks as a skip scan (one seek per desk), and the desk filter of a lane user.
        Index("ix_human_task_state_desk", "state", "route_desk", "lane", "assignee"),
        Index("ix_human_task_state_created", "state", "created_at"),
        # A step's open tasks (not a long loop's closed ones), and the instance_id index (0022).
        Index("ix_human_task_instance_state", "instance_id", "state"),
        # Open tasks only: PostgreSQL counts by lane and the live inbox's stamp from it without reading
        # rows (0016); SQLite's plans never picked it (the index above serves): PostgreSQL only (0022).
        only_on("postgresql", Index("ix_human_task_open", "lane", "route_desk", "assignee", "due_at", "instance_id",
                                    "id", "route_branch", postgresql_where=text("state = 'ready'"))),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    instance: Mapped[ProcessInstance] = relationship(lazy="raise")  # never read: orders a flush's INSERTs
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    # The process's routing keys (ProcessModel.routing_keys) with their values in the task's data.
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Computed by the database from `routing` in every write (migration 0021): never written, always equal.
    route_desk: Mapped[str | None] = mapped_column(Text, Computed(column("routing", JSON)["desk"].as_string()))
    route_branch: Mapped[str | None] = mapped_column(Text, Computed(column("routing", JSON)["branch"].as_string()))
    task: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str] = mapped_column(String(40))
    state: Mapped[HumanTaskState] = mapped_column(StrEnumType(HumanTaskState, 20))
    assignee: Mapped[str | None] = mapped_column(String(80))
    form_ref: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None]
    follow_up_at: Mapped[datetime | None]  # when to look at it again; set by a supervisor
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(80))
    summary: Mapped[dict[str, Any]]
    # Lower-cased words the inbox search matches (customer, phone digits, tour and booking codes).
    search_text: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def routing_key(cls, key: str):
        """The SQL value of routing `key` (as text): its column where there is one, else the JSON's."""
        return {"desk": cls.route_desk, "branch": cls.route_branch}.get(key, cls.routing[key].as_string())


# Compared byte by byte on PostgreSQL too (as SQLite does), so a prefix is one range of the index.
SEARCH_TERM_TYPE = String(48).with_variant(String(48, collation="C"), "postgresql")


class TaskSearchTerm(Base):
    """The inbox search's index of open tasks (engine/run/search_terms.py): each word ending of a
    task's names (kind n) and codes (kind c), each phone ending of 4+ digits (kind p), so a search is
    one index range. Derived from `human_task.search_text`, written with the task row, dropped when it closes."""

    __tablename__ = "task_search_term"
    __table_args__ = ({"sqlite_with_rowid": False},)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    term: Mapped[str] = mapped_column(SEARCH_TERM_TYPE, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class SavedView(Base):
    """An inbox filter a user named and kept (its query string), shown as a tab in their inbox."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("username", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime]


class TaskEdit(Base):
    """Who has a task's form open, and what they typed so far (an autosaved draft).

    Scratch data, not process state: never audited, deleted when the task leaves the inbox."""

    __tablename__ = "task_edit"
    __table_args__ = (UniqueConstraint("human_task_id", "username"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the form's values as typed
    saved_at: Mapped[datetime | None]  # last draft save; None: only open, nothing saved
    seen_at: Mapped[datetime]  # last sign the form is open


class StaffAlertPreference(Base):
    """How one user wants to hear of new tasks, overdue tasks and incidents: `none`, `email` or
    `webhook` (to `address`), and for which events. Set by the user (settings page, API, CLI)."""

    __tablename__ = "staff_alert_preference"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), default="none")
    address: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[Any]] = mapped_column(default=list)  # of new_task, overdue, incident
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(80))


class StaffAlert(Base):
    """One thing a user is to be told of, written in the transaction of the step that caused it (the
    worker's housekeeping for overdue tasks); the housekeeping sends a user's pending alerts as one
    digest (`outbox_message` kind staff.alert, `message_id`) once the oldest is a window old."""

    __tablename__ = "staff_alert"
    __table_args__ = (Index("ix_staff_alert_pending", "settled_at", "username"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)  # event:what:username
    username: Mapped[str] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(20))  # new_task / overdue / incident
    instance_id: Mapped[int | None] = mapped_column(index=True)
    human_task_id: Mapped[int | None]
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    message_id: Mapped[int | None]  # the digest's outbox row; None while pending
    settled_at: Mapped[datetime | None]  # when it went into a digest, or was dropped (alerts turned off)


class AuditEvent(Base):
    """One fact, in order, hash-chained per stream (`instance:<id>` or `system`). Never updated."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("stream", "seq"),  # also every reader by instance: stream = 'instance:<id>'
        Index("ix_audit_event_actor_instance", "actor", "instance_id"),  # the actor search (domain/search.py)
        Index("ix_audit_event_read_by_kind", "kind", "instance_id", "seq", **index_where()),  # audit_kinds.py
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(60))
    instance_id: Mapped[int | None]
    seq: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last seq and hash of each stream, so a deleted tail is detected too."""

    __tablename__ = "audit_head"
    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """Work due at a time: timers, timer starts, handler retries. The scheduler's state lives here.

    A worker acquires a due job by writing its name into `locked_by` and a lease expiry into
    `lease_until`; the job is done when the step that runs it commits. A worker that dies
    leaves a lease that runs out, and another worker takes the job (see engine/run/jobs.py).
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state_due", "state", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[JobKind] = mapped_column(StrEnumType(JobKind, 20))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    instance: Mapped[ProcessInstance | None] = relationship(lazy="raise")  # never read: see HumanTask.instance
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployment.id"), index=True)
    spiff_task_id: Mapped[str | None] = mapped_column(String(36))
    task: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime]
    state: Mapped[JobState] = mapped_column(StrEnumType(JobState, 20), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)  # runs that crashed or errored outside the step
    locked_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class Message(Base):
    """A named message with a correlation key: delivered, buffered until an instance waits, or expired.

    `message_ref` is the sender's own id for the message: sending it again delivers nothing twice.
    """

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_state_name_key", "state", "name", "correlation_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    correlation_key: Mapped[str | None] = mapped_column(String(120))
    message_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]]
    state: Mapped[MessageState] = mapped_column(StrEnumType(MessageState, 20))
    sender_instance_id: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    delivered_to: Mapped[int | None]
    started: Mapped[bool] = mapped_column(default=False)
    delivered_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message to send (mail, webhook, log), added in the transaction of the step that decided it.

    Workers lease due rows (`locked_by`, `lease_until`) like jobs, hand them to the channel outside
    any transaction and record the result (engine/outbox/delivery.py, docs/outbox.md). `recipient`
    is personal data: masked for viewers who may not see it (engine/access/privacy.py).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(StrEnumType(OutboxStatus, 20), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task: Mapped[str | None] = mapped_column(String(100))
    lane: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the JSON API; only its sha256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginSession(Base):
    """A logged-in browser session. The signed session cookie holds a random secret whose sha256 is `id`;
    logging out, a password change or deactivation deletes the row, so a copied cookie stops working."""

    __tablename__ = "login_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """One refused login (wrong password, unknown user) or bearer token, for throttling: counted per user
    name and per client address over a sliding window. `cleared` rows (the user logged in since) count
    for the address only."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_username_at", "username", "at"),
                      Index("ix_login_failure_address_at", "address", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(80))  # None for a bearer token
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    cleared: Mapped[bool] = mapped_column(default=False)
