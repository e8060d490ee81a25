// The map: every device of the user's areas at its position, coloured by the state the API decided
// (/api/v1/map), clustered in the browser with supercluster so 100,000 devices stay smooth: only the
// clusters and points of the visible view are drawn, on one canvas.
/* global L, Supercluster */
import { api, query } from "./api.js";
import { t } from "./i18n.js";

export const COLOURS = {
  on: "#f2b705", dimmed: "#9c7a00", off: "#3c3c3c", fault: "#b0169a", offline: "#8a9199", unknown: "#ffffff",
  normal: "#1f8a3b", blue: "#1f5fbf", yellow: "#e6c700", orange: "#f07c00", red: "#d7191c",
};
// Which state a cluster shows when its devices differ: the one that needs attention most.
const URGENCY = ["unknown", "normal", "on", "dimmed", "off", "offline", "blue", "yellow", "orange", "fault", "red"];
const urgency = (state) => Math.max(0, URGENCY.indexOf(state));

export class DeviceMap {
  constructor(element, config, onDevice) {
    this.onDevice = onDevice;
    this.data = null;
    this.areaIndex = new Map();
    this.map = L.map(element, { preferCanvas: true, zoomControl: true, attributionControl: Boolean(config.tileUrl),
                                keyboard: true, maxZoom: config.tileMaxZoom || 19 });
    this.canvas = L.canvas({ padding: 0.3 });
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: config.tileMaxZoom }).addTo(this.map);
    } else {
      element.classList.add("plain");
    }
    this.plain = !config.tileUrl;
    this.outlines = L.layerGroup().addTo(this.map);
    this.layer = L.layerGroup().addTo(this.map);
    this.map.setView([23.13, 113.26], 11);
    this.map.on("moveend", () => this.draw());
    this.rendered = false;
  }

  async load(filters) {
    const started = performance.now();
    const { data } = await api(`/map${query(filters)}`);
    this.data = data;
    this.fetchMs = performance.now() - started;
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
    if (!this.rendered && data.count > 0) this.fit();
    this.draw();
    if (!this.rendered) {
      this.rendered = true;
      performance.mark("map-first-render");
    }
    document.body.dataset.mapCount = String(data.count);
    return data;
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
    if (!this.index) return;
    const bounds = this.map.getBounds();
    const zoom = Math.round(this.map.getZoom());
    const items = this.index.getClusters([bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()], zoom);
    this.layer.clearLayers();
    for (const item of items) {
      const [lon, lat] = item.geometry.coordinates;
      const colour = COLOURS[URGENCY[item.properties.u]] || "#ffffff";
      if (item.properties.cluster) {
        const n = item.properties.point_count;
        const size = Math.round(22 + 8 * Math.log10(n));
        const icon = L.divIcon({ className: "cluster", iconSize: [size, size],
                                 html: `<span style="--c:${colour}">${item.properties.point_count_abbreviated}</span>` });
        const marker = L.marker([lat, lon], { icon, keyboard: false, title: t("devices", { n }) });
        marker.on("click", () => this.map.setView([lat, lon], Math.min(this.index.getClusterExpansionZoom(item.properties.cluster_id), 19)));
        this.layer.addLayer(marker);
      } else {
        const i = item.properties.i;
        const id = this.data.ids[i];
        const marker = L.circleMarker([lat, lon], { renderer: this.canvas, radius: 7, color: "#111", weight: 1.5,
                                                    fillColor: colour, fillOpacity: 1 });
        marker.bindTooltip(`${id} · ${t(`state_${this.data.states[this.data.state[i]]}`)}`);
        marker.on("click", () => this.onDevice(id));
        this.layer.addLayer(marker);
      }
    }
    this.drawnItems = items.length;
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
