// A self-drawn map (SVG): no external tiles. Points are projected on a local flat plane.

const NS = "http://www.w3.org/2000/svg";
const KM_PER_DEG_LAT = 111.32;
// Centres closer than this would overlap (marker radii 13 and 11, and a little air).
const MARKER_GAP_PX = 30;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** Distance in km between two {lat, lng} points (haversine). */
export function distanceKm(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(s));
}

/** A map in `container` showing named markers; `fit` decides the visible area. */
export class MiniMap {
  constructor(container, { label = "Map", width = 640, height = 400, onPick = null, onKey = null } = {}) {
    this.width = width;
    this.height = height;
    this.markers = new Map();
    this.view = { lat: 37.5665, lng: 126.978, spanKm: 4 };
    this.root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "minimap" });
    const defs = svg("defs");
    const pattern = svg("pattern", { id: `grid-${Math.random().toString(36).slice(2)}`, width: 40, height: 40, patternUnits: "userSpaceOnUse" });
    pattern.append(svg("path", { d: "M 40 0 L 0 0 0 40", fill: "none", stroke: "#d9e2ea", "stroke-width": 1 }));
    defs.append(pattern);
    this.root.append(defs);
    this.root.append(svg("rect", { width, height, fill: "#f1f5f8" }));
    this.root.append(svg("rect", { width, height, fill: `url(#${pattern.id})` }));
    this.roads = svg("g", { class: "roads" });
    this.root.append(this.roads);
    this.route = svg("polyline", { class: "route", fill: "none", stroke: "#7a8ca0", "stroke-width": 3, "stroke-dasharray": "6 6" });
    this.root.append(this.route);
    // Markers moved aside so as not to cover another are tied to their true point by a line.
    this.leaders = svg("g", { class: "leaders" });
    this.root.append(this.leaders);
    this.layer = svg("g");
    this.root.append(this.layer);
    this.scale = svg("text", { x: 10, y: height - 10, class: "scale" });
    this.root.append(this.scale);
    container.append(this.root);
    if (onKey) {
      // Arrow keys move the pick on a focused map, for people who do not use a mouse.
      this.root.setAttribute("tabindex", "0");
      this.root.addEventListener("keydown", (event) => {
        const direction = { ArrowUp: "n", ArrowDown: "s", ArrowLeft: "w", ArrowRight: "e" }[event.key];
        if (direction) {
          event.preventDefault();
          onKey(direction);
        }
      });
    }
    if (onPick) {
      this.root.style.cursor = "crosshair";
      this.root.addEventListener("click", (event) => {
        const box = this.root.getBoundingClientRect();
        const x = ((event.clientX - box.left) / box.width) * this.width;
        const y = ((event.clientY - box.top) / box.height) * this.height;
        onPick(this.unproject(x, y));
      });
    }
  }

  kmPerDegLng() {
    return KM_PER_DEG_LAT * Math.cos((this.view.lat * Math.PI) / 180);
  }

  pxPerKm() {
    return this.width / this.view.spanKm;
  }

  project({ lat, lng }) {
    const x = this.width / 2 + (lng - this.view.lng) * this.kmPerDegLng() * this.pxPerKm();
    const y = this.height / 2 - (lat - this.view.lat) * KM_PER_DEG_LAT * this.pxPerKm();
    return [x, y];
  }

  unproject(x, y) {
    const lng = this.view.lng + (x - this.width / 2) / this.pxPerKm() / this.kmPerDegLng();
    const lat = this.view.lat - (y - this.height / 2) / this.pxPerKm() / KM_PER_DEG_LAT;
    return { lat, lng };
  }

  /** Centre on `points` so all fit, with a margin; never closer than `minKm` across. */
  fit(points, { minKm = 1.5 } = {}) {
    const list = points.filter((p) => p && Number.isFinite(p.lat) && Number.isFinite(p.lng));
    if (!list.length) return;
    const lats = list.map((p) => p.lat);
    const lngs = list.map((p) => p.lng);
    const lat = (Math.min(...lats) + Math.max(...lats)) / 2;
    const lng = (Math.min(...lngs) + Math.max(...lngs)) / 2;
    const kmLng = KM_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180);
    const spanX = (Math.max(...lngs) - Math.min(...lngs)) * kmLng;
    const spanY = ((Math.max(...lats) - Math.min(...lats)) * KM_PER_DEG_LAT * this.width) / this.height;
    this.view = { lat, lng, spanKm: Math.max(minKm, Math.max(spanX, spanY) * 1.5) };
    this.redraw();
  }

  /** True when the point lies inside the visible area (with a margin). */
  contains(point) {
    const [x, y] = this.project(point);
    return x > 20 && y > 20 && x < this.width - 20 && y < this.height - 20;
  }

  /** Place or move a marker. kind: store | home | rider | me. */
  set(name, point, { kind = name, label = "" } = {}) {
    if (!point || !Number.isFinite(point.lat) || !Number.isFinite(point.lng)) {
      this.remove(name);
      return;
    }
    this.markers.set(name, { point, kind, label });
    this.redraw();
  }

  remove(name) {
    this.markers.delete(name);
    this.redraw();
  }

  /** Draw a dashed route through the named markers. */
  routeThrough(names) {
    this.routeNames = names;
    this.redraw();
  }

  /**
   * Where to draw each marker: at its point, unless that would cover a marker already placed
   * (the rider at the customer's door): then moved aside, round its point, until both show.
   */
  layout() {
    const placed = [];
    const spots = new Map();
    for (const [name, { point }] of this.markers) {
      const [px, py] = this.project(point);
      let [x, y] = [px, py];
      const clash = () => placed.some(([ox, oy]) => Math.hypot(x - ox, y - oy) < MARKER_GAP_PX);
      for (let turn = 0; turn < 8 && clash(); turn += 1) {
        const angle = -Math.PI / 4 - (turn * Math.PI) / 4; // up-right first, then round
        x = px + MARKER_GAP_PX * Math.cos(angle);
        y = py + MARKER_GAP_PX * Math.sin(angle);
      }
      placed.push([x, y]);
      spots.set(name, { x, y, px, py });
    }
    return spots;
  }

  redraw() {
    this.layer.replaceChildren();
    this.leaders.replaceChildren();
    const spots = this.layout();
    for (const [name, { point, kind, label }] of this.markers) {
      const { x, y, px, py } = spots.get(name);
      const moved = x !== px || y !== py;
      if (moved) {
        this.leaders.append(svg("line", { x1: px.toFixed(1), y1: py.toFixed(1), x2: x.toFixed(1), y2: y.toFixed(1), class: "leader", stroke: "#1b1b1b", "stroke-width": 1.5 }));
        this.leaders.append(svg("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 3, class: "leader-dot", fill: "#1b1b1b" }));
      }
      const g = svg("g", { class: `marker marker-${kind}`, "data-marker": name, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})` });
      g.dataset.lat = String(point.lat);
      g.dataset.lng = String(point.lng);
      if (moved) g.dataset.movedAside = "true";
      g.append(svg("circle", { r: kind === "rider" || kind === "me" ? 11 : 13 }));
      const glyph = svg("text", { "text-anchor": "middle", y: 5, class: "glyph" });
      glyph.textContent = { store: "S", home: "H", rider: "R", me: "R" }[kind] || "•";
      g.append(glyph);
      if (label) {
        const text = svg("text", { x: 16, y: 5, class: "label" });
        text.textContent = label;
        g.append(text);
      }
      const title = svg("title");
      title.textContent = label || name;
      g.append(title);
      this.layer.append(g);
    }
    const pts = (this.routeNames || []).map((n) => this.markers.get(n)).filter(Boolean);
    this.route.setAttribute("points", pts.map((m) => this.project(m.point).map((v) => v.toFixed(1)).join(",")).join(" "));
    this.scale.textContent = `${this.view.spanKm.toFixed(1)} km across`;
  }
}
