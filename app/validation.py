"""Request parsing with the contract's errors: 415 for a non-JSON body, 400 with field errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from quart import request
from quart_schema import DataSource, document_querystring, document_request

from app.errors import UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class Schema(BaseModel):
    """Base of request shapes: unknown fields are refused, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    """Validate `data` against `model`, raising the contract's 400 `validation`."""
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

        return document_request(model, source=DataSource.JSON)(wrapper)

    return decorator


def query(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: parse the query string as `model` and pass it as `query=`."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            args_dict = {key: request.args.get(key) for key in request.args}
            return await func(*args, query=load(model, args_dict), **kwargs)

        return document_querystring(model)(wrapper)

    return decorator
