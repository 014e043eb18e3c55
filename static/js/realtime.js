// The browser side of the realtime protocol (docs/events.md): one Socket.IO connection per page,
// streams followed from a known seq, every event applied once and in seq order, and what was
// missed during a disconnection replayed on reconnect (or a resync when it cannot be).
import { io } from "/vendor/socket.io/socket.io.esm.min.js";

const ACK_TIMEOUT_MS = 10000;

/**
 * States, for a banner: "connecting-first" (first connection), "connected", "reconnecting"
 * (lost, retrying with jittered backoff), "disconnected" (refused or closed; not retrying),
 * "signed-out" (refused as unauthenticated: the session ended; `onSignedOut` is called).
 */
export class RealtimeClient {
  constructor({ url, onState = () => {}, onLocation = () => {}, onSignedOut = () => {}, minDelay = 500, maxDelay = 15000 } = {}) {
    this.onState = onState;
    // The session is gone (refused as unauthenticated): retrying cannot help, signing in can.
    this.onSignedOut = onSignedOut;
    this.onLocation = onLocation;
    this.streams = new Map();
    this.state = "connecting-first";
    this.closed = false;
    // Socket.IO's own reconnection: exponential backoff with ±50 % jitter, so a node's
    // clients do not all come back to the survivors in the same instant.
    this.socket = io(url, {
      path: "/socket.io/",
      withCredentials: true,
      reconnection: true,
      reconnectionDelay: minDelay,
      reconnectionDelayMax: maxDelay,
      randomizationFactor: 0.5,
    });
    this.socket.on("connect", () => {
      this._setState("connected");
      for (const [stream, entry] of this.streams) {
        entry.pending = null; // a request on the lost connection will never be answered
        this._send(stream);
      }
    });
    this.socket.on("disconnect", (reason) => {
      if (this.closed) return this._setState("disconnected");
      this._setState("reconnecting");
      // A server-side disconnect (a client too slow to keep up) is not retried by Socket.IO.
      if (reason === "io server disconnect") this._retryLater(minDelay, maxDelay);
    });
    this.socket.on("connect_error", (error) => {
      const code = error && error.data && error.data.code;
      if (code === "unauthenticated") {
        this._setState("signed-out");
        this.onSignedOut();
      } else if (!this.socket.active) {
        this._setState("disconnected");
        if (!this.closed) this._retryLater(minDelay, maxDelay);
      } else {
        this._setState(this.state === "connecting-first" ? "connecting-first" : "reconnecting");
      }
    });
    this.socket.on("event", (event) => this._onEvent(event));
    this.socket.on("location", (message) => this.onLocation(message));
    // The server dropped a stream whose rights changed: follow it no more, unless it only
    // could not re-check them (then ask again).
    this.socket.on("revoked", ({ stream, code } = {}) => {
      const entry = this.streams.get(stream);
      if (!entry) return;
      if (code === "unavailable") this._send(stream);
      else this.streams.delete(stream);
    });
  }

  /** The connection state (see the class comment). */
  get connectionState() {
    return this.state;
  }

  /** The last seq applied on `stream`, or null. */
  lastSeq(stream) {
    const entry = this.streams.get(stream);
    return entry ? entry.last : null;
  }

  /**
   * Follow `stream` after `afterSeq` (omit it to start from now). `onEvent(event)` gets each
   * later event once, in seq order; `onResync()` is called when the server cannot prove it
   * replayed everything: re-read the REST snapshot and return (or resolve to) its `stream_seq`.
   * Resolves to the server's acknowledgement.
   */
  subscribe(stream, { afterSeq = null, onEvent = () => {}, onResync = () => null } = {}) {
    const entry = { last: afterSeq, onEvent, onResync, pending: null, waiters: [], generation: 0 };
    this.streams.set(stream, entry);
    const acked = new Promise((resolve) => entry.waiters.push(resolve));
    if (this.socket.connected) this._send(stream);
    return acked;
  }

  /** Stop following `stream`. */
  async unsubscribe(stream) {
    this.streams.delete(stream);
    if (this.socket.connected) {
      try {
        await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("unsubscribe", { stream });
      } catch (_error) {
        // The server forgets a socket's subscriptions when it goes away anyway.
      }
    }
  }

  /** Close the connection for good. */
  close() {
    this.closed = true;
    this.socket.close();
    this._setState("disconnected");
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  _retryLater(minDelay, maxDelay) {
    const delay = minDelay + Math.random() * (maxDelay - minDelay) * 0.25;
    setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  async _send(stream) {
    const entry = this.streams.get(stream);
    if (!entry || entry.pending) return;
    entry.pending = [];
    const generation = ++entry.generation;
    const request = { stream };
    if (entry.last !== null && entry.last !== undefined) request.after_seq = entry.last;
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("subscribe", request);
    } catch (_error) {
      if (entry.generation === generation) entry.pending = null;
      return; // no answer: the next connection subscribes again
    }
    if (ack && ack.ok === false && ack.code === "unauthenticated") {
      this._setState("signed-out");
      this.onSignedOut();
    }
    if (this.streams.get(stream) !== entry || entry.generation !== generation) return;
    const buffered = entry.pending;
    entry.pending = null;
    if (ack && ack.ok) {
      if (entry.last === null || entry.last === undefined) {
        entry.last = ack.last_seq - ack.events.length;
      }
      if (!ack.recovered) {
        entry.last = ack.last_seq;
        const seq = await entry.onResync(stream);
        if (Number.isInteger(seq)) entry.last = seq;
      } else {
        for (const event of ack.events) this._apply(stream, entry, event);
      }
      buffered.sort((a, b) => a.seq - b.seq);
      for (const event of buffered) this._apply(stream, entry, event);
    }
    for (const resolve of entry.waiters.splice(0)) resolve(ack);
  }

  _onEvent(event) {
    const entry = this.streams.get(event.stream);
    if (!entry) {
      // The operators' stream `ops` hands on other streams' events as they come (no seq of
      // its own): each goes to its handler as is, once the subscription is answered.
      const ops = this.streams.get("ops");
      if (ops && !ops.pending && event.stream !== "ops") {
        try {
          ops.onEvent(event);
        } catch (error) {
          console.error("realtime: an event handler failed", error);
        }
      }
      return;
    }
    if (entry.pending) {
      entry.pending.push(event); // applied after the replay, in order
      return;
    }
    this._apply(event.stream, entry, event);
  }

  _apply(stream, entry, event) {
    if (event.seq <= entry.last) return; // already applied
    if (event.seq > entry.last + 1) {
      this._send(stream); // a gap: ask for what is missing after our last seq
      return;
    }
    entry.last = event.seq;
    try {
      entry.onEvent(event);
    } catch (error) {
      console.error("realtime: an event handler failed", error);
    }
  }
}

export default RealtimeClient;
