// The owner's stores and the form for a new one.
import { api, showProblem, won } from "../api.js";
import { openState } from "../store-live.js";
import { formData, h, startPage, markReady } from "../ui.js";

const form = document.getElementById("store-form");
let session = null;

// The public list has no owner filter: the owner's stores are picked from it, and the ids this
// browser created are fetched one by one in case they fall outside the list's limit.
const knownKey = () => `delivery.owner.stores.${session.user.id}`;
const known = () => JSON.parse(localStorage.getItem(knownKey()) || "[]");

async function load() {
  try {
    const { stores } = await api("GET", "/api/stores?limit=200");
    const mine = stores.filter((s) => s.owner_id === session.user.id);
    for (const id of known()) {
      if (!mine.some((s) => s.id === id)) mine.push(await api("GET", `/api/stores/${id}`));
    }
    document.getElementById("stores").replaceChildren(...(mine.length
      ? mine.map((s) => h("li", { class: "store-card" },
          s.image_url ? h("img", { class: "thumb", src: s.image_url, alt: "" }) : h("div", { class: "thumb", "aria-hidden": "true" }),
          h("div", { class: "body" },
            h("div", { class: "spread" }, h("h3", {}, s.name), h("span", { class: `badge ${openState(s).open ? "open" : "closed"}` }, openState(s).label)),
            h("p", { class: "muted" }, `${s.category} · min. ${won(s.min_order)} · ${openState(s).detail}`),
            h("div", { class: "row" },
              h("a", { class: "button", href: `/owner/stores/${s.id}` }, "Menu & settings"),
              h("a", { class: "button primary", href: `/owner/stores/${s.id}/board` }, "Order board")))))
      : [h("li", { class: "empty" }, "No stores yet. Create your first one below.")]));
  } catch (error) {
    showProblem(document.getElementById("problem"), error);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = formData(form);
  for (const key of ["lat", "lng", "min_order", "delivery_fee"]) data[key] = data[key] === "" ? null : Number(data[key]);
  try {
    const store = await api("POST", "/api/stores", { body: data });
    localStorage.setItem(knownKey(), JSON.stringify([...new Set([...known(), store.id])]));
    location.assign(`/owner/stores/${store.id}`);
  } catch (error) {
    showProblem(form.querySelector(".problem"), error);
  }
});

session = await startPage();
await load();
markReady();
