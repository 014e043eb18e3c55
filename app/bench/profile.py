"""`delivery bench --profile`: where the nodes' CPU went during each measured piece of work.

py-spy samples each node process from outside (it does not pause it) while the piece of work
runs, and writes its raw stacks to `profiles/<piece>.<pid>.txt` (collapsed stacks: open them
with any flame-graph tool). Each sample is charged to the part of the stack that was running
at that moment: the innermost Python frame, named by the library its file belongs to, so the
summary says how much of the node's busy time went to the database layer, the driver, the
event loop, the web framework, this project's own code, and so on.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
RATE = 200  # samples a second per process

# The library a file belongs to, by a piece of its path; the first that matches names it.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("greenlet (SQLAlchemy's asyncio bridge)", ("/greenlet/",)),
    ("MySQL driver (aiomysql, PyMySQL)", ("/aiomysql/", "/pymysql/")),
    ("Redis client", ("/redis/",)),
    ("HTTP server and framework", ("/hypercorn/", "/quart/", "/h11/", "/werkzeug/", "/flask/")),
    ("Socket.IO and Engine.IO", ("/socketio/", "/engineio/", "/wsproto/")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    # The loop's entry point as the innermost Python frame: the time is in uvloop's C code
    # (polling, socket reads and writes, running callbacks) with no Python frame above it.
    ("event loop in C (uvloop: sockets, polling)", ("/asyncio/runners.py", "/uvloop/")),
    ("asyncio in Python (tasks, streams, timeouts)", ("/asyncio/",)),
)
OURS = "this project (app, realtime, dispatch)"
STDLIB = "standard library (json, logging, …)"
OTHER = "other libraries"
# "func (path/to/file.py:12)"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):\d+\)$")


def part_of(file: str) -> str:
    """The library (or this project, or the standard library) that `file` belongs to."""
    for name, pieces in PARTS:
        if any(piece in file for piece in pieces):
            return name
    if "site-packages" in file or "dist-packages" in file:
        return OTHER
    if file.startswith(str(PROJECT)):
        return OURS
    return STDLIB


def summarise(paths: list[Path], *, top: int = 8) -> dict[str, Any]:
    """Shares of the busy samples by library, and the functions most often running."""
    parts: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    samples = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            leaf = FRAME.match(stack.rsplit(";", 1)[-1])
            if leaf is None:
                continue
            file = leaf["file"]
            parts[part_of(file)] += count
            short = file.split("site-packages/")[-1].replace(str(PROJECT) + "/", "")
            functions[f"{leaf['function']} ({short})"] += count
            samples += count
    if samples == 0:
        return {"samples": 0, "by_part": {}, "top_functions": []}
    return {
        "samples": samples,
        "by_part": {name: round(n / samples, 3) for name, n in parts.most_common()},
        "top_functions": [[name, round(n / samples, 3)] for name, n in functions.most_common(top)],
    }


def py_spy() -> str:
    """The py-spy executable: next to this Python's, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: run `make install` (it is a dev dependency)")
    return found


@dataclass
class Profiler:
    """Records a py-spy profile of some processes around each piece of work it is given."""

    folder: Path
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @asynccontextmanager
    async def record(self, label: str, pids: list[int]) -> AsyncIterator[None]:
        """Sample `pids` while the body runs; keep and print the summary under `label`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        paths = [self.folder / f"{slug}.{pid}.txt" for pid in pids]
        options = ["--rate", str(RATE), "--format", "raw", "--full-filenames", "--nonblocking"]
        # Sampling starts within milliseconds; a piece of work lasts seconds.
        samplers = [
            await asyncio.create_subprocess_exec(
                py_spy(),
                *["record", "--pid", str(pid), *options, "--output", str(path)],
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            for pid, path in zip(pids, paths, strict=True)
        ]
        try:
            yield
        finally:
            for sampler in samplers:
                if sampler.returncode is None:
                    sampler.send_signal(signal.SIGINT)
            errors = [(await sampler.communicate())[1] for sampler in samplers]
        for pid, sampler, error in zip(pids, samplers, errors, strict=True):
            if sampler.returncode != 0:
                text = error.decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"py-spy could not sample {pid}: {text[0] if text else ''}")
        summary = summarise(paths)
        summary["files"] = [str(path) for path in paths]
        self.summaries[label] = summary
        shares = " · ".join(
            f"{share * 100:.0f}% {name}" for name, share in list(summary["by_part"].items())[:6]
        )
        print(f"    profile ({summary['samples']} samples): {shares}", flush=True)
