"""``maestro worker init`` / ``maestro orchestrator init``: what runs inside a
terminal the runner opened.

1. Validate the ``MAESTRO_*`` environment. If it is wrong, say exactly what is
   wrong and, when the session id is known, mark the session ``failed`` with the
   reason as a session event.
2. Refuse a session that already finished.
3. Gather the session's tasks (with their parents and dependencies), resolve
   its skills, build the brief and write it to ``MAESTRO_HOME/sessions/<id>/``.
4. Mark the session ``running``, start the agent in the project's working
   directory with the brief on its standard input and the directory of this
   ``maestro`` first on its ``PATH`` (so ``maestro report`` works without an
   activated virtualenv), render its output as a readable transcript to the
   terminal and ``output.log`` (the raw stream in ``stream.jsonl``, the final
   result in ``result.json``), and forward SIGINT/SIGTERM to it.
5. When it exits, record the outcome in one PATCH: ``completed`` when the agent
   exited 0 and its result is not an error, else ``failed``; its usage and its
   own session id; permission denials; and a session whose agent tried to report
   but never got through is ``failed`` too (``reports_failed``), since the board
   would otherwise show a success nobody heard about.

This is the one place that finishes a session: the Claude Code hooks record
events but never change the status.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO, Any

from maestro.agents.activity import ActivityForwarder
from maestro.agents.adapters import AgentCommand, LaunchRequest, agent_command
from maestro.agents.brief import SessionBrief, gather
from maestro.agents.context import SessionEnv, current_session_id
from maestro.agents.errors import AgentError
from maestro.agents.permissions import matching_rule
from maestro.agents.plugin import write_plugin
from maestro.agents.prompt import build_follow_up
from maestro.agents.session_worktree import close_worktree, open_worktree
from maestro.agents.transcript import AgentOutcome, reader_for
from maestro.agents.worktree import Worktree
from maestro.client import ClientError, HttpClient, MaestroClient
from maestro.config import maestro_home
from maestro.domain import session_events as se
from maestro.domain.models import FINISHED_SESSION_STATUSES as FINISHED
from maestro.domain.models import Session

DENIAL_INPUT_PREVIEW = 500
RESULT_TEXT_LIMIT = 2000
ACTIVITY_TIMEOUT_SECONDS = 3.0


def _mark_failed(client: MaestroClient, session_id: str, event: str, data: dict[str, Any]) -> None:
    """Mark an unfinished session failed, with the reason as a session event."""
    try:
        if client.get_session(session_id).status in FINISHED:
            return
        client.update_session(session_id, se.failed(event, data))
    except ClientError as error:
        print(
            f"maestro: could not mark session {session_id} failed: {error.message}", file=sys.stderr
        )


def _earlier(client: MaestroClient, session: Session) -> Session | None:
    """The session a follow-up (``metadata.followUpOf``) continues."""
    earlier_id = session.metadata.get("followUpOf")
    return client.get_session(str(earlier_id)) if earlier_id else None


def _resumed_agent_session(earlier: Session | None) -> str | None:
    """For a follow-up, the agent's own session id that the earlier Maestro
    session recorded, which the agent resumes."""
    if earlier is None:
        return None
    if not earlier.agent_session_id:
        raise AgentError(
            f"session {earlier.id} recorded no agent session to resume (its agent never "
            "started, or is not one Maestro can resume); spawn a new session instead",
            code="CANNOT_RESUME",
        )
    return earlier.agent_session_id


def session_files(session_id: str, env: Mapping[str, str]) -> Path:
    folder = maestro_home(env) / "sessions" / session_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_init(role: str, env: Mapping[str, str], client: MaestroClient | None = None) -> int:
    """The whole init flow; returns the agent's exit code (``AgentError`` or
    ``ClientError`` on refusal)."""
    try:
        context = SessionEnv.read(env, expected_role=role)
    except AgentError as error:
        # Tell the board why this session will never start, if we know which it is.
        session_id = current_session_id(env)
        if session_id is not None:
            with MaestroClient(env.get("MAESTRO_SERVER_URL"), retries=0) as fallback:
                _mark_failed(fallback, session_id, se.INIT_FAILED, {"reason": error.message})
        raise
    own_client = client is None
    client = client or MaestroClient(context.server_url)
    try:
        return _run(role, context, env, client)
    finally:
        if own_client:
            client.close()


def _run(role: str, context: SessionEnv, env: Mapping[str, str], client: MaestroClient) -> int:
    session = client.get_session(context.session_id)
    if session.status in FINISHED:
        raise AgentError(
            f"session {context.session_id} already {session.status}; spawn a new session "
            "to run the task again",
            code="SESSION_FINISHED",
        )
    try:
        world = gather(client, context.session_id, role, list(context.skills), env)
    except (AgentError, ClientError) as error:
        if error.code == "INVALID_PERMISSION_MODE":
            _mark_failed(client, context.session_id, se.INIT_FAILED, {"reason": error.message})
        raise
    for name in world.missing_skills:
        print(
            f"maestro: warning: skill {name!r} is not installed; continuing without it",
            file=sys.stderr,
        )
    metadata = session.metadata
    agent = metadata.get("agent") or "claude"
    files = session_files(context.session_id, env)
    brief_path = files / "brief.md"
    tree: Worktree | None = None
    try:
        earlier = _earlier(client, session)
        resume = _resumed_agent_session(earlier)
        with (files / "output.log").open("ab") as log:
            tree, where = open_worktree(
                client,
                session.id,
                world.project,
                world.tasks,
                Path(working_dir(world.project)),
                env,
                log,
                None if earlier is None else earlier.metadata,
            )
        cwd = str(where)
        brief_path.write_text(
            world.brief
            if resume is None
            else build_follow_up(
                session.id, metadata["followUpOf"], str(metadata.get("followUpPrompt") or "")
            ),
            encoding="utf-8",
        )
        command = agent_command(
            agent,
            LaunchRequest(
                session_id=context.session_id,
                role=role,
                brief=world.brief,
                brief_path=brief_path,
                cwd=cwd,
                model=metadata.get("model"),
                skills=tuple(world.skills),
                plugin_dir=write_plugin(files / "plugin", world.skills)
                if agent == "claude"
                else None,
                env=agent_env(env, files, tree),
                policy=world.policy,
                resume=resume,
            ),
        )
    except (AgentError, ClientError) as error:
        _mark_failed(client, context.session_id, se.INIT_FAILED, {"reason": error.message})
        raise
    for path, text in command.files.items():
        path.write_text(text, encoding="utf-8")
    started = [
        {
            "type": se.AGENT_STARTED,
            "data": {
                "agent": agent,
                "cwd": cwd,
                "program": command.argv[0],
                "permissionMode": world.policy.mode,
            },
        }
    ]
    started += [{"type": se.SKILL_MISSING, "data": {"skill": n}} for n in world.missing_skills]
    client.update_session(context.session_id, {"status": "running", "events": started})
    try:
        exit_code, outcome = _run_agent(
            command, files, metadata.get("model"), _activity(client.url, context.session_id)
        )
    except OSError as error:
        _mark_failed(
            client,
            context.session_id,
            se.AGENT_EXITED,
            {"exitCode": None, "reason": f"could not start {command.argv[0]}: {error}"},
        )
        raise AgentError(
            f"could not start the agent {command.argv[0]!r}: {error}", code="AGENT_START_FAILED"
        ) from None
    _finish(client, context.session_id, world, exit_code, outcome, tree)
    return exit_code


def maestro_bin_dir(files: Path) -> Path:
    """A directory holding the ``maestro`` of this very installation.

    It is the interpreter's own ``bin`` (a virtualenv's, say) when the
    ``maestro`` script is there; otherwise a one-line shim in the session's
    folder that runs this interpreter's ``-m maestro``.
    """
    here = Path(sys.executable).parent
    if (here / "maestro").is_file() and os.access(here / "maestro", os.X_OK):
        return here
    shim_dir = files / "bin"
    shim_dir.mkdir(exist_ok=True)
    shim = shim_dir / "maestro"
    shim.write_text(f'#!/bin/sh\nexec {_sh_quote(sys.executable)} -m maestro "$@"\n')
    shim.chmod(0o755)
    return shim_dir


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def agent_env(env: Mapping[str, str], files: Path, tree: Worktree | None = None) -> dict[str, str]:
    """The agent's environment: the terminal's, with this ``maestro`` first on PATH
    (and ``MAESTRO_WORKTREE``, the session's worktree, when it has one)."""
    agent = dict(env)
    if tree is not None:
        agent["MAESTRO_WORKTREE"] = str(tree.path)
    path = [str(maestro_bin_dir(files)), *filter(None, env.get("PATH", os.defpath).split(":"))]
    agent["PATH"] = ":".join(dict.fromkeys(path))
    return agent


def _finish(
    client: MaestroClient,
    session_id: str,
    world: SessionBrief,
    exit_code: int,
    outcome: AgentOutcome,
    tree: Worktree | None = None,
) -> None:
    """Record how the agent ended, in one PATCH (status, events, usage), after
    settling its worktree (``session_worktree.close_worktree``)."""
    failed = exit_code != 0 or outcome.is_error
    exited: dict[str, Any] = {"exitCode": exit_code}
    if failed:
        exited["reason"] = outcome.error or f"the agent exited with code {exit_code}"
    events: list[dict[str, Any]] = [{"type": se.AGENT_EXITED, "data": exited}]
    if outcome.result is not None or outcome.final_text is not None:
        text = (outcome.final_text or "")[:RESULT_TEXT_LIMIT]
        turns = (outcome.usage or {}).get("turns")
        events.append(
            {
                "type": se.AGENT_RESULT,
                "data": {"isError": outcome.is_error, "text": text, "turns": turns},
            }
        )
    policy = f"project {world.project['id']} permission policy (mode {world.policy.mode})"
    for denial in outcome.permission_denials:
        tool = str(denial.get("tool_name", ""))
        tool_input = denial.get("tool_input")
        events.append(
            {
                "type": se.PERMISSION_DENIED,
                "data": {
                    "tool": tool,
                    "input": json.dumps(tool_input, ensure_ascii=False)[:DENIAL_INPUT_PREVIEW],
                    "rule": matching_rule(world.policy.deny, tool, tool_input),
                    "policy": policy,
                },
            }
        )
    if not failed:
        landed = _reports_landed(client, session_id)
        if outcome.report_calls and landed == 0:
            failed = True
            reason = (
                f"the agent ran `maestro report` {outcome.report_calls} time(s) and none "
                "reached Maestro, so its tasks were never updated"
            )
            events.append(
                {
                    "type": se.REPORTS_FAILED,
                    "data": {"attempts": outcome.report_calls, "reason": reason},
                }
            )
            print(f"maestro: warning: {reason}; the session is marked failed", file=sys.stderr)
        elif landed == 0:
            events.append(
                {"type": se.NO_REPORTS, "data": {"reason": "the agent never ran `maestro report`"}}
            )
            print(
                "maestro: warning: the agent finished without reporting on its tasks",
                file=sys.stderr,
            )
    if tree is not None:
        events.append(close_worktree(session_id, tree, completed=not failed))
    body: dict[str, Any] = {"status": "failed" if failed else "completed", "events": events}
    if outcome.usage is not None:
        body["usage"] = outcome.usage
    if outcome.agent_session_id:
        body["agentSessionId"] = outcome.agent_session_id
    client.update_session(session_id, body)


def _reports_landed(client: MaestroClient, session_id: str) -> int:
    """How many ``maestro report`` calls the server recorded on the session;
    ``-1`` when it cannot be read (then nothing is concluded from it)."""
    try:
        session = client.get_session(session_id)
    except ClientError:
        return -1
    return sum(e.type.startswith(se.REPORT_PREFIX) for e in session.events)


def working_dir(project: dict[str, Any]) -> str:
    """The project's working directory when it is an existing absolute path (``~``
    expanded); otherwise the current one, which the runner has already resolved
    (it treats an empty or relative ``workingDir`` as relative to the home folder)."""
    configured = Path(project.get("workingDir") or "").expanduser()
    if configured.is_absolute() and configured.is_dir():
        return str(configured)
    return os.getcwd()


class _Output:
    """The agent's transcript, to the terminal and ``output.log``. A terminal that
    went away (window closed) must not stop the agent or the log, so after the
    first failure only the log is written. Two streams write here (stdout's
    transcript and stderr), hence the lock."""

    def __init__(self, log: IO[bytes]) -> None:
        self.log = log
        self.terminal_open = True
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.terminal_open:
                try:
                    sys.stdout.buffer.write(data)
                    sys.stdout.buffer.flush()
                except OSError:
                    self.terminal_open = False
            self.log.write(data)
            self.log.flush()


def _activity(server_url: str, session_id: str) -> ActivityForwarder | None:
    """The forwarder of the session's live activity, with a client of its own (it
    sends from its own thread; no retries, a short timeout: lines it cannot send
    are counted and skipped). ``None`` if it cannot be made: the agent runs anyway."""
    try:
        client = HttpClient(server_url, retries=0, timeout=ACTIVITY_TIMEOUT_SECONDS)
    except ClientError:
        return None
    return ActivityForwarder(client, session_id)


def _started(
    stack: contextlib.ExitStack, activity: ActivityForwarder | None
) -> ActivityForwarder | None:
    """Start the forwarder's thread, to be closed (what is queued sent, a few
    seconds at most) once the agent has exited; ``None`` if it cannot start."""
    if activity is None:
        return None
    try:
        return stack.enter_context(activity)
    except RuntimeError:  # no thread to be had: the agent runs without it
        activity.client.close()
        return None


def _run_agent(
    command: AgentCommand,
    files: Path,
    model: str | None,
    activity: ActivityForwarder | None = None,
) -> tuple[int, AgentOutcome]:
    """Start the agent, show and log its output (and forward what is shown to the
    session's live activity), forward signals; return its exit code and what its
    output said."""
    reader = reader_for(command.output_format, model)
    structured = command.output_format != "text"
    with contextlib.ExitStack() as stack:
        stdin = stack.enter_context(command.stdin.open("rb")) if command.stdin else None
        process = subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env=command.env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if structured else subprocess.STDOUT,
        )

        def forward(signum: int, _frame: FrameType | None) -> None:
            process.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            assert process.stdout is not None
            output = _Output(stack.enter_context((files / "output.log").open("ab")))
            if not structured:
                _copy_raw(process.stdout, output)
                return process.wait(), reader.outcome
            assert process.stderr is not None
            errors = threading.Thread(target=_copy_raw, args=(process.stderr, output), daemon=True)
            errors.start()
            raw = stack.enter_context((files / "stream.jsonl").open("ab"))
            activity = _started(stack, activity)
            for line in process.stdout:
                raw.write(line)
                raw.flush()
                shown = reader.feed(line.decode("utf-8", "replace").rstrip("\r\n"))
                if shown:
                    output.write(("\n".join(shown) + "\n").encode())
                    if activity is not None:
                        activity.add(shown)
            exit_code = process.wait()
            errors.join(timeout=5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if reader.outcome.result is not None:
        (files / "result.json").write_text(json.dumps(reader.outcome.result, indent=2))
    return exit_code, reader.outcome


def _copy_raw(source: IO[bytes], output: _Output) -> None:
    """Copy a stream as it comes (partial lines too: an agent may prompt)."""
    fd = source.fileno()
    while chunk := os.read(fd, 65536):
        output.write(chunk)
