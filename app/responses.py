"""What views answer: the base of response shapes, and the declarations a view makes about
its answers (problem codes, extra responses, headers, uploads, who may call it), from which
`app.openapi` describes every operation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from quart import Response
from quart_schema import document_response

from app.db import rfc3339
from app.errors import ProblemCode

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


def header(
    name: str, description: str, schema: dict[str, Any], *, required: bool = True
) -> Callable[[F], F]:
    """Decorator: the operation takes request header `name` (required unless said)."""

    def decorator(func: F) -> F:
        spec = {"description": description, "schema": schema, "required": required}
        _add(func, HEADERS_ATTRIBUTE, **{name: spec})
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
