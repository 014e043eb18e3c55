"""The admin made at start (DELIVERY_ADMIN_EMAIL, DELIVERY_ADMIN_PASSWORD) has a password as
good as sign-up asks for, or the node refuses to start, naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.auth.schemas import SignupRequest
from app.config import MAX_PASSWORD, MIN_PASSWORD, AdminBootstrap, Settings
from app.errors import ValidationFailed
from app.validation import load


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: none of the machine's may leak into these tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("x" * (MIN_PASSWORD - 1), f"needs at least {MIN_PASSWORD} characters"),
        ("short-1", f"needs at least {MIN_PASSWORD} characters"),
        ("abababababab", "too easy to guess"),
        ("x1-" * MAX_PASSWORD, f"at most {MAX_PASSWORD} characters"),
    ],
)
@pytest.mark.parametrize("kind", [Settings, AdminBootstrap])
def test_a_weak_admin_password_is_refused_naming_the_variable(
    kind: type[AdminBootstrap], password: str, why: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        kind(delivery_admin_email="boss@example.com", delivery_admin_password=password)
    message = str(refused.value)
    assert "DELIVERY_ADMIN_PASSWORD" in message and why in message


def test_the_variable_in_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_ADMIN_EMAIL", "boss@example.com")
    monkeypatch.setenv("DELIVERY_ADMIN_PASSWORD", "hunter2")
    with pytest.raises(ValidationError, match="DELIVERY_ADMIN_PASSWORD needs at least"):
        AdminBootstrap()


def test_the_admin_password_is_held_to_exactly_the_signup_rules() -> None:
    signup = {"email": "a@example.com", "name": "A", "role": "customer"}
    for password in ("x" * (MIN_PASSWORD - 1), "abababababab", "x1-" * MAX_PASSWORD):
        with pytest.raises(ValidationError):
            Settings(delivery_admin_password=password)
        with pytest.raises(ValidationFailed):
            load(SignupRequest, {**signup, "password": password})
    good = "a-good-admin-password"
    assert Settings(delivery_admin_password=good).delivery_admin_password == good
    assert load(SignupRequest, {**signup, "password": good}).password == good


def test_an_unset_or_blank_admin_password_means_no_admin() -> None:
    assert Settings().delivery_admin_password is None
    assert Settings(delivery_admin_password="   ").delivery_admin_password is None


def test_the_admin_password_is_stripped_as_sign_in_strips_it() -> None:
    settings = Settings(delivery_admin_password="  a-good-admin-password ")
    assert settings.delivery_admin_password == "a-good-admin-password"
