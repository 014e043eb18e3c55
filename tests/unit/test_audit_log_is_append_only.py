"""The audit log is append-only: no first-party code updates or deletes its rows, and rows are
made only by `app.audit.service.record` (read from the source with `ast`, nothing imported)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (every mapper, so that relationships resolve)
from app.audit.models import AuditEntry
from app.auth.models import User
from app.db import Base

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("app", "realtime", "dispatch")
WRITER = ROOT / "app" / "audit" / "service.py"
CHANGES = re.compile(r"\b(update|delete)\b.*\badmin_audit\b", re.I | re.S)


def _sources() -> list[Path]:
    return [
        path
        for package in FIRST_PARTY
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_no_code_updates_or_deletes_audit_entries() -> None:
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("update", "delete")
                and any(isinstance(a, ast.Name) and a.id == "AuditEntry" for a in node.args)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and CHANGES.search(text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_entries_are_made_only_by_the_audit_record_function() -> None:
    makers = []
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "AuditEntry"
            ):
                makers.append(path)
    assert makers == [WRITER]


def test_the_orm_refuses_to_change_or_remove_an_entry() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[User.__table__, AuditEntry.__table__])
    with Session(engine) as session:
        admin = User(email="a@example.com", password_hash="x", name="A", role="admin")
        session.add(admin)
        session.flush()
        entry = AuditEntry(
            admin_id=admin.id,
            action="store.suspend",
            target_type="store",
            target_id=1,
            details="{}",
        )
        session.add(entry)
        session.commit()
        entry.details = '{"forged": true}'
        with pytest.raises(TypeError, match="append-only"):
            session.commit()
        session.rollback()
        session.delete(entry)
        with pytest.raises(TypeError, match="append-only"):
            session.commit()
