// A delivery point chosen on the map: a click places it, arrow keys nudge it (50 m a step).
import { MiniMap } from "./map.js";

const STEP_KM = 0.05;
const KM_PER_DEG_LAT = 111.32;

function rounded({ lat, lng }) {
  return { lat: Number(lat.toFixed(6)), lng: Number(lng.toFixed(6)) };
}

export class PointPicker {
  /** A map in `container`; `onChange(point)` hears every move. */
  constructor(container, { label = "Map: click where the order should go", onChange = () => {} } = {}) {
    this.point = null;
    this.onChange = onChange;
    this.map = new MiniMap(container, {
      label,
      onPick: (point) => this.set(point),
      onKey: (direction) => this.nudge(direction),
    });
  }

  /** Place the point (and keep it in view). */
  set(point, { silent = false } = {}) {
    if (!point || !Number.isFinite(point.lat) || !Number.isFinite(point.lng)) return;
    this.point = rounded(point);
    this.map.set("home", this.point, { kind: "home", label: "Deliver here" });
    if (!this.map.contains(this.point)) this.map.fit([this.point, ...this.landmarks()], { minKm: 2 });
    if (!silent) this.onChange(this.point);
  }

  /** Show a store on the map for orientation. */
  landmark(name, point, label) {
    this.map.set(name, point, { kind: "store", label });
  }

  landmarks() {
    return [...this.map.markers.entries()].filter(([name]) => name !== "home").map(([, m]) => m.point);
  }

  /** Centre the view on the point and the landmarks. */
  frame() {
    this.map.fit([this.point, ...this.landmarks()].filter(Boolean), { minKm: 2 });
  }

  nudge(direction) {
    if (!this.point) return;
    const { lat, lng } = this.point;
    const dLat = STEP_KM / KM_PER_DEG_LAT;
    const dLng = STEP_KM / (KM_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180));
    const moves = { n: [dLat, 0], s: [-dLat, 0], e: [0, dLng], w: [0, -dLng] };
    const [a, b] = moves[direction] || [0, 0];
    this.set({ lat: lat + a, lng: lng + b });
  }
}

/** "37.566500, 126.978000" */
export function coordinates(point) {
  return point ? `${point.lat.toFixed(6)}, ${point.lng.toFixed(6)}` : "not chosen";
}
