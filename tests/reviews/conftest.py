"""Review fixtures: sign-up and login limits above the crowd of customers a race signs up."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.dispatch.conftest import CROWD_LIMITS
from tests.harness import Infra


@pytest.fixture
def settings(infra: Infra) -> Settings:
    """Clean services, and sign-up and login limits above a crowd of customers."""
    infra.clean()
    return infra.settings(**CROWD_LIMITS)
