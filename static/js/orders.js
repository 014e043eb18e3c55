// What pages share about an order: status names, the timeline, the ETA and countdowns.
import { clock } from "./api.js";
import { h } from "./ui.js";

export const STATUS_LABEL = {
  placed: "Order placed", accepted: "Accepted by the store", ready: "Ready for pickup",
  picked_up: "Picked up by the rider", delivered: "Delivered", rejected: "Rejected by the store",
  cancelled: "Cancelled",
};
const PATH = ["placed", "accepted", "ready", "picked_up", "delivered"];
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

/** Whole minutes until `at` by this device's clock, rounded up, never negative. */
export function minutesUntil(at) {
  return Math.max(0, Math.ceil((Date.parse(at) - Date.now()) / 60000));
}

/** "4:05" until `at` (minutes and seconds), never negative. */
export function countdown(at) {
  const seconds = Math.max(0, Math.ceil((Date.parse(at) - Date.now()) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** The customer's ETA line, from the server's `eta` (set when the store accepts, moved by
 * delays, the rider's assignment and the pickup). */
export function eta(order) {
  if (order.status === "delivered") {
    const at = (order.timeline || []).find((t) => t.status === "delivered");
    return `Delivered${at ? ` at ${clock(at.at)}` : ""}`;
  }
  if (FINISHED.has(order.status)) return "This order is closed; any payment has been refunded.";
  if (order.status === "placed" || !order.eta) return "Waiting for the store to accept";
  const minutes = minutesUntil(order.eta);
  return `Estimated arrival around ${clock(order.eta)}, ${minutes > 0 ? `in ${minutes} min` : "any minute now"}`;
}

/** Why a rejected or cancelled order ended, as its customer reads it ("" when not told). */
export function reasonText(order) {
  return ["rejected", "cancelled"].includes(order.status) && order.reason ? `Reason: ${order.reason}` : "";
}
