// Store settings, the open/closed switch, pauses, opening hours, the store photo, the menu and
// the settlement.
import { api, showProblem, won } from "../api.js";
import { confirmAction } from "../confirm.js";
import { follow } from "../live.js";
import { ratingLine, reviewList } from "../reviews.js";
import { settlementCard } from "../settlement.js";
import { DAY_NAMES, followStore, openState, whenText } from "../store-live.js";
import { busy, formData, h, startPage, toast, markReady } from "../ui.js";

const storeId = Number(document.body.dataset.storeId);
const problem = document.getElementById("problem");
const openSwitch = document.getElementById("open-switch");
let store = null;

function upload(path, file) {
  const form = new FormData();
  form.append("file", file);
  return api("PUT", path, { form });
}

function parseOptions(text) {
  return (text || "").split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const comma = line.lastIndexOf(",");
    const name = (comma < 0 ? line : line.slice(0, comma)).trim();
    const price = comma < 0 ? "0" : line.slice(comma + 1).trim();
    // A price that is not a whole number goes as typed: the server names the line at fault.
    return { name, price: /^\d+$/.test(price) ? Number(price) : price };
  });
}

function optionsText(options) {
  return options.map((o) => `${o.name}, ${o.price}`).join("\n");
}

function itemEditor(item) {
  const errors = h("div", { class: "problem", role: "alert", hidden: true });
  const act = (fn) => async (event) => {
    showProblem(errors, null);
    try {
      await busy(event.currentTarget, () => fn(event));
      await load();
    } catch (error) {
      showProblem(errors, error);
    }
  };
  const name = h("input", { value: item.name, "aria-label": `Name of ${item.name}` });
  const price = h("input", { type: "number", min: 0, step: 100, value: item.price, "aria-label": `Price of ${item.name}` });
  const group = h("input", { value: item.group, list: "menu-groups", "aria-label": `Group of ${item.name}` });
  const description = h("textarea", { rows: 2, maxlength: 500, "aria-label": `Description of ${item.name}` });
  description.value = item.description || "";
  const options = h("textarea", { rows: 3, "aria-label": `Options of ${item.name}, one per line as name, price`, placeholder: "Extra cheese, 1000" });
  options.value = optionsText(item.options);
  const save = () => {
    const body = { name: name.value, price: Number(price.value), group: group.value, description: description.value };
    // Sent only when changed: replacing the options gives them new ids, which carts hold.
    if (options.value.trim() !== optionsText(item.options).trim()) body.options = parseOptions(options.value);
    return api("PATCH", `/api/menu-items/${item.id}`, { body }).then(() => toast(`${name.value} saved`));
  };
  const file = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", "aria-label": `Photo of ${item.name}`,
    onchange: act(async () => { if (file.files[0]) await upload(`/api/menu-items/${item.id}/image`, file.files[0]); toast("Photo uploaded"); }) });
  return h("div", { class: "menu-edit", dataset: { itemId: item.id } },
    item.image_url ? h("img", { class: "thumb small", src: item.image_url, alt: "" }) : h("div", { class: "thumb small", "aria-hidden": "true" }),
    h("div", {},
      h("div", { class: "row" }, name, price,
        h("button", { type: "button", "aria-label": `Save ${item.name}`, onclick: act(save) }, "Save")),
      h("div", { class: "muted" }, `${item.group} · ${won(item.price)}`, item.options.length ? ` · options: ${item.options.map((o) => `${o.name} +${won(o.price)}`).join(", ")}` : ""),
      h("details", { class: "edit-details" },
        h("summary", {}, "Group, description and options"),
        h("label", {}, "Group ", group),
        h("label", {}, "Description ", description),
        h("label", {}, "Options, one per line as “name, price” ", options),
        h("button", { type: "button", onclick: act(save) }, "Save changes")),
      h("label", { class: "inline" }, "Photo ", file),
      errors),
    h("div", {},
      h("label", { class: "inline" },
        h("input", { type: "checkbox", class: "sold-out-toggle", checked: item.sold_out,
          onchange: act(async (e) => {
            const { sold_out: soldOut } = await api("PATCH", `/api/menu-items/${item.id}`, { body: { sold_out: e.target.checked } });
            toast(soldOut ? "Sold out saved" : "Back on sale");
          }) }),
        "Sold out"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${item.name}`, onclick: async (event) => {
        const button = event.currentTarget;
        const sure = await confirmAction({
          title: `Delete ${item.name}?`,
          message: "It leaves the menu at once and can no longer be ordered; past orders keep it. This cannot be undone.",
          confirmLabel: "Delete item",
          cancelLabel: "Keep it",
        });
        if (sure) await act(() => api("DELETE", `/api/menu-items/${item.id}`))({ currentTarget: button });
      } }, "Delete")));
}

// Taking orders: the state, the pause buttons and the time left of a pause.
const taking = document.getElementById("taking");
let countdown = null;

function renderState(current) {
  const state = openState(current);
  const badge = document.getElementById("state-badge");
  badge.textContent = state.label;
  badge.className = `badge ${state.open ? "open" : "closed"}`;
  document.getElementById("state-detail").textContent = state.detail;
  document.body.dataset.openNow = String(Boolean(current.open_now));
  document.getElementById("resume").hidden = !current.paused_until;
  clearInterval(countdown);
  const left = document.getElementById("pause-left");
  left.hidden = !current.paused_until;
  if (!current.paused_until) return;
  const tick = () => {
    const ms = Math.max(0, Date.parse(current.paused_until) - Date.now());
    const minutes = Math.floor(ms / 60000);
    const seconds = String(Math.floor((ms % 60000) / 1000)).padStart(2, "0");
    left.textContent = `Paused: ${minutes}:${seconds} left (until ${whenText(current.paused_until, current.timezone)})`;
  };
  tick();
  countdown = setInterval(tick, 1000);
}

async function act(button, request) {
  const errors = taking.querySelector(".problem");
  showProblem(errors, null);
  try {
    await busy(button, async () => {
      const changed = await api(...request);
      store = { ...store, ...changed };
      renderState(store);
    });
  } catch (error) {
    showProblem(errors, error);
  }
}

for (const button of taking.querySelectorAll("button.pause")) {
  button.addEventListener("click", () => act(button, ["POST", `/api/stores/${storeId}/pause`, { body: { minutes: Number(button.dataset.minutes) } }]).then(() => toast(`Paused for ${button.dataset.minutes} minutes`)));
}
document.getElementById("resume").addEventListener("click", (event) => act(event.currentTarget, ["DELETE", `/api/stores/${storeId}/pause`]).then(() => toast("Taking orders again")));

// Opening hours: the weekly rows, the closed dates and the zone, saved together.
const hoursForm = document.getElementById("hours-form");
const hoursRows = document.getElementById("hours-rows");
let closedDates = [];

function hoursRow(entry = { day: 0, opens: "11:00", closes: "21:00" }) {
  const day = h("select", { name: "day", "aria-label": "Day" }, ...DAY_NAMES.map((name, i) => h("option", { value: i, selected: i === entry.day }, name)));
  const row = h("tr", { class: "hours-row" },
    h("td", {}, day),
    h("td", {}, h("input", { type: "time", name: "opens", value: entry.opens, "aria-label": "Opens", required: true })),
    h("td", {}, h("input", { type: "time", name: "closes", value: entry.closes === "24:00" ? "00:00" : entry.closes, "aria-label": "Closes", required: true })),
    h("td", {}, h("button", { type: "button", class: "danger", "aria-label": "Remove this opening", onclick: () => row.remove() }, "✕")));
  return row;
}

function renderClosedDates() {
  document.getElementById("closed-dates").replaceChildren(...closedDates.map((date) =>
    h("li", {}, h("button", { type: "button", class: "chip", "aria-label": `Remove closed date ${date}`, onclick: () => { closedDates = closedDates.filter((d) => d !== date); renderClosedDates(); } }, `${date} ✕`))));
}

const tierRows = document.getElementById("tier-rows");

function tierRow(tier = { up_to_km: "", fee: "" }) {
  const row = h("tr", { class: "tier-row" },
    h("td", {}, h("input", { type: "number", name: "up_to_km", min: 0.1, max: 15, step: 0.1, value: tier.up_to_km, "aria-label": "Up to (km)", required: true })),
    h("td", {}, h("input", { type: "number", name: "fee", min: 0, max: 100000, step: 100, value: tier.fee, "aria-label": "Fee (₩)", required: true })),
    h("td", {}, h("button", { type: "button", class: "danger", "aria-label": "Remove this tier", onclick: () => row.remove() }, "✕")));
  return row;
}

function fillDelivery(current) {
  document.getElementById("delivery-radius").value = current.delivery_radius_km;
  tierRows.replaceChildren(...current.delivery_fee_tiers.map(tierRow));
}

// A number as typed, or the text itself: the server names what is wrong with it.
const numberOr = (text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

document.getElementById("add-tier").addEventListener("click", () => {
  const radius = document.getElementById("delivery-radius").value;
  tierRows.append(tierRow({ up_to_km: radius, fee: "" }));
});

document.getElementById("delivery-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const body = {
    delivery_radius_km: numberOr(document.getElementById("delivery-radius").value),
    delivery_fee_tiers: [...tierRows.querySelectorAll(".tier-row")].map((row) => ({
      up_to_km: numberOr(row.querySelector("[name=up_to_km]").value),
      fee: numberOr(row.querySelector("[name=fee]").value),
    })),
  };
  try {
    store = { ...store, ...(await busy(form.querySelector("button[type=submit]"), () => api("PATCH", `/api/stores/${storeId}`, { body }))) };
    showProblem(form.querySelector(".problem"), null);
    fillDelivery(store);
    toast("Delivery area saved");
  } catch (error) {
    showProblem(form.querySelector(".problem"), error);
  }
});

function fillHours(current) {
  document.getElementById("hours-timezone").value = current.timezone;
  hoursRows.replaceChildren(...current.hours.map(hoursRow));
  closedDates = [...current.closed_dates];
  renderClosedDates();
}

document.getElementById("add-opening").addEventListener("click", () => hoursRows.append(hoursRow()));
document.getElementById("add-closed").addEventListener("click", () => {
  const value = document.getElementById("closed-date").value;
  if (value && !closedDates.includes(value)) closedDates = [...closedDates, value].sort();
  renderClosedDates();
});

hoursForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const errors = hoursForm.querySelector(".problem");
  const weekly = [...hoursRows.querySelectorAll("tr")].map((row) => ({
    day: Number(row.querySelector("[name=day]").value),
    opens: row.querySelector("[name=opens]").value,
    closes: row.querySelector("[name=closes]").value,
  }));
  const body = { weekly, closed_dates: closedDates, timezone: document.getElementById("hours-timezone").value.trim() };
  try {
    const saved = await api("PUT", `/api/stores/${storeId}/hours`, { body });
    store = { ...store, ...saved };
    showProblem(errors, null);
    fillHours(store);
    renderState(store);
    toast("Opening hours saved");
  } catch (error) {
    showProblem(errors, error);
  }
});

if (Intl.supportedValuesOf) {
  document.getElementById("zones").replaceChildren(...Intl.supportedValuesOf("timeZone").map((zone) => h("option", { value: zone })));
}

function render() {
  document.title = `${store.name} · Delivery`;
  document.getElementById("store-name").textContent = store.name;
  openSwitch.checked = store.open;
  openSwitch.setAttribute("aria-checked", String(store.open));
  document.getElementById("open-label").textContent = store.open ? "Open for orders" : "Closed";
  document.getElementById("reviews-summary").replaceChildren(ratingLine(store));
  const image = document.getElementById("store-image");
  image.hidden = !store.image_url;
  if (store.image_url) image.src = store.image_url;
  renderState(store);
  const settings = document.getElementById("settings-form");
  for (const key of ["name", "category", "address", "phone", "min_order"]) settings.elements[key].value = store[key];
  const groups = store.menu || [];
  document.getElementById("menu-groups").replaceChildren(...groups.map((g) => h("option", { value: g.group })));
  const onSale = groups.some((g) => g.items.some((i) => !i.sold_out));
  document.getElementById("empty-menu-note").hidden = store.open || onSale;
  document.getElementById("menu").replaceChildren(...(groups.length
    ? groups.map((g) => h("div", {}, h("h3", {}, g.group), ...g.items.map(itemEditor)))
    : [h("p", { class: "empty" }, "No items yet: add the first one below.")]));
}

async function load() {
  try {
    store = await api("GET", `/api/stores/${storeId}`);
    render();
  } catch (error) {
    showProblem(problem, error);
  }
}

openSwitch.addEventListener("change", async () => {
  try {
    store = { ...store, ...(await api("PATCH", `/api/stores/${storeId}`, { body: { open: openSwitch.checked } })) };
    toast(store.open ? "The store is open" : "The store is closed");
    await load();
  } catch (error) {
    showProblem(problem, error);
    openSwitch.checked = !openSwitch.checked;
  }
});

document.getElementById("image-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const file = document.getElementById("store-file").files[0];
  try {
    if (!file) throw new Error("Choose a photo first.");
    await upload(`/api/stores/${storeId}/image`, file);
    toast("Photo uploaded");
    form.reset();
    showProblem(form.querySelector(".problem"), null);
    await load();
  } catch (error) {
    showProblem(form.querySelector(".problem"), error);
  }
});

document.getElementById("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = formData(form);
  data.min_order = Number(data.min_order);
  try {
    await api("PATCH", `/api/stores/${storeId}`, { body: data });
    showProblem(form.querySelector(".problem"), null);
    toast("Settings saved");
    await load();
  } catch (error) {
    showProblem(form.querySelector(".problem"), error);
  }
});

document.getElementById("item-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = formData(form);
  const file = form.elements.file.files[0];
  const body = { name: data.name, price: Number(data.price), group: data.group, description: data.description || "", options: parseOptions(data.options) };
  try {
    const item = await api("POST", `/api/stores/${storeId}/menu`, { body });
    if (file) await upload(`/api/menu-items/${item.id}/image`, file);
    form.reset();
    showProblem(form.querySelector(".problem"), null);
    toast(`${item.name} added`);
    await load();
  } catch (error) {
    showProblem(form.querySelector(".problem"), error);
  }
});

await startPage();
await load();
const reviews = reviewList(document.getElementById("reviews"), storeId, { limit: 10, canReply: true });
await reviews.reload();
// A review or a reply written while the page is open shows at once, with the new rating.
async function reviewsChanged() {
  await reviews.reload();
  const fresh = await api("GET", `/api/stores/${storeId}`);
  document.getElementById("reviews-summary").replaceChildren(ratingLine(fresh));
  return null;
}
if (store) {
  await follow(`store:${storeId}`, {
    lastSeq: null,
    onEvent: (event) => {
      if (event.type === "review.created" || event.type === "review.replied") reviewsChanged().catch(() => {});
    },
    resync: reviewsChanged,
  });
}
if (store) await settlementCard(document.getElementById("settlement"), storeId).load();
if (store) {
  fillHours(store);
  fillDelivery(store);
  // A pause that runs out, or a change made elsewhere, shows here at once.
  await followStore(store, (next) => {
    store = { ...store, ...next };
    renderState(store);
  });
}
markReady();
