// The console's entry point: one code base for the desk, the wall (/wall) and the phone (/phone);
// the layout only changes what is shown and how big, never what the user may do (the API decides that).
import { AlertsPanel } from "./alerts.js";
import { api, forgetCsrf } from "./api.js";
import { showDevice } from "./card.js";
import { LampControl } from "./control.js";
import { HazardLayer } from "./hazards.js";
import { currentLanguage, setLanguage, t } from "./i18n.js";
import { Lasso } from "./lasso.js";
import { COLOURS, DeviceMap } from "./map.js";
import { WaterPanel } from "./water.js";

const config = JSON.parse(document.body.dataset.config);
const layout = config.layout;
const $ = (id) => document.getElementById(id);
const MAP_REFRESH_AFTER_ALERT_MS = 1500;

async function main() {
  const { data: me } = await api("/me");
  const { data: preference } = await api("/me/preferences");
  setLanguage(preference.language);
  $("who").textContent = me.user;
  for (const link of document.querySelectorAll("[data-layout-link]")) {
    if (link.dataset.layoutLink === layout) link.setAttribute("aria-current", "page");
  }
  const { data: areaList } = await api("/areas");
  const zones = new Map(areaList.areas.map((a) => [a.id, a.timezone]));
  const defaultZone = areaList.areas[0]?.timezone;
  for (const area of areaList.areas) $("filter-area").add(new Option(`${"· ".repeat(area.path ? area.path.split("/").length - 1 : 0)}${area.name}`, area.id));

  const canControl = layout !== "wall" && me.permissions.includes("commands.create");
  const canManage = layout !== "wall" && me.permissions.includes("alerts.manage");
  document.body.classList.toggle("viewer", !canControl && !canManage);

  let control = null;
  const detail = $("detail");
  const map = new DeviceMap($("map"), config, (id) => showDevice(detail, id, {
    zoneOf, stateOf: (d) => map.stateOf(d), onControl: control ? (kind, value) => control.select(kind, value) : null,
  }));
  const zoneOf = (deviceId) => zones.get(map.areaOf(deviceId)) || defaultZone;
  window.streetwatch = { map, me, layout };

  const filters = () => ({ area: $("filter-area").value, kind: $("filter-kind").value, state: $("filter-state").value });
  const refresh = async () => {
    const data = await map.load(filters());
    if (!data) return null;  // superseded by a later change of the filters
    $("device-count").textContent = t("devices", { n: data.count });
    renderCounters(map.counts());
    return data;
  };
  const first = await refresh();
  for (const state of first.states) $("filter-state").add(new Option(t(`state_${state}`), state));
  $("filters").addEventListener("change", refresh);

  const alerts = new AlertsPanel({ list: $("alert-list"), count: $("alert-count"), detail, canManage, zoneOf,
                                   areaOf: (d) => map.areaOf(d), sound: preference.alert_sound });
  await alerts.load();

  if (canControl) {
    $("control").hidden = false;
    control = new LampControl({ form: $("control-form"), status: $("control-status"), approvals: $("approval-list"),
                                dialog: $("confirm"), me });
    await Promise.all([control.loadApprovals(), control.loadSchedules()]);
    window.streetwatch.lasso = new Lasso(map, (ids) => control.selectDevices(ids));
  }
  const water = new WaterPanel({ table: $("water-table"), detail, deviceMap: map, zoneOf });
  const hazards = new HazardLayer({ deviceMap: map, list: $("hazard-list"),
                                    onGroup: control ? (group) => control.select("group", group) : null });
  Object.assign(window.streetwatch, { water, hazards });
  renderLegend(map.data.states);
  // The day's water report can take a moment with many probes: the page does not wait for it.
  Promise.all([water.load(), hazards.load()]).then(() => {
    renderLegend(map.data.states);
    renderCounters(map.counts());
  }).catch((err) => { document.body.dataset.waterError = err.message; });

  let pending = null;
  const events = new EventSource("/api/v1/events");
  const redrawSoon = () => {  // an alert or a device going offline changes a colour: redraw once the burst is over
    clearTimeout(pending);
    pending = setTimeout(refresh, MAP_REFRESH_AFTER_ALERT_MS);
  };
  events.addEventListener("alert", (event) => {
    alerts.apply(JSON.parse(event.data));
    redrawSoon();
  });
  events.addEventListener("device", redrawSoon);
  events.addEventListener("command", (event) => {
    if (control) control.progress(JSON.parse(event.data));
  });
  events.addEventListener("task", (event) => alerts.taskChanged(JSON.parse(event.data)));
  events.addEventListener("open", () => { document.body.dataset.live = "yes"; });

  if (layout === "wall") setInterval(() => Promise.all([refresh(), water.load(), hazards.load()]), config.wallRefreshS * 1000);

  $("language").addEventListener("click", async () => {
    const language = currentLanguage() === "en" ? "zh-CN" : "en";
    await api("/me/preferences", { method: "PUT", body: { language, alert_sound: preference.alert_sound } });
    location.reload();
  });
  $("logout").addEventListener("click", async () => {
    await api("/session", { method: "DELETE" }).catch(() => null);
    forgetCsrf();
    location.assign("/login");
  });
  document.body.dataset.ready = "yes";
}

function renderCounters(counts) {
  $("counters").replaceChildren(...Object.entries(counts).map(([state, n]) => {
    const span = document.createElement("span");
    span.className = `counter st-${state}`;
    span.dataset.state = state;
    span.innerHTML = `<i style="--c:${COLOURS[state] || "#fff"}"></i><b></b> <span></span>`;
    span.querySelector("b").textContent = n.toLocaleString();
    span.querySelector("span").textContent = t(`state_${state}`);
    return span;
  }));
}

function renderLegend(states) {
  $("legend").replaceChildren(...states.map((state) => {
    const li = document.createElement("li");
    li.innerHTML = `<i style="--c:${COLOURS[state] || "#fff"}"></i>`;
    li.append(t(`state_${state}`));
    return li;
  }));
}

main().catch((err) => {
  document.body.dataset.error = err.message;
  console.error(err);
});
