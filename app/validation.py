"""Request parsing with the API's errors: 415 for a non-JSON body, 400 naming each bad field,
404 for an id no row can have; the decorators also declare those answers for the API
description."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from quart import request
from quart_schema import DataSource, document_querystring, document_request
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import IntegerConverter, Map

from app.errors import NotFound, ProblemCode, UnsupportedMediaType, ValidationFailed
from app.responses import OPTIONAL_BODY_ATTRIBUTE, declare_problems

M = TypeVar("M", bound=BaseModel)

JSON_BODY_PROBLEMS = (
    ProblemCode.VALIDATION,
    ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    ProblemCode.TOO_LARGE,
)
# Ids are BIGINT on MariaDB and INTEGER on SQLite, both signed 64-bit.
MAX_ID = 2**63 - 1
ID_OUT_OF_RANGE = "id_out_of_range"


def _in_id_range(value: int) -> int:
    # A larger number names nothing that can exist: the caller learns what an unknown id
    # would tell them (404), and the database never sees a value its column cannot hold.
    if value > MAX_ID:
        raise PydanticCustomError(ID_OUT_OF_RANGE, "does not exist")
    return value


class _IdRange(AfterValidator):
    """Marks a field as an id (see `Id`), so that parsers know they may answer 404."""


# A positive integer naming a row: beyond the columns' range it is not-found, not a fault.
Id = Annotated[int, Field(gt=0), _IdRange(_in_id_range)]


class IdConverter(IntegerConverter):
    """`<int:…>` in a path: an id from 1 to MAX_ID; anything else is 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map)

    def to_python(self, value: str) -> int:
        """The id, or 404 for digits no row can be named by."""
        number = int(value) if len(value) <= len(str(MAX_ID)) else 0
        if not 1 <= number <= MAX_ID:
            # Not a mere non-match: werkzeug answers that with 405 when a rule for another
            # method shares the path.
            raise RouteNotFound(f"No such id: {value[:40]}.")
        return number


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


def _field_of(loc: tuple[int | str, ...]) -> str:
    # Drop pydantic's internal union/function tags from the path.
    return _field_path(tuple(p for p in loc if not (isinstance(p, str) and "[" in p)))


def _messages(error: ValidationError) -> list[dict[str, str]]:
    out = []
    for item in error.errors(include_url=False):
        if item["type"] == ID_OUT_OF_RANGE:
            continue  # as for any unknown id: the lookup after validation would refuse it
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        out.append({"field": _field_of(item["loc"]), "message": message})
    return out


def _refusal(error: ValidationError) -> ValidationFailed | NotFound:
    if error.error_count() == 1 and error.errors()[0]["type"] == "json_invalid":
        # pydantic's parser stops at 200 levels of nesting; deeper JSON is refused, not a
        # RecursionError.
        too_deep = "recursion limit" in error.errors()[0]["msg"]
        message = "nested too deeply" if too_deep else "malformed JSON"
        return ValidationFailed(
            "The body is not valid JSON.", errors=[{"field": "body", "message": message}]
        )
    errors = error.errors(include_url=False)
    unknown = [item for item in errors if item["type"] == ID_OUT_OF_RANGE]
    if unknown and len(unknown) == len(errors):
        names = ", ".join(f"{_field_of(item['loc'])} {item['input']}" for item in unknown)
        return NotFound(f"No such id: {names}.")
    return ValidationFailed("Some fields are missing or not valid.", errors=_messages(error))


def load(model: type[M], data: Any) -> M:
    """Validate `data` against `model`: 400 `validation`, or 404 for ids no row can have."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _refusal(error) from None


async def read_json(model: type[M]) -> M:
    """Parse the request body as `model`: 415 unless JSON, 400 when malformed or invalid."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = await request.get_data(as_text=False)
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise _refusal(error) from None


def _holds_id(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        return any(isinstance(x, _IdRange) for x in extras) or _holds_id(base)
    return any(_holds_id(arg) for arg in get_args(annotation))


def field_is_id(field: FieldInfo) -> bool:
    """True when the field is an `Id`, an optional one, or a list of them."""
    return any(isinstance(x, _IdRange) for x in field.metadata) or _holds_id(field.annotation)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def names_ids(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> bool:
    """True when `model` has an `Id` field anywhere (so parsing it may answer 404)."""
    seen = set() if seen is None else seen
    if model in seen:
        return False
    seen.add(model)
    return any(
        field_is_id(field) or any(names_ids(inner, seen) for inner in _models_in(field.annotation))
        for field in model.model_fields.values()
    )


def _parsing_problems(model: type[BaseModel], codes: tuple[ProblemCode, ...]) -> list[str]:
    return [*codes, ProblemCode.NOT_FOUND] if names_ids(model) else list(codes)


def body(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: parse the JSON body as `model` and pass it as `data=`; documented in OpenAPI."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, data=await read_json(model), **kwargs)

        declare_problems(wrapper, _parsing_problems(model, JSON_BODY_PROBLEMS))
        return document_request(model, source=DataSource.JSON)(wrapper)

    return decorator


def optional_body(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: like `body`, but an empty body counts as `{}` (actions with no required field)."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            data = await read_json(model) if await request.get_data() else model()
            return await func(*args, data=data, **kwargs)

        declare_problems(wrapper, _parsing_problems(model, JSON_BODY_PROBLEMS))
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

        declare_problems(wrapper, _parsing_problems(model, (ProblemCode.VALIDATION,)))
        return document_querystring(model)(wrapper)

    return decorator
