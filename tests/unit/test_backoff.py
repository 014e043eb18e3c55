"""The supervisor's wait before restarting a node that keeps exiting."""

from __future__ import annotations

import signal

from app.launcher.supervisor import Backoff, describe_status


def test_restart_delays_double_from_one_second_up_to_thirty() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_exit_statuses_read_as_people_say_them() -> None:
    assert describe_status(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_status(1) == "status 1"
    assert describe_status(None) == "status unknown"
