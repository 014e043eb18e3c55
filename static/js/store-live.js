// A store's opening state in words, and its page's live view: the store's public stream
// (`store-public:{id}`, docs/events.md) plus a timer for the moment its hours begin or end.
import { api } from "./api.js";
import { follow } from "./live.js";

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

function localParts(instant, timeZone) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", weekday: "long", hourCycle: "h23",
  }).formatToParts(new Date(instant));
  const get = (type) => (parts.find((p) => p.type === type) || {}).value;
  return { date: `${get("year")}-${get("month")}-${get("day")}`, time: `${get("hour")}:${get("minute")}`, weekday: get("weekday") };
}

/** `today at 17:00`, `tomorrow at 11:00`, `Friday 4 Dec at 11:00`, in the store's zone. */
export function whenText(instant, timeZone) {
  const then = localParts(instant, timeZone);
  const today = localParts(Date.now(), timeZone);
  const tomorrow = localParts(Date.now() + 86400000, timeZone);
  if (then.date === today.date) return `today at ${then.time}`;
  if (then.date === tomorrow.date) return `tomorrow at ${then.time}`;
  const label = new Intl.DateTimeFormat("en-GB", { timeZone, weekday: "long", day: "numeric", month: "short" }).format(new Date(instant));
  return `${label} at ${then.time}`;
}

/** The store's state for people: {open, label, detail}, from the server's fields. */
export function openState(store) {
  const zone = store.timezone || "Asia/Seoul";
  if (store.suspended) {
    return { open: false, label: "Suspended", detail: "Suspended by the platform's operators: not taking orders" };
  }
  if (store.open_now) {
    return { open: true, label: "Open", detail: store.closes_at ? `Open until ${whenText(store.closes_at, zone).replace(/^today at /, "")}` : "Open now" };
  }
  if (!store.open) return { open: false, label: "Closed", detail: "Closed for now" };
  if (store.paused_until) {
    return { open: false, label: "Paused", detail: `Paused: takes orders again ${whenText(store.next_open || store.paused_until, zone)}` };
  }
  if (store.next_open) return { open: false, label: "Closed", detail: `Closed: opens ${whenText(store.next_open, zone)}` };
  return { open: false, label: "Closed", detail: "Closed: no opening hours ahead" };
}

export const DAY_NAMES = DAYS;

/** Why the cart cannot be ordered now (this store's cart only), or null. */
export function cartBlock(store, cart) {
  if (!store || !cart || cart.store.id !== store.id) return null;
  const state = openState(store);
  if (!state.open) return `${store.name} is not taking orders. ${state.detail}.`;
  const items = new Map((store.menu || []).flatMap((g) => g.items).map((i) => [i.id, i]));
  const gone = cart.lines.filter((l) => !items.has(l.menu_item_id) || items.get(l.menu_item_id).sold_out);
  if (gone.length) return `${gone.map((l) => l.name).join(", ")} ${gone.length > 1 ? "are" : "is"} sold out: remove ${gone.length > 1 ? "them" : "it"} to order.`;
  return null;
}

/**
 * Keep `store` (a GET /api/stores/{id} answer) live: `onChange(store)` after every store or item
 * event and whenever its hours begin or end. Returns a function that re-reads it.
 */
export async function followStore(store, onChange) {
  let current = store;
  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    const next = [current.next_open, current.closes_at, current.paused_until].filter(Boolean).map((t) => Date.parse(t) - Date.now());
    const wait = Math.min(...next.filter((ms) => ms > 0), 2 ** 31 - 1);
    // A moment after the change, so that the server's answer already shows it.
    if (next.length) timer = setTimeout(reread, Math.max(0, wait) + 500);
  };
  const apply = (next) => {
    current = next;
    schedule();
    onChange(current);
  };
  async function reread() {
    try {
      apply({ ...current, ...(await api("GET", `/api/stores/${current.id}`)) });
    } catch (_error) {
      schedule();
    }
  }
  schedule();
  await follow(`store-public:${current.id}`, {
    onEvent: (event) => {
      if (event.type.startsWith("store.")) {
        apply({ ...current, ...event.data });
      } else if (event.type.startsWith("item.")) {
        const item = event.data;
        const menu = (current.menu || []).map((group) => ({
          ...group, items: group.items.map((i) => (i.id === item.id ? { ...i, ...item } : i)),
        }));
        apply({ ...current, menu });
      }
    },
    // Missed events the server cannot replay: the page's snapshot is read again.
    resync: async () => {
      await reread();
      return null;
    },
  });
  return reread;
}
