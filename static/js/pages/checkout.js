// Checkout: address, sandbox card or points, points and coupon; one Idempotency-Key per attempt.
import { api, newKey, showProblem, won } from "../api.js";
import { clearCart, getAddress, getCart, saveAddress, subtotal, updateCartLink } from "../cart.js";
import { renderCart } from "../cart-view.js";
import { PointPicker, coordinates } from "../point-picker.js";
import { cartBlock, followStore } from "../store-live.js";
import { busy, h, startPage, markReady } from "../ui.js";

const form = document.getElementById("checkout-form");
const problem = document.getElementById("problem");
const cartBox = document.getElementById("cart");
const coupons = new Map();
const saved = new Map();
const savedSelect = document.getElementById("co-saved");
const picker = new PointPicker(document.getElementById("co-map"), {
  label: "Map: click where the order should go; arrow keys move the point",
  onChange: (point) => {
    document.getElementById("co-point").textContent = coordinates(point);
    destinationChanged();
  },
});
let attempt = null; // {key, body}: a retry of the same body reuses its key, so it is charged once
let blocked = null; // why the cart cannot be ordered now (the store closed, an item sold out)
let usablePoints = null; // the customer's usable points, once read
let quoted = null; // {body, amounts}: the server's quote for the form as it stands
let quoting = null; // the body being quoted
let quoteTimer = null;
const placeButton = document.getElementById("place-order");
// Problems that concern one field of the form, shown next to it.
const FIELD_OF = { "insufficient-points": "use_points", "coupon-unusable": "coupon_id" };

function showBlock(store) {
  blocked = cartBlock(store, getCart());
  const note = document.getElementById("order-blocked");
  note.hidden = !blocked;
  note.textContent = blocked || "";
  renderCart(cartBox, { onChange: estimate, checkoutLink: false, blocked });
  estimate();
}

/** Follow the cart's store, so that the button says at once when it cannot order. */
async function watchStore() {
  const cart = getCart();
  if (!cart) return;
  try {
    const store = await api("GET", `/api/stores/${cart.store.id}`);
    showBlock(store);
    await followStore(store, showBlock);
  } catch (error) {
    showProblem(problem, error);
  }
}

function fill() {
  const a = getAddress();
  document.getElementById("co-address").value = a.text;
  picker.set({ lat: a.lat, lng: a.lng });
}

function chosenSaved() {
  return saved.get(Number(savedSelect.value)) || null;
}

function showDestination() {
  const address = chosenSaved();
  document.getElementById("co-new").hidden = Boolean(address);
  const text = document.getElementById("co-saved-text");
  text.hidden = !address;
  text.textContent = address ? address.text : "";
  const hint = document.getElementById("rider-note-hint");
  hint.hidden = !(address && address.rider_note);
  hint.textContent = address && address.rider_note ? `Left empty, the rider gets your saved note: “${address.rider_note}”` : "";
}

async function loadAddresses() {
  try {
    const { addresses } = await api("GET", "/api/me/addresses");
    const typed = savedSelect.querySelector('option[value=""]');
    for (const a of addresses) {
      saved.set(a.id, a);
      savedSelect.insertBefore(h("option", { value: a.id }, `${a.label}: ${a.text}`), typed);
    }
    if (addresses.length) savedSelect.value = String(addresses[0].id); // the default comes first
  } catch (error) {
    document.getElementById("rewards-note").textContent = `Addresses: ${error.message}`;
  }
  showDestination();
}

async function showStore() {
  const cart = getCart();
  if (!cart) return;
  try {
    const store = await api("GET", `/api/stores/${cart.store.id}`);
    picker.landmark("store", { lat: store.lat, lng: store.lng }, store.name);
    picker.frame();
  } catch {
    // The map works without the store's marker.
  }
}

let deliveryAsked = null; // the destination last asked about, so each is asked once

/** Where the order would go, as coordinates: the saved address chosen, or the map's point. */
function destination() {
  const address = chosenSaved();
  if (address) return { lat: address.lat, lng: address.lng };
  return picker.point || null;
}

/** The store's fee for this destination by its distance, or why it cannot deliver there. */
async function showDelivery() {
  const cart = getCart();
  const note = document.getElementById("delivery-note");
  const point = destination();
  if (!cart || !point) {
    note.hidden = true;
    return;
  }
  const asked = `${cart.store.id}:${point.lat}:${point.lng}`;
  if (asked === deliveryAsked) return;
  deliveryAsked = asked;
  try {
    const quote = await api("GET", `/api/stores/${cart.store.id}/delivery-quote?lat=${point.lat}&lng=${point.lng}`);
    if (asked !== deliveryAsked) return;
    const km = quote.distance_km.toFixed(1);
    note.classList.toggle("notice", !quote.in_range);
    note.textContent = quote.in_range
      ? `${km} km from ${cart.store.name}: delivery ${won(quote.delivery_fee)}.`
      : `Out of range: ${cart.store.name} delivers up to ${quote.radius_km} km away and this address is ${km} km away. Choose an address nearer the store.`;
    note.hidden = false;
  } catch {
    note.hidden = true; // the order quote says what is wrong
  }
}

let started = false; // until the store's state is known, nothing is asked of the server

function destinationChanged() {
  if (!started) return;
  showDelivery();
  estimate();
}

function payMethod() {
  return form.querySelector("input[name=method]:checked").value;
}

/** What the page can tell without asking: why this cart cannot be ordered as it stands. */
function localReason(cart) {
  if (!cart) return "Your cart is empty: add something from a store first.";
  if (blocked) return blocked;
  if (subtotal(cart) < cart.store.min_order) return `The minimum order at ${cart.store.name} is ${won(cart.store.min_order)}.`;
  return null;
}

function pointsNote(text) {
  const note = document.getElementById("points-note");
  note.hidden = !text;
  note.textContent = text || "";
  const input = document.getElementById("co-points");
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** The points field, checked against what the customer has before anything is asked. */
function pointsProblem() {
  const raw = document.getElementById("co-points").value.trim();
  if (raw === "") return null;
  const points = Number(raw);
  if (!Number.isInteger(points) || points < 0) return "Points must be a whole number, 0 or more.";
  if (usablePoints !== null && points > usablePoints) return `You have ${usablePoints.toLocaleString("en-US")} usable points: use at most that many.`;
  return null;
}

function showAmounts(amounts) {
  const box = document.getElementById("quote");
  box.hidden = !amounts;
  if (!amounts) return;
  for (const key of ["subtotal", "delivery_fee", "total", "paid_amount"]) document.getElementById(`quote-${key}`).textContent = won(amounts[key]);
  document.getElementById("quote-coupon_discount").textContent = amounts.coupon_discount ? `−${won(amounts.coupon_discount)}` : won(0);
  document.getElementById("quote-points_used").textContent = amounts.points_used ? `−${won(amounts.points_used)}` : won(0);
}

function quoteBody(cart) {
  const body = orderBody(cart);
  body.payment = { method: body.payment.method }; // the card's number changes nothing
  return body;
}

/** Ask the server what the order costs on every change; the button says what it charges. */
function estimate() {
  const cart = getCart();
  const reason = localReason(cart);
  const points = pointsProblem();
  pointsNote(points);
  if (reason || points) {
    clearTimeout(quoteTimer);
    quoted = null;
    quoting = null;
    showAmounts(null);
    placeButton.textContent = "Place order";
    placeButton.disabled = true;
    return;
  }
  const body = JSON.stringify(quoteBody(cart));
  if ((quoted && quoted.body === body) || quoting === body) return;
  quoting = body;
  placeButton.disabled = true; // until the server says what this order costs
  clearTimeout(quoteTimer);
  quoteTimer = setTimeout(() => fetchQuote(body), 150);
}

async function fetchQuote(body) {
  try {
    const amounts = await api("POST", "/api/orders/quote", { body: JSON.parse(body) });
    if (quoting !== body) return; // the form changed meanwhile: a newer quote is coming
    quoted = { body, amounts };
    quoting = null;
    showAmounts(amounts);
    placeButton.textContent = `Place order · ${won(amounts.paid_amount)}`;
    placeButton.disabled = false;
  } catch (error) {
    if (quoting !== body) return;
    quoting = null;
    quoted = null;
    showAmounts(null);
    placeButton.textContent = "Place order";
    // Refused as placing it would be: fix the form first. Anything else: placing may work.
    placeButton.disabled = error.status >= 400 && error.status < 500;
    showProblem(problem, error, { fields: FIELD_OF });
  }
}

async function loadRewards() {
  const note = document.getElementById("rewards-note");
  try {
    const points = await api("GET", "/api/me/points");
    document.getElementById("points-usable").textContent = `(${won(points.usable).replace("₩", "")} usable)`;
    document.getElementById("co-points").max = points.usable;
    usablePoints = points.usable;
  } catch (error) {
    note.textContent = `Points: ${error.message}`;
  }
  try {
    const { coupons: mine } = await api("GET", "/api/me/coupons");
    const select = document.getElementById("co-coupon");
    for (const c of mine.filter((c) => c.status === "issued")) {
      coupons.set(c.id, c);
      select.append(h("option", { value: c.id }, `${c.name}: −${won(c.discount)} (min. ${won(c.min_order)})`));
    }
  } catch (error) {
    note.textContent = `${note.textContent} Coupons: ${error.message}`;
  }
}

function orderBody(cart) {
  const method = payMethod();
  const couponId = Number(document.getElementById("co-coupon").value) || null;
  const body = {
    store_id: cart.store.id,
    items: cart.lines.map((l) => ({ menu_item_id: l.menu_item_id, quantity: l.quantity, option_ids: l.option_ids })),
    payment: method === "card" ? { method: "card", card_number: document.getElementById("co-card").value.replace(/\s+/g, "") } : { method: "points" },
    use_points: Number(document.getElementById("co-points").value) || 0,
    coupon_id: couponId,
  };
  const address = chosenSaved();
  if (address) body.address_id = address.id;
  else body.address = { text: document.getElementById("co-address").value.trim(), ...(picker.point || {}) };
  const storeNote = document.getElementById("co-store-note").value.trim();
  const riderNote = document.getElementById("co-rider-note").value.trim();
  if (storeNote) body.store_note = storeNote;
  if (riderNote) body.rider_note = riderNote;
  return body;
}

savedSelect.addEventListener("change", () => {
  showDestination();
  destinationChanged();
});
form.addEventListener("input", estimate);
form.addEventListener("change", () => {
  document.getElementById("card-field").hidden = payMethod() !== "card";
  estimate();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const cart = getCart();
  const reason = localReason(cart) || pointsProblem();
  if (reason) {
    showProblem(problem, new Error(reason));
    return;
  }
  const body = orderBody(cart);
  const serial = JSON.stringify(body);
  if (!attempt || attempt.body !== serial) attempt = { key: newKey(), body: serial };
  showProblem(problem, null);
  await busy(document.getElementById("place-order"), async () => {
    try {
      const order = await api("POST", "/api/orders", { body, headers: { "Idempotency-Key": attempt.key } });
      const used = chosenSaved() || body.address;
      saveAddress({ text: used.text, lat: used.lat, lng: used.lng });
      clearCart();
      location.assign(`/customer/orders/${order.id}`);
    } catch (error) {
      showProblem(problem, error, { fields: FIELD_OF });
    }
  });
});

await startPage();
updateCartLink();
fill();
renderCart(cartBox, { onChange: estimate, checkoutLink: false });
await Promise.all([loadRewards(), loadAddresses(), showStore()]);
await watchStore(); // first: a closed store or a sold-out item is said without asking
started = true;
await showDelivery();
estimate();
markReady();
