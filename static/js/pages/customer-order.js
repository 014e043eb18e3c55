// One order, live: status timeline, map with the moving rider, ETA, cancel while placed.
import { api, ApiError, clock, showProblem, won } from "../api.js";
import { confirmAction } from "../confirm.js";
import { follow, onLocation } from "../live.js";
import { MiniMap } from "../map.js";
import { eta, reasonText, STATUS_LABEL, timeline } from "../orders.js";
import { reviewItem } from "../reviews.js";
import { busy, fill, h, startPage, toast, markReady } from "../ui.js";

const orderId = Number(document.body.dataset.orderId);
const problem = document.getElementById("problem");
const map = new MiniMap(document.getElementById("map"), { label: "Map of the store, your address and the rider" });
let order = null;
let store = null;
// The order's review and until when it can be written (GET /api/orders/{id}/review).
let reviewState = null;
const reviewCard = document.getElementById("review-card");
const reviewForm = document.getElementById("review-form");

function render() {
  document.body.dataset.orderStatus = order.status;
  const badge = document.getElementById("status-badge");
  badge.textContent = STATUS_LABEL[order.status] || order.status;
  badge.className = `badge ${order.status === "delivered" ? "ok" : ["rejected", "cancelled"].includes(order.status) ? "bad" : "warn"}`;
  document.getElementById("timeline").replaceChildren(timeline(order));
  const reason = document.getElementById("reason-line");
  reason.textContent = reasonText(order);
  reason.hidden = !reason.textContent;
  document.getElementById("store-line").textContent = order.store_name ? `From ${order.store_name}` : "";
  document.getElementById("cancel-order").hidden = order.status !== "placed";
  showEta();
  const rider = order.rider;
  document.getElementById("rider-line").textContent = rider
    ? `Your rider: ${rider.name}`
    : order.dispatch === "searching" ? "Looking for a rider nearby…" : "";
  drawMap();
  fill(document.getElementById("items"),
    ...order.items.map((i) => h("div", { class: "cart-line" },
      h("span", {}, `${i.quantity} × ${[i.name, ...(i.options || []).map((o) => o.name)].join(" + ")}`), h("span", {}, won(i.line_total)))),
    h("div", { class: "totals" }, h("dl", {},
      h("dt", {}, "Subtotal"), h("dd", {}, won(order.subtotal)),
      h("dt", {}, "Delivery fee"), h("dd", {}, won(order.delivery_fee)),
      order.coupon_discount ? [h("dt", {}, "Coupon"), h("dd", {}, `−${won(order.coupon_discount)}`)] : null,
      order.points_used ? [h("dt", {}, "Points"), h("dd", {}, `−${won(order.points_used)}`)] : null,
      h("dt", { class: "grand" }, "Total"), h("dd", { class: "grand", id: "order-total" }, won(order.total)))),
    refundsBlock(order),
    h("p", { class: "muted" }, `Deliver to ${order.address.text}`),
    order.store_note ? h("p", { class: "note", id: "store-note" }, `For the kitchen: ${order.store_note}`) : null,
    order.rider_note ? h("p", { class: "note", id: "rider-note" }, `For the rider: ${order.rider_note}`) : null);
}

/** What went back to the customer, refund by refund: how much, why, and how (points, card). */
function refundsBlock(current) {
  const refunds = current.refunds || [];
  if (!refunds.length) return null;
  return h("div", { class: "refunds", id: "refunds", "aria-label": "Refunds" },
    h("h3", {}, `Refunded ${won(current.refunded_amount)}`),
    h("ul", {}, ...refunds.map((r) => h("li", { class: "refund", dataset: { refundId: r.id } },
      h("strong", {}, won(r.amount)), ` · ${r.reason}`,
      h("div", { class: "muted" }, [
        r.lines ? r.lines.map((l) => `${l.quantity} × ${l.name}`).join(", ") : null,
        r.points ? `${won(r.points).replace("₩", "")} points back` : null,
        r.card ? `${won(r.card)} to your card` : null,
        clock(r.at),
      ].filter(Boolean).join(" · "))))));
}

function showEta() {
  const line = document.getElementById("eta");
  line.textContent = eta(order);
  line.dataset.eta = order.eta || "";
  const delayed = document.getElementById("delay-line");
  delayed.hidden = !(order.delay_minutes > 0 && ["accepted", "ready", "picked_up"].includes(order.status));
  delayed.textContent = `The store needed ${order.delay_minutes} more minutes.`;
}

function drawMap() {
  if (store) map.set("store", store, { kind: "store", label: store.name });
  map.set("home", order.address, { kind: "home", label: "You" });
  const rider = order.rider && order.rider.lat != null && !["delivered", "rejected", "cancelled"].includes(order.status) ? order.rider : null;
  map.set("rider", rider, { kind: "rider", label: rider ? rider.name : "" });
  const points = [store, order.address, rider].filter(Boolean);
  if (points.some((p) => !map.contains(p))) map.fit(points);
  map.routeThrough(order.status === "picked_up" ? ["rider", "home"] : rider ? ["rider", "store", "home"] : ["store", "home"]);
}

function renderReview() {
  const { review, reviewable_until: until } = reviewState;
  const open = !review && until != null && Date.now() < Date.parse(until);
  reviewCard.hidden = false;
  document.getElementById("review-h").textContent = review ? "Your review" : "Rate your order";
  document.getElementById("my-review").replaceChildren(...(review ? [reviewItem(review)] : []));
  reviewForm.hidden = !open;
  document.getElementById("review-closed").hidden = Boolean(review) || open;
}

async function loadReview() {
  if (!order || order.status !== "delivered") return;
  reviewState = await api("GET", `/api/orders/${orderId}/review`);
  renderReview();
}

reviewForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const errors = reviewForm.querySelector(".problem");
  const rating = Number(reviewForm.elements.rating.value);
  if (!rating) {
    showProblem(errors, new ApiError(400, { title: "No rating yet", detail: "Choose from 1 to 5 stars." }));
    return;
  }
  busy(reviewForm.querySelector("button[type=submit]"), async () => {
    try {
      const text = reviewForm.elements.text.value.trim();
      const review = await api("POST", `/api/orders/${orderId}/review`, { body: text ? { rating, text } : { rating } });
      reviewState = { ...reviewState, review };
      showProblem(errors, null);
      renderReview();
      toast("Thanks for your review!");
    } catch (error) {
      showProblem(errors, error);
      // Reviewed from another tab, or the 72 hours ran out: show how things stand.
      if (error.status === 409) await loadReview().catch(() => {});
    }
  });
});

async function snapshot() {
  order = await api("GET", `/api/orders/${orderId}`);
  render();
  return order.stream_seq;
}

document.getElementById("cancel-order").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const sure = await confirmAction({
    title: `Cancel order #${orderId}?`,
    message: "The store will not prepare it, and the payment is refunded in full. This cannot be undone.",
    confirmLabel: "Cancel order",
    cancelLabel: "Keep the order",
  });
  if (!sure) return;
  await busy(button, async () => {
    try {
      order = await api("POST", `/api/orders/${orderId}/cancel`, { body: { reason: "Cancelled by the customer" } });
      render();
      toast("Order cancelled; the payment is refunded.");
    } catch (error) {
      showProblem(problem, error);
    }
  });
});

await startPage();
try {
  await snapshot();
  store = await api("GET", `/api/stores/${order.store_id}`);
  render();
  await loadReview();
} catch (error) {
  showProblem(problem, error);
}
if (order) {
  onLocation((message) => {
    if (message.order_id !== orderId || !order.rider) return;
    order.rider = { ...order.rider, lat: message.lat, lng: message.lng };
    drawMap();
  });
  // The minutes count down between events by this device's clock; the time itself is the server's.
  setInterval(showEta, 15000);
  try {
    await follow(`order:${orderId}`, {
      lastSeq: order.stream_seq,
      onEvent: (event) => {
        if (event.data && event.data.id === orderId && event.data.status) {
          order = event.data;
          render();
          if (event.type === "order.refunded" && event.data.refund) toast(`The store refunded ${won(event.data.refund.amount)}: ${event.data.refund.reason}`);
          if (event.type === "order.delayed") toast(`The store needs ${event.data.minutes} more minutes; now arriving around ${clock(order.eta)}.`);
          if (order.status === "delivered" && !reviewState) loadReview().catch((error) => showProblem(problem, error));
        }
      },
      resync: snapshot,
    });
  } catch (error) {
    showProblem(problem, error);
  }
}
markReady();
