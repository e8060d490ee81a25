// The lasso: draw round lamps on the map (the lasso button, or Shift + drag on a desk) and they become
// the control panel's selection. Pointer events, so a finger draws as a mouse does. The lamps inside are
// found over the loaded columns (/api/v1/map): a bounding-box test first, then an even-odd ray test only
// for the points inside the box; 100,000 devices take a few milliseconds (window.streetwatch.lasso.lastMs).
/* global L */
import { t } from "./i18n.js";

const MIN_POINTS = 3;

// Even-odd rule: does the ring (lon/lat pairs) contain (x, y)?
export function inside(ring, x, y) {
  let hit = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

// Indices of the map's devices of `kind` inside the ring.
export function pointsInRing(data, ring, kind) {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of ring) { w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y); }
  const wanted = data.kinds.indexOf(kind);
  const found = [];
  for (let i = 0; i < data.count; i += 1) {
    const x = data.lon[i], y = data.lat[i];
    if (x < w || x > e || y < s || y > n || data.kind[i] !== wanted) continue;
    if (inside(ring, x, y)) found.push(i);
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
  }

  toggle(on = !this.active) {
    this.active = on;
    this.button.setAttribute("aria-pressed", String(on));
    this.deviceMap.map.getContainer().classList.toggle("lassoing", on);
  }

  start(e) {
    if (!(this.active || e.shiftKey) || e.button > 0 || e.target === this.button) return;
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
