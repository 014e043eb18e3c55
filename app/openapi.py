"""The API description served at /api/openapi.json (and committed as docs/openapi.json).

quart-schema reads the request and success shapes from the views; this provider completes each
operation from what its decorators declared (`app.validation`, `login_required`): every problem
it can answer with the codes that apply, its 204 or binary answers, the session cookie and the
headers it needs, multipart uploads. It also publishes the Problem schema and the shapes of the
realtime protocol, which no HTTP operation returns.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from typing import Any

from pydantic import TypeAdapter
from quart import Quart
from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from app.auth.login import COOKIE_NAME
from app.errors import ProblemCode
from app.problems import PROBLEM_TYPE, PROBLEMS, Problem
from app.responses import (
    AUTH_ATTRIBUTE,
    HEADERS_ATTRIBUTE,
    INDEPENDENT_ATTRIBUTE,
    OPTIONAL_BODY_ATTRIBUTE,
    PROBLEMS_ATTRIBUTE,
    RAW_BODY_ATTRIBUTE,
    RESPONSES_ATTRIBUTE,
)
from realtime.schemas import PROTOCOL_SHAPES, Event

REF = "#/components/schemas/{model}"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Ids are positive 64-bit integers.
ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
SESSION = "session"
CSRF_HEADER = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": True,
    "description": "The session's `csrf_token` (from sign-in or `GET /api/me`); required on "
    "every write made with the session cookie.",
    "schema": {"type": "string", "minLength": 1},
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
TAGS = [
    {"name": "accounts", "description": "Sign-up, sign-in, sign-out and the session."},
    {"name": "catalog", "description": "Stores, menus and images."},
    {"name": "orders", "description": "Placing, paying and moving orders through their life."},
    {"name": "points", "description": "The customer's points."},
    {"name": "coupons", "description": "First-come coupon campaigns and the customer's coupons."},
    {"name": "dispatch", "description": "Rider shifts, positions and offers."},
    {"name": "reviews", "description": "Ratings and reviews of delivered orders, and replies."},
    {"name": "operations", "description": "Health, readiness and metrics."},
    {"name": "addresses", "description": "The customer's saved delivery addresses."},
    {"name": "favourites", "description": "The customer's favourite stores."},
    {
        "name": "admin",
        "description": "The operations console (admins only): queues, manual assignment, "
        "cancellation with refund, suspensions and the audit log.",
    },
]
DESCRIPTION = (
    "The HTTP API of the delivery platform. Sign in with `POST /api/auth/login`: the session "
    f"cookie `{COOKIE_NAME}` authenticates every later call, and every write made with it "
    "carries the `X-CSRF-Token` header. Every error is `application/problem+json` with a "
    "stable `code` (the `Problem` schema). Money is integer won; times are RFC 3339 UTC. "
    "The realtime protocol (Socket.IO at `/socket.io/`) is described in docs/events.md; its "
    "shapes are the `Event`, `SubscribedAck`, `RefusedAck` and `LocationMessage` schemas here."
)


class ComponentClash(RuntimeError):
    """Two different shapes would publish under one component name."""


def _definitions(*shapes: Any) -> dict[str, Any]:
    """Component schemas of `shapes` and of everything they refer to, by name."""
    found: dict[str, Any] = {}
    for shape in shapes:
        schema = TypeAdapter(shape).json_schema(ref_template=REF, mode="serialization")
        for name, definition in schema.pop("$defs", {}).items():
            found[name] = definition
        if "title" in schema and "$ref" not in schema:
            found[schema["title"]] = schema
    return found


def _problem_response(status: int, codes: list[ProblemCode]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": "\n".join(f"- `{code}`: {PROBLEMS[code][1]}" for code in codes),
        "content": {
            PROBLEM_TYPE: {
                "schema": {
                    "allOf": [{"$ref": REF.format(model="Problem")}],
                    "properties": {
                        "status": {"const": status},
                        "code": {"enum": [code.value for code in codes]},
                    },
                }
            }
        },
    }
    if status == 429:
        response["headers"] = {"Retry-After": {**RETRY_AFTER, "required": True}}
    elif status == 503:
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


class DeliveryOpenAPI(OpenAPIProvider):
    """quart-schema's description, completed operation by operation."""

    def __init__(self, app: Quart, extension: Any) -> None:
        super().__init__(app, extension)
        self._components: dict[str, Any] = {}

    def schema(self) -> dict[str, Any]:
        """The whole description, checked for clashing component names."""
        self._components = {}
        spec: dict[str, Any] = super().schema()
        spec["info"]["description"] = DESCRIPTION
        spec["tags"] = TAGS
        schemas = spec["components"]["schemas"]
        for name, definition in _definitions(Problem, Event, *PROTOCOL_SHAPES).items():
            self._register(name, definition)
            schemas[name] = definition
        schemas["Event"] = TypeAdapter(Event).json_schema(ref_template=REF, mode="serialization")
        schemas["Event"].pop("$defs", None)
        spec["components"]["securitySchemes"] = {
            SESSION: {
                "type": "apiKey",
                "in": "cookie",
                "name": COOKIE_NAME,
                "description": "The session cookie set by `POST /api/auth/login` (HttpOnly).",
            }
        }
        spec["paths"] = dict(spec["paths"])
        return spec

    def _register(self, name: str, definition: Any) -> None:
        seen = self._components.setdefault(name, definition)
        if seen != definition:
            raise ComponentClash(f"two different schemas are both named {name!r}")

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        """The rule's operations, each completed from its view's declarations."""
        paths, components = super().build_paths(rule)
        for name, definition in components.items():
            self._register(name, definition)
        func = self._app.view_functions[rule.endpoint]
        for operations in paths.values():
            for method, operation in operations.items():
                operation = _complete(copy.deepcopy(operation), func, method.upper())
                for content in _contents(operation):
                    content["schema"] = self._hoisted(content["schema"], components)
                operations[method] = operation
        return paths, components

    def _hoisted(self, schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
        # A named shape becomes a component and the operation refers to it, as nested ones do.
        name = schema.get("title")
        if schema.get("type") != "object" or not name:
            return schema
        self._register(name, schema)
        components[name] = schema
        return {"$ref": REF.format(model=name)}

    def operation_id(self, method: str, path: str, func: Any) -> str:
        """`{part}_{view}`: unique across parts (`orders_accept`, `dispatch_accept`)."""
        module = func.__module__.split(".")
        part = module[-2] if module[-1] == "views" else module[-1]
        return f"{part}_{func.__name__}"

    def build_path_parameter(self, name: str, converter: Any) -> dict[str, Any]:
        """Path ids are positive 64-bit integers."""
        parameter: dict[str, Any] = super().build_path_parameter(name, converter)
        if parameter["schema"] == {"type": "integer"}:
            parameter["schema"] = dict(ID_SCHEMA)
        return parameter


def _contents(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Every media type object of the operation's request body and responses."""
    found = list(operation.get("requestBody", {}).get("content", {}).values())
    for response in operation["responses"].values():
        found.extend(response.get("content", {}).values())
    return found


def _complete(operation: dict[str, Any], func: Any, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = {str(k): v for k, v in operation["responses"].items()}
    for status, extra in getattr(func, RESPONSES_ATTRIBUTE, {}).items():
        response = responses.setdefault(status, {"description": ""})
        media_type = extra.get("media_type")
        if media_type and media_type != "application/json" and "content" in response:
            response["content"] = {media_type: response["content"].pop("application/json")}
        if extra.get("headers"):
            response["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in extra["headers"].items()
            }
        if "content" in extra:
            response["content"] = extra["content"]
        if extra.get("description"):
            response["description"] = extra["description"]

    codes = {ProblemCode(code) for code in getattr(func, PROBLEMS_ATTRIBUTE, {})}
    if method in SAFE_METHODS:
        codes.discard(ProblemCode.CSRF)
    if any(p["in"] == "path" for p in operation["parameters"]):
        codes.add(ProblemCode.NOT_FOUND)
    if not getattr(func, INDEPENDENT_ATTRIBUTE, False):
        codes.add(ProblemCode.UNAVAILABLE)
    by_status: dict[int, list[ProblemCode]] = defaultdict(list)
    for code in sorted(codes, key=list(ProblemCode).index):
        by_status[PROBLEMS[code][0]].append(code)
    for status, listed in sorted(by_status.items()):
        responses.setdefault(str(status), _problem_response(status, listed))
    operation["responses"] = dict(sorted(responses.items()))

    roles = getattr(func, AUTH_ATTRIBUTE, None)
    if roles is not None:
        operation["security"] = [{SESSION: []}]
        who = " or ".join(roles) if roles else "any signed-in user"
        operation["description"] = f"**Who:** {who}.\n\n{operation.get('description', '')}".strip()
        operation["x-roles"] = list(roles) or ["customer", "owner", "rider", "admin"]
        if method not in SAFE_METHODS:
            operation["parameters"].append(dict(CSRF_HEADER))
    for name, header in getattr(func, HEADERS_ATTRIBUTE, {}).items():
        operation["parameters"].append({"name": name, "in": "header", "required": True, **header})

    raw_body = getattr(func, RAW_BODY_ATTRIBUTE, None)
    if raw_body is not None:
        operation["requestBody"] = raw_body
    elif "requestBody" in operation:
        operation["requestBody"]["required"] = not getattr(func, OPTIONAL_BODY_ATTRIBUTE, False)
    if not operation["parameters"]:
        del operation["parameters"]
    if not operation.get("description"):
        operation.pop("description", None)
    return operation


def openapi_document(app: Quart) -> str:
    """The description of `app`'s API as committed in docs/openapi.json."""
    spec = app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
