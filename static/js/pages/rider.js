// The rider's screen: shift, position (GPS or simulated), offers (a bundle's two as one card),
// the active deliveries (two orders of an accepted bundle, each on its own), earnings.
import { api, ApiError, clock, showProblem, won } from "../api.js";
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
// Active orders by id, in the order they were taken (at most two: a bundle's), and their stores.
const state = { online: false, position: null, active: new Map(), stores: new Map() };
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

function activeOrders() {
  return [...state.active.values()];
}

function storeOf(order) {
  return state.stores.get(order.store_id) || null;
}

/** The next place to drive to: a store still to pick up from, else a customer's door. */
function nextStop() {
  const orders = activeOrders();
  const pickup = orders.find((o) => o.status !== "picked_up" && storeOf(o));
  if (pickup) return storeOf(pickup);
  return orders.length ? orders[0].address : null;
}

function step(direction) {
  if (!position.step(direction, nextStop())) toast("No stop to drive to.");
}

function drawMap() {
  if (!state.position) return;
  map.set("me", state.position, { kind: "me", label: "You" });
  const orders = activeOrders();
  for (const name of [...map.markers.keys()]) if (name !== "me") map.remove(name);
  const route = ["me"];
  const homes = [];
  // One order: "store" and "home", as always; two: one marker per store and per door.
  const single = orders.length === 1;
  for (const order of orders) {
    const store = storeOf(order);
    const storeName = single ? "store" : `store-${order.store_id}`;
    const homeName = single ? "home" : `home-${order.id}`;
    if (store) map.set(storeName, store, { kind: "store", label: store.name });
    map.set(homeName, order.address, { kind: "home", label: single ? "Customer" : `Customer #${order.id}` });
    if (store && order.status !== "picked_up" && !route.includes(storeName)) route.push(storeName);
    homes.push(homeName);
  }
  if (!orders.length) {
    for (const offer of offers.values()) {
      map.set(`offer-${offer.order_id}`, offer.store, { kind: "store", label: offer.store.name });
      map.set(`offer-drop-${offer.order_id}`, offer.dropoff, { kind: "home", label: "Drop-off (about)" });
    }
  }
  const points = [state.position, ...[...map.markers.values()].map((m) => m.point)];
  if (points.some((p) => !map.contains(p))) map.fit(points, { minKm: 2 });
  map.routeThrough(orders.length ? [...route, ...homes] : []);
}

function renderShift() {
  // Going offline with an order on board is refused by the server: finish the delivery first.
  onlineSwitch.disabled = state.online && state.active.size > 0;
  onlineSwitch.title = onlineSwitch.disabled ? "Finish the active deliveries before going offline" : "";
  onlineSwitch.checked = state.online;
  onlineSwitch.setAttribute("aria-checked", String(state.online));
  document.body.dataset.online = String(state.online);
  document.getElementById("online-label").textContent = state.online ? "Online: receiving offers" : "Offline: no offers";
  document.getElementById("online-hint").textContent = onlineSwitch.disabled
    ? "Deliver or give back the active orders before going offline."
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

/** The offers to show: singles, and each bundle once both of its offers are known. */
function offerCards() {
  const cards = [];
  const bundles = new Map();
  for (const offer of offers.values()) {
    if (secondsLeft(offer) <= 0) continue;
    if (offer.bundle_id == null) cards.push({ single: offer });
    else if (bundles.has(offer.bundle_id)) bundles.get(offer.bundle_id).push(offer);
    else {
      const pair = [offer];
      bundles.set(offer.bundle_id, pair);
      cards.push({ bundle: offer.bundle_id, pair });
    }
  }
  // Half a bundle cannot be taken (its other order went): its withdrawal is on the way.
  return cards.filter((card) => card.single || card.pair.length === 2);
}

function singleCard(offer) {
  return h("article", { class: "offer", dataset: { orderId: offer.order_id }, "aria-label": `Offer for order ${offer.order_id}` },
    h("div", { class: "spread" }, h("strong", {}, offer.store.name), h("span", { class: "countdown", "aria-label": "seconds left" }, `${secondsLeft(offer)} s`)),
    h("div", { class: "fee" }, `fee ${won(offer.fee)}`),
    h("div", { class: "trip" }, `Store ${offer.distance_km.toFixed(1)} km away · drop-off ${offer.trip_km.toFixed(1)} km from it, ${heading(offer.store, offer.dropoff)}`),
    h("div", { class: "muted" }, "The address and the customer's note show once you accept."),
    h("button", { type: "button", class: "primary", onclick: (e) => accept(e.currentTarget, offer) }, "Accept"));
}

function bundleCard(bundleId, pair) {
  pair.sort((a, b) => a.order_id - b.order_id);
  const [first] = pair;
  const oneStore = pair.every((o) => o.store.id === first.store.id);
  const fee = pair.reduce((sum, o) => sum + o.fee, 0);
  const soonest = pair.reduce((a, b) => (Date.parse(a.expires_at) <= Date.parse(b.expires_at) ? a : b));
  return h("article", { class: "offer bundle", dataset: { bundleId, orderId: soonest.order_id }, "aria-label": `Two orders together, ${pair.map((o) => `#${o.order_id}`).join(" and ")}` },
    h("div", { class: "spread" },
      h("strong", {}, "Two orders together"),
      h("span", { class: "countdown", "aria-label": "seconds left" }, `${secondsLeft(soonest)} s`)),
    h("div", { class: "fee" }, `fee ${won(fee)} for both`),
    h("p", { class: "stops" }, "Pick up at ", h("strong", {}, oneStore ? first.store.name : pair.map((o) => o.store.name).join(" and ")),
      oneStore ? ` (both orders, ${first.distance_km.toFixed(1)} km away)` : ""),
    h("ol", { class: "legs" }, ...pair.map((o) => h("li", { dataset: { orderId: o.order_id } },
      `Order #${o.order_id}${oneStore ? "" : ` from ${o.store.name}`}: drop-off ${o.trip_km.toFixed(1)} km from the store, ${heading(o.store, o.dropoff)} · ${won(o.fee)}`))),
    h("div", { class: "muted" }, "You take both orders or neither. The addresses and notes show once you accept."),
    h("button", { type: "button", class: "primary", onclick: (e) => acceptBundle(e.currentTarget, bundleId, pair) }, "Accept both"));
}

function renderOffers() {
  const box = document.getElementById("offers");
  const cards = state.active.size ? [] : offerCards();
  box.replaceChildren(...(cards.length
    ? cards.map((card) => (card.single ? singleCard(card.single) : bundleCard(card.bundle, card.pair)))
    : [h("p", { class: "empty" }, state.active.size ? "Finish the active deliveries to get offers." : state.online ? "Waiting for offers…" : "Go online to receive offers.")]));
  drawMap();
}

async function accept(button, offer) {
  await busy(button, async () => {
    try {
      const order = await api("POST", `/api/dispatch/offers/${offer.order_id}/accept`);
      offers.clear();
      await addActive(order);
      toast("Offer accepted: head to the store.");
    } catch (error) {
      offers.delete(offer.order_id);
      show(error);
      renderOffers();
    }
  });
}

const BUNDLE_GONE = {
  "already-assigned": "Another rider took one of these orders first.",
  "offer-closed": "These orders are no longer offered to you.",
  "rider-busy": "You are already carrying an order.",
  "not-found": "These orders are no longer offered to you.",
};

async function acceptBundle(button, bundleId, pair) {
  await busy(button, async () => {
    try {
      const { orders } = await api("POST", `/api/dispatch/bundles/${bundleId}/accept`);
      offers.clear();
      for (const order of orders) await addActive(order);
      toast("Both orders accepted: head to the store.");
    } catch (error) {
      for (const offer of pair) offers.delete(offer.order_id);
      const gone = error instanceof ApiError ? BUNDLE_GONE[error.code] : null;
      show(gone ? new ApiError(error.status, { ...error.problem, title: "Could not take both orders.", detail: gone }) : error);
      renderOffers();
    }
  });
}

/** Start carrying `order` (or take its newer state): follow its stream, know its store. */
async function addActive(order) {
  if (!order || FINISHED.has(order.status) || !order.rider || order.rider.id !== session.user.id) return;
  const known = state.active.has(order.id);
  state.active.set(order.id, order);
  if (!known) {
    if (!state.stores.has(order.store_id)) state.stores.set(order.store_id, await api("GET", `/api/stores/${order.store_id}`));
    await follow(`order:${order.id}`, {
      lastSeq: order.stream_seq,
      onEvent: (event) => { if (event.data && event.data.id === order.id && event.data.status) applyOrder(event.data); },
      resync: async () => { const fresh = await api("GET", `/api/orders/${order.id}`); applyOrder(fresh); return fresh.stream_seq; },
    });
  }
  renderActive();
  renderOffers();
}

/** Stop carrying `orderId` (delivered, given back, cancelled); the other order stays. */
async function dropActive(orderId) {
  if (!state.active.delete(orderId)) return;
  await unfollow(`order:${orderId}`);
  renderActive();
  renderOffers();
}

/** The active orders are exactly `orders` (after a reload or a missed stretch of events). */
async function setActive(orders) {
  const keep = new Set(orders.map((o) => o.id));
  for (const id of [...state.active.keys()]) if (!keep.has(id)) await dropActive(id);
  for (const order of orders) await addActive(order);
  renderActive();
  renderOffers();
}

function applyOrder(order) {
  // Finished, or no longer this rider's (given back): nothing more to deliver of it.
  if (FINISHED.has(order.status) || !order.rider || order.rider.id !== session.user.id) {
    dropActive(order.id).then(loadHistory).catch(show);
    return;
  }
  if (!state.active.has(order.id)) return;
  state.active.set(order.id, order);
  renderActive();
}

function renderActive() {
  const box = document.getElementById("active");
  const orders = activeOrders();
  document.body.dataset.activeStatus = orders.map((o) => o.status).join(",");
  document.body.dataset.activeCount = String(orders.length);
  document.getElementById("active-h").textContent = orders.length > 1 ? `Active deliveries (${orders.length})` : "Active delivery";
  renderShift();
  if (!orders.length) {
    box.replaceChildren(h("p", { class: "empty" }, "No active delivery."));
    drawMap();
    return;
  }
  box.replaceChildren(...orders.map((order, index) => activeCard(order, index === 0)));
  drawMap();
}

/** One carried order: its stops, items and buttons (the first keeps the page's old ids). */
function activeCard(order, first) {
  const store = storeOf(order);
  const storeName = store ? store.name : `Store ${order.store_id}`;
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
  return h("article", { class: "active-order", dataset: { orderId: order.id, status: order.status }, "aria-label": `Order ${order.id}` },
    h("div", { class: "spread" }, h("strong", {}, `Order #${order.id}`), h("span", { class: "badge warn status", id: first ? "active-status" : null }, STATUS_LABEL[order.status])),
    h("p", {}, "Pick up at ", h("strong", {}, storeName), store ? ` (${store.address})` : ""),
    h("p", {}, "Deliver to ", h("strong", {}, order.address.text)),
    order.rider_note ? h("p", { class: "note", id: first ? "active-rider-note" : null }, `Customer's note: ${order.rider_note}`) : "",
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
  // The orders this rider carries now (two when a bundle was taken), oldest first.
  const mine = orders.filter((o) => !FINISHED.has(o.status) && o.rider && o.rider.id === session.user.id);
  await setActive(mine.sort((a, b) => a.id - b.id));
  if (state.online) await loadOffers();
  return null;
}

function onRiderEvent(event) {
  const data = event.data || {};
  if (event.type === "offer.created" && data.order_id) rememberOffer(data);
  else if (event.type === "offer.bundle_created" && Array.isArray(data.offers)) for (const offer of data.offers) rememberOffer(offer);
  else if (event.type === "offer.withdrawn") offers.delete(data.order_id ?? data.id);
  else if (event.type === "order.rider_assigned" && data.id) {
    offers.delete(data.id);
    if (data.rider && data.rider.id === session.user.id) addActive(data).catch(show);
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
