"""What every route needs: the service's parts, the calling actor and versions (the inbox
pages by the work index's own cursor, ``vip_workflow.ports.WorkCursor``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import attrs
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vip_workflow.adapters.server.auth import Authenticator, Unauthorized
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.settings import ServerSettings
from vip_workflow.adapters.server.tokens import TokenStore
from vip_workflow.domain.instances import Actor

if TYPE_CHECKING:
    from vip_workflow import ProcessEngine, Workspace
    from vip_workflow.adapters.server.jobs import Jobs

__all__ = ["CurrentActor", "Service", "ServiceDep", "check_if_match", "etag"]


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


def _actor(service: ServiceDep,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
           ) -> Actor:
    if credentials is None:
        raise Unauthorized("no credential: send Authorization: Bearer <token>")
    return service.auth.actor(f"{credentials.scheme} {credentials.credentials}")


CurrentActor = Annotated[Actor, Depends(_actor)]


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
