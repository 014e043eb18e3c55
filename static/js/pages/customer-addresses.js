// The address book: saved addresses, one the default; add or edit one by clicking the map.
import { api, showProblem } from "../api.js";
import { getAddress, updateCartLink } from "../cart.js";
import { PointPicker, coordinates } from "../point-picker.js";
import { busy, h, startPage, toast, markReady } from "../ui.js";

const list = document.getElementById("addresses");
const form = document.getElementById("address-form");
const problem = document.getElementById("problem");
const formProblem = document.getElementById("form-problem");
const pointText = document.getElementById("addr-point");
const picker = new PointPicker(document.getElementById("addr-map"), {
  label: "Map: click where deliveries should go; arrow keys move the point",
  onChange: (point) => { pointText.textContent = coordinates(point); },
});
let editing = null;

function entry(address) {
  return h("li", { class: "card address", dataset: { addressId: address.id }, "aria-label": address.label },
    h("div", { class: "spread" },
      h("strong", {}, address.label),
      address.default ? h("span", { class: "badge ok" }, "Default") : null),
    h("div", {}, address.text),
    address.rider_note ? h("div", { class: "muted" }, `For the rider: ${address.rider_note}`) : null,
    h("div", { class: "row" },
      address.default ? null : h("button", { type: "button", onclick: (e) => act(e, "PATCH", address, { default: true }, `${address.label} is now the default`) }, `Make ${address.label} the default`),
      h("button", { type: "button", onclick: () => edit(address) }, `Edit ${address.label}`),
      h("button", { type: "button", class: "danger", onclick: (e) => act(e, "DELETE", address, undefined, `${address.label} deleted`) }, `Delete ${address.label}`)));
}

async function act(event, method, address, body, done) {
  await busy(event.currentTarget, async () => {
    try {
      await api(method, `/api/me/addresses/${address.id}`, { body });
      if (editing && editing.id === address.id && method === "DELETE") reset();
      showProblem(problem, null);
      toast(done);
      await load();
    } catch (error) {
      showProblem(problem, error);
    }
  });
}

function edit(address) {
  editing = address;
  document.getElementById("form-h").textContent = `Edit ${address.label}`;
  form.elements.label.value = address.label;
  form.elements.text.value = address.text;
  form.elements.rider_note.value = address.rider_note || "";
  form.elements.default.checked = address.default;
  form.elements.default.disabled = address.default;
  picker.set({ lat: address.lat, lng: address.lng });
  picker.frame();
  document.getElementById("cancel-edit").hidden = false;
  document.getElementById("save-address").textContent = "Save changes";
  form.elements.label.focus();
}

function reset() {
  editing = null;
  form.reset();
  form.elements.default.disabled = false;
  document.getElementById("form-h").textContent = "Add an address";
  document.getElementById("cancel-edit").hidden = true;
  document.getElementById("save-address").textContent = "Save address";
  showProblem(formProblem, null);
}

async function load() {
  try {
    const { addresses } = await api("GET", "/api/me/addresses");
    list.replaceChildren(...(addresses.length
      ? addresses.map(entry)
      : [h("li", { class: "empty" }, "No saved addresses yet. Add one below: click the map where deliveries should go.")]));
    document.getElementById("address-count").textContent = `${addresses.length} of 20`;
  } catch (error) {
    showProblem(problem, error);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!picker.point) {
    showProblem(formProblem, new Error("Click the map where deliveries should go."));
    return;
  }
  const body = {
    label: form.elements.label.value.trim(),
    text: form.elements.text.value.trim(),
    lat: picker.point.lat,
    lng: picker.point.lng,
    rider_note: form.elements.rider_note.value.trim(),
  };
  if (form.elements.default.checked && !form.elements.default.disabled) body.default = true;
  await busy(document.getElementById("save-address"), async () => {
    try {
      if (editing) await api("PATCH", `/api/me/addresses/${editing.id}`, { body });
      else await api("POST", "/api/me/addresses", { body });
      toast(editing ? `${body.label} saved` : `${body.label} added`);
      reset();
      picker.set(getAddress(), { silent: true });
      picker.frame();
      await load();
    } catch (error) {
      showProblem(formProblem, error);
    }
  });
});
document.getElementById("cancel-edit").addEventListener("click", reset);

await startPage();
updateCartLink();
picker.set(getAddress());
picker.frame();
await load();
markReady();
