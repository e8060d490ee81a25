// The lasso: draw round lamps on the map (the lasso button, or Shift + drag on a desk) and they become
// the control panel's selection. Pointer events, so a finger draws as a mouse does. The lamps inside are
// found over the loaded columns (/api/v1/map): a bounding-box test first, then an even-odd ray test against
// the ring's edges in the point's horizontal band (docs/benchmarks.md; window.streetwatch.lasso.lastMs).
/* global L */
import { t } from "./i18n.js";

const MIN_POINTS = 3;
const BANDS = 64;

// Even-odd rule: does the ring (lon/lat pairs) contain (x, y)?
export function inside(ring, x, y) {
  let hit = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

// Indices of the map's devices of `kind` inside the ring. The ring's edges are sorted into horizontal bands,
// so a point is tested against the few edges of its band, not every edge of a long freehand ring.
export function pointsInRing(data, ring, kind) {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of ring) { w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y); }
  const bandCount = Math.max(1, Math.min(BANDS, ring.length));
  const height = (n - s) / bandCount || 1;
  const bands = Array.from({ length: bandCount }, () => []);
  const band = (y) => Math.min(bandCount - 1, Math.max(0, Math.floor((y - s) / height)));
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [lo, hi] = [band(Math.min(ring[i][1], ring[j][1])), band(Math.max(ring[i][1], ring[j][1]))];
    for (let b = lo; b <= hi; b += 1) bands[b].push(ring[i][0], ring[i][1], ring[j][0], ring[j][1]);
  }
  const wanted = data.kinds.indexOf(kind);
  const found = [];
  for (let i = 0; i < data.count; i += 1) {
    const x = data.lon[i], y = data.lat[i];
    if (x < w || x > e || y < s || y > n || data.kind[i] !== wanted) continue;
    const edges = bands[band(y)];
    let hit = false;
    for (let k = 0; k < edges.length; k += 4) {
      const xi = edges[k], yi = edges[k + 1], xj = edges[k + 2], yj = edges[k + 3];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    if (hit) found.push(i);
  }
  return found;
}

export class Lasso {
  constructor(deviceMap, onSelect) {
    Object.assign(this, { deviceMap, onSelect, active: false, drawing: null, lastMs: null });
    const map = deviceMap.map;
    map.boxZoom.disable();  // Shift + drag is the lasso's, not the box zoom's
    this.shape = L.layerGroup().addTo(map);
    const Control = L.Control.extend({
      onAdd: () => {
        const button = L.DomUtil.create("button", "lasso-button");
        button.type = "button";
        button.id = "lasso";
        button.textContent = t("lasso");
        button.setAttribute("aria-pressed", "false");
        L.DomEvent.disableClickPropagation(button);
        button.addEventListener("click", () => this.toggle());
        this.button = button;
        return button;
      },
    });
    new Control({ position: "topleft" }).addTo(map);
    const box = map.getContainer();
    box.addEventListener("pointerdown", (e) => this.start(e), true);
    box.addEventListener("pointermove", (e) => this.move(e), true);
    box.addEventListener("pointerup", (e) => this.end(e), true);
    box.addEventListener("pointercancel", () => this.abandon(), true);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && this.active) this.toggle(false); });
  }

  toggle(on = !this.active) {
    this.active = on;
    this.button.setAttribute("aria-pressed", String(on));
    this.deviceMap.map.getContainer().classList.toggle("lassoing", on);
  }

  start(e) {
    if (!(this.active || e.shiftKey) || e.button > 0 || e.target.closest(".leaflet-control")) return;
    e.stopPropagation();
    e.preventDefault();
    const map = this.deviceMap.map;
    map.dragging.disable();
    this.drawing = { id: e.pointerId, ring: [map.mouseEventToLatLng(e)] };
    this.shape.clearLayers();
    this.line = L.polyline(this.drawing.ring, { color: "#0b4f8a", weight: 3, dashArray: "4 4", interactive: false })
      .addTo(this.shape);
    map.getContainer().setPointerCapture?.(e.pointerId);
  }

  move(e) {
    if (!this.drawing || e.pointerId !== this.drawing.id) return;
    e.stopPropagation();
    this.drawing.ring.push(this.deviceMap.map.mouseEventToLatLng(e));
    this.line.setLatLngs(this.drawing.ring);
  }

  end(e) {
    if (!this.drawing || e.pointerId !== this.drawing.id) return;
    e.stopPropagation();
    const ring = this.drawing.ring;
    this.abandon();
    this.deviceMap.quietUntil = performance.now() + 400;
    if (ring.length >= MIN_POINTS) this.select(ring);
  }

  abandon() {
    this.drawing = null;
    this.deviceMap.map.dragging.enable();
    if (this.line) this.shape.removeLayer(this.line);
  }

  // The lamps inside the ring (Leaflet lat/lngs) become the selection.
  select(latLngs) {
    const data = this.deviceMap.data;
    if (!data) return [];
    const started = performance.now();
    const ring = latLngs.map((p) => [p.lng, p.lat]);
    const found = pointsInRing(data, ring, "lamp_controller");
    this.lastMs = performance.now() - started;
    document.body.dataset.lassoMs = this.lastMs.toFixed(1);
    this.shape.clearLayers();
    L.polygon(latLngs, { color: "#0b4f8a", weight: 2, fillOpacity: 0.08, interactive: false }).addTo(this.shape);
    this.toggle(false);
    const ids = found.map((i) => data.ids[i]);
    this.onSelect(ids);
    return ids;
  }

  clear() {
    this.shape.clearLayers();
  }
}
