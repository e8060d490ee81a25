// Flood hazard points on the map (/api/v1/hazards): a ring at each point's gauges, coloured by its level
// now, and the outline of its lamp group (the hull of the lamps a red alert lights). The list beside the
// water panel names them; a click on one picks its lamp group for control.
/* global L */
import { api } from "./api.js";
import { COLOURS } from "./map.js";
import { emptyItem, t } from "./i18n.js";

export class HazardLayer {
  constructor({ deviceMap, list, onGroup }) {
    Object.assign(this, { deviceMap, list, onGroup, hazards: [], drawn: new Map() });
    this.layer = L.layerGroup().addTo(deviceMap.map);
  }

  async load() {
    const { data } = await api("/hazards");
    this.hazards = data.hazards;
    this.draw();
    this.render();
    return data;
  }

  draw() {
    this.layer.clearLayers();
    this.drawn.clear();
    for (const hazard of this.hazards) {
      const colour = COLOURS[hazard.level] || "#0b4f8a";
      const shapes = [];
      if (hazard.hull.length >= 3) {
        shapes.push(L.polygon(hazard.hull.map(([lon, lat]) => [lat, lon]), {
          color: "#d96b00", weight: 3, dashArray: "2 6", fill: true, fillOpacity: 0.1, interactive: false }));
      }
      for (const gauge of hazard.gauges) {
        shapes.push(L.circleMarker([gauge.lat, gauge.lon], { radius: 14, color: colour, weight: 4, fill: false,
                                                             interactive: false }));
      }
      for (const shape of shapes) this.layer.addLayer(shape);
      this.drawn.set(hazard.id, shapes);
    }
  }

  render() {
    this.list.replaceChildren(...this.hazards.map((hazard) => {
      const li = document.createElement("li");
      li.dataset.hazard = hazard.id;
      const level = hazard.level ? t(`state_${hazard.level}`) : t("state_normal");
      li.textContent = `${hazard.name} · ${level} · ${t("lamps_in_group", { n: hazard.lamps })} `;
      const show = document.createElement("button");
      show.type = "button";
      show.className = "quiet";
      show.textContent = t("show_on_map");
      show.addEventListener("click", () => this.focus(hazard));
      li.append(show);
      if (this.onGroup && hazard.groups.length && hazard.lamps) {
        const pick = document.createElement("button");
        pick.type = "button";
        pick.textContent = t("control_group");
        pick.addEventListener("click", () => this.onGroup(hazard.groups[0]));
        li.append(" ", pick);
      }
      return li;
    }));
    if (!this.hazards.length) this.list.replaceChildren(emptyItem("no_hazards"));
  }

  focus(hazard) {
    const points = [...hazard.hull, ...hazard.gauges.map((g) => [g.lon, g.lat])].map(([lon, lat]) => [lat, lon]);
    if (points.length) this.deviceMap.map.fitBounds(points, { padding: [40, 40], maxZoom: 18, animate: false });
  }
}
