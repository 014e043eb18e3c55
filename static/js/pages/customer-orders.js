// The customer's order history, newest first.
import { api, showProblem, when, won } from "../api.js";
import { updateCartLink } from "../cart.js";
import { STATUS_LABEL } from "../orders.js";
import { h, startPage, markReady } from "../ui.js";

await startPage();
updateCartLink();
try {
  const { orders } = await api("GET", "/api/orders");
  document.getElementById("orders").replaceChildren(...(orders.length
    ? orders.map((o) => h("tr", {},
        h("td", {}, h("a", { href: `/customer/orders/${o.id}` }, `#${o.id}`)),
        h("td", {}, when(o.created_at)),
        h("td", {}, STATUS_LABEL[o.status] || o.status),
        h("td", {}, won(o.total))))
    : [h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No orders yet."))]));
} catch (error) {
  showProblem(document.getElementById("problem"), error);
}
markReady();
