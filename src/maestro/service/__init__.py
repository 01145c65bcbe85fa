"""The rules of Maestro, in one place.

Every mutation runs in one store transaction: it reads what it needs, checks the
request against the stored state, stages the new versions of every entity it
touches, and emits its events in the documented order. Nothing is written when a
check fails, and events reach clients only after the store has committed.
Entities are frozen (``domain.models``): a change is a new version, made with
``msgspec.structs.replace`` by the small functions below, and a version once read
stays as it was for whoever holds it.

Invariants kept here:
- task T lists session S in ``sessionIds`` exactly when S lists T in ``taskIds``;
  deletes leave no dangling ids (links, parents, dependencies);
- task status stamps (``startedAt``, ``completedAt``) and a ``status_changed``
  timeline event on every task status change; session ``completedAt``;
- every mutation moves ``updatedAt`` (sessions: ``lastActivity``) strictly forward;
- an approval is decided once (allowed, denied, or expired by the server), and a
  session's ``attention`` says whether it waits for one (``service.approvals``);
- a spawning session is claimed by one runner, and a runner that stops
  heartbeating is marked lost once, its sessions released or failed
  (``service.runners``).

Event order: the request's primary event first; then, for every task-session link
made or broken, the pair ``session:task_*`` + ``task:session_*``, followed by
``session:updated`` (unless the session was created or deleted by the request) and
``task:updated`` (unless the task was deleted by it).
"""

from maestro.service.approvals import ApprovalInbox
from maestro.service.runners import RunnerRegistry
from maestro.service.workspace import Workspace

__all__ = ["ApprovalInbox", "RunnerRegistry", "Workspace"]
