// A store's menu (groups, images, options, sold-out) and the single-store cart.
import { api, showProblem, won } from "../api.js";
import { addLine, clearCart, getCart, updateCartLink } from "../cart.js";
import { REORDER_NOTE_KEY } from "../reorder.js";
import { renderCart } from "../cart-view.js";
import { ratingLine, reviewList } from "../reviews.js";
import { cartBlock, followStore, openState } from "../store-live.js";
import { busy, fill, h, startPage, toast, markReady } from "../ui.js";

const storeId = Number(document.body.dataset.storeId);
const problem = document.getElementById("problem");
const cartBox = document.getElementById("cart");
const otherStore = document.getElementById("other-store");
let pending = null;
let shown = null; // the store as last read or told by its stream

function showCart() {
  renderCart(cartBox, { blocked: cartBlock(shown, getCart()), onChange: showCart });
}

function add(store, item, form) {
  const chosen = [...form.querySelectorAll("input[type=checkbox]:checked")].map((box) => item.options.find((o) => o.id === Number(box.value)));
  if (!addLine(store, item, chosen)) {
    pending = () => addLine(store, item, chosen);
    otherStore.hidden = false;
    document.getElementById("replace-cart").focus();
    return;
  }
  toast(`${item.name} added to the cart`);
  showCart();
}

function itemRow(store, item) {
  const form = h("form", { class: "grow", "aria-label": item.name, onsubmit: (e) => { e.preventDefault(); add(store, item, form); } },
    h("div", { class: "spread" }, h("h3", {}, item.name), h("span", { class: "price" }, won(item.price))),
    item.description ? h("p", { class: "muted" }, item.description) : null,
    item.options && item.options.length
      ? h("fieldset", {}, h("legend", {}, "Options"),
          ...item.options.map((o) => h("label", { class: "inline" }, h("input", { type: "checkbox", value: o.id, disabled: item.sold_out }), `${o.name} (+${won(o.price)})`)))
      : null,
    item.sold_out
      ? h("span", { class: "badge bad" }, "Sold out")
      : h("button", { type: "submit", class: "primary", disabled: !store.open_now }, store.open_now ? "Add to cart" : ["Paused", "Suspended"].includes(openState(store).label) ? openState(store).label : "Store closed"));
  return h("div", { class: `menu-item${item.sold_out ? " sold-out" : ""}`, dataset: { itemId: item.id } },
    item.image_url ? h("img", { class: "thumb small", src: item.image_url, alt: "" }) : h("div", { class: "thumb small", "aria-hidden": "true" }),
    form);
}

function heart(store, favourite) {
  const button = h("button", { type: "button", class: "heart", id: "favourite", "aria-pressed": String(favourite) },
    favourite ? "♥ Favourite" : "♡ Add to favourites");
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    await busy(button, async () => {
      try {
        await api(on ? "PUT" : "DELETE", `/api/me/favourites/${store.id}`);
        favourite = on;
        button.setAttribute("aria-pressed", String(on));
        button.textContent = on ? "♥ Favourite" : "♡ Add to favourites";
        toast(on ? `${store.name} is a favourite` : `${store.name} is no longer a favourite`);
        showProblem(problem, null);
      } catch (error) {
        showProblem(problem, error);
      }
    });
  });
  return button;
}

function showReorderNote() {
  const raw = sessionStorage.getItem(REORDER_NOTE_KEY);
  if (!raw) return;
  sessionStorage.removeItem(REORDER_NOTE_KEY);
  const note = JSON.parse(raw);
  if (note.store_id !== storeId) return;
  const box = document.getElementById("reorder-note");
  fill(box,
    h("strong", {}, `Your cart holds order #${note.order_id} again: review it and check out.`),
    note.unavailable.length
      ? h("ul", {}, ...note.unavailable.map((u) => h("li", {}, `Not added: ${u.name}. ${u.why}`)))
      : null);
  box.hidden = false;
}

let favourite = false; // the caller's heart on this store, as last known

function render(store) {
  shown = store;
  const state = openState(store);
  document.title = `${store.name} · Delivery`;
  document.body.dataset.openNow = String(Boolean(store.open_now));
  document.getElementById("store-head").replaceChildren(
    ...(store.image_url ? [h("img", { class: "thumb hero-img", src: store.image_url, alt: store.name })] : []),
    h("div", { class: "spread" }, h("h1", {}, store.name),
      h("span", { class: "row" }, heart(store, favourite), h("span", { class: `badge ${state.open ? "open" : "closed"}`, id: "store-state" }, state.label))),
    h("p", { class: state.open ? "muted" : "notice", id: "store-when" }, state.detail),
    h("p", { class: "muted" }, `${store.category} · ${store.address} · ${store.phone}`),
    h("p", {}, ratingLine(store)),
    h("p", {}, `Minimum order ${won(store.min_order)} · Delivery fee ${won(store.delivery_fee)}`));
  document.getElementById("reviews-summary").replaceChildren(ratingLine(store));
  const groups = store.menu || [];
  document.getElementById("menu").replaceChildren(...(groups.length
    ? groups.map((group) => h("section", { class: "card", "aria-label": group.group }, h("h2", {}, group.group), ...group.items.map((item) => itemRow(store, item))))
    : [h("p", { class: "empty" }, "This store has no menu yet.")]));
  showCart();
}

async function load() {
  try {
    const [store, favourites] = await Promise.all([
      api("GET", `/api/stores/${storeId}`),
      api("GET", "/api/me/favourites"),
    ]);
    favourite = favourites.stores.some((s) => s.id === store.id);
    render(store);
    // Closing, pausing, hours and sold-out items show here as they happen.
    await followStore(store, render);
  } catch (error) {
    showProblem(problem, error);
  }
}

document.getElementById("replace-cart").addEventListener("click", () => {
  clearCart();
  if (pending) pending();
  pending = null;
  otherStore.hidden = true;
  showCart();
});

await startPage();
updateCartLink();
showCart();
showReorderNote();
await load();
await reviewList(document.getElementById("reviews"), storeId, { limit: 5 }).reload();
markReady();
