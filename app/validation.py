"""Request parsing with the API's errors: 415 for a non-JSON body, 400 naming each bad field;
the decorators also declare those answers for the API description."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from quart import request
from quart_schema import DataSource, document_querystring, document_request

from app.errors import ProblemCode, UnsupportedMediaType, ValidationFailed
from app.responses import OPTIONAL_BODY_ATTRIBUTE, declare_problems

M = TypeVar("M", bound=BaseModel)

JSON_BODY_PROBLEMS = (
    ProblemCode.VALIDATION,
    ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    ProblemCode.TOO_LARGE,
)


class Schema(BaseModel):
    """Base of request shapes: unknown fields are refused, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _absent_not_null(schema: dict[str, Any]) -> None:
    # `None` stands for "left out": the schema shows the one type that may be sent.
    for name, field in schema.get("properties", {}).items():
        branches = [b for b in field.get("anyOf", []) if b.get("type") != "null"]
        if "anyOf" in field and len(branches) == 1:
            rest = {k: v for k, v in field.items() if k not in ("anyOf", "default")}
            schema["properties"][name] = {**branches[0], **rest}


class Partial(Schema):
    """Base of shapes whose fields may each be left out but not sent as null: PATCH bodies
    (absent means unchanged) and query strings. `None` means absent; the schema shows no null."""

    model_config = ConfigDict(json_schema_extra=_absent_not_null)


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
