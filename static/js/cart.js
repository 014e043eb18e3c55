// The single-store cart and the delivery address, kept in localStorage.

const CART_KEY = "delivery.cart";
/** The most of one line an order may hold (the server refuses more). */
export const MAX_QUANTITY = 99;
const ADDRESS_KEY = "delivery.address";
export const DEFAULT_ADDRESS = { text: "Seoul City Hall, 110 Sejong-daero", lat: 37.5665, lng: 126.978 };

function read(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key) || "null");
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

/** The cart: {store: {id, name, min_order, delivery_fee}, lines: [...]}, or null. */
export function getCart() {
  const cart = read(CART_KEY, null);
  return cart && cart.store && Array.isArray(cart.lines) && cart.lines.length ? cart : null;
}

export function saveCart(cart) {
  if (!cart || !cart.lines.length) localStorage.removeItem(CART_KEY);
  else localStorage.setItem(CART_KEY, JSON.stringify(cart));
  updateCartLink();
}

export function clearCart() {
  saveCart(null);
}

/** Add a line; returns false when the cart holds another store's items. */
export function addLine(store, item, options, quantity = 1) {
  const cart = getCart() || { store: pickStore(store), lines: [] };
  if (cart.store.id !== store.id) return false;
  cart.store = pickStore(store);
  const optionIds = options.map((o) => o.id).sort((a, b) => a - b);
  const key = `${item.id}:${optionIds.join(",")}`;
  const existing = cart.lines.find((l) => l.key === key);
  if (existing) existing.quantity = Math.min(MAX_QUANTITY, existing.quantity + quantity);
  else
    cart.lines.push({
      key, menu_item_id: item.id, name: item.name, price: item.price, quantity: Math.min(MAX_QUANTITY, quantity),
      option_ids: optionIds, options: options.map((o) => ({ id: o.id, name: o.name, price: o.price })),
    });
  saveCart(cart);
  return true;
}

function pickStore(store) {
  return { id: store.id, name: store.name, min_order: store.min_order, delivery_fee: store.delivery_fee };
}

/** The price of one line. */
export function lineTotal(line) {
  return (line.price + line.options.reduce((sum, o) => sum + o.price, 0)) * line.quantity;
}

export function subtotal(cart) {
  return cart ? cart.lines.reduce((sum, l) => sum + lineTotal(l), 0) : 0;
}

/** Change a line's quantity (0 removes it). */
export function setQuantity(key, quantity) {
  const cart = getCart();
  if (!cart) return;
  quantity = Math.min(MAX_QUANTITY, quantity);
  cart.lines = cart.lines.filter((l) => (l.key === key ? ((l.quantity = quantity), quantity > 0) : true));
  saveCart(cart);
}

export function getAddress() {
  return read(ADDRESS_KEY, DEFAULT_ADDRESS);
}

export function saveAddress(address) {
  localStorage.setItem(ADDRESS_KEY, JSON.stringify(address));
}

/** Show the item count on the "Cart" link. */
export function updateCartLink() {
  const link = document.getElementById("nav-cart");
  if (!link) return;
  const cart = getCart();
  const count = cart ? cart.lines.reduce((n, l) => n + l.quantity, 0) : 0;
  link.textContent = count ? `Cart (${count})` : "Cart";
}
