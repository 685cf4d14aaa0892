"""The routes' request handler: FastAPI's declarations, with their dependencies called directly.

FastAPI resolves dependencies generically on every request (overrides, scopes, caches keyed by
security scopes, generators, thread pools): on FastAPI 0.16x that costs more than a login's two
RSA verifications, and a one-login request pays it for five dependencies. Every dependency
of this service is an ``async`` function of the request and of other dependencies (the API key
header, auth, the snapshot, limits), so :class:`DirectRoute` calls them itself, in FastAPI's
order, from the very dependency tree FastAPI built from the declarations:

- the OpenAPI schema, the endpoints' signatures and the order of checks are FastAPI's (the
  body read and JSON-decoded first, then the dependencies depth first, a dependency used twice
  called once per request, then the body validated against its model with FastAPI's own
  function, so errors carry the same locations);
- a route whose tree needs anything else (query, header or path parameters, a ``yield``
  dependency, a plain ``def``, security scopes, a background task) keeps FastAPI's handler, and
  so does every request while ``app.dependency_overrides`` is set;
- endpoints return a :class:`starlette.responses.Response` (the routers encode with orjson);
  the response model documents the shape.

>>> from fastapi import APIRouter
>>> router = APIRouter(route_class=DirectRoute)   # as every router of this service
"""

from __future__ import annotations

import email.message
import inspect
import json
from typing import Any, Callable, Coroutine

from fastapi._compat import Undefined
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, _effective_route_context_var
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_UNSET: Any = object()


def _is_async(call: Any) -> bool:
    if inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call):
        return False
    if inspect.iscoroutinefunction(call):
        return True
    return callable(call) and inspect.iscoroutinefunction(type(call).__call__)  # an instance (APIKeyHeader)


def _direct(dep: Dependant, root: bool = False) -> bool:
    """Whether FastAPI would call ``dep`` with nothing but the request and its sub-dependencies
    (the root, the endpoint, may also take one body)."""
    if dep.path_params or dep.query_params or dep.header_params or dep.cookie_params:
        return False
    if dep.body_params and not root:
        return False
    if dep.websocket_param_name or dep.response_param_name or dep.background_tasks_param_name or dep.security_scopes_param_name:
        return False
    if getattr(dep, "concurrency", None) is not None or getattr(dep, "own_oauth_scopes", None):
        return False
    if dep.call is None or not _is_async(dep.call):
        return False
    return all(_direct(d) for d in dep.dependencies)


async def _sub_values(dep: Dependant, request: Request, cache: dict) -> dict[str, Any]:
    """The values of ``dep``'s sub-dependencies by parameter name, each called once per request
    when ``use_cache`` (FastAPI's rule)."""
    values: dict[str, Any] = {}
    for sub in dep.dependencies:
        value = cache.get(sub.call, _UNSET) if sub.use_cache else _UNSET
        if value is _UNSET:
            value = await _call(sub, request, cache)
            cache.setdefault(sub.call, value)
        if sub.name is not None:
            values[sub.name] = value
    return values


async def _call(dep: Dependant, request: Request, cache: dict) -> Any:
    """Calls ``dep`` after its sub-dependencies (depth first, in declaration order), each
    dependency with ``use_cache`` once per request, as FastAPI's solver does."""
    values = await _sub_values(dep, request, cache)
    if dep.request_param_name:
        values[dep.request_param_name] = request
    if dep.http_connection_param_name:
        values[dep.http_connection_param_name] = request
    return await dep.call(**values)  # type: ignore[misc]


def _json_content_type(value: str | None) -> bool:
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class DirectRoute(APIRoute):
    """An :class:`fastapi.routing.APIRoute` whose handler calls the dependencies directly
    (see the module docstring); FastAPI's handler where that does not apply."""

    def get_route_handler(self) -> Handler:
        fastapi_handler = super().get_route_handler()
        route: Any = self
        effective = _effective_route_context_var.get()
        if effective is not None and effective.original_route is self:
            route = effective  # the route as included in the app (FastAPI 0.16x)
        dependant: Dependant = route.dependant
        if not _direct(dependant, root=True):
            return fastapi_handler
        body_field = route.body_field
        body_fields = dependant.body_params
        embed = route._embed_body_fields
        overrides = route.dependency_overrides_provider
        strict = getattr(route.strict_content_type, "value", route.strict_content_type)

        async def handler(request: Request) -> Response:
            if (overrides is not None and getattr(overrides, "dependency_overrides", None)) or MAX_BODY_SIZE_SCOPE_KEY in request.scope:
                return await fastapi_handler(request)
            body: Any = Undefined
            if body_field is not None:
                # As FastAPI reads a body: JSON by Content-Type, decode errors answered at once.
                try:
                    raw = await request.body()
                    if raw:
                        content_type = request.headers.get("content-type")
                        json_body = _json_content_type(content_type) or (not content_type and not strict)
                        body = await request.json() if json_body else raw
                except json.JSONDecodeError as e:
                    error = {"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error", "input": {},
                             "ctx": {"error": e.msg}}
                    raise RequestValidationError([error], body=e.doc) from e
                except HTTPException:
                    raise
                except Exception as e:
                    raise HTTPException(status_code=400, detail="There was an error parsing the body") from e
            cache: dict = {}
            values = await _sub_values(dependant, request, cache)
            if body_fields:
                body_values, errors = await request_body_to_args(body_fields=body_fields, received_body=body, embed_body_fields=embed)
                if errors:
                    raise RequestValidationError(errors, body=body)
                values.update(body_values)
            if dependant.request_param_name:
                values[dependant.request_param_name] = request
            if dependant.http_connection_param_name:
                values[dependant.http_connection_param_name] = request
            response = await dependant.call(**values)  # type: ignore[misc]
            if not isinstance(response, Response):
                raise TypeError(f"{request.url.path}: a DirectRoute endpoint must return a Response, not {type(response).__name__}")
            return response

        return handler
