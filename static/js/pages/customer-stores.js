// Stores by category and distance from the chosen address, with name search.
import { api, showProblem, won } from "../api.js";
import { getAddress, saveAddress, updateCartLink } from "../cart.js";
import { ratingLine } from "../reviews.js";
import { openState } from "../store-live.js";
import { h, startPage, toast, markReady } from "../ui.js";

const state = { category: "" };
const list = document.getElementById("stores");
const problem = document.getElementById("problem");

function fillAddress() {
  const a = getAddress();
  document.getElementById("addr-text").value = a.text;
  document.getElementById("addr-lat").value = a.lat;
  document.getElementById("addr-lng").value = a.lng;
}

function storeCard(store) {
  const open = openState(store);
  return h("li", {},
    h("a", { class: "store-card", href: `/customer/stores/${store.id}`, dataset: { storeId: store.id } },
      store.image_url ? h("img", { class: "thumb", src: store.image_url, alt: "" }) : h("div", { class: "thumb", "aria-hidden": "true" }),
      h("div", { class: "body" },
        h("div", { class: "spread" }, h("h3", {}, store.name), h("span", { class: `badge ${open.open ? "open" : "closed"}` }, open.label)),
        h("div", { class: "muted store-when" }, open.detail),
        h("div", { class: "muted" }, store.category, store.distance_km != null ? ` · ${store.distance_km.toFixed(1)} km` : ""),
        h("div", {}, `Min. order ${won(store.min_order)} · Delivery ${won(store.delivery_fee)}`),
        h("div", {}, ratingLine(store)))));
}

for (const chip of document.querySelectorAll("#categories button")) {
  chip.addEventListener("click", () => {
    state.category = chip.dataset.category;
    for (const other of document.querySelectorAll("#categories button")) other.setAttribute("aria-pressed", String(other === chip));
    load();
  });
}

async function load() {
  const a = getAddress();
  const params = new URLSearchParams({ lat: a.lat, lng: a.lng, radius_km: document.getElementById("radius").value });
  const q = document.getElementById("search-q").value.trim();
  if (q) params.set("q", q);
  if (state.category) params.set("category", state.category);
  showProblem(problem, null);
  try {
    const { stores } = await api("GET", `/api/stores?${params}`);
    list.replaceChildren(...(stores.length ? stores.map(storeCard) : [h("li", { class: "empty" }, "No stores match here. Try a wider radius or another address.")]));
  } catch (error) {
    showProblem(problem, error);
    list.replaceChildren();
  }
  // Where the list shown was found for (pages and tests can tell a fresh list from an old one).
  document.body.dataset.storesAt = `${a.lat},${a.lng}`;
}

async function loadFavourites() {
  const box = document.getElementById("favourites");
  try {
    const { stores } = await api("GET", "/api/me/favourites");
    box.replaceChildren(...(stores.length
      ? stores.map((store) => h("li", {},
          h("a", { class: "chip-link", href: `/customer/stores/${store.id}`, dataset: { storeId: store.id } },
            `♥ ${store.name}`, h("span", { class: "muted" }, store.open ? " · open" : " · closed"))))
      : [h("li", { class: "empty" }, "No favourites yet: press the heart on a store's page.")]));
  } catch (error) {
    showProblem(problem, error);
  }
}

document.getElementById("address-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = document.getElementById("addr-text").value.trim();
  const lat = Number(document.getElementById("addr-lat").value);
  const lng = Number(document.getElementById("addr-lng").value);
  if (!text || !Number.isFinite(lat) || !Number.isFinite(lng)) {
    showProblem(problem, new Error("Enter an address with its latitude and longitude."));
    return;
  }
  saveAddress({ text, lat, lng });
  toast("Address saved");
  load();
});

document.getElementById("use-location").addEventListener("click", () => {
  if (!navigator.geolocation) {
    toast("This browser cannot share its location.");
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      document.getElementById("addr-lat").value = pos.coords.latitude.toFixed(6);
      document.getElementById("addr-lng").value = pos.coords.longitude.toFixed(6);
      toast("Location filled in; name the address and press “Use this address”.");
    },
    () => toast("Location not shared; enter the address instead."),
  );
});

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});

await startPage();
updateCartLink();
fillAddress();
await Promise.all([load(), loadFavourites()]);
markReady();
