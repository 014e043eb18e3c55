"""What a simulation is asked to do (the command's flags), and the settings a cluster needs for it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_ADMIN_EMAIL = "sim-admin@example.com"
DEFAULT_ADMIN_PASSWORD = "simulation-admin-pw"

# The one place for the settings a simulated city needs on the cluster it runs against. All its
# clients share one address, so the per-address limits are lifted; each customer orders often
# at --speed 60, so the per-customer placement limit is too; hashing is cheap so that the city's
# sign-ins do not eat the peak's CPU; an unanswered order is rejected within a wall minute.
NODE_ENV = {
    "LOG_LEVEL": "WARNING",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "SIGNUP_MAX_PER_ADDRESS": "1000000",
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000",
    "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    "ORDER_MAX_PER_CUSTOMER": "1000",
    "STORE_ACCEPT_TIMEOUT": "60",
    "DELIVERY_ADMIN_EMAIL": DEFAULT_ADMIN_EMAIL,
    "DELIVERY_ADMIN_PASSWORD": DEFAULT_ADMIN_PASSWORD,
}


@dataclass
class SimConfig:
    """Every knob of one run; `delivery simulate --help` describes each."""

    url: str = DEFAULT_URL
    seed: int = 1
    stores: int = 8
    customers: int = 60
    riders: int = 24
    peak: float = 30.0  # orders per wall-clock minute at the top of the dinner peak
    speed: float = 60.0  # simulated seconds per wall-clock second
    start: float = 17.5 * 3600  # simulated clock at the start, seconds after midnight
    duration: float = 2 * 3600  # simulated seconds of demand
    drain: float = 120.0  # wall seconds to let open orders finish after demand stops
    faults: bool = False
    # Cut one node's host off the network for a while (a --cluster-dir of `delivery netns up`).
    partition: bool = False
    cluster: bool = False  # start a cluster of our own (else use --url / --cluster-dir)
    cluster_dir: Path | None = None  # a running `delivery cluster`'s folder (cluster.json)
    nodes: int = 2
    # The --cluster's cache and events on a Redis Cluster (three masters, a replica each).
    redis_cluster: bool = False
    out: Path = field(default_factory=lambda: Path("test-artifacts/simulations"))
    admin_email: str = DEFAULT_ADMIN_EMAIL
    admin_password: str = DEFAULT_ADMIN_PASSWORD
    progress_every: float = 5.0
    find_capacity: bool = False
    capacity_step: float = 60.0  # wall seconds per capacity step
    flat: bool = False  # constant demand at --peak instead of the day's curve
    # The DISPATCH_STRATEGY (and batch period) of the --cluster's nodes; None: the default.
    dispatch_strategy: str | None = None
    dispatch_batch_seconds: float | None = None
    dispatch_offer_ttl: float | None = None
    # With `batch`: whether a rider may be offered two orders as a bundle (None: the default).
    dispatch_bundles: bool | None = None

    @property
    def wall_seconds(self) -> float:
        """How long demand lasts in wall-clock seconds."""
        return self.duration / self.speed


def cluster_env(config: SimConfig) -> dict[str, str]:
    """The settings of the nodes of a cluster the simulator starts for `config`."""
    env = dict(NODE_ENV)
    if config.dispatch_strategy is not None:
        env["DISPATCH_STRATEGY"] = config.dispatch_strategy
    if config.dispatch_batch_seconds is not None:
        env["DISPATCH_BATCH_SECONDS"] = f"{config.dispatch_batch_seconds:g}"
    if config.dispatch_offer_ttl is not None:
        env["DISPATCH_OFFER_TTL"] = f"{config.dispatch_offer_ttl:g}"
    if config.dispatch_bundles is not None:
        env["DISPATCH_BUNDLES"] = "true" if config.dispatch_bundles else "false"
    return env


def parse_clock(text: str) -> float:
    """`17:30` → seconds after midnight."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return int(match[1]) * 3600 + int(match[2]) * 60


def parse_duration(text: str) -> float:
    """`10m`, `2h`, `90s`, `1h30m` → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration (like 10m, 2h, 1h30m, 90s): {text!r}")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def clock_text(seconds: float) -> str:
    """Seconds after midnight → `18:30`."""
    seconds = int(seconds) % 86400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
