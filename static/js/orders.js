// What pages share about an order: status names, the timeline and the ETA.
import { clock } from "./api.js";
import { distanceKm } from "./map.js";
import { h } from "./ui.js";

export const STATUS_LABEL = {
  placed: "Order placed", accepted: "Accepted by the store", ready: "Ready for pickup",
  picked_up: "Picked up by the rider", delivered: "Delivered", rejected: "Rejected by the store",
  cancelled: "Cancelled",
};
const PATH = ["placed", "accepted", "ready", "picked_up", "delivered"];
const RIDER_KMH = 18;
export const FINISHED = new Set(["delivered", "rejected", "cancelled"]);

/** The timeline list: every step of the happy path, reached ones marked with their time. */
export function timeline(order) {
  const reached = new Map((order.timeline || []).map((t) => [t.status, t.at]));
  const failed = ["rejected", "cancelled"].find((s) => reached.has(s) || order.status === s);
  const steps = failed ? [...PATH.filter((s) => reached.has(s)), failed] : PATH;
  return h("ol", { class: "timeline", "aria-label": "Order progress" },
    ...steps.map((status) => {
      const at = reached.get(status);
      const done = at !== undefined || status === order.status;
      return h("li", { class: `${done ? "done" : ""} ${status === failed ? "failed" : ""}`, dataset: { step: status } },
        h("span", {}, STATUS_LABEL[status] || status), at ? h("span", { class: "muted" }, clock(at)) : null);
    }));
}

/** A human ETA for the customer, from prep time and distances at a rider's pace. */
export function eta(order, store) {
  if (order.status === "delivered") {
    const at = (order.timeline || []).find((t) => t.status === "delivered");
    return `Delivered${at ? ` at ${clock(at.at)}` : ""}`;
  }
  if (FINISHED.has(order.status)) return "This order is closed; any payment has been refunded.";
  if (order.status === "placed") return "Waiting for the store to accept";
  const home = order.address;
  const minutes = (km) => (km / RIDER_KMH) * 60;
  let arrive;
  if (order.status === "picked_up") {
    const from = order.rider && order.rider.lat != null ? order.rider : store;
    arrive = Date.now() + minutes(distanceKm(from, home)) * 60000;
  } else {
    const accepted = (order.timeline || []).find((t) => t.status === "accepted");
    const readyAt = accepted ? Date.parse(accepted.at) + (order.prep_minutes || 0) * 60000 : Date.now();
    arrive = Math.max(readyAt, Date.now()) + minutes(distanceKm(store, home)) * 60000;
  }
  return `Estimated arrival ${clock(new Date(arrive).toISOString())}`;
}
