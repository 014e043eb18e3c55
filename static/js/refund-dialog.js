// "Refund part of this order": lines (up to what is left of each) or an amount, a reason the
// customer sees, then a confirmation saying exactly what goes back.
import { api, showProblem, won } from "./api.js";
import { confirmAction } from "./confirm.js";
import { h } from "./ui.js";

let count = 0;

/** How many of each menu item are left to refund on `order` (ordered less refunded). */
function leftOf(order) {
  const left = new Map();
  for (const line of order.items) {
    const entry = left.get(line.menu_item_id) || { name: line.name, quantity: 0, unit: 0 };
    entry.quantity += line.quantity;
    entry.unit = entry.unit || line.line_total / line.quantity;
    left.set(line.menu_item_id, entry);
  }
  for (const refund of order.refunds || []) {
    for (const line of refund.lines || []) left.get(line.menu_item_id).quantity -= line.quantity;
  }
  return left;
}

/** The won still refundable on `order`. */
export function refundable(order) {
  return order.total - (order.refunded_amount || 0);
}

/**
 * Ask what to refund and send it. Resolves to the refund made, or null when the owner backs
 * out; problems the server answers are shown in the dialog, which stays open to fix them.
 */
export function refundDialog(order) {
  return new Promise((resolve) => {
    const id = `refund-${++count}`;
    const left = leftOf(order);
    const byLines = h("input", { type: "radio", name: "kind", value: "lines", checked: true });
    const byAmount = h("input", { type: "radio", name: "kind", value: "amount" });
    const quantities = [...left].map(([itemId, entry]) => {
      const input = h("input", { type: "number", min: 0, max: entry.quantity, step: 1, value: 0, class: "refund-quantity",
        "aria-label": `Refund how many ${entry.name} (${entry.quantity} left, ${won(entry.unit)} each)`, dataset: { itemId } });
      return { itemId: Number(itemId), entry, input };
    });
    const amount = h("input", { type: "number", min: 1, max: refundable(order), step: 100, name: "amount", "aria-label": "Amount to refund (₩)" });
    const reason = h("textarea", { name: "reason", rows: 2, maxlength: 300, required: true, placeholder: "For example: the fries were missing" });
    const errors = h("div", { class: "problem", role: "alert", hidden: true });
    const lines = h("fieldset", { class: "refund-lines" }, h("legend", {}, "Items"),
      ...quantities.map(({ entry, input }) => h("label", { class: "inline" }, input, ` ${entry.name} · ${entry.quantity} left · ${won(entry.unit)} each`)));
    const amountField = h("label", { hidden: true }, "Amount (₩) ", amount);
    const back = h("button", { type: "button", class: "confirm-back", autofocus: true }, "Keep as it is");
    const form = h("form", { method: "dialog", novalidate: true },
      h("h2", { id: `${id}-title` }, `Refund part of order #${order.id}`),
      h("p", { id: `${id}-text` }, `Up to ${won(refundable(order))} can still be refunded. Points the customer paid with go back first, then money to the card.`),
      h("div", { class: "row", role: "radiogroup", "aria-label": "Refund by" },
        h("label", { class: "inline" }, byLines, " Items"), h("label", { class: "inline" }, byAmount, " An amount")),
      lines, amountField,
      h("label", {}, "Reason the customer sees ", reason),
      errors,
      h("div", { class: "row dialog-actions" }, back, h("button", { type: "submit", class: "danger refund-go" }, "Review refund")));
    const dialog = h("dialog", { class: "confirm refund-dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-text` }, form);
    const choose = () => {
      lines.hidden = !byLines.checked;
      amountField.hidden = byLines.checked;
    };
    byLines.addEventListener("change", choose);
    byAmount.addEventListener("change", choose);
    let made = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { reason: reason.value.trim() };
      let total = 0;
      if (byLines.checked) {
        body.lines = quantities.filter(({ input }) => Number(input.value) > 0)
          .map(({ itemId, input }) => ({ menu_item_id: itemId, quantity: Number(input.value) }));
        total = quantities.reduce((sum, { entry, input }) => sum + entry.unit * (Number(input.value) || 0), 0);
        if (!body.lines.length) {
          showProblem(errors, new Error("Choose how many of an item to refund."));
          return;
        }
      } else {
        body.amount = amount.value.trim() === "" ? null : Number(amount.value);
        total = body.amount || 0;
      }
      if (!body.reason) {
        showProblem(errors, new Error("Say why: the customer sees the reason."));
        return;
      }
      dialog.close("review");
      const sure = await confirmAction({
        title: `Refund ${won(total)}?`,
        message: `${won(total)} of order #${order.id} goes back to the customer (points first, then the card), with your reason. This cannot be undone.`,
        confirmLabel: `Refund ${won(total)}`,
        cancelLabel: "Go back",
      });
      if (!sure) {
        dialog.showModal();
        return;
      }
      try {
        made = await api("POST", `/api/orders/${order.id}/refunds`, { body });
        dialog.remove();
        resolve(made);
      } catch (error) {
        showProblem(errors, error);
        dialog.showModal();
      }
    });
    back.addEventListener("click", () => {
      dialog.remove();
      resolve(null);
    });
    dialog.addEventListener("cancel", () => {
      dialog.remove();
      resolve(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
