// The live order board: new orders ring and stay flagged until acknowledged.
import { api, clock, showProblem, won } from "../api.js";
import { ring, soundAllowed, unlockSound } from "../chime.js";
import { confirmAction } from "../confirm.js";
import { follow } from "../live.js";
import { countdown, reasonText, STATUS_LABEL } from "../orders.js";
import { refundable, refundDialog } from "../refund-dialog.js";
import { busy, h, startPage, toast, markReady } from "../ui.js";

const storeId = Number(document.body.dataset.storeId);
const problem = document.getElementById("problem");
const orders = new Map();
const ACK_KEY = `delivery.ack.${storeId}`;
const acknowledged = new Set(JSON.parse(sessionStorage.getItem(ACK_KEY) || "[]"));
let rings = 0;

function isToday(at) {
  return new Date(at).toDateString() === new Date().toDateString();
}

function act(order, path, body, ask = null) {
  return async (event) => {
    const button = event.currentTarget;
    let sent = body;
    if (ask) {
      // Rejecting or cancelling cannot be undone: say so, and take the reason the customer sees.
      const answer = await confirmAction(ask);
      if (!answer) return;
      sent = { ...body, reason: answer.reason || body.reason };
    }
    await busy(button, async () => {
      try {
        const updated = await api("POST", `/api/orders/${order.id}/${path}`, { body: sent });
        upsert(updated);
        showProblem(problem, null);
      } catch (error) {
        showProblem(problem, error);
      }
    });
  };
}

/** Time left to answer before the order is rejected by itself (the server's `accept_by`). */
function answerIn(acceptBy) {
  return Date.parse(acceptBy) > Date.now() ? `Answer within ${countdown(acceptBy)}` : "Time is up: rejecting…";
}

function tick() {
  for (const line of document.querySelectorAll(".accept-countdown")) line.textContent = answerIn(line.dataset.acceptBy);
}

const REFUNDABLE = new Set(["accepted", "ready", "picked_up", "delivered"]);

function refundButton(order) {
  return h("button", {
    type: "button",
    class: "refund-part",
    "aria-label": `Refund part of order ${order.id}`,
    onclick: async () => {
      const refund = await refundDialog(orders.get(order.id) || order);
      if (refund) toast(`Refunded ${won(refund.amount)}`);
    },
  }, "Refund part of this order");
}

function refundedLine(order) {
  return order.refunded_amount && !["rejected", "cancelled"].includes(order.status)
    ? h("div", { class: "muted refunded" }, `Refunded ${won(order.refunded_amount)}`)
    : null;
}

function card(order) {
  const fresh = order.status === "placed" && !acknowledged.has(order.id);
  const items = h("ul", {}, ...order.items.map((i) => h("li", {}, `${i.quantity} × ${[i.name, ...(i.options || []).map((o) => o.name)].join(" + ")}`)));
  const actions = [];
  if (order.status === "placed") {
    const prep = h("input", { type: "number", min: 5, max: 90, value: 15, "aria-label": `Preparation minutes for order ${order.id}`, class: "prep-minutes" });
    actions.push(
      h("div", { class: "row" }, prep, h("button", { type: "button", class: "primary", onclick: (e) => act(order, "accept", { prep_minutes: Number(prep.value) })(e) }, "Accept")),
      h("div", { class: "row" }, h("button", {
        type: "button",
        class: "danger",
        "aria-label": `Reject order ${order.id}`,
        onclick: act(order, "reject", { reason: "The store could not take the order." }, {
          title: `Reject order #${order.id}?`,
          message: "The customer is told at once, with your reason, and refunded in full. This cannot be undone.",
          confirmLabel: "Reject order",
          cancelLabel: "Keep the order",
          reason: { label: "Reason the customer sees", value: "Too busy right now" },
        }),
      }, "Reject")));
  }
  if (order.status === "accepted") {
    actions.push(h("button", { type: "button", class: "primary", onclick: act(order, "ready") }, "Mark ready"));
    actions.push(h("div", { class: "row delay", role: "group", "aria-label": `Delay order ${order.id}` },
      h("span", { class: "muted" }, "Delay"),
      ...[10, 20].map((minutes) => h("button", { type: "button", onclick: act(order, "delay", { minutes }), "aria-label": `Delay order ${order.id} by ${minutes} minutes` }, `+${minutes} min`))));
  }
  if (order.status === "accepted" || order.status === "ready") {
    actions.push(h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Cancel order ${order.id}`,
      onclick: act(order, "cancel", { reason: "Cancelled by the store" }, {
        title: `Cancel order #${order.id}?`,
        message: `The customer is told at once, with your reason, and refunded in full${order.rider ? "; the rider is released" : ""}. This cannot be undone.`,
        confirmLabel: "Cancel order",
        cancelLabel: "Keep the order",
        reason: { label: "Reason the customer sees", value: "", placeholder: "For example: we ran out of an ingredient" },
      }),
    }, "Cancel"));
  }
  if (REFUNDABLE.has(order.status) && refundable(order) > 0) actions.push(refundButton(order));
  const rider = order.rider ? `Rider: ${order.rider.name}` : order.dispatch === "searching" ? "Finding a rider…" : "";
  return h("article", { class: `order-card${fresh ? " new" : ""}`, dataset: { orderId: order.id, status: order.status }, "aria-label": `Order ${order.id}` },
    h("div", { class: "spread" }, h("strong", {}, `#${order.id}`), h("span", { class: "muted" }, clock(order.created_at))),
    items,
    order.store_note ? h("p", { class: "note store-note" }, `Note: ${order.store_note}`) : null,
    h("div", { class: "spread" }, h("span", {}, order.address.text), h("span", { class: "price" }, won(order.total))),
    order.prep_minutes && order.status === "accepted" ? h("div", { class: "muted" }, `Prep ${order.prep_minutes} min`) : null,
    order.status === "placed" && order.accept_by
      ? h("div", { class: "accept-countdown", dataset: { acceptBy: order.accept_by } }, answerIn(order.accept_by))
      : null,
    order.status === "accepted" && order.ready_by
      ? h("div", { class: "muted kitchen-clock" }, `Ready by ${clock(order.ready_by)} · arrives ${clock(order.eta)}${order.delay_minutes ? ` · delayed ${order.delay_minutes} min` : ""}`)
      : null,
    rider ? h("div", { class: "muted rider" }, rider) : null,
    refundedLine(order),
    ...actions);
}

function render() {
  for (const column of document.querySelectorAll("[data-column]")) {
    const list = [...orders.values()].filter((o) => o.status === column.dataset.column).sort((a, b) => a.id - b.id);
    column.replaceChildren(...(list.length ? list.map(card) : [h("p", { class: "empty" }, "Nothing here")]));
  }
  const today = [...orders.values()].filter((o) => isToday(o.created_at));
  const done = today.filter((o) => ["delivered", "rejected", "cancelled"].includes(o.status)).sort((a, b) => b.id - a.id);
  document.getElementById("done").replaceChildren(...done.map((o) => h("tr", {},
    h("td", {}, `#${o.id}`), h("td", {}, clock(o.created_at)), h("td", {}, STATUS_LABEL[o.status], reasonText(o) ? h("div", { class: "muted reason" }, reasonText(o)) : null), h("td", {}, won(o.total), refundedLine(o)),
    h("td", {}, o.status === "delivered" && refundable(o) > 0 ? refundButton(o) : null))));
  const counted = today.filter((o) => !["rejected", "cancelled"].includes(o.status));
  document.getElementById("today-count").textContent = String(counted.length);
  document.getElementById("today-sales").textContent = won(counted.reduce((sum, o) => sum + o.total, 0));
  const waiting = [...orders.values()].filter((o) => o.status === "placed" && !acknowledged.has(o.id));
  const alert = document.getElementById("ring-alert");
  alert.hidden = waiting.length === 0;
  document.getElementById("ring-text").textContent = waiting.length === 1 ? `New order #${waiting[0].id}!` : `${waiting.length} new orders!`;
}

function upsert(order) {
  const before = orders.get(order.id);
  // A snapshot and the stream can overlap; an order's timeline only grows and its stream_seq
  // only rises, so a shorter or lower one is older.
  if (before && ((order.timeline || []).length < (before.timeline || []).length || order.stream_seq < before.stream_seq)) return;
  orders.set(order.id, order);
  if (order.status === "placed" && !before && !acknowledged.has(order.id)) {
    rings += 1;
    document.body.dataset.rings = String(rings);
    if (ring()) document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
    document.getElementById("sound-note").hidden = soundAllowed();
  }
  render();
}

async function snapshot() {
  const { orders: list } = await api("GET", `/api/orders?store_id=${storeId}&limit=200`);
  orders.clear();
  for (const o of list) orders.set(o.id, o);
  render();
  // The order list carries no store-stream seq: the client keeps its own.
  return null;
}

document.getElementById("ack").addEventListener("click", () => {
  for (const o of orders.values()) if (o.status === "placed") acknowledged.add(o.id);
  sessionStorage.setItem(ACK_KEY, JSON.stringify([...acknowledged]));
  render();
  toast("Acknowledged");
});
document.getElementById("enable-sound").addEventListener("click", async () => {
  document.getElementById("sound-note").hidden = await unlockSound();
});
const allowSound = () => unlockSound().then((allowed) => { document.getElementById("sound-note").hidden = allowed; });
document.addEventListener("pointerdown", allowSound, { once: true });
document.addEventListener("keydown", allowSound, { once: true });

setInterval(tick, 1000);

await startPage();
// Ask for sound up front, so that an owner sees at once whether the browser blocks it.
document.getElementById("sound-note").hidden = soundAllowed();
allowSound();
try {
  const store = await api("GET", `/api/stores/${storeId}`);
  document.getElementById("store-name").textContent = store.name;
  document.title = `${store.name} board · Delivery`;
  // Follow first, then read the snapshot, so that nothing falls between the two.
  await follow(`store:${storeId}`, {
    lastSeq: null,
    onEvent: (event) => {
      if (event.data && event.data.id && event.data.status) upsert(event.data);
    },
    resync: snapshot,
  });
  await snapshot();
  if ([...orders.values()].some((o) => o.status === "placed" && !acknowledged.has(o.id))) ring();
} catch (error) {
  showProblem(problem, error);
}
markReady();
