// The pages' view of the realtime client (static/js/realtime.js): follow a stream from a
// known seq, get each event once and in order, re-read the REST snapshot when the server
// cannot prove it replayed everything, and show the connection banner while disconnected.

let client = null;
const locationHandlers = new Set();

function banner(state) {
  const box = document.getElementById("conn-banner");
  if (!box) return;
  box.hidden = state === "connected" || state === "connecting-first";
  document.body.dataset.connection = state;
}

/** Connect once per page; `onState(state)` hears "connected" / "disconnected" / "reconnecting". */
export async function openLive() {
  if (client) return client;
  let module;
  try {
    module = await import("./realtime.js");
  } catch (error) {
    banner("unavailable");
    throw new Error("Live updates are not available on this server yet.");
  }
  const Realtime = module.RealtimeClient || module.Realtime || module.default;
  client = new Realtime({
    onState: (state) => banner(state),
    onLocation: (message) => {
      for (const handler of locationHandlers) handler(message);
    },
  });
  return client;
}

/**
 * Follow `stream` from `lastSeq`: `onEvent(event)` gets every later event once, in seq order;
 * `resync()` must re-read the REST snapshot and return its stream seq.
 */
export async function follow(stream, { lastSeq, onEvent, resync }) {
  const live = await openLive();
  return live.subscribe(stream, { afterSeq: lastSeq, onEvent, onResync: resync });
}

/** Stop following `stream`. */
export async function unfollow(stream) {
  if (client) await client.unsubscribe(stream);
}

/** Hear rider positions (`{order_id, lat, lng, at}`) of followed orders. */
export function onLocation(handler) {
  locationHandlers.add(handler);
  return () => locationHandlers.delete(handler);
}
