// Where the rider is: the device's location when it is shared, else a simulated position
// that the rider moves on the map; and the sending of it to dispatch.
import { api } from "./api.js";
import { DEFAULT_ADDRESS } from "./cart.js";
import { distanceKm } from "./map.js";

const POS_KEY = "delivery.rider.position";
const STEP_KM = 0.1;
const KM_PER_DEG_LAT = 111.32;
const SEND_EVERY_MS = 1000;
// A device that stands still sends no new fix; the position is repeated so that the rider
// stays fresh in dispatch and the customer's map gets the latest one even if a fix was dropped.
const HEARTBEAT_MS = 5000;

function saved() {
  try {
    return JSON.parse(localStorage.getItem(POS_KEY) || "null") || { lat: DEFAULT_ADDRESS.lat, lng: DEFAULT_ADDRESS.lng };
  } catch {
    return { lat: DEFAULT_ADDRESS.lat, lng: DEFAULT_ADDRESS.lng };
  }
}

/** The rider's position; `onMove(point)` hears every change, `onSource(text, simulated)` the source. */
export class RiderPosition {
  constructor({ onMove, onSource }) {
    this.point = null;
    this.simulated = false;
    this.onMove = onMove;
    this.onSource = onSource;
    this.ready = new Promise((resolve) => { this._resolve = resolve; });
  }

  /** Watch the device's location; fall back to the simulated position when it is not shared. */
  start() {
    if (!navigator.geolocation) return this._simulate("Simulated (no location in this browser)");
    navigator.geolocation.watchPosition(
      (fix) => {
        this.simulated = false;
        this.onSource("From your device", false);
        this.moveTo({ lat: fix.coords.latitude, lng: fix.coords.longitude });
      },
      () => { if (!this.simulated) this._simulate("Simulated (location not shared)"); },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 10000 },
    );
    return undefined;
  }

  moveTo(point) {
    this.point = { lat: point.lat, lng: point.lng };
    localStorage.setItem(POS_KEY, JSON.stringify(this.point));
    this._resolve();
    this.onMove(this.point);
  }

  /** Move 100 m north/south/east/west, or ("target") toward `stop`; false when there is no stop. */
  step(direction, stop) {
    const p = this.point;
    if (direction === "target") {
      if (!stop) return false;
      const km = distanceKm(p, stop);
      const f = km <= STEP_KM * 1.5 ? 1 : (STEP_KM * 1.5) / km;
      this.moveTo({ lat: p.lat + (stop.lat - p.lat) * f, lng: p.lng + (stop.lng - p.lng) * f });
      return true;
    }
    const dLat = STEP_KM / KM_PER_DEG_LAT;
    const dLng = STEP_KM / (KM_PER_DEG_LAT * Math.cos((p.lat * Math.PI) / 180));
    const [a, b] = { n: [dLat, 0], s: [-dLat, 0], e: [0, dLng], w: [0, -dLng] }[direction];
    this.moveTo({ lat: p.lat + a, lng: p.lng + b });
    return true;
  }

  _simulate(reason) {
    this.simulated = true;
    this.onSource(reason, true);
    this.moveTo(saved());
  }
}

/** Sends the latest position while online: at most once a second, and again every few seconds. */
export class LocationSender {
  constructor({ active, current, onError }) {
    this.active = active;
    this.current = current;
    this.onError = onError;
    this.timer = null;
    this.lastSent = 0;
    setInterval(() => {
      if (Date.now() - this.lastSent >= HEARTBEAT_MS) this.schedule();
    }, 1000);
  }

  schedule() {
    if (!this.active() || !this.current() || this.timer) return;
    const wait = Math.max(0, SEND_EVERY_MS - (Date.now() - this.lastSent));
    this.timer = setTimeout(async () => {
      this.timer = null;
      this.lastSent = Date.now();
      try {
        await api("PUT", "/api/riders/me/location", { body: this.current(), quiet: true });
      } catch (error) {
        this.onError(error);
      }
    }, wait);
  }
}
