"""Request parsing with the API's errors: 415 for a non-JSON body, 400 naming each bad field,
404 for an id no row can have; the decorators also declare those answers for the API
description."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
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


# Field names as people read them, where the name alone does not say it well.
LABELS = {
    "lat": "Latitude",
    "lng": "Longitude",
    "use_points": "Points",
    "store_id": "Store",
    "menu_item_id": "Menu item",
    "option_ids": "Options",
    "coupon_id": "Coupon",
    "address_id": "Saved address",
    "body": "The body",
}


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _label(loc: tuple[int | str, ...]) -> str:
    names = [p for p in loc if isinstance(p, str) and "[" not in p]
    name = names[-1] if names else "body"
    if name == "text" and len(names) > 1:
        name = names[-2]  # `address.text`: the address
    label = LABELS.get(name) or name.replace("_", " ").strip().capitalize() or "The body"
    positions = [p for p in loc if isinstance(p, int)]
    if positions and names and names[0] == "items":
        label += f" (line {positions[0] + 1})"
    elif positions:
        label += f" (entry {positions[-1] + 1})"
    return label


def _plural(label: str) -> bool:
    word = label.split(" (")[0].split()[-1].lower()
    return word.endswith("s") and not word.endswith("ss")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


# pydantic's own wording ("Input should be a valid URL"), said of the field instead.
_PYDANTIC_SUBJECT = re.compile(
    r"^(Input|String|List|Value|Dictionary|Tuple|Set|Decimal input|Object|Data|URL) should "
)


def _says(label: str, kind: str, ctx: dict[str, Any], msg: str, name: str) -> str:
    """One sentence for people about one pydantic error."""
    n = {key: _number(value) for key, value in ctx.items()}
    are, needs = ("are", "need") if _plural(label) else ("is", "needs")
    tag = str(ctx.get("discriminator", "")).strip("'\"")
    simple = {
        "missing": f"{label} {are} required.",
        "extra_forbidden": f"“{name}” is not a field this request takes.",
        "string_pattern_mismatch": f"{label} {are} not in the expected format.",
        "string_type": f"{label} must be text.",
        "int_type": f"{label} must be a whole number.",
        "int_parsing": f"{label} must be a whole number.",
        "int_from_float": f"{label} must be a whole number.",
        "int_parsing_size": f"{label} {are} too large.",
        "float_type": f"{label} must be a number.",
        "float_parsing": f"{label} must be a number.",
        "finite_number": f"{label} must be a finite number.",
        "bool_type": f"{label} must be true or false.",
        "bool_parsing": f"{label} must be true or false.",
        "list_type": f"{label} must be a list.",
        "dict_type": f"{label} must be an object.",
        "model_type": f"{label} must be an object.",
        "model_attributes_type": f"{label} must be an object.",
        "greater_than": f"{label} must be more than {n.get('gt')}.",
        "greater_than_equal": f"{label} must be at least {n.get('ge')}.",
        "less_than": f"{label} must be less than {n.get('lt')}.",
        "less_than_equal": f"{label} must be at most {n.get('le')}.",
        "multiple_of": f"{label} must be a multiple of {n.get('multiple_of')}.",
        "string_too_long": f"{label} must be at most {n.get('max_length')} characters long.",
        "too_long": f"{label} can have at most {n.get('max_length')} entries.",
        "literal_error": f"{label} must be one of {ctx.get('expected')}.",
        "enum": f"{label} must be one of {ctx.get('expected')}.",
        "union_tag_invalid": f"{label} {tag} must be one of {ctx.get('expected_tags')}.",
        "union_tag_not_found": f"{label} {needs} its {tag}.",
    }
    if kind in simple:
        return simple[kind]
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{label} cannot be empty."
        return f"{label} must be at least {n.get('min_length')} characters long."
    if kind == "too_short":
        if ctx.get("min_length") == 1:
            return f"{label} {needs} at least one entry."
        return f"{label} {needs} at least {n.get('min_length')} entries."
    if kind.startswith(("datetime_", "timezone_")):
        return f"{label} must be a date and time with its time zone, like 2026-01-31T12:00:00Z."
    if kind.startswith("date_"):
        return f"{label} must be a date, like 2026-01-31."
    if kind.startswith("time_"):
        return f"{label} must be a time of day, like 09:30."
    if kind in ("value_error", "assertion_error"):
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    generic = _PYDANTIC_SUBJECT.match(msg)
    if generic:
        return _sentence(f"{label} should {msg[generic.end() :]}")
    if msg[:1].isupper():
        return _sentence(msg)
    return _sentence(f"{label} {msg}")


def explained(sentence: str) -> WrapValidator:
    """Field metadata: any failure of the field's own checks is told as `sentence` (keeping
    the failure's `type`), for fields whose rule a generic sentence says badly (a pattern)."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            kind = error.errors()[0]["type"] if error.error_count() else "value_error"
            raise PydanticCustomError(kind, sentence, {"sentence": sentence}) from None

    return WrapValidator(check)


def _messages(error: ValidationError) -> list[dict[str, str]]:
    out = []
    for item in error.errors(include_url=False):
        if item["type"] == ID_OUT_OF_RANGE:
            continue  # as for any unknown id: the lookup after validation would refuse it
        loc = item["loc"]
        ctx = item.get("ctx") or {}
        name = str(loc[-1]) if loc else "body"
        message = ctx.get("sentence") or _says(_label(loc), item["type"], ctx, item["msg"], name)
        out.append({"field": _field_of(loc), "message": message, "type": item["type"]})
    return out


def _detail(errors: list[dict[str, str]]) -> str:
    """The problem's `detail`: what is wrong, in sentences (the first three, then a count)."""
    if not errors:
        return "Some fields are missing or not valid."
    said = " ".join(error["message"] for error in errors[:3])
    more = len(errors) - 3
    return f"{said} (And {more} more.)" if more > 0 else said


def _refusal(error: ValidationError) -> ValidationFailed | NotFound:
    if error.error_count() == 1 and error.errors()[0]["type"] == "json_invalid":
        # pydantic's parser stops at 200 levels of nesting; deeper JSON is refused, not a
        # RecursionError.
        too_deep = "recursion limit" in error.errors()[0]["msg"]
        message = "The body is nested too deeply." if too_deep else "The body is not valid JSON."
        return ValidationFailed(
            message, errors=[{"field": "body", "message": message, "type": "json_invalid"}]
        )
    errors = error.errors(include_url=False)
    unknown = [item for item in errors if item["type"] == ID_OUT_OF_RANGE]
    if unknown and len(unknown) == len(errors):
        names = ", ".join(f"{_field_of(item['loc'])} {item['input']}" for item in unknown)
        return NotFound(f"No such id: {names}.")
    messages = _messages(error)
    return ValidationFailed(_detail(messages), errors=messages)


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
