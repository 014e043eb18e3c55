"""Request parsing with the API's errors, the base of response shapes, and the declarations a
view makes about what it answers (read by `app.openapi` to describe every operation)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, WithJsonSchema
from quart import Response, request
from quart_schema import DataSource, document_querystring, document_request, document_response

from app.db import rfc3339
from app.errors import ProblemCode, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

# What a view declares for the API description, kept on the view function (functools.wraps
# carries it to every wrapper above): problem codes it can answer, extra responses (204,
# binary), header parameters, a non-JSON request body, and who may call it.
PROBLEMS_ATTRIBUTE = "_api_problems"
RESPONSES_ATTRIBUTE = "_api_responses"
HEADERS_ATTRIBUTE = "_api_headers"
RAW_BODY_ATTRIBUTE = "_api_raw_body"
OPTIONAL_BODY_ATTRIBUTE = "_api_optional_body"
AUTH_ATTRIBUTE = "_api_auth"
INDEPENDENT_ATTRIBUTE = "_api_independent"

JSON_BODY_PROBLEMS = (
    ProblemCode.VALIDATION,
    ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    ProblemCode.TOO_LARGE,
)


def _nullable(schema: dict[str, Any]) -> bool:
    branches = schema.get("anyOf", [schema])
    return any(branch.get("type") == "null" for branch in branches)


# Bounds given to an optional field (`int | None = Field(ge=1)`) reach pydantic's schema
# under their Python names; JSON Schema spells them so.
_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def _tidy(schema: dict[str, Any]) -> None:
    for field in schema.get("properties", {}).values():
        # A field that may be left out but not sent as null (`T | SkipJsonSchema[None] =
        # None`) would otherwise show a `null` default its own type refuses.
        if field.get("default", 0) is None and not _nullable(field):
            del field["default"]
        for python, json_schema in _BOUNDS.items():
            if python in field:
                field[json_schema] = field.pop(python)


class Schema(BaseModel):
    """Base of request shapes: unknown fields are refused, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_tidy)


def _absent_not_null(schema: dict[str, Any]) -> None:
    _tidy(schema)
    for name, field in schema.get("properties", {}).items():
        branches = [b for b in field.get("anyOf", []) if b.get("type") != "null"]
        if "anyOf" in field and len(branches) == 1:
            rest = {k: v for k, v in field.items() if k not in ("anyOf", "default")}
            schema["properties"][name] = {**branches[0], **rest}


class Partial(Schema):
    """Base of shapes whose fields may each be left out but not sent as null: PATCH bodies
    (absent means unchanged) and query strings. `None` means absent; the schema shows no null."""

    model_config = ConfigDict(json_schema_extra=_absent_not_null)


class Out(BaseModel):
    """Base of response shapes: built by a part's presenter, served as JSON exactly as declared.

    `extra="forbid"` makes the published schema closed (`additionalProperties: false`), so a
    response with a field the description does not name fails the conformance checks.
    """

    model_config = ConfigDict(extra="forbid")

    def __getitem__(self, name: str) -> Any:
        """A field by its JSON name, as on the object it serializes to."""
        if name not in type(self).model_fields:
            raise KeyError(name)
        return getattr(self, name)


# Times are RFC 3339 UTC strings with a `Z`, to the second.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-24T12:00:00Z"]}),
]


def _absent(value: object) -> bool:
    return value is None


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omitted_when_absent(description: str | None = None) -> Any:
    """A field left out of the JSON (rather than sent as null) when it has no value.

    Type it `T | SkipJsonSchema[None]` so that the schema shows a plain, optional `T`.
    """
    return Field(
        default=None,
        exclude_if=_absent,
        json_schema_extra=_without_default,
        description=description,
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _messages(error: ValidationError) -> list[dict[str, str]]:
    out = []
    for item in error.errors(include_url=False):
        # Drop pydantic's internal union/function tags from the path.
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and "[" in p))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        out.append({"field": _field_path(loc), "message": message})
    return out


def load(model: type[M], data: Any) -> M:
    """Validate `data` against `model`, raising the 400 `validation` problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(
            "Some fields are missing or not valid.", errors=_messages(error)
        ) from None


async def read_json(model: type[M]) -> M:
    """Parse the request body as `model`: 415 unless JSON, 400 when malformed or invalid."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = await request.get_data(as_text=False)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "The body is not valid JSON.", errors=[{"field": "body", "message": "malformed JSON"}]
        ) from None
    return load(model, data)


def _add(func: Any, attribute: str, **entries: Any) -> None:
    # A new container each time: wrappers share the wrapped function's attribute values.
    setattr(func, attribute, {**getattr(func, attribute, {}), **entries})


def declare_problems(func: Any, codes: Iterable[str]) -> None:
    """Record that `func` can answer with these problem codes."""
    _add(func, PROBLEMS_ATTRIBUTE, **{ProblemCode(code).value: True for code in codes})


def problems(*codes: ProblemCode) -> Callable[[F], F]:
    """Decorator: the problem codes this operation can answer with, besides those its other
    decorators imply (sign-in, body and query parsing)."""

    def decorator(func: F) -> F:
        declare_problems(func, codes)
        return func

    return decorator


def body(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: parse the JSON body as `model` and pass it as `data=`; documented in OpenAPI."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, data=await read_json(model), **kwargs)

        declare_problems(wrapper, JSON_BODY_PROBLEMS)
        return document_request(model, source=DataSource.JSON)(wrapper)

    return decorator


def optional_body(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: like `body`, but an empty body counts as `{}` (actions with no required field)."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            data = await read_json(model) if await request.get_data() else model()
            return await func(*args, data=data, **kwargs)

        declare_problems(wrapper, JSON_BODY_PROBLEMS)
        setattr(wrapper, OPTIONAL_BODY_ATTRIBUTE, True)
        return document_request(model, source=DataSource.JSON)(wrapper)

    return decorator


def query(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: parse the query string as `model` and pass it as `query=`."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            args_dict = {key: request.args.get(key) for key in request.args}
            return await func(*args, query=load(model, args_dict), **kwargs)

        declare_problems(wrapper, [ProblemCode.VALIDATION])
        return document_querystring(model)(wrapper)

    return decorator


def returns(
    model: type[Out],
    status: int = 200,
    *,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view returns `model` (or `(model, status)`), sent as `media_type`;
    documented with `status` and the response `headers` it sets (name → description).

    Stacked for several statuses, each renders the values of its own model.
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = await func(*args, **kwargs)
            value, sent = result if isinstance(result, tuple) else (result, status)
            if not isinstance(value, model):
                return result  # a response already, or another `returns` above declares it
            return Response(value.model_dump_json(), status=sent, content_type=media_type)

        _add(
            wrapper,
            RESPONSES_ATTRIBUTE,
            **{str(status): {"headers": headers or {}, "media_type": media_type}},
        )
        return document_response(model, status)(wrapper)

    return decorator


def no_content(func: F) -> F:
    """Decorator: the operation answers 204 with no body."""
    _add(func, RESPONSES_ATTRIBUTE, **{"204": {"description": "Done; no content."}})
    return func


def binary(
    status: int,
    media_types: Iterable[str],
    description: str,
    schema: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Decorator: the operation answers `status` with a body of one of `media_types` (bytes,
    unless `schema` says otherwise)."""
    shape = schema or {"type": "string", "format": "binary"}
    content = {kind: {"schema": shape} for kind in media_types}

    def decorator(func: F) -> F:
        _add(
            func,
            RESPONSES_ATTRIBUTE,
            **{str(status): {"description": description, "content": content}},
        )
        return func

    return decorator


def no_dependencies(func: F) -> F:
    """Decorator: the operation answers without the database or Redis (never 503)."""
    setattr(func, INDEPENDENT_ATTRIBUTE, True)
    return func


def header(name: str, description: str, schema: dict[str, Any]) -> Callable[[F], F]:
    """Decorator: the operation requires request header `name`."""

    def decorator(func: F) -> F:
        _add(func, HEADERS_ATTRIBUTE, **{name: {"description": description, "schema": schema}})
        return func

    return decorator


def upload(field: str, media_types: Iterable[str], description: str) -> Callable[[F], F]:
    """Decorator: the body is multipart/form-data with one required file in `field`."""

    def decorator(func: F) -> F:
        setattr(
            func,
            RAW_BODY_ATTRIBUTE,
            {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                field: {
                                    "type": "string",
                                    "format": "binary",
                                    "description": description,
                                }
                            },
                            "required": [field],
                        },
                        "encoding": {field: {"contentType": ", ".join(media_types)}},
                    }
                },
            },
        )
        return func

    return decorator


def declare_auth(func: Any, roles: Iterable[str]) -> None:
    """Record that `func` needs a signed-in caller, of one of `roles` (any role when empty)."""
    setattr(func, AUTH_ATTRIBUTE, tuple(roles))
