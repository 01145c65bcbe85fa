"""Approvals: the tool calls an agent may not make unasked, put to a person.

The agent's side files one for its session (``approval:created``); a person
decides it, allow or deny, once (``approval:decided``), optionally remembering
the decision as a rule of the project's permission policy; or nobody does, and
the server expires it at ``expiresAt``: denied, by ``maestro``. Exactly once,
whichever comes first and however many server instances race: the pending ->
decided step reads the approval inside the store's transaction, which holds the
store's one write lock (across instances on PostgreSQL: an advisory lock), so
the second to come finds it decided (409 ``APPROVAL_DECIDED``) or, for the
sweep, leaves it alone.

Filing, deciding and expiring keep the session's ``attention`` (``with_attention``)
and emit ``session:updated`` when it changes.

A request may wait for the decision (``wait_for_decision``): it is woken by the
store's committed events (``DecisionWatch``, subscribed to the store), so a
decision made on another instance sharing the database wakes it too, when that
instance's event reaches this one. Nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec.structs import replace

from maestro.domain import events as ev
from maestro.domain.clock import later_than, now_ms
from maestro.domain.encoding import encode
from maestro.domain.errors import (
    ApprovalDecided,
    ApprovalNotFound,
    PayloadTooLarge,
    SessionFinished,
    SessionNotFound,
    ValidationFailed,
)
from maestro.domain.events import StoredEvent
from maestro.domain.ids import check_id, new_id
from maestro.domain.models import (
    FINISHED_SESSION_STATUSES,
    MAX_PERMISSION_RULES,
    PERMISSION_RULE_PATTERN,
    Approval,
    Project,
    Session,
)
from maestro.domain.requests import APPROVAL_INPUT_LIMIT, ApprovalCreate, ApprovalDecide
from maestro.service.versions import text, unique, with_activity, with_attention
from maestro.store.base import ApprovalQuery, Store, Transaction

log = logging.getLogger("maestro.service")

SWEEP_SECONDS = 1.0
"""How often the expiry sweep looks for pending approvals past their time."""
DECIDED_BY_SERVER = "maestro"
"""``decidedBy`` of an approval the server expired."""
MAX_RULE_LENGTH = 500
_RULE = re.compile(PERMISSION_RULE_PATTERN)


# -- shared with the workspace ----------------------------------------------------------


async def has_pending_approvals(tx: Transaction, session: Session) -> bool:
    """Whether ``session`` has an approval waiting (a finished one's never count)."""
    if session.status in FINISHED_SESSION_STATUSES:
        return False
    query = ApprovalQuery(session_id=session.id, status="pending")
    return bool(await tx.find_approvals(query))


async def delete_approvals(tx: Transaction, query: ApprovalQuery) -> None:
    """Delete the approvals ``query`` finds (with their session or project)."""
    for approval in await tx.find_approvals(query):
        tx.delete(approval)


async def settle_attention(tx: Transaction, session_id: str) -> None:
    """Give the session the attention its approvals now call for, announced if it
    changed (a session deleted meanwhile has none to settle)."""
    session = await tx.get(Session, session_id)
    if session is None:
        return
    settled = with_attention(session, await has_pending_approvals(tx, session))
    if settled is not session:
        settled = with_activity(settled)
        tx.put(settled)
        tx.emit(ev.SESSION_UPDATED, settled, settled.project_id)


# -- "remember": the rule a decision adds to the policy --------------------------------


def _valid_rule(rule: str) -> bool:
    return len(rule) <= MAX_RULE_LENGTH and _RULE.match(rule) is not None


def _suggested_rule(suggestions: Sequence[Any]) -> str | None:
    """The first valid rule of Claude Code's ``addRules`` suggestions
    (``{"type": "addRules", "rules": [{"toolName", "ruleContent"?}], ...}``)."""
    for suggestion in suggestions:
        if not isinstance(suggestion, dict) or suggestion.get("type") != "addRules":
            continue
        rules = suggestion.get("rules")
        for value in rules if isinstance(rules, list) else ():
            if not isinstance(value, dict) or not isinstance(value.get("toolName"), str):
                continue
            content = value.get("ruleContent")
            if content is not None and not isinstance(content, str):
                continue
            rule = f"{value['toolName']}({content})" if content else value["toolName"]
            if _valid_rule(rule):
                return rule
    return None


def _derived_rule(tool: str, tool_input: Any) -> str:
    """The rule matching this very call: the exact command for Bash, the host for
    WebFetch, the tool itself for any other."""
    given = tool_input if isinstance(tool_input, dict) else {}
    if tool == "Bash":
        command = given.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ValidationFailed(
                "remember needs a command in the input of a Bash approval to make its rule",
                field="remember",
            )
        return f"Bash({command})"
    if tool == "WebFetch":
        url = given.get("url")
        host = urlsplit(url).hostname if isinstance(url, str) else None
        if not host:
            raise ValidationFailed(
                "remember needs a url with a host in the input of a WebFetch approval "
                "to make its rule",
                field="remember",
            )
        return f"WebFetch(domain:{host})"
    return tool


def remembered_rule(approval: Approval) -> str:
    """The permission rule that remembering a decision on ``approval`` adds: the
    first valid rule Claude Code suggested, else one derived from the call.
    Raises the documented validation error if it would not be a valid rule."""
    suggested = _suggested_rule(approval.suggestions or ())
    if suggested is not None:
        return suggested
    rule = _derived_rule(approval.tool, approval.input)
    if len(rule) > MAX_RULE_LENGTH:
        raise ValidationFailed(
            f"remember would add a rule of {len(rule)} characters; a permission rule is at "
            f"most {MAX_RULE_LENGTH}",
            field="remember",
        )
    if not _valid_rule(rule):
        raise ValidationFailed(
            f"remember would add {rule!r}, which is not a permission rule: a tool name "
            "(letters, digits, '_', '-', '*'), optionally followed by a specifier in "
            "parentheses, without control characters such as a newline",
            field="remember",
        )
    return rule


def with_rule(project: Project, rule: str, allow: bool) -> Project:
    """The project with ``rule`` added to its ``allow`` (or ``deny``) rules; the
    same version if it is there already."""
    policy = project.permissions
    name = "allow" if allow else "deny"
    rules: tuple[str, ...] = getattr(policy, name)
    if rule in rules:
        return project
    if len(rules) >= MAX_PERMISSION_RULES:
        raise ValidationFailed(
            f"remember would make permissions.{name} longer than {MAX_PERMISSION_RULES} rules",
            field="remember",
        )
    policy = replace(policy, **{name: (*rules, rule)})
    return replace(project, permissions=policy, updated_at=later_than(project.updated_at))


# -- waiting for a decision ----------------------------------------------------------


class _Data(msgspec.Struct):
    id: str


class _Frame(msgspec.Struct):
    data: _Data


_frame_decoder = msgspec.json.Decoder(_Frame)
# What the frames that end a wait start with (``WireMessage`` encodes ``type`` first).
_DECIDED = f'{{"type":"{ev.APPROVAL_DECIDED}"'
_SESSION_DELETED = f'{{"type":"{ev.SESSION_DELETED}"'
_PROJECT_DELETED = f'{{"type":"{ev.PROJECT_DELETED}"'


@dataclass(eq=False)
class _Watch:
    """The requests waiting for one approval."""

    session_id: str
    project_id: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0


class DecisionWatch:
    """Wakes the requests waiting for approvals, from the store's committed events
    (``on_events`` is a store subscriber): a decision or expiry of the approval,
    or the deletion of its session or project. ``close`` wakes them all (the
    server is stopping) and lets no new wait begin."""

    def __init__(self) -> None:
        self._watches: dict[str, _Watch] = {}
        self.closed = False

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        if not self._watches:  # the usual case: nobody waits, nothing to read
            return
        for event in events:
            frame = event.frame
            if frame.startswith(_DECIDED):
                watch = self._watches.get(_frame_decoder.decode(frame).data.id)
                if watch is not None:
                    watch.changed.set()
            elif frame.startswith(_SESSION_DELETED):
                self._wake(session_id=_frame_decoder.decode(frame).data.id)
            elif frame.startswith(_PROJECT_DELETED):
                self._wake(project_id=_frame_decoder.decode(frame).data.id)

    def _wake(self, session_id: str | None = None, project_id: str | None = None) -> None:
        for watch in self._watches.values():
            if watch.session_id == session_id or watch.project_id == project_id:
                watch.changed.set()

    @asynccontextmanager
    async def watching(self, approval: Approval) -> AsyncIterator[asyncio.Event]:
        """An event set when ``approval`` may have changed, for as long as the block runs."""
        watch = self._watches.get(approval.id)
        if watch is None:
            watch = self._watches[approval.id] = _Watch(approval.session_id, approval.project_id)
        watch.waiting += 1
        if self.closed:
            watch.changed.set()
        try:
            yield watch.changed
        finally:
            watch.waiting -= 1
            if not watch.waiting:
                del self._watches[approval.id]

    def close(self) -> None:
        self.closed = True
        for watch in self._watches.values():
            watch.changed.set()


# -- the inbox -------------------------------------------------------------------------


def _check_size(value: Any, field: str) -> None:
    size = len(encode(value))
    if size > APPROVAL_INPUT_LIMIT:
        raise PayloadTooLarge(
            f"{field} must be at most {APPROVAL_INPUT_LIMIT} bytes of JSON (64 KiB); it is {size}",
            {"field": field, "limit": APPROVAL_INPUT_LIMIT},
        )


def _expired(approval: Approval, at: int) -> Approval:
    waited = (approval.expires_at - approval.created_at) / 1000
    return replace(
        approval,
        status="expired",
        decision="deny",
        message=f"no decision within {waited:g} s; denied automatically",
        decided_at=at,
        decided_by=DECIDED_BY_SERVER,
    )


class ApprovalInbox:
    """Filing, listing, waiting for, deciding and expiring approvals."""

    def __init__(self, store: Store, timeout: float) -> None:
        self.store = store
        self.timeout_ms = max(1, round(timeout * 1000))
        self.watch = DecisionWatch()
        self._last_birth = 0

    def _birth(self) -> int:
        """A creation time later than every earlier one: lists are oldest first."""
        self._last_birth = later_than(self._last_birth)
        return self._last_birth

    @staticmethod
    async def _approval(tx: Transaction | Store, approval_id: str) -> Approval:
        approval = await tx.get(Approval, check_id(approval_id, "id"))
        if approval is None:
            raise ApprovalNotFound(f"approval {approval_id} not found")
        return approval

    async def list_approvals(self, query: ApprovalQuery) -> list[Approval]:
        return await self.store.find_approvals(query)

    async def get_approval(self, approval_id: str) -> Approval:
        return await self._approval(self.store, approval_id)

    async def file(self, session_id: str, body: ApprovalCreate) -> Approval:
        """A new pending approval for the session's agent (``approval:created``)."""
        tool = text(body.tool, "tool")
        _check_size(body.input, "input")
        if body.suggestions is not None:
            _check_size(body.suggestions, "suggestions")
        async with self.store.transaction() as tx:
            session = await tx.get(Session, check_id(session_id, "sessionId"))
            if session is None:
                raise SessionNotFound(f"session {session_id} not found")
            if session.status in FINISHED_SESSION_STATUSES:
                raise SessionFinished(
                    f"session {session.id} is {session.status}: a finished session cannot "
                    "ask for approval",
                    {"status": session.status},
                )
            at = self._birth()
            approval = Approval(
                id=new_id("appr"),
                project_id=session.project_id,
                session_id=session.id,
                task_ids=session.task_ids,
                tool=tool,
                input=body.input,
                reason=body.reason,
                suggestions=None if body.suggestions is None else tuple(body.suggestions),
                created_at=at,
                expires_at=at + self.timeout_ms,
            )
            tx.put(approval)
            tx.emit(ev.APPROVAL_CREATED, approval, approval.project_id)
            await settle_attention(tx, session.id)
        return approval

    async def wait_for_decision(self, approval_id: str, seconds: float) -> Approval:
        """The approval once it is decided or expired, or as it is after ``seconds``
        (or when the server stops, whichever comes first)."""
        approval = await self.get_approval(approval_id)
        if approval.status != "pending" or self.watch.closed:
            return approval
        async with self.watch.watching(approval) as changed:
            # Read again now that the watch is in place: a decision committed
            # before it was cannot wake it, but is seen here.
            approval = await self.get_approval(approval_id)
            if approval.status == "pending":
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(seconds):
                        await changed.wait()
        return await self.get_approval(approval_id)

    async def decide(self, approval_id: str, body: ApprovalDecide) -> Approval:
        """Allow or deny a pending approval (``approval:decided``); with ``remember``,
        add the matching rule to the project's policy in the same transaction."""
        too_late: Approval | None = None
        async with self.store.transaction() as tx:
            approval = await self._approval(tx, approval_id)
            if approval.status != "pending":
                raise ApprovalDecided(
                    f"approval {approval.id} is already {approval.status}",
                    {"status": approval.status},
                )
            at = max(now_ms(), approval.created_at)
            if at >= approval.expires_at:
                # Its time is up: it expires now, as the sweep would have made it.
                decided = too_late = _expired(approval, at)
            else:
                decided = replace(
                    approval,
                    status="allowed" if body.decision == "allow" else "denied",
                    decision=body.decision,
                    message=body.message,
                    decided_at=at,
                    decided_by=body.decided_by,
                )
            tx.put(decided)
            tx.emit(ev.APPROVAL_DECIDED, decided, decided.project_id)
            if body.remember and too_late is None:
                await self._remember(tx, decided)
            await settle_attention(tx, decided.session_id)
        if too_late is not None:
            raise ApprovalDecided(
                f"approval {too_late.id} is already expired ({too_late.message})",
                {"status": too_late.status},
            )
        return decided

    @staticmethod
    async def _remember(tx: Transaction, approval: Approval) -> None:
        project = await tx.get(Project, approval.project_id)
        if project is None:  # a damaged store: there is no policy to add to
            return
        updated = with_rule(project, remembered_rule(approval), approval.decision == "allow")
        if updated is not project:
            tx.put(updated)
            tx.emit(ev.PROJECT_UPDATED, updated, updated.id)

    async def expire_due(self) -> list[Approval]:
        """Expire every pending approval past its ``expiresAt``; return them.

        The look-up is a read (an index of the pending ones), so a tick with
        nothing due takes no write lock; what it found is read again under the
        lock, and only what is still pending expires."""
        now = now_ms()
        due = await self.store.find_approvals(ApprovalQuery(status="pending", expires_by=now))
        if not due:
            return []
        expired: list[Approval] = []
        async with self.store.transaction() as tx:
            for found in due:
                approval = await tx.get(Approval, found.id)
                if approval is None or approval.status != "pending":
                    continue  # decided, or expired by another instance, meanwhile
                approval = _expired(approval, max(now, approval.created_at))
                tx.put(approval)
                tx.emit(ev.APPROVAL_DECIDED, approval, approval.project_id)
                expired.append(approval)
            for session_id in unique(a.session_id for a in expired):
                await settle_attention(tx, session_id)
        return expired

    async def expire_forever(self, every: float = SWEEP_SECONDS) -> None:
        """The expiry sweep: ``expire_due`` every ``every`` seconds until cancelled.
        A tick that fails (a store out of reach) is logged; the next one tries again."""
        while True:
            try:
                await self.expire_due()
            except Exception as error:
                log.warning("approval expiry postponed: %s", error)
            await asyncio.sleep(every)
