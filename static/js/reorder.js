// "Order again": an earlier order's cart, checked by the server against today's menu.
import { api } from "./api.js";
import { addLine, clearCart } from "./cart.js";

export const REORDER_NOTE_KEY = "delivery.reorder";

/** Fill the cart from order `orderId` and open its store's page; what could not be added
 * is shown there, with the server's reasons. */
export async function orderAgain(orderId) {
  const again = await api("POST", `/api/orders/${orderId}/reorder`);
  const store = await api("GET", `/api/stores/${again.store_id}`);
  const items = new Map(store.menu.flatMap((group) => group.items).map((item) => [item.id, item]));
  clearCart();
  const unavailable = [...again.unavailable];
  for (const line of again.items) {
    const item = items.get(line.menu_item_id);
    if (!item) {
      unavailable.push({ name: `Item ${line.menu_item_id}`, why: "It is no longer on the menu." });
      continue;
    }
    const options = line.option_ids.map((id) => item.options.find((o) => o.id === id)).filter(Boolean);
    addLine(store, item, options, line.quantity);
  }
  sessionStorage.setItem(REORDER_NOTE_KEY, JSON.stringify({ order_id: orderId, store_id: again.store_id, unavailable }));
  location.assign(`/customer/stores/${again.store_id}`);
}
