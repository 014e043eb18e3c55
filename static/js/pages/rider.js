// The rider's screen: shift, position (GPS or simulated), offers, the active delivery, earnings.
import { api, clock, showProblem, won } from "../api.js";
import { confirmAction } from "../confirm.js";
import { follow, unfollow } from "../live.js";
import { MiniMap } from "../map.js";
import { FINISHED, STATUS_LABEL } from "../orders.js";
import { LocationSender, RiderPosition } from "../position.js";
import { busy, fill, h, startPage, toast, markReady } from "../ui.js";

const ONLINE_KEY = "delivery.rider.online";
// Earnings come from the server's ledger, the same on every device; this device's old copy goes.
localStorage.removeItem("delivery.rider.fees");
const problem = document.getElementById("problem");
const onlineSwitch = document.getElementById("online-switch");
const offers = new Map();
const state = { online: false, position: null, active: null, activeStore: null };
let session = null;

const show = (error) => showProblem(problem, error);
const sender = new LocationSender({ active: () => state.online, current: () => state.position, onError: show });
const position = new RiderPosition({
  onMove: (point) => {
    state.position = point;
    document.body.dataset.lat = String(point.lat);
    document.body.dataset.lng = String(point.lng);
    drawMap();
    sender.schedule();
  },
  onSource: (text, simulated) => {
    document.getElementById("pos-source").textContent = text;
    document.getElementById("sim-controls").hidden = !simulated;
  },
});
const map = new MiniMap(document.getElementById("map"), {
  label: "Map of your position and stops; with a simulated position, click or use the arrow keys to move",
  onPick: (point) => position.simulated && position.moveTo(point),
  onKey: (direction) => position.simulated && step(direction),
});

function rememberOffer(offer) {
  offers.set(offer.order_id, offer);
}

const COMPASS = ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"];

/** Which way the drop-off lies from the store, in words (the offer's point is rounded to ~1 km). */
function heading(from, to) {
  const dy = to.lat - from.lat;
  const dx = (to.lng - from.lng) * Math.cos((from.lat * Math.PI) / 180);
  if (Math.hypot(dx, dy) * 111.2 < 0.6) return "close to the store";
  const degrees = (Math.atan2(dx, dy) * 180) / Math.PI;
  return `${COMPASS[Math.round(((degrees + 360) % 360) / 45) % 8]} of the store`;
}

function nextStop() {
  const order = state.active;
  if (!order) return null;
  return order.status === "picked_up" ? order.address : state.activeStore;
}

function step(direction) {
  if (!position.step(direction, nextStop())) toast("No stop to drive to.");
}

function drawMap() {
  if (!state.position) return;
  map.set("me", state.position, { kind: "me", label: "You" });
  const order = state.active;
  map.set("store", order ? state.activeStore : null, { kind: "store", label: state.activeStore ? state.activeStore.name : "" });
  map.set("home", order ? order.address : null, { kind: "home", label: "Customer" });
  for (const name of [...map.markers.keys()]) if (name.startsWith("offer-")) map.remove(name);
  if (!order) {
    for (const offer of offers.values()) {
      map.set(`offer-${offer.order_id}`, offer.store, { kind: "store", label: offer.store.name });
      map.set(`offer-drop-${offer.order_id}`, offer.dropoff, { kind: "home", label: "Drop-off (about)" });
    }
  }
  const points = [state.position, ...[...map.markers.values()].map((m) => m.point)];
  if (points.some((p) => !map.contains(p))) map.fit(points, { minKm: 2 });
  map.routeThrough(order ? (order.status === "picked_up" ? ["me", "home"] : ["me", "store", "home"]) : []);
}

function renderShift() {
  // Going offline with an order on board is refused by the server: finish the delivery first.
  onlineSwitch.disabled = state.online && Boolean(state.active);
  onlineSwitch.title = onlineSwitch.disabled ? "Finish the active delivery before going offline" : "";
  onlineSwitch.checked = state.online;
  onlineSwitch.setAttribute("aria-checked", String(state.online));
  document.body.dataset.online = String(state.online);
  document.getElementById("online-label").textContent = state.online ? "Online: receiving offers" : "Offline: no offers";
  document.getElementById("online-hint").textContent = onlineSwitch.disabled
    ? "Deliver or give back the active order before going offline."
    : state.online ? "Switch off to end your shift." : "Switch on to start your shift and receive offers.";
}

async function setOnline(online) {
  await position.ready;
  try {
    const result = await api("PUT", "/api/riders/me/shift", { body: { online, ...state.position } });
    state.online = result.online;
    localStorage.setItem(ONLINE_KEY, String(state.online));
    if (state.online) await loadOffers();
    else offers.clear();
    show(null);
  } catch (error) {
    show(error);
  }
  renderShift();
  renderOffers();
}

function secondsLeft(offer) {
  return Math.max(0, Math.round((Date.parse(offer.expires_at) - Date.now()) / 1000));
}

function renderOffers() {
  const box = document.getElementById("offers");
  const list = state.active ? [] : [...offers.values()].filter((o) => secondsLeft(o) > 0);
  box.replaceChildren(...(list.length
    ? list.map((offer) => h("article", { class: "offer", dataset: { orderId: offer.order_id }, "aria-label": `Offer for order ${offer.order_id}` },
        h("div", { class: "spread" }, h("strong", {}, offer.store.name), h("span", { class: "countdown", "aria-label": "seconds left" }, `${secondsLeft(offer)} s`)),
        h("div", { class: "fee" }, `fee ${won(offer.fee)}`),
        h("div", { class: "trip" }, `Store ${offer.distance_km.toFixed(1)} km away · drop-off ${offer.trip_km.toFixed(1)} km from it, ${heading(offer.store, offer.dropoff)}`),
        h("div", { class: "muted" }, "The address and the customer's note show once you accept."),
        h("button", { type: "button", class: "primary", onclick: (e) => accept(e.currentTarget, offer) }, "Accept")))
    : [h("p", { class: "empty" }, state.active ? "Finish the active delivery to get offers." : state.online ? "Waiting for offers…" : "Go online to receive offers.")]));
  drawMap();
}

async function accept(button, offer) {
  await busy(button, async () => {
    try {
      const order = await api("POST", `/api/dispatch/offers/${offer.order_id}/accept`);
      offers.clear();
      await setActive(order);
      toast("Offer accepted: head to the store.");
    } catch (error) {
      offers.delete(offer.order_id);
      show(error);
      renderOffers();
    }
  });
}

async function setActive(order) {
  const previous = state.active;
  state.active = order && !FINISHED.has(order.status) ? order : null;
  if (state.active && (!previous || previous.id !== order.id)) {
    state.activeStore = await api("GET", `/api/stores/${order.store_id}`);
    await follow(`order:${order.id}`, {
      lastSeq: order.stream_seq,
      onEvent: (event) => { if (event.data && event.data.id === order.id && event.data.status) applyOrder(event.data); },
      resync: async () => { const fresh = await api("GET", `/api/orders/${order.id}`); applyOrder(fresh); return fresh.stream_seq; },
    });
  }
  if (!state.active && previous) await unfollow(`order:${previous.id}`);
  renderActive();
  renderOffers();
}

function applyOrder(order) {
  // Finished, or no longer this rider's (given back): nothing more to deliver.
  if (FINISHED.has(order.status) || !order.rider || order.rider.id !== session.user.id) {
    setActive(null).then(loadHistory);
    return;
  }
  state.active = order;
  renderActive();
}

function renderActive() {
  const box = document.getElementById("active");
  const order = state.active;
  document.body.dataset.activeStatus = order ? order.status : "";
  renderShift();
  if (!order) {
    box.replaceChildren(h("p", { class: "empty" }, "No active delivery."));
    drawMap();
    return;
  }
  const storeName = state.activeStore ? state.activeStore.name : `Store ${order.store_id}`;
  const run = (path) => async (event) => busy(event.currentTarget, async () => {
    try {
      const updated = await api("POST", path);
      show(null);
      applyOrder(updated);
      if (updated.status === "delivered") {
        const { entries } = await loadEarnings();
        const earned = entries.find((e) => e.order_id === updated.id && e.kind === "delivery");
        toast(earned ? `Delivered. You earned ${won(earned.fee)}.` : "Delivered.");
      }
    } catch (error) {
      show(error);
    }
  });
  fill(box,
    h("div", { class: "spread" }, h("strong", {}, `Order #${order.id}`), h("span", { class: "badge warn", id: "active-status" }, STATUS_LABEL[order.status])),
    h("p", {}, "Pick up at ", h("strong", {}, storeName), state.activeStore ? ` (${state.activeStore.address})` : ""),
    h("p", {}, "Deliver to ", h("strong", {}, order.address.text)),
    order.rider_note ? h("p", { class: "note", id: "active-rider-note" }, `Customer's note: ${order.rider_note}`) : "",
    h("ul", {}, ...order.items.map((i) => h("li", {}, `${i.quantity} × ${i.name}`))),
    h("p", { class: "muted" }, order.status === "accepted" ? `The kitchen needs about ${order.prep_minutes} min.` : ""),
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", disabled: order.status !== "ready", onclick: run(`/api/orders/${order.id}/pickup`) }, "Picked up"),
      h("button", { type: "button", class: "primary", disabled: order.status !== "picked_up", onclick: run(`/api/orders/${order.id}/deliver`) }, "Delivered"),
      order.status !== "picked_up" ? h("button", { type: "button", class: "danger", onclick: async (event) => {
        const button = event.currentTarget;
        const sure = await confirmAction({
          title: `Give back order #${order.id}?`,
          message: "Another rider will be looked for, and you will not earn this delivery's fee.",
          confirmLabel: "Give back",
          cancelLabel: "Keep the delivery",
        });
        if (sure) await run(`/api/dispatch/offers/${order.id}/release`)({ currentTarget: button });
      } }, "Give back") : null));
  drawMap();
}

async function loadOffers() {
  try {
    const result = await api("GET", "/api/dispatch/offers");
    offers.clear();
    for (const offer of result.offers) rememberOffer(offer);
  } catch (error) {
    show(error);
  }
  renderOffers();
}

/** Today's earnings from the ledger (`GET /api/riders/me/earnings`). */
async function loadEarnings() {
  const earnings = await api("GET", "/api/riders/me/earnings");
  document.getElementById("delivered-count").textContent = String(earnings.deliveries);
  document.getElementById("earned").textContent = won(earnings.total);
  document.getElementById("history").replaceChildren(...(earnings.entries.length
    ? earnings.entries.map((e) => h("li", { dataset: { orderId: e.order_id } },
        `#${e.order_id} · ${won(e.fee)} · ${clock(e.at)}`,
        e.kind === "correction" ? h("span", { class: "kind" }, " · correction") : ""))
    : [h("li", { class: "empty" }, "No deliveries yet today.")]));
  return earnings;
}

function loadHistory() {
  return loadEarnings().catch(show);
}

async function snapshot() {
  const [{ orders }] = await Promise.all([api("GET", "/api/orders?limit=50"), loadEarnings()]);
  await setActive(orders.find((o) => !FINISHED.has(o.status)) || null);
  if (state.online) await loadOffers();
  return null;
}

function onRiderEvent(event) {
  const data = event.data || {};
  if (event.type === "offer.created" && data.order_id) rememberOffer(data);
  else if (event.type === "offer.withdrawn") offers.delete(data.order_id ?? data.id);
  else if (event.type === "order.rider_assigned" && data.id) {
    offers.delete(data.id);
    if (data.rider && data.rider.id === session.user.id) setActive(data).catch(show);
  }
  renderOffers();
}

onlineSwitch.addEventListener("change", () => setOnline(onlineSwitch.checked));
for (const button of document.querySelectorAll("[data-move]")) button.addEventListener("click", () => step(button.dataset.move));
setInterval(() => {
  for (const node of document.querySelectorAll(".offer")) {
    const offer = offers.get(Number(node.dataset.orderId));
    if (offer) node.querySelector(".countdown").textContent = `${secondsLeft(offer)} s`;
    if (!offer || secondsLeft(offer) === 0) renderOffers();
  }
}, 1000);

session = await startPage();
position.start();
try {
  // Follow first, then read the snapshot, so that nothing falls between the two.
  await follow(`rider:${session.user.id}`, { lastSeq: null, onEvent: onRiderEvent, resync: snapshot });
  await snapshot();
  if (localStorage.getItem(ONLINE_KEY) === "true") await setOnline(true);
} catch (error) {
  show(error);
}
renderShift();
markReady();
