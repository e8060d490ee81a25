// Water quality: each river section with today's GB 3838-2002 class, the parameter that decides it and the
// change since yesterday (/api/v1/water/sections); a click shows its probes' charts. The probes on the map
// take their section's class as their colour, unless an alert or being offline says more.
import { api, query } from "./api.js";
import { lineChart, seconds } from "./chart.js";
import { t } from "./i18n.js";

const CHART_HOURS = 48;  // today and yesterday: the trend the table gives in one arrow
const TREND = { better: "↑", worse: "↓", same: "=", "": "–" };
export const classState = (label) => (label ? `wq_${label === "劣V" ? "worse" : label}` : null);

export class WaterPanel {
  constructor({ table, detail, deviceMap, zoneOf }) {
    Object.assign(this, { table, detail, deviceMap, zoneOf, sections: [] });
  }

  async load() {
    const { data } = await api("/water/sections");
    this.sections = data.sections;
    this.render();
    this.paint();
    return data;
  }

  render() {
    const body = this.table.tBodies[0];
    const rows = [];
    let river = null;
    for (const section of this.sections) {
      if (section.river !== river) {
        river = section.river;
        const head = document.createElement("tr");
        head.className = "river";
        head.innerHTML = "<th colspan='4' scope='rowgroup'></th>";
        head.firstChild.textContent = river;
        rows.push(head);
      }
      rows.push(this.row(section));
    }
    if (!rows.length) {
      const empty = document.createElement("tr");
      empty.innerHTML = "<td colspan='4' class='empty'></td>";
      empty.firstChild.textContent = t("no_sections");
      rows.push(empty);
    }
    body.replaceChildren(...rows);
  }

  row(section) {
    const tr = document.createElement("tr");
    tr.dataset.section = section.section;
    tr.innerHTML = "<td><button type='button' class='link'></button></td><td><span class='wq'></span></td><td class='deciding'></td><td class='trend'></td>";
    tr.querySelector("button").textContent = section.name;
    tr.querySelector("button").addEventListener("click", () => this.show(section));
    const badge = tr.querySelector(".wq");
    badge.textContent = section.class ? t("class_of", { label: section.class }) : t("no_class");
    if (section.class) badge.classList.add(classState(section.class));
    if (section.meets_target === false) badge.title = t("over_target", { target: section.target });
    tr.querySelector(".deciding").textContent = section.deciding || "";
    const trend = tr.querySelector(".trend");
    trend.textContent = `${TREND[section.change] || "–"} ${section.yesterday ? t("since_yesterday", { label: section.yesterday }) : ""}`;
    trend.dataset.change = section.change;
    trend.title = section.change ? t(`change_${section.change}`) : "";
    return tr;
  }

  // The probes of each section take its class (as a state the map knows how to paint).
  paint() {
    const classOf = new Map();
    for (const section of this.sections) {
      for (const probe of section.probes) if (section.class) classOf.set(probe, classState(section.class));
    }
    this.deviceMap.paintProbes(classOf);
  }

  async show(section) {
    const panel = this.detail;
    panel.hidden = false;
    panel.innerHTML = `<h2></h2><p class="meta"></p><div class="probes"></div>
      <button type="button" class="quiet close">${t("close")}</button>`;
    panel.querySelector("h2").textContent = `${section.name} · ${section.class ? t("class_of", { label: section.class }) : t("no_class")}`;
    panel.querySelector(".meta").textContent = [section.river, section.target ? t("target_class", { label: section.target }) : "",
      section.deciding].filter(Boolean).join(" · ");
    panel.querySelector(".close").addEventListener("click", () => { panel.hidden = true; });
    const holder = panel.querySelector(".probes");
    const limits = new Map((section.over_target || []).map((p) => [p.metric, p.limit]));
    for (const probe of section.probes) {
      const box = document.createElement("figure");
      box.className = "probe-chart";
      box.dataset.probe = probe;
      box.innerHTML = "<figcaption></figcaption><div class='chart'></div>";
      holder.append(box);
      const { data: device } = await api(`/devices/${encodeURIComponent(probe)}`);
      const metric = section.deciding_metrics.find((m) => device.latest.some((v) => v.metric === m))
        || device.latest[0]?.metric;
      box.querySelector("figcaption").textContent = `${probe}${metric ? ` · ${metric}` : ""}`;
      if (!metric) { box.querySelector(".chart").textContent = t("no_readings"); continue; }
      const from = new Date(Date.now() - CHART_HOURS * 3600 * 1000).toISOString();
      const { data } = await api(`/devices/${encodeURIComponent(probe)}/readings${query({ metric, from, bucket: "15m" })}`);
      const limit = limits.get(metric);
      lineChart(box.querySelector(".chart"), {
        times: data.buckets.map((b) => seconds(b.start)), values: data.buckets.map((b) => b.avg), unit: data.unit,
        label: metric, thresholds: limit === undefined ? [] : [{ value: limit, colour: "#d7191c",
                                                                  name: t("target_class", { label: section.target }) }],
        zone: this.zoneOf(probe),
      });
    }
    panel.dataset.section = section.section;
  }
}
