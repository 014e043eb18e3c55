// An accessible confirmation before a destructive action: a modal <dialog> (role alertdialog)
// saying what will happen, with a way back (focused first, and Escape) and a way on.
import { h } from "./ui.js";

let count = 0;

/**
 * Ask before a destructive action. Resolves to null when the person backs out (the back
 * button or Escape), else to `{ reason }`: the text of the optional reason field, trimmed
 * ("" without one). `reason` is `{ label, value, placeholder }` to ask for one.
 */
export function confirmAction({ title, message, confirmLabel = "Confirm", cancelLabel = "Cancel", reason = null }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const id = `confirm-${++count}`;
    const field = reason
      ? h("textarea", { name: "reason", rows: 2, maxlength: 300, placeholder: reason.placeholder || "" })
      : null;
    if (field) field.value = reason.value || "";
    const back = h("button", { type: "button", class: "confirm-back", autofocus: true }, cancelLabel);
    const form = h("form", { method: "dialog" },
      h("h2", { id: `${id}-title` }, title),
      h("p", { id: `${id}-text` }, message),
      field ? h("label", {}, reason.label, field) : null,
      h("div", { class: "row dialog-actions" }, back, h("button", { type: "submit", class: "danger confirm-go" }, confirmLabel)));
    const dialog = h("dialog", { class: "confirm", role: "alertdialog", "aria-modal": "true", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-text` }, form);
    let answer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = { reason: field ? field.value.trim() : "" };
      dialog.close();
    });
    back.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && typeof opener.focus === "function" && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
