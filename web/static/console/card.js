// The device card: latest values with units, a chart of one metric's history, the map state,
// the recent commands that reached it and the audit entries about it (in the user's areas).
import { api, query } from "./api.js";
import { lineChart, seconds } from "./chart.js";
import { emptyItem, formatTime, t } from "./i18n.js";

const CHART_HOURS = 24;

export async function showDevice(panel, deviceId, { zoneOf, stateOf, onControl }) {
  const { data: device } = await api(`/devices/${encodeURIComponent(deviceId)}`);
  const zone = zoneOf(device.id);
  const state = stateOf(device.id);
  panel.hidden = false;
  panel.innerHTML = `<h2></h2><p class="meta"></p><h3>${t("latest")}</h3><table class="latest"><tbody></tbody></table>
    <label class="metric-pick">${t("kind")} <select></select></label><div class="chart"></div>
    <h3>${t("recent_commands")}</h3><ul class="commands"></ul>
    <h3>${t("audit_entries")}</h3><ul class="audit"></ul><div class="buttons"></div>
    <button type="button" class="quiet close">${t("close")}</button>`;
  panel.querySelector("h2").textContent = `${device.id}${state ? ` · ${t(`state_${state}`)}` : ""}`;
  panel.querySelector(".meta").textContent = [device.kind, device.area, device.location.landmark,
    device.groups.length ? `${t("groups")}: ${device.groups.join(", ")}` : ""].filter(Boolean).join(" · ");
  const rows = device.latest.map((v) => {
    const tr = document.createElement("tr");
    tr.innerHTML = "<th scope='row'></th><td class='value'></td><td class='time'></td>";
    tr.children[0].textContent = v.metric;
    tr.children[1].textContent = `${v.value}${v.unit ? ` ${v.unit}` : ""}`;
    tr.children[2].textContent = formatTime(v.time, zone);
    return tr;
  });
  panel.querySelector("tbody").replaceChildren(...rows);
  const pick = panel.querySelector("select");
  for (const v of device.latest) pick.add(new Option(v.metric, v.metric));
  const chart = panel.querySelector(".chart");
  const draw = async () => {
    if (!pick.value) { chart.textContent = t("no_readings"); return; }
    const from = new Date(Date.now() - CHART_HOURS * 3600 * 1000).toISOString();
    const { data } = await api(`/devices/${encodeURIComponent(device.id)}/readings${query({ metric: pick.value, from, bucket: "5m" })}`);
    lineChart(chart, { times: data.buckets.map((b) => seconds(b.start)), values: data.buckets.map((b) => b.avg),
                       unit: data.unit, label: pick.value, zone });
  };
  pick.addEventListener("change", draw);
  panel.querySelector(".close").addEventListener("click", () => { panel.hidden = true; });
  if (onControl && device.kind.startsWith("lamp")) {
    // The lamp itself, or one of its groups: the control form is filled in, the count comes with the confirmation.
    const targets = [["device", device.id, t("control_this")],
                     ...device.groups.map((g) => ["group", g, t("control_group", { group: g })])];
    panel.querySelector(".buttons").append(...targets.map(([kind, value, label]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.control = `${kind}:${value}`;
      button.addEventListener("click", () => onControl(kind, value));
      return button;
    }));
  }
  await Promise.all([draw(), recentCommands(panel.querySelector(".commands"), device, zone),
                     auditEntries(panel.querySelector(".audit"), device, zone)]);
}

async function auditEntries(list, device, zone) {
  const { data } = await api(`/devices/${encodeURIComponent(device.id)}/audit${query({ limit: 10 })}`);
  list.replaceChildren(...data.entries.map((e) => {
    const li = document.createElement("li");
    li.dataset.seq = e.seq;
    li.textContent = `${formatTime(e.at, zone)} ${e.actor} (${e.role}) ${e.action} ${e.target} · ${e.result}`;
    return li;
  }));
  if (!data.entries.length) list.replaceChildren(emptyItem("no_audit"));
}

async function recentCommands(list, device, zone) {
  const { data } = await api("/commands?limit=100");
  const targets = new Set([device.id, `site:${device.site}`, `area:${device.area}`,
                           ...device.groups.map((g) => `group:${g}`)]);
  const mine = data.commands.filter((c) => targets.has(c.target)).slice(0, 10);
  list.replaceChildren(...mine.map((c) => {
    const li = document.createElement("li");
    const level = c.params && c.params.level_pct !== undefined ? ` ${c.params.level_pct} %` : "";
    li.textContent = `${formatTime(c.created_at, zone)} ${c.action}${level} (${c.target}) · ${c.status} · ${c.requester}`;
    return li;
  }));
}
