"""The one error hierarchy. Each error knows its code and HTTP status; the server
maps it to the documented body ``{"error": true, "code", "message", "details"}``
in a single handler, and the CLI maps codes to exit codes."""

from __future__ import annotations

from typing import Any, ClassVar


class MaestroError(Exception):
    """Base of every error Maestro reports to a client on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(MaestroError):
    code = "VALIDATION_ERROR"
    status = 400

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        """``details`` are facts besides the field (``cycle`` for a dependency cycle)."""
        super().__init__(message, {**({"field": field} if field else {}), **details} or None)


class NotFound(MaestroError):
    code = "NOT_FOUND"
    status = 404


class ProjectNotFound(NotFound):
    code = "PROJECT_NOT_FOUND"


class TaskNotFound(NotFound):
    code = "TASK_NOT_FOUND"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


class SubtaskNotFound(NotFound):
    code = "SUBTASK_NOT_FOUND"


class SkillNotFound(NotFound):
    code = "SKILL_NOT_FOUND"


class ApprovalNotFound(NotFound):
    code = "APPROVAL_NOT_FOUND"


class RunnerNotFound(NotFound):
    code = "RUNNER_NOT_FOUND"


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"


class ProjectHasDependencies(MaestroError):
    code = "PROJECT_HAS_DEPENDENCIES"
    status = 400


class TaskHasChildren(MaestroError):
    code = "TASK_HAS_CHILDREN"
    status = 400


class SessionExists(MaestroError):
    code = "SESSION_EXISTS"
    status = 409


class SessionFinished(MaestroError):
    """The session has ended: nothing can be asked for it any more."""

    code = "SESSION_FINISHED"
    status = 409


class SessionNotFinished(MaestroError):
    """The session is still spawning or running (a follow-up needs it ended)."""

    code = "SESSION_NOT_FINISHED"
    status = 409


class ApprovalDecided(MaestroError):
    """The approval is no longer pending (decided, or expired)."""

    code = "APPROVAL_DECIDED"
    status = 409


class AlreadyClaimed(MaestroError):
    """The session is not there to claim: another runner holds it, or it is no
    longer ``spawning``."""

    code = "ALREADY_CLAIMED"
    status = 409


class LabelsMismatch(MaestroError):
    """The session asks for runner labels the claiming runner does not have."""

    code = "LABELS_MISMATCH"
    status = 409


class RunnerLost(MaestroError):
    """The runner missed its heartbeats: it must heartbeat (or register) again
    before it may claim."""

    code = "RUNNER_LOST"
    status = 409


class RunnerNameTaken(MaestroError):
    """An active runner already has this name on this host."""

    code = "RUNNER_NAME_TAKEN"
    status = 409


class Unauthorized(MaestroError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(MaestroError):
    code = "FORBIDDEN"
    status = 403


class MethodNotAllowed(MaestroError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class TooManySessions(MaestroError):
    code = "TOO_MANY_SESSIONS"
    status = 429


class TooManyClients(MaestroError):
    code = "TOO_MANY_CLIENTS"
    status = 503


class PayloadTooLarge(MaestroError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class UnsupportedMediaType(MaestroError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


# Spawn keeps the seed's lower-case codes, which existing orchestrators match on.
class MissingProjectId(MaestroError):
    code = "missing_project_id"
    status = 400


class InvalidTaskIds(MaestroError):
    code = "invalid_task_ids"
    status = 400


class SpawnTaskNotFound(MaestroError):
    code = "task_not_found"
    status = 404


class SpawnFailed(MaestroError):
    code = "spawn_error"
    status = 500


class StorageFull(MaestroError):
    """The disk holding the store is full (or over quota): nothing was written."""

    code = "INSUFFICIENT_STORAGE"
    status = 507


class StoreWriteFailed(MaestroError):
    """The store could not write (an I/O error): nothing was written; reads go on."""

    code = "STORE_UNAVAILABLE"
    status = 503
