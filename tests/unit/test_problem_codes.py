"""Every problem code the code can raise is one the API description and docs/api.md list.

Read from the source with `ast`: each `code=` given to an error or a refusal, and each error
class's own code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from app.errors import DomainError, ProblemCode
from app.problems import PROBLEMS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    path
    for package in ("app", "realtime", "dispatch")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
]


def _codes_in_source() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found[value.value] = f"{path.relative_to(ROOT)}:{value.lineno}"
    return found


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


def test_the_source_was_read() -> None:
    codes = _codes_in_source()
    assert {"rider-busy", "coupon-sold-out", "email-taken"} <= set(codes)


def test_every_code_given_in_the_source_is_a_problem_code() -> None:
    unknown = {
        code: where for code, where in _codes_in_source().items() if code not in set(ProblemCode)
    }
    assert unknown == {}


def test_every_error_class_answers_with_a_problem_code() -> None:
    for error in _subclasses(DomainError):
        assert error.code in set(ProblemCode), error


def test_every_problem_code_has_a_status_and_says_when_it_happens() -> None:
    assert set(PROBLEMS) == set(ProblemCode)
    for code, (status, when) in PROBLEMS.items():
        assert 400 <= status < 600 and when, code


def test_every_error_class_has_the_status_its_code_is_documented_with() -> None:
    for error in _subclasses(DomainError):
        assert PROBLEMS[ProblemCode(error.code)][0] == error.status, error
