"""`delivery bench`'s CPU accounting: the --profile summary, and where a round's CPU went."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.bench.common import Usage
from app.bench.profile import OTHER, OURS, PROJECT, STDLIB, part_of, summarise

SITE = "/srv/venv/lib/python3.11/site-packages"


def test_each_file_is_charged_to_its_library() -> None:
    assert part_of(f"{SITE}/sqlalchemy/engine/base.py") == "SQLAlchemy"
    assert part_of(f"{SITE}/pymysql/connections.py") == "MySQL driver (aiomysql, PyMySQL)"
    assert part_of(f"{SITE}/hypercorn/protocol/h11.py") == "HTTP server and framework"
    assert part_of("/usr/lib/python3.11/asyncio/runners.py") == (
        "event loop in C (uvloop: sockets, polling)"
    )
    assert part_of("/usr/lib/python3.11/asyncio/streams.py") == (
        "asyncio in Python (tasks, streams, timeouts)"
    )
    assert part_of(f"{PROJECT}/app/orders/placement.py") == OURS
    assert part_of(f"{SITE}/argon2/_password_hasher.py") == OTHER
    assert part_of("/usr/lib/python3.11/json/encoder.py") == STDLIB


def test_a_sample_counts_for_its_innermost_frame_only(tmp_path: Path) -> None:
    raw = tmp_path / "piece.1.txt"
    view = f"place ({PROJECT}/app/orders/views.py:10)"
    raw.write_text(
        f"run (/usr/lib/python3.11/asyncio/events.py:80);{view};"
        f"execute ({SITE}/sqlalchemy/engine/base.py:1400) 30\n"
        f"run (/usr/lib/python3.11/asyncio/events.py:80);{view} 10\n"
        "a line py-spy would never write\n"
    )
    summary = summarise([raw, tmp_path / "missing.2.txt"])
    assert summary["samples"] == 40
    assert summary["by_part"] == {"SQLAlchemy": 0.75, OURS: 0.25}
    assert summary["top_functions"][0] == ["execute (sqlalchemy/engine/base.py)", 0.75]
    assert summary["top_functions"][1] == ["place (app/orders/views.py)", 0.25]


def test_usage_counts_this_process_as_the_client_and_reads_the_machine() -> None:
    pid = os.getpid()
    before = Usage.now([pid])
    spin_until = time.process_time() + 0.05
    while time.process_time() < spin_until:
        pass
    used = Usage.now([pid]).since(before)
    # The only "node" here is this process, so both counters saw the same spin.
    assert used["client_cores"] > 0 and used["nodes_cores"] > 0
    assert 0 < used["machine_busy"] <= 1
