"""Tokens: the admin token, and the ones the server mints.

When the server requires a token (``MAESTRO_TOKEN``, or the admin token it
generated), three kinds open it:

- the **admin** token: configured, compared in constant time, never stored;
- a **runner** token (``maestro token create --runner NAME``): acts as the
  runners of that name (register, heartbeat, claim, read; ``service.access``);
- a **session** token, minted by each claim for the agent the runner starts:
  scoped to that session, its project and its tasks; it ends when the session
  finishes (or is deleted), and a new claim of the session replaces it.

A minted token reads ``<id>.<secret>``: the id finds the stored ``Token``, which
keeps only the SHA-256 of the secret. A plain hash is enough (no slow KDF): the
secret is 32 random bytes, not a password anyone could guess. The secret is
returned once, in the answer that minted it, and appears nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from maestro.domain.clock import now_ms
from maestro.domain.errors import TokenNotFound, Unauthorized
from maestro.domain.ids import check_id, is_valid_id, new_id
from maestro.domain.models import Session, Token, spawn_role
from maestro.domain.principals import ADMIN, NO_TOKEN, Principal
from maestro.domain.requests import RunnerTokenCreate
from maestro.domain.responses import IssuedToken, TokenInfo
from maestro.domain.vocabulary import FINISHED_SESSION_STATUSES, SPAWN_ROLES
from maestro.service.versions import text
from maestro.store.base import Store, TokenQuery, Transaction

TOKEN_PREFIX = "tok"

_REFUSED = (
    "a valid token is required: send Authorization: Bearer <token> (the admin "
    "token, a runner token, or the MAESTRO_TOKEN a session was given)"
)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _minted(token_id: str) -> tuple[str, str]:
    """A fresh secret's token text and the hash kept of it."""
    secret = secrets.token_urlsafe(32)
    return f"{token_id}.{secret}", _digest(secret)


def session_token_id(session_id: str) -> str:
    """The id of a session's token: one per session, so a new claim replaces it."""
    return f"{TOKEN_PREFIX}_{session_id.partition('_')[2]}"


def info(token: Token) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        kind=token.kind,
        created_at=token.created_at,
        runner=token.runner_name,
        session_id=token.session_id,
    )


class TokenBook:
    """Resolves presented tokens into principals; mints and revokes tokens."""

    def __init__(self, store: Store, admin_token: str | None) -> None:
        self.store = store
        self.admin_token = admin_token

    @property
    def required(self) -> bool:
        """Whether requests need a token at all."""
        return self.admin_token is not None

    async def resolve(self, presented: str) -> Principal:
        """Who holds ``presented``; ``Unauthorized`` for a token that is not one
        (forged, revoked, or of a session that has finished)."""
        if self.admin_token is None:
            return NO_TOKEN
        if hmac.compare_digest(presented.encode(), self.admin_token.encode()):
            return ADMIN
        token_id, dot, secret = presented.partition(".")
        if not dot or not token_id.startswith(f"{TOKEN_PREFIX}_") or not is_valid_id(token_id):
            raise Unauthorized(_REFUSED)
        token = await self.store.get(Token, token_id)
        if token is None or not hmac.compare_digest(token.secret_hash, _digest(secret)):
            raise Unauthorized(_REFUSED)
        if token.kind == "runner":
            return Principal("runner", token_id=token.id, runner_name=token.runner_name)
        session = await self.store.get(Session, token.session_id or "")
        if session is None or session.status in FINISHED_SESSION_STATUSES:
            state = "was deleted" if session is None else f"is {session.status}"
            raise Unauthorized(
                f"this token ended: session {token.session_id} {state}, and a session's "
                "token lasts only while it runs"
            )
        return Principal(
            "session",
            token_id=token.id,
            session_id=session.id,
            project_id=token.project_id,
            role=token.role,
            task_ids=token.task_ids,
        )

    def mint_for_session(self, tx: Transaction, session: Session) -> str | None:
        """A new token for the session's agent, staged in ``tx`` (it replaces the
        session's earlier one); ``None`` when the server requires no token."""
        if not self.required:
            return None
        token_id = session_token_id(session.id)
        presented, secret_hash = _minted(token_id)
        role = spawn_role(session)
        tx.put(
            Token(
                id=token_id,
                kind="session",
                secret_hash=secret_hash,
                created_at=now_ms(),
                session_id=session.id,
                project_id=session.project_id,
                role=role if role in SPAWN_ROLES else "worker",
                task_ids=session.task_ids,
            )
        )
        return presented

    async def create_runner_token(self, body: RunnerTokenCreate) -> IssuedToken:
        name = text(body.runner, "runner")
        token_id = new_id(TOKEN_PREFIX)
        presented, secret_hash = _minted(token_id)
        token = Token(
            id=token_id,
            kind="runner",
            secret_hash=secret_hash,
            created_at=now_ms(),
            runner_name=name,
        )
        async with self.store.transaction() as tx:
            tx.put(token)
        return IssuedToken(
            id=token.id, kind="runner", created_at=token.created_at, runner=name, token=presented
        )

    async def list_runner_tokens(self) -> list[TokenInfo]:
        return [info(t) for t in await self.store.find_tokens(TokenQuery(kind="runner"))]

    async def revoke(self, token_id: str) -> None:
        """End a token at once (a runner's, or a session's before it finishes)."""
        async with self.store.transaction() as tx:
            token = await tx.get(Token, check_id(token_id))
            if token is None:
                raise TokenNotFound(f"token {token_id} not found")
            tx.delete(token)
