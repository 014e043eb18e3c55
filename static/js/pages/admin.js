// The operations console: the platform at a glance, a live map of riders and active orders
// (the `ops` stream), the queues of orders waiting for a store or a rider with their age,
// manual assignment, cancellation with refund, suspensions and the audit log.
import { api, clock, showProblem, won } from "../api.js";
import { confirmAction } from "../confirm.js";
import { follow, onLocation } from "../live.js";
import { MiniMap } from "../map.js";
import { FINISHED, STATUS_LABEL } from "../orders.js";
import { busy, fill, h, markReady, startPage, toast } from "../ui.js";

const problem = document.getElementById("problem");
const orders = new Map();
const riders = new Map();
// An order waiting longer than this is shown as late.
const LATE_SECONDS = 120;
const ACTIONS = {
  "order.assign": "assigned order", "order.reassign": "gave to another rider order",
  "order.cancel": "cancelled order", "user.suspend": "suspended account",
  "user.unsuspend": "restored account", "store.suspend": "suspended store",
  "store.unsuspend": "restored store",
};

const map = new MiniMap(document.getElementById("map"), { label: "Map of riders on shift and where active orders go", height: 360 });
let fitted = false;

function ageText(order) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(order.created_at)) / 1000));
  const minutes = Math.floor(seconds / 60);
  return { seconds, text: minutes ? `${minutes} min ${seconds % 60} s` : `${seconds} s` };
}

function ageBadge(order) {
  const { seconds, text } = ageText(order);
  return h("span", { class: `age${seconds >= LATE_SECONDS ? " late" : ""}`, dataset: { createdAt: order.created_at } }, text);
}

function tick() {
  for (const node of document.querySelectorAll(".age[data-created-at]")) {
    const { seconds, text } = ageText({ created_at: node.dataset.createdAt });
    node.textContent = text;
    node.classList.toggle("late", seconds >= LATE_SECONDS);
  }
}

function idleRiders() {
  return [...riders.values()].filter((r) => r.active_order_id === null);
}

function riderPicker(order) {
  const choices = idleRiders().filter((r) => !order.rider || r.id !== order.rider.id);
  return h("select", { class: "rider-pick", "aria-label": `Rider for order ${order.id}` },
    choices.length ? null : h("option", { value: "" }, "No idle rider on shift"),
    ...choices.map((r) => h("option", { value: r.id }, `${r.name} (#${r.id})`)));
}

async function assign(order, picker, button) {
  const riderId = Number(picker.value);
  if (!riderId) return showProblem(problem, new Error("Choose an idle rider on shift first."));
  const body = { rider_id: riderId };
  if (order.rider) body.from_rider_id = order.rider.id;
  await busy(button, async () => {
    try {
      upsert(await api("POST", `/api/admin/orders/${order.id}/assign`, { body }));
      showProblem(problem, null);
      toast(`Order ${order.id} given to rider ${riderId}.`);
      refreshSoon();
    } catch (error) {
      showProblem(problem, error);
      refreshSoon();
    }
  });
}

async function cancel(order, button) {
  const paid = order.total - (order.refunded_amount || 0);
  const answer = await confirmAction({
    title: `Cancel order ${order.id}?`,
    message: `The customer gets ${won(paid)} back in full (card, points and coupon). This cannot be undone.`,
    confirmLabel: "Cancel and refund",
    cancelLabel: "Keep the order",
    reason: { label: "Reason (the customer sees it)", value: "Cancelled by the platform's operators." },
  });
  if (!answer) return;
  await busy(button, async () => {
    try {
      upsert(await api("POST", `/api/admin/orders/${order.id}/cancel`, { body: { reason: answer.reason || "Cancelled by the platform's operators." } }));
      showProblem(problem, null);
      toast(`Order ${order.id} cancelled and refunded.`);
      refreshSoon();
    } catch (error) {
      showProblem(problem, error);
    }
  });
}

function orderCard(order) {
  const picker = riderPicker(order);
  const canMoveRider = order.status === "accepted" || order.status === "ready";
  const assignButton = h("button", { type: "button", class: "primary assign", disabled: !picker.querySelector("option[value]:not([value=''])") }, order.rider ? "Reassign" : "Assign");
  assignButton.addEventListener("click", () => assign(order, picker, assignButton));
  const cancelButton = h("button", { type: "button", class: "danger cancel" }, "Cancel order");
  cancelButton.addEventListener("click", () => cancel(order, cancelButton));
  const rider = order.rider ? `rider ${order.rider.name} (#${order.rider.id})` : "no rider";
  return h("div", { class: "ops-order", dataset: { orderId: order.id, status: order.status } },
    h("div", { class: "spread" },
      h("strong", {}, `#${order.id} · ${order.store_name}`),
      ageBadge(order)),
    h("div", { class: "muted" }, `${STATUS_LABEL[order.status] || order.status} · ${rider} · ${won(order.total)} · to ${order.address.text}`),
    h("div", { class: "row" },
      canMoveRider ? picker : null,
      canMoveRider ? assignButton : null,
      order.status !== "picked_up" ? cancelButton : null));
}

function render() {
  const open = [...orders.values()].sort((a, b) => a.id - b.id);
  const queues = {
    unaccepted: open.filter((o) => o.status === "placed"),
    searching: open.filter((o) => o.status !== "placed" && o.dispatch === "searching"),
    assigned: open.filter((o) => o.rider),
  };
  const empty = { unaccepted: "No order waits for its store.", searching: "No order waits for a rider.", assigned: "No order is on its way." };
  for (const [name, list] of Object.entries(queues)) {
    const box = document.getElementById(`queue-${name}`);
    fill(box, list.length ? list.map(orderCard) : h("p", { class: "empty" }, empty[name]));
  }
  fill(document.getElementById("riders"), riders.size
    ? [...riders.values()].map((r) => h("li", { dataset: { riderId: r.id } },
      h("strong", {}, `${r.name} (#${r.id})`), " ",
      h("span", { class: `badge ${r.active_order_id ? "warn" : "ok"}` }, r.active_order_id ? `carrying #${r.active_order_id}` : "idle")))
    : h("li", { class: "empty" }, "No rider on shift."));
  drawMap();
}

function drawMap() {
  for (const name of [...map.markers.keys()]) map.markers.delete(name);
  for (const r of riders.values()) {
    if (r.lat !== null && r.lng !== null) map.markers.set(`rider-${r.id}`, { point: { lat: r.lat, lng: r.lng }, kind: "rider", label: r.name });
  }
  for (const o of orders.values()) {
    map.markers.set(`order-${o.id}`, { point: { lat: o.address.lat, lng: o.address.lng }, kind: "home", label: `#${o.id}` });
  }
  const points = [...map.markers.values()].map((m) => m.point);
  // Framed again only when something falls outside: the view stays put while riders move.
  if (points.length && (!fitted || points.some((p) => !map.contains(p)))) {
    map.fit(points);
    fitted = true;
  } else {
    map.redraw();
  }
}

function upsert(order) {
  if (FINISHED.has(order.status)) orders.delete(order.id);
  else orders.set(order.id, order);
  render();
}

async function loadOverview() {
  const view = await api("GET", "/api/admin/overview");
  const counts = view.orders_by_status;
  document.getElementById("stuck-unaccepted").textContent = view.stuck.unaccepted;
  document.getElementById("stuck-searching").textContent = view.stuck.searching;
  document.getElementById("riders-online").textContent = view.riders.online;
  document.getElementById("riders-busy").textContent = view.riders.busy;
  document.getElementById("count-delivered").textContent = counts.delivered;
  document.getElementById("count-ended").textContent = counts.cancelled + counts.rejected;
}

async function loadRiders() {
  const { riders: list } = await api("GET", "/api/admin/riders");
  riders.clear();
  for (const r of list) riders.set(r.id, r);
}

async function loadOrders() {
  const { orders: list } = await api("GET", "/api/admin/orders?state=active&limit=500");
  orders.clear();
  for (const o of list) orders.set(o.id, o);
}

async function loadAudit() {
  const { entries } = await api("GET", "/api/admin/audit?limit=30");
  fill(document.querySelector("#audit tbody"), entries.map((e) => h("tr", { dataset: { action: e.action } },
    h("td", {}, clock(e.at)),
    h("td", {}, e.admin_name),
    h("td", {}, `${ACTIONS[e.action] || e.action} ${e.target_id}`, e.details.reason ? h("div", { class: "muted" }, e.details.reason) : null))));
}

async function refresh() {
  try {
    await Promise.all([loadOverview(), loadRiders(), loadOrders(), loadAudit()]);
    render();
  } catch (error) {
    showProblem(problem, error);
  }
}

// Many events arrive together at the dinner peak: the counts and riders are read once for them.
let pending = null;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(async () => {
    try {
      await Promise.all([loadOverview(), loadRiders(), loadAudit()]);
      render();
    } catch (error) {
      showProblem(problem, error);
    }
  }, 300);
}

function suspendForm(form, kind) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const suspend = event.submitter ? event.submitter.value === "true" : true;
    const id = Number(new FormData(form).get(`${kind}_id`));
    const what = kind === "user" ? `account ${id}` : `store ${id}`;
    if (suspend) {
      const consequence = kind === "user"
        ? "Every session of this account ends at once and it cannot sign in until restored."
        : "The store disappears from search and takes no orders until restored.";
      const answer = await confirmAction({ title: `Suspend ${what}?`, message: consequence, confirmLabel: "Suspend", cancelLabel: "Back" });
      if (!answer) return;
    }
    await busy(event.submitter, async () => {
      try {
        await api("PATCH", `/api/admin/${kind}s/${id}`, { body: { suspended: suspend } });
        showProblem(problem, null);
        toast(`${what[0].toUpperCase()}${what.slice(1)} ${suspend ? "suspended" : "restored"}.`);
        refreshSoon();
      } catch (error) {
        showProblem(problem, error);
      }
    });
  });
}

async function main() {
  await startPage();
  suspendForm(document.getElementById("suspend-user"), "user");
  suspendForm(document.getElementById("suspend-store"), "store");
  onLocation((message) => {
    const rider = message.rider_id !== undefined ? riders.get(message.rider_id) : null;
    if (!rider) return;
    rider.lat = message.lat;
    rider.lng = message.lng;
    map.set(`rider-${rider.id}`, { lat: rider.lat, lng: rider.lng }, { kind: "rider", label: rider.name });
  });
  const state = document.getElementById("live-state");
  try {
    // `ops` replays nothing: its answer always asks for the snapshot, read here.
    await follow("ops", {
      onEvent: (event) => {
        if (event.type.startsWith("order.") && event.data && event.data.id) {
          upsert(event.data);
          refreshSoon();
        }
      },
      resync: async () => {
        await refresh();
        return null;
      },
    });
    state.textContent = "Live";
  } catch (error) {
    state.textContent = "Live updates unavailable";
    showProblem(problem, error);
    await refresh();
  }
  setInterval(tick, 1000);
  markReady();
}

main();
