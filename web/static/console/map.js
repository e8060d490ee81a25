// The map: every device of the user's areas at its position, coloured by the state the API decided
// (/api/v1/map), clustered in the browser with supercluster so 100,000 devices stay smooth: only the
// clusters and points of the visible view are drawn, in one pass on one canvas (PointCanvas), not as a
// Leaflet layer each. Panning moves the drawn canvas; a redraw happens once a move or zoom ends.
/* global L, Supercluster */
import { api, query } from "./api.js";
import { t } from "./i18n.js";

export const COLOURS = {
  on: "#f2b705", dimmed: "#9c7a00", off: "#3c3c3c", fault: "#b0169a", offline: "#8a9199", unknown: "#ffffff",
  normal: "#1f8a3b", blue: "#1f5fbf", yellow: "#e6c700", orange: "#f07c00", red: "#d7191c",
  // Water-quality probes by today's GB 3838-2002 class (water.js), I to worse than V.
  wq_I: "#6cc7f0", wq_II: "#1e88e5", wq_III: "#43a047", wq_IV: "#f2d200", wq_V: "#f08c00", wq_worse: "#8b0000",
};
// Which state a cluster shows when its devices differ: the one that needs attention most.
const URGENCY = ["unknown", "normal", "wq_I", "wq_II", "wq_III", "wq_IV", "wq_V", "wq_worse", "on", "dimmed", "off", "offline", "blue", "yellow", "orange", "fault", "red"];
const urgency = (state) => Math.max(0, URGENCY.indexOf(state));
const POINT_RADIUS = 7;
const KEYBOARD_REACH_PX = 80;  // how far from the centre Enter still finds a device
const clusterRadius = (n) => Math.round(11 + 4 * Math.log10(n));

// Leaflet's canvas renderer places, sizes, clears and zoom-animates the canvas; instead of drawing path
// layers it asks `source(bbox, zoom)` for what to show in its (padded) bounds and draws that itself.
// `_updatePaths` is where Leaflet 1.9.4 (vendored) redraws after every move, zoom end and resize.
const PointCanvas = L.Canvas.extend({
  _updatePaths() {
    if (this._postponeUpdatePaths) return;
    this.refresh();
  },

  refresh() {
    if (!this._map || !this.source || !this._bounds) return;
    const b = this._bounds;
    const sw = this._map.layerPointToLatLng([b.min.x, b.max.y]);
    const ne = this._map.layerPointToLatLng([b.max.x, b.min.y]);
    this.items = this.source([sw.lng, sw.lat, ne.lng, ne.lat], Math.round(this._map.getZoom()));
    this.paint();
  },

  paint() {
    const ctx = this._ctx;
    const b = this._bounds;
    ctx.clearRect(b.min.x, b.min.y, b.max.x - b.min.x, b.max.y - b.min.y);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#111";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = "bold 12px sans-serif";
    for (const item of this.items) {
      const [lon, lat] = item.geometry.coordinates;
      const p = this._map.latLngToLayerPoint([lat, lon]);
      item.x = p.x;
      item.y = p.y;
      item.r = item.properties.cluster ? clusterRadius(item.properties.point_count) : POINT_RADIUS;
      ctx.beginPath();
      ctx.arc(p.x, p.y, item.r, 0, 2 * Math.PI);
      ctx.fillStyle = COLOURS[URGENCY[item.properties.u]] || "#ffffff";
      ctx.fill();
      ctx.stroke();
    }
    // Counts after the circles, so a neighbour's circle never covers a number.
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#000";
    for (const item of this.items) {
      if (!item.properties.cluster) continue;
      const label = String(item.properties.point_count_abbreviated);
      ctx.strokeText(label, item.x, item.y);
      ctx.fillText(label, item.x, item.y);
    }
  },

  // Leaflet's canvas keeps mouse moves over it to itself (for its own paths): hover is ours to tell.
  _onMouseMove(e) {
    if (!this._map || this._map.dragging.moving() || this._map._animatingZoom || !this.onHover) return;
    this.onHover(this.hit(this._map.mouseEventToLayerPoint(e)));
  },

  _handleMouseOut() {
    if (this.onHover) this.onHover(null);
  },

  // The item drawn last (on top) under a layer point, if any.
  hit(point) {
    const items = this.items || [];
    for (let k = items.length - 1; k >= 0; k -= 1) {
      const item = items[k];
      const dx = item.x - point.x, dy = item.y - point.y;
      if (dx * dx + dy * dy <= (item.r + 2) * (item.r + 2)) return item;
    }
    return null;
  },
});

export class DeviceMap {
  constructor(element, config, onDevice) {
    this.onDevice = onDevice;
    this.data = null;
    this.areaIndex = new Map();
    this.map = L.map(element, { preferCanvas: true, zoomControl: true, attributionControl: Boolean(config.tileUrl),
                                keyboard: true, maxZoom: config.tileMaxZoom || 19 });
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: config.tileMaxZoom }).addTo(this.map);
    } else {
      element.classList.add("plain");
    }
    this.plain = !config.tileUrl;
    this.outlines = L.layerGroup().addTo(this.map);
    this.map.setView([23.13, 113.26], 11);
    // A pane of its own above the area outlines' canvas, so the pointer reaches the devices.
    this.map.createPane("devices").style.zIndex = 450;
    this.points = new PointCanvas({ padding: 0.3, pane: "devices" });
    this.points.source = (bbox, zoom) => (this.index ? this.index.getClusters(bbox, zoom) : []);
    this.points.addTo(this.map);
    this.tooltip = L.tooltip({ direction: "top", offset: [0, -POINT_RADIUS] });
    this.map.on("click", (e) => this.clicked(this.points.hit(e.layerPoint)));
    this.points.onHover = (item) => this.hovered(item);
    this.rendered = false;
    // The keyboard: with the map focused the arrow keys and +/- move it (Leaflet), the tooltip names the device or
    // cluster nearest the centre, and Enter opens it as a click would.
    element.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.target !== element) return;
      const item = this.nearestToCentre();
      if (item) { event.preventDefault(); this.clicked(item); }
    });
    element.addEventListener("focus", () => this.hovered(this.nearestToCentre()));
    element.addEventListener("blur", () => this.hovered(null));
    this.map.on("moveend", () => { if (document.activeElement === element) this.hovered(this.nearestToCentre()); });
  }

  nearestToCentre() {
    const centre = this.map.latLngToLayerPoint(this.map.getCenter());
    let best = null;
    let bestSquared = KEYBOARD_REACH_PX * KEYBOARD_REACH_PX;
    for (const item of this.points.items || []) {
      const squared = (item.x - centre.x) ** 2 + (item.y - centre.y) ** 2;
      if (squared < bestSquared) { best = item; bestSquared = squared; }
    }
    return best;
  }

  // The devices of ``filters``; null when a later load began meanwhile (answers can come back out of order, and
  // only the latest filters count).
  async load(filters) {
    const started = performance.now();
    const ticket = this.loads = (this.loads || 0) + 1;
    const { data } = await api(`/map${query(filters)}`);
    if (ticket !== this.loads) return null;
    this.data = data;
    this.fetchMs = performance.now() - started;
    this.applyProbeClasses();
    this.build();
    if (!this.rendered && data.count > 0) this.fit();
    this.draw();
    if (!this.rendered) {
      this.rendered = true;
      performance.mark("map-first-render");
    }
    document.body.dataset.mapCount = String(data.count);
    return data;
  }

  // Probes with nothing more urgent to show take their section's class of today (probe id → state).
  paintProbes(classOf) {
    this.probeClasses = classOf;
    if (!this.data) return;
    this.applyProbeClasses();
    this.build();
    this.draw();
  }

  applyProbeClasses() {
    const data = this.data;
    const probe = data.kinds.indexOf("water_quality_probe");
    if (!this.probeClasses || probe < 0) return;
    const plain = new Set(["normal", "unknown", ...Object.keys(COLOURS).filter((s) => s.startsWith("wq_"))]);
    for (let i = 0; i < data.count; i += 1) {
      if (data.kind[i] !== probe || !plain.has(data.states[data.state[i]])) continue;
      const wanted = this.probeClasses.get(data.ids[i]);
      if (!wanted) continue;
      let at = data.states.indexOf(wanted);
      if (at < 0) at = data.states.push(wanted) - 1;
      data.state[i] = at;
    }
  }

  build() {
    const data = this.data;
    const states = data.states;
    const features = new Array(data.count);
    for (let i = 0; i < data.count; i += 1) {
      features[i] = { type: "Feature", geometry: { type: "Point", coordinates: [data.lon[i], data.lat[i]] },
                      properties: { i, u: urgency(states[data.state[i]]) } };
    }
    this.index = new Supercluster({ radius: 48, maxZoom: 17, minPoints: 3,
                                    map: (p) => ({ u: p.u }), reduce: (acc, p) => { acc.u = Math.max(acc.u, p.u); } });
    this.index.load(features);
    this.areaIndex = new Map(data.ids.map((id, i) => [id, data.areas[data.area[i]]]));
    if (this.plain) this.drawOutlines();
  }

  fit() {
    let [w, s, e, n] = [180, 90, -180, -90];
    for (let i = 0; i < this.data.count; i += 1) {
      w = Math.min(w, this.data.lon[i]); e = Math.max(e, this.data.lon[i]);
      s = Math.min(s, this.data.lat[i]); n = Math.max(n, this.data.lat[i]);
    }
    this.map.fitBounds([[s, w], [n, e]], { padding: [20, 20], animate: false });
  }

  counts() {
    const counts = {};
    if (!this.data) return counts;
    for (const s of this.data.state) counts[this.data.states[s]] = (counts[this.data.states[s]] || 0) + 1;
    return counts;
  }

  areaOf(deviceId) {
    return this.areaIndex.get(deviceId);
  }

  stateOf(deviceId) {
    const i = this.data ? this.data.ids.indexOf(deviceId) : -1;
    return i < 0 ? null : this.data.states[this.data.state[i]];
  }

  draw() {
    this.points.refresh();
    this.drawnItems = this.points.items ? this.points.items.length : 0;
  }

  clicked(item) {
    if (!item || this.quietUntil > performance.now()) return;  // the click that ends a lasso opens nothing
    const [lon, lat] = item.geometry.coordinates;
    if (item.properties.cluster) {
      const zoom = Math.min(this.index.getClusterExpansionZoom(item.properties.cluster_id), 19);
      this.map.setView([lat, lon], zoom);
    } else {
      this.onDevice(this.data.ids[item.properties.i]);
    }
  }

  hovered(item) {
    this.map.getContainer().style.cursor = item ? "pointer" : "";
    if (!item) {
      this.map.closeTooltip(this.tooltip);
      return;
    }
    const [lon, lat] = item.geometry.coordinates;
    const i = item.properties.i;
    const text = item.properties.cluster ? t("devices", { n: item.properties.point_count })
      : `${this.data.ids[i]} · ${t(`state_${this.data.states[this.data.state[i]]}`)}`;
    this.tooltip.setLatLng([lat, lon]).setContent(text);
    if (!this.map.hasLayer(this.tooltip)) this.map.openTooltip(this.tooltip);
  }

  drawOutlines() {
    // Without basemap tiles, each area is outlined by the hull of its devices, so the picture has a shape.
    this.outlines.clearLayers();
    const byArea = new Map();
    for (let i = 0; i < this.data.count; i += 1) {
      const key = this.data.area[i];
      if (!byArea.has(key)) byArea.set(key, []);
      byArea.get(key).push([this.data.lon[i], this.data.lat[i]]);
    }
    for (const [key, points] of byArea) {
      const hull = convexHull(points);
      if (hull.length < 3) continue;
      const outline = L.polygon(hull.map(([x, y]) => [y, x]), { color: "#2b4a6f", weight: 2, dashArray: "6 4",
                                                               fill: true, fillOpacity: 0.04, interactive: false });
      outline.bindTooltip(this.data.areas[key], { permanent: false });
      this.outlines.addLayer(outline);
    }
  }
}

function convexHull(points) {
  const sorted = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list) => {
    const out = [];
    for (const p of list) {
      while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], p) <= 0) out.pop();
      out.push(p);
    }
    out.pop();
    return out;
  };
  return [...half(sorted), ...half(sorted.reverse())];
}
