"""Start-up for the JSON store: loading the entity files into memory (a file that
does not parse is moved to ``.quarantine/``), and repairing task-session links
a crash left one-sided. Replaying the journal over them is the store's own
(``JsonFileStore._replay_journal``): it feeds the next checkpoint too."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import msgspec
from msgspec.structs import replace

from maestro.domain.clock import now_ms
from maestro.domain.ids import is_valid_id
from maestro.domain.models import Approval, Project, Runner, Session, Task, Token
from maestro.store.base import E
from maestro.store.files import is_temp_file
from maestro.store.memory import AnyEntity, Memory

log = logging.getLogger("maestro.store")


def load_entities(root: Path, memory: Memory) -> None:
    """Every project, task, session, approval, runner and token file under
    ``root`` into ``memory``."""
    for project in _load_folder(root, root / "projects", Project):
        memory.put(project)
    for folder in sorted((root / "tasks").iterdir()):
        if folder.is_dir():
            for task in _load_folder(root, folder, Task, project_id=folder.name):
                memory.put(task)
    for session in _load_folder(root, root / "sessions", Session):
        memory.put(session)
    if (root / "approvals").is_dir():  # a data directory from before approvals has none
        for approval in _load_folder(root, root / "approvals", Approval):
            memory.put(approval)
    if (root / "runners").is_dir():  # nor one from before runners
        for runner in _load_folder(root, root / "runners", Runner):
            memory.put(runner)
    if (root / "tokens").is_dir():  # nor one from before tokens
        for token in _load_folder(root, root / "tokens", Token):
            memory.put(token)


def _load_folder(
    root: Path, folder: Path, kind: type[E], project_id: str | None = None
) -> Iterable[E]:
    # os.scandir and plain reads: at 100k files, pathlib's extra stat per file
    # and object churn were a fifth of the start-up time.
    decoder = msgspec.json.Decoder(kind)
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        path = Path(entry.path)
        if is_temp_file(path):
            # An unfinished write from a crash: never acknowledged, so never kept.
            path.unlink(missing_ok=True)
            continue
        if not entry.name.endswith(".json") or not entry.is_file():
            continue
        try:
            with open(entry.path, "rb") as file:
                entity = decoder.decode(file.read())
        except (msgspec.MsgspecError, OSError) as error:
            quarantine(root, path, str(error))
            continue
        if entity.id != entry.name[:-5] or not is_valid_id(entity.id):
            quarantine(root, path, f"its id {entity.id!r} does not match its file name")
            continue
        if isinstance(entity, Task) and entity.project_id != project_id:
            quarantine(root, path, f"its projectId {entity.project_id!r} is not its folder")
            continue
        yield entity


def quarantine(root: Path, path: Path, reason: str) -> None:
    """Move a file that cannot be used aside, into ``.quarantine/``, with a log line."""
    target_dir = root / ".quarantine"
    target_dir.mkdir(exist_ok=True)
    relative = path.relative_to(root)
    target = target_dir / f"{now_ms()}__{'__'.join(relative.parts)}"
    shutil.move(str(path), target)
    log.error("quarantined %s -> %s: %s", relative, target.relative_to(root), reason)


def repaired_links(memory: Memory) -> list[AnyEntity]:
    """New versions that make task<->session links symmetric again after a crash
    between the two files of one change: a link either side still records is
    kept, and ids of entities that no longer exist are dropped."""
    links = {
        (session.id, task_id)
        for session in memory.sessions.values()
        for task_id in session.task_ids
        if task_id in memory.tasks
    } | {
        (session_id, task.id)
        for task in memory.tasks.values()
        for session_id in task.session_ids
        if session_id in memory.sessions
    }
    task_ids_of: dict[str, set[str]] = {}
    session_ids_of: dict[str, set[str]] = {}
    for session_id, task_id in links:
        task_ids_of.setdefault(session_id, set()).add(task_id)
        session_ids_of.setdefault(task_id, set()).add(session_id)
    repaired: list[AnyEntity] = []
    for session in list(memory.sessions.values()):
        kept = _linked(session.task_ids, task_ids_of.get(session.id, set()))
        if kept != list(session.task_ids):
            repaired.append(replace(session, task_ids=type(session.task_ids)(kept)))
    for task in list(memory.tasks.values()):
        kept = _linked(task.session_ids, session_ids_of.get(task.id, set()))
        if kept != list(task.session_ids):
            repaired.append(replace(task, session_ids=type(task.session_ids)(kept)))
    for entity in repaired:
        log.warning("repaired the task/session links of %s", entity.id)
    return repaired


def _linked(ids: Iterable[str], wanted: set[str]) -> list[str]:
    """``ids`` that are still wanted, in their order, then the wanted ones missing."""
    kept = [i for i in ids if i in wanted]
    return kept + sorted(wanted.difference(kept))
