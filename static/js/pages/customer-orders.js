// The customer's order history, newest first, each with "Order again".
import { api, showProblem, when, won } from "../api.js";
import { updateCartLink } from "../cart.js";
import { reasonText, STATUS_LABEL } from "../orders.js";
import { orderAgain } from "../reorder.js";
import { busy, h, startPage, markReady } from "../ui.js";

const problem = document.getElementById("problem");

function againButton(order) {
  return h("button", {
    type: "button",
    class: "reorder",
    "aria-label": `Order #${order.id} again`,
    onclick: (event) => busy(event.currentTarget, async () => {
      try {
        await orderAgain(order.id);
      } catch (error) {
        showProblem(problem, error);
      }
    }),
  }, "Order again");
}

await startPage();
updateCartLink();
try {
  const { orders } = await api("GET", "/api/orders");
  document.getElementById("orders").replaceChildren(...(orders.length
    ? orders.map((o) => h("tr", { dataset: { orderId: o.id } },
        h("td", {}, h("a", { href: `/customer/orders/${o.id}` }, `#${o.id}`)),
        h("td", { class: "store-name" }, o.store_name),
        h("td", {}, when(o.created_at)),
        h("td", { class: "status" }, STATUS_LABEL[o.status] || o.status,
          reasonText(o) ? h("div", { class: "muted reason" }, reasonText(o)) : null),
        h("td", {}, won(o.total)),
        h("td", {}, againButton(o))))
    : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No orders yet."))]));
} catch (error) {
  showProblem(problem, error);
}
markReady();
