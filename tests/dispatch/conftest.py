"""Dispatch fixtures: settings that let one test sign up a hundred riders from one address."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.harness import Infra

# Every test client comes from one address; the limits stay on, just above this test's crowd.
CROWD_LIMITS = {
    "signup_max_per_address": 1000,
    "login_max_attempts_per_address": 1000,
}


@pytest.fixture
def settings(infra: Infra) -> Settings:
    """Clean services, and sign-up and login limits above a crowd of riders."""
    infra.clean()
    return infra.settings(**CROWD_LIMITS)


def node_env(**extra: str) -> dict[str, str]:
    """Environment of a real node for dispatch tests."""
    return {
        "SIGNUP_MAX_PER_ADDRESS": "1000",
        "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000",
        **extra,
    }
