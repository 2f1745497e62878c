"""What every route needs: the service's parts, the calling actor and versions (the inbox
pages by the work index's own cursor, ``vip_workflow.ports.WorkCursor``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import attrs
from fastapi import Depends, Request, Response, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from vip_workflow.adapters.server.auth import Authenticator, Unauthorized
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.settings import ServerSettings
from vip_workflow.adapters.server.tokens import TokenStore
from vip_workflow.domain.instances import Actor

if TYPE_CHECKING:
    from vip_workflow import ProcessEngine, Workspace
    from vip_workflow.adapters.server.jobs import Jobs

__all__ = ["CurrentActor", "Service", "ServiceDep", "actor_of", "body_of", "check_if_match",
           "etag", "json_response"]

M = TypeVar("M", bound=BaseModel)


@attrs.define
class Service:
    """The parts one app serves: the workspace (rules, cycle store, engine) and its auth."""

    workspace: Workspace
    settings: ServerSettings
    tokens: TokenStore
    auth: Authenticator
    jobs: Jobs

    @property
    def engine(self) -> ProcessEngine:
        engine: ProcessEngine = self.workspace.engine
        return engine


async def _service(request: Request) -> Service:  # async: no thread hop for a look-up
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(_service)]

_bearer = HTTPBearer(auto_error=False, description="An API token (vip-workflow token create) "
                     "or a JWT of the configured OIDC issuer.")


async def _actor(service: ServiceDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
                 ) -> Actor:  # async: a recently checked token costs no thread hop
    if credentials is None:
        raise Unauthorized("no credential: send Authorization: Bearer <token>")
    return await service.auth.actor_async(f"{credentials.scheme} {credentials.credentials}")


CurrentActor = Annotated[Actor, Depends(_actor)]


async def actor_of(request: Request) -> Actor:
    """``CurrentActor`` for a route that solves no dependencies (a hot path)."""
    service: Service = request.app.state.service
    return await service.auth.actor_async(request.headers.get("authorization"))


def body_of(model: type[M], raw: bytes) -> M:
    """A JSON body read into ``model`` as FastAPI would, for a route that solves no
    dependencies: the same ``RequestValidationError`` (locations under ``body``)."""
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",),
                                       "msg": "Field required", "input": None}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors],
                                     body=raw) from None


def _plain(value: Any) -> Any:
    """What ``json`` cannot write itself (dates, decimals, sets …), made plain by FastAPI."""
    return jsonable_encoder(value)


def json_response(content: Any, status_code: int = 200) -> Response:
    """``content`` written as JSON straight away: a hot route declares its body with
    ``response_model`` for the OpenAPI document and skips FastAPI's second pass over it."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                      default=_plain)
    return Response(text.encode("utf-8"), status_code=status_code,
                    media_type="application/json")


def etag(version: int) -> str:
    """The ETag of an instance at ``version``."""
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """412 when ``If-Match`` names another version than the instance's current one."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag(version) not in wanted:
        raise Problem(412, "precondition_failed",
                      f"If-Match {if_match} is not the instance's current version "
                      f"{etag(version)}: read it again", current_etag=etag(version))
