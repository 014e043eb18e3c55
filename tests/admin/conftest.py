"""Fixtures of the operations console's tests: sign-up limits above a crowd of riders."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.dispatch.conftest import CROWD_LIMITS
from tests.harness import Infra


@pytest.fixture
def settings(infra: Infra) -> Settings:
    """Clean services, and sign-up and login limits above a crowd of riders."""
    infra.clean()
    return infra.settings(**CROWD_LIMITS)
