"""The live map keeps every marker in sight: a rider at the customer's door does not cover the
customer's marker (it is drawn aside, tied to its true point by a line)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from app.launcher.nodes import Node
from tests.web.browser import SCREENSHOTS, open_watched
from tests.web.journey import loaded
from tests.web.single_node import node

__all__ = ["node"]

DRAW = """async () => {
  const { MiniMap } = await import("/static/js/map.js");
  const box = document.createElement("div");
  box.id = "map-under-test";
  box.style.width = "640px";
  document.querySelector("main").prepend(box);
  const map = new MiniMap(box, { label: "Map under test" });
  const home = { lat: 37.5665, lng: 126.978 };
  map.set("store", { lat: 37.5700, lng: 126.9820 }, { kind: "store", label: "Store" });
  map.set("home", home, { kind: "home", label: "You" });
  map.set("rider", { ...home }, { kind: "rider", label: "Ria" });
  map.fit([home, { lat: 37.5700, lng: 126.9820 }]);
  const circle = (name) => box.querySelector(`[data-marker="${name}"] circle`).getBoundingClientRect();
  const centre = (r) => [r.x + r.width / 2, r.y + r.height / 2];
  const hit = (r) => document.elementFromPoint(...centre(r)).closest("[data-marker]")?.dataset.marker;
  const [h, r] = [circle("home"), circle("rider")];
  return {
    // Circles overlap when their centres are closer than their radii added up.
    overlap: Math.hypot(centre(h)[0] - centre(r)[0], centre(h)[1] - centre(r)[1]) < (h.width + r.width) / 2,
    homeOnTop: hit(h),
    riderOnTop: hit(r),
    riderLat: box.querySelector('[data-marker="rider"]').dataset.lat,
    movedAside: box.querySelector('[data-marker="rider"]').dataset.movedAside,
    leaders: box.querySelectorAll(".leaders line").length,
  };
}"""


async def test_a_rider_at_the_door_and_the_customer_s_marker_both_stay_visible(
    browser: Browser, node: Node
) -> None:
    person = await open_watched(browser, "customer", node.url)
    try:
        await person.page.goto("/")
        await loaded(person.page)
        drawn = await person.page.evaluate(DRAW)
        await person.page.locator("#map-under-test").screenshot(
            path=str(await _shot_path("map-rider-at-the-door"))
        )
    finally:
        await person.context.close()
    person.assert_clean()
    assert drawn == {
        "overlap": False,
        "homeOnTop": "home",
        "riderOnTop": "rider",
        # The marker keeps its true position in its data; only its drawing moves.
        "riderLat": "37.5665",
        "movedAside": "true",
        "leaders": 1,
    }


async def _shot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
