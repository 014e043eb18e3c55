// The pages' view of the realtime client (static/js/realtime.js): follow a stream from a
// known seq, get each event once and in order, re-read the REST snapshot when the server
// cannot prove it replayed everything, and show the connection banner while disconnected.
import { signInAgain } from "./api.js";
import { RealtimeClient } from "./realtime.js";

let client = null;
const locationHandlers = new Set();

function banner(state) {
  const box = document.getElementById("conn-banner");
  document.body.dataset.connection = state;
  if (!box) return;
  // The first connection is not a loss; every later state but "connected" is.
  box.hidden = state === "connected" || state === "connecting-first";
  if (state === "signed-out") box.textContent = "Your session has ended — taking you to sign in…";
}

/** The page's one realtime connection, opened on first use. */
export function openLive() {
  if (!client) {
    client = new RealtimeClient({
      onState: banner,
      onSignedOut: signInAgain,
      onLocation: (message) => {
        for (const handler of locationHandlers) handler(message);
      },
    });
  }
  return client;
}

/**
 * Follow `stream` after `lastSeq` (null: from now): `onEvent(event)` gets every later event
 * once, in seq order; `resync()` re-reads the REST snapshot and returns its stream seq (or null).
 */
export async function follow(stream, { lastSeq = null, onEvent, resync }) {
  const ack = await openLive().subscribe(stream, { afterSeq: lastSeq, onEvent, onResync: resync });
  if (ack && ack.ok === false && ack.code === "unauthenticated") {
    return new Promise(() => {}); // the page is going to sign in (see openLive)
  }
  if (ack && ack.ok === false) {
    const refused = ack.code === "forbidden" || ack.code === "not-found";
    throw new Error(refused ? "You may not follow these live updates." : `Live updates unavailable (${ack.code}).`);
  }
  return ack;
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
