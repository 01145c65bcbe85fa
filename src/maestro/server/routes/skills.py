"""/api/skills: what skills exist (read from disk on each request, so a skill
added to MAESTRO_SKILLS_DIR shows up without a restart)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from maestro.domain.errors import SkillNotFound
from maestro.server.endpoint import Endpoint
from maestro.server.http import answer, path_id
from maestro.service.access import Rule
from maestro.skills import discover


class SkillSummary(msgspec.Struct):
    name: str
    description: str
    source: str


class SkillDetail(SkillSummary):
    instructions: str
    metadata: dict[str, Any]
    path: str


async def list_skills(request: Request) -> Response:
    skills, _ = discover(request.app.state.settings.skills_dir)
    return answer([s.summary() for s in sorted(skills.values(), key=lambda s: s.name)])


async def get_skill(request: Request) -> Response:
    name = path_id(request, "name")
    skills, _ = discover(request.app.state.settings.skills_dir)
    if name not in skills:
        raise SkillNotFound(f"skill {name} not found")
    return answer(skills[name].detail())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/skills",
        list_skills,
        "Available skills (built-in and user)",
        returns=list[SkillSummary],
        access=Rule.ANY,
    ),
    Endpoint(
        "GET",
        "/api/skills/{name}",
        get_skill,
        "One skill with its instructions",
        returns=SkillDetail,
        errors=(400, 404),
        access=Rule.ANY,
    ),
]
