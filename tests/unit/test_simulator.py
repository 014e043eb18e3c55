"""The simulator's pure parts: the day's demand curve, its flags, and the delivery check."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from app.cli import build_parser, main
from app.launcher.nodes import Node
from app.launcher.supervisor import ServiceExited, Supervisor
from app.simulator.audit import check_deliveries, check_retries
from app.simulator.capacity import broke
from app.simulator.compare import table
from app.simulator.config import (
    NODE_ENV,
    SimConfig,
    clock_text,
    cluster_env,
    parse_clock,
    parse_duration,
)
from app.simulator.demand import arrivals, shape
from app.simulator.recorder import Recorder
from app.simulator.report import dispatch_figures
from app.simulator.scaling import figures as scaling_figures
from app.simulator.scaling import parse_nodes, parse_redis
from app.simulator.scaling import table as scaling_table
from app.simulator.sockets import StreamLog, committed_at


def test_the_day_peaks_at_dinner_with_a_smaller_lunch_and_a_quiet_night() -> None:
    dinner, lunch, night = shape(parse_clock("18:30")), shape(parse_clock("12:00")), shape(3 * 3600)
    assert dinner == pytest.approx(1.0, abs=0.01)
    assert 0.4 < lunch < 0.8
    assert night < 0.1
    assert shape(parse_clock("17:30")) < dinner and shape(parse_clock("19:30")) < dinner


def test_arrivals_follow_the_rate_and_repeat_with_the_seed() -> None:
    def draw(seed: int, **kwargs: Any) -> list[float]:
        return list(arrivals(random.Random(seed), speed=60, wall_seconds=600, **kwargs))

    flat = draw(1, peak_per_minute=30, start=parse_clock("18:30"), flat=True)
    assert 250 < len(flat) < 350  # 10 minutes at 30 a minute, a Poisson count
    assert flat == draw(1, peak_per_minute=30, start=parse_clock("18:30"), flat=True)
    assert flat != draw(2, peak_per_minute=30, start=parse_clock("18:30"), flat=True)
    night = draw(1, peak_per_minute=30, start=parse_clock("02:00"))
    assert len(night) < len(flat) / 5
    assert all(0 <= t < 600 for t in flat) and flat == sorted(flat)


def test_the_dispatch_strategy_flags_reach_the_nodes_of_the_simulators_cluster() -> None:
    args = build_parser().parse_args(
        ["simulate", "--cluster", "--dispatch-strategy", "batch", "--dispatch-batch-seconds", "2"]
    )
    config = SimConfig(
        cluster=True,
        dispatch_strategy=args.dispatch_strategy,
        dispatch_batch_seconds=args.dispatch_batch_seconds,
    )
    env = cluster_env(config)
    assert (env["DISPATCH_STRATEGY"], env["DISPATCH_BATCH_SECONDS"]) == ("batch", "2")
    assert env["STORE_ACCEPT_TIMEOUT"] == NODE_ENV["STORE_ACCEPT_TIMEOUT"]
    # Unasked, the nodes keep their default.
    assert "DISPATCH_STRATEGY" not in cluster_env(SimConfig(cluster=True))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--dispatch-strategy", "nearest"])


def test_clock_and_duration_flags() -> None:
    assert parse_clock("17:30") == 17.5 * 3600 and clock_text(parse_clock("09:05")) == "09:05"
    assert parse_duration("10m") == 600 and parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90
    for bad in ("25:00", "7pm"):
        with pytest.raises(ValueError):
            parse_clock(bad)
    for bad in ("10", "m10", "10m5x"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_an_event_time_counts_as_a_commit_time_only_with_sub_second_precision() -> None:
    assert committed_at("2026-11-24T12:00:00Z") is None
    assert committed_at("2026-11-24T12:00:00.250Z") == pytest.approx(1795521600.25)


class _Socket:
    def __init__(self, *logs: StreamLog) -> None:
        self.logs = {log.stream: log for log in logs}
        self.connects = 1
        self.name = "someone"


def _log(stream: str, applied: list[int], **kwargs: Any) -> StreamLog:
    return StreamLog(stream, handler=lambda _e: None, applied=applied, **kwargs)


def test_the_delivery_check_passes_gapless_streams_and_names_a_jump_or_a_duplicate() -> None:
    good = _Socket(_log("order:1", [1, 2, 3]), _log("store:1", [4, 5], first_after=3))
    resynced = _Socket(_log("order:2", [1, 2, -1, 7, 8]))
    assert check_deliveries([good, resynced]).verdict == "PASS"  # type: ignore[list-item]
    jump = check_deliveries([_Socket(_log("order:3", [1, 3]))])  # type: ignore[list-item]
    assert jump.verdict == "FAIL" and "order:3: 3 after 1" in jump.evidence[-1]
    twice = check_deliveries([_Socket(_log("order:4", [1], duplicates=1))])  # type: ignore[list-item]
    assert twice.verdict == "FAIL" and "duplicate" in twice.evidence[-1]


class _Exited:
    returncode = 1

    def poll(self) -> int:
        return 1


class _Running:
    returncode = None

    def poll(self) -> None:
        return None


class _Service:
    def __init__(self) -> None:
        self.process: Any = _Running()


def test_a_data_service_restarted_inside_holding_is_not_an_exit() -> None:
    service = _Service()
    supervisor = Supervisor(nodes=list[Node](), vital={"mariadbd": service}, report=print)
    checked = threading.Event()

    def check_meanwhile() -> None:
        supervisor.check()
        checked.set()

    with supervisor.holding():
        service.process = _Exited()  # killed on purpose …
        thread = threading.Thread(target=check_meanwhile)
        thread.start()
        thread.join(timeout=0.1)
        assert thread.is_alive() and not checked.is_set(), "a check ran during the restart"
        service.process = _Running()  # … and started again before anyone looked
    thread.join(timeout=5)
    assert checked.is_set()
    service.process = _Exited()
    with pytest.raises(ServiceExited):
        supervisor.check()


def test_the_retry_check_fails_only_on_a_retry_refused_for_what_it_did() -> None:
    recorder = Recorder()
    recorder.retried += [
        ("place", "/api/orders", 201, ""),
        # Refused because the customer cancelled meanwhile: a right answer.
        ("accept", "/api/orders/7/accept", 409, "invalid-transition"),
    ]
    passed = check_retries(recorder)
    assert passed.verdict == "PASS"
    assert "2 calls retried: 201 ×1, 409 invalid-transition ×1" in passed.evidence[0]
    recorder.refused_retries.append("accept /api/orders/8/accept: order accepted")
    failed = check_retries(recorder)
    assert failed.verdict == "FAIL" and "accept /api/orders/8/accept" in failed.evidence[-1]


def test_dispatch_figures_are_read_from_what_the_riders_and_owners_saw() -> None:
    recorder = Recorder()
    # Two deliveries of 20 and 40 simulated minutes; 30 km ridden in all.
    doors = [20.0, 40.0]
    recorder.rider_km = 30.0
    # Three riders on shift for 60 wall seconds each: at ×60, three rider-hours.
    recorder.rider_online.update({second: 3 for second in range(60)})
    # At ×60 a wall second is a simulated minute: waits of 2 and 9 minutes.
    recorder.accepted_at.update({1: 100.0, 2: 100.0, 3: 100.0})
    recorder.assigned_at.update({1: 102.0, 2: 109.0})
    figures = dispatch_figures(recorder, 60.0, doors)
    assert figures == {
        "delivered": 2,
        "to_door_mean_min": 30.0,
        "to_door_p95_min": 40.0,
        "rider_km_per_delivery": 15.0,
        "deliveries_per_rider_hour": 0.67,
        "waited_over_5_min": 0.5,
    }
    assert dispatch_figures(Recorder(), 60.0, [])["to_door_mean_min"] is None


def test_the_dispatch_comparison_is_a_table_of_every_strategy() -> None:
    figures = {
        "delivered": 10,
        "to_door_mean_min": 25.04,
        "to_door_p95_min": 41.0,
        "rider_km_per_delivery": 3.456,
        "deliveries_per_rider_hour": 1.5,
        "waited_over_5_min": 0.125,
    }
    text = table([("offers", figures), ("batch", {**figures, "waited_over_5_min": None})])
    lines = text.splitlines()
    assert lines[0].startswith("| strategy | delivered | order→door mean (min)")
    assert lines[2] == "| `offers` | 10 | 25.0 | 41.0 | 3.46 | 1.50 | 12.5% |"
    assert lines[3].endswith("| 1.50 | — |")


def test_comparing_dispatch_needs_a_cluster_of_its_own() -> None:
    with pytest.raises(SystemExit, match="add --cluster"):
        main(["simulate", "--compare-dispatch"])


def test_the_scaling_flags_are_checked_before_anything_starts() -> None:
    assert parse_nodes("1,2,3") == (1, 2, 3)
    assert parse_redis("single,cluster") == ("single", "cluster")
    for bad in ("", "0", "1,x", "9"):
        with pytest.raises(ValueError, match="node counts"):
            parse_nodes(bad)
    with pytest.raises(ValueError, match="single and cluster"):
        parse_redis("single,sentinel")
    with pytest.raises(SystemExit, match="add --cluster"):
        main(["simulate", "--compare-scaling"])
    with pytest.raises(SystemExit, match="node counts"):
        main(["simulate", "--cluster", "--compare-scaling", "--scaling-nodes", "1,0"])
    with pytest.raises(SystemExit, match="add --cluster"):
        main(["simulate", "--redis-cluster"])
    with pytest.raises(SystemExit, match="drop --compare-dispatch"):
        main(["simulate", "--cluster", "--compare-scaling", "--compare-dispatch"])


def test_a_sustained_steps_cpu_shares_become_each_parts_cpu_per_order() -> None:
    step = {
        "orders_per_min": 120.0,  # 2 orders/s
        "deliveries_per_s": 40.0,
        "placement_p99_ms": 80.0,
        "push_p99_ms": 30.0,
        "cpu:node1": 30.0,
        "cpu:node2": 20.0,
        "cpu:mariadb": 6.0,
        "cpu:events_redis": 1.0,
        "cpu:redis_cluster1": 1.0,
        "cpu:session_redis": 5.0,  # not the cache or events
        "cpu:simulator": 12.0,
    }
    found = scaling_figures(step, nodes=2)
    assert found["per_node"] == 60.0
    assert found["nodes_ms_per_order"] == pytest.approx(250.0)  # 0.5 core / 2 orders/s
    assert found["mariadb_ms_per_order"] == pytest.approx(30.0)
    assert found["redis_ms_per_order"] == pytest.approx(10.0)
    assert found["busiest_node"] == pytest.approx(30.0)
    assert found["simulator"] == pytest.approx(12.0)
    text = scaling_table(
        [
            {"nodes": 2, "redis": "single", "figures": found, "stopped": "a bound broke"},
            {"nodes": 3, "redis": "cluster", "figures": None, "stopped": "first step broke"},
        ]
    )
    lines = text.splitlines()
    assert lines[0].startswith("| app nodes | Redis | sustained orders/min | per node |")
    assert lines[2].startswith("| 2 | single | 120 | 60 | 40 | 80 | 30 | 250 | 10.0 | 30.0 |")
    assert lines[3] == "| 3 | cluster | " + " | ".join(["—"] * 10) + " | first step broke |"


def test_a_capacity_step_names_the_bound_it_broke() -> None:
    held = {
        "placement_p99_ms": 120.0,
        "push_p99_ms": 80.0,
        "orders_per_min": 100.0,
        "asked_per_min": 110.0,
    }
    assert broke(held) == ""
    assert broke({**held, "placement_p99_ms": 640.0}) == "placement p99 640 ms > 500"
    assert broke({**held, "push_p99_ms": 245.0}) == "commit→client p99 245 ms > 200"
    assert broke({**held, "orders_per_min": 80.0}) == "80 of 110 asked orders/min placed"
