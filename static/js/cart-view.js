// The cart panel: lines with quantity controls, the minimum-order rule and the fees.
import { won } from "./api.js";
import { MAX_QUANTITY, getCart, lineTotal, setQuantity, subtotal } from "./cart.js";
import { h } from "./ui.js";

/**
 * Render the cart into `box`; `onChange` runs after a quantity changes. `blocked` (a reason in
 * words, or null) says the cart cannot be ordered now: the store closed, an item sold out.
 */
export function renderCart(box, { onChange = () => {}, checkoutLink = true, blocked = null } = {}) {
  const cart = getCart();
  if (!cart) {
    box.replaceChildren(h("h2", {}, "Your cart"), h("p", { class: "empty" }, "Your cart is empty."));
    return null;
  }
  const sub = subtotal(cart);
  const short = Math.max(0, cart.store.min_order - sub);
  const lines = cart.lines.map((line) => {
    const label = [line.name, ...line.options.map((o) => o.name)].join(" + ");
    const change = (delta) => () => { setQuantity(line.key, line.quantity + delta); renderCart(box, { onChange, checkoutLink, blocked }); onChange(); };
    return h("div", { class: "cart-line", dataset: { line: line.key } },
      h("span", {}, label),
      h("span", { class: "row" },
        h("button", { type: "button", "aria-label": `One less ${label}`, onclick: change(-1) }, "−"),
        h("span", { "aria-label": "quantity" }, String(line.quantity)),
        h("button", { type: "button", "aria-label": `One more ${label}`, onclick: change(1), disabled: line.quantity >= MAX_QUANTITY, title: line.quantity >= MAX_QUANTITY ? `At most ${MAX_QUANTITY} per order` : null }, "+"),
        h("span", { class: "price" }, won(lineTotal(line)))));
  });
  const parts = [
    h("h2", {}, "Your cart"),
    h("p", { class: "muted" }, "From ", h("a", { href: `/customer/stores/${cart.store.id}` }, cart.store.name)),
    ...lines,
    h("div", { class: "totals" }, h("dl", {},
      h("dt", {}, "Subtotal"), h("dd", { id: "cart-subtotal" }, won(sub)),
      h("dt", {}, "Delivery fee"), h("dd", {}, won(cart.store.delivery_fee)),
      // At checkout, the server's quote below the form says what is paid after discounts.
      h("dt", { class: "grand" }, checkoutLink ? "Total" : "Before discounts"), h("dd", { class: "grand" }, won(sub + cart.store.delivery_fee)))),
    short > 0
      ? h("p", { class: "notice", id: "min-order-note" }, `Minimum order is ${won(cart.store.min_order)}: add ${won(short)} more.`)
      : null,
    cart.lines.some((line) => line.quantity >= MAX_QUANTITY)
      ? h("p", { class: "notice", id: "max-quantity-note", role: "status" }, `An order may hold at most ${MAX_QUANTITY} of each item.`)
      : null,
    blocked ? h("p", { class: "notice", id: "cart-blocked", role: "status" }, blocked) : null,
    checkoutLink
      ? short > 0 || blocked
        ? h("button", { type: "button", class: "primary", disabled: true, id: "to-checkout-disabled" }, "Go to checkout")
        : h("a", { class: "button primary", href: "/customer/checkout", id: "to-checkout" }, "Go to checkout")
      : null,
  ];
  box.replaceChildren(...parts.filter(Boolean));
  return cart;
}
