// The alerts panel: open alerts from /api/v1/alerts, kept current by the event stream (no reload);
// red ones stand out (and can sound); a detail with the gauge's last hours and its threshold; acknowledge.
import { api, query } from "./api.js";
import { lineChart, seconds } from "./chart.js";
import { emptyItem, formatTime, t } from "./i18n.js";
import { TaskDispatch } from "./tasks.js";

const OPEN_STATES = ["raised", "acknowledged", "cleared"];
const CHART_HOURS = 6;

export class AlertsPanel {
  constructor({ list, count, detail, canManage, zoneOf, areaOf, sound }) {
    Object.assign(this, { list, count, detail, canManage, zoneOf, areaOf, sound });
    this.alerts = new Map();
  }

  async load() {
    const { data } = await api(`/alerts${query({ state: OPEN_STATES, limit: 500 })}`);
    this.alerts.clear();
    for (const alert of data.alerts) this.alerts.set(alert.id, alert);
    this.render();
  }

  // One change from the event stream: update the list in place.
  apply(change) {
    const known = this.alerts.get(change.alert_id);
    const merged = { ...(known || {}), id: change.alert_id, device: change.device, severity: change.severity,
                     state: change.state, message: change.message || known?.message, rule: change.rule,
                     updated_at: change.at, raised_at: known?.raised_at || change.at,
                     acknowledged_by: change.state === "acknowledged" ? change.actor : known?.acknowledged_by };
    if (change.state === "closed") this.alerts.delete(change.alert_id);
    else this.alerts.set(change.alert_id, merged);
    if (change.event === "raised" && change.severity === "red" && this.sound) beep();
    this.render();
    if (this.shown === change.alert_id) this.show(change.alert_id);
  }

  // A ``task`` event from the stream.
  taskChanged(change) {
    if (this.tasks && this.shown === change.alert) this.tasks.changed(change);
  }

  render() {
    const sorted = [...this.alerts.values()].sort((a, b) => (b.state === "raised") - (a.state === "raised")
      || String(b.updated_at).localeCompare(String(a.updated_at)));
    this.count.textContent = String(sorted.length);
    if (!sorted.length) {
      this.list.replaceChildren(emptyItem("no_alerts"));
      return;
    }
    this.list.replaceChildren(...sorted.map((alert) => this.item(alert)));
  }

  item(alert) {
    const li = document.createElement("li");
    li.className = `alert sev-${alert.severity} st-${alert.state}`;
    li.dataset.alertId = alert.id;
    li.dataset.device = alert.device;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "alert-open";
    open.innerHTML = `<span class="sev">${t(`state_${alert.severity}`)}</span> <b></b> <span class="msg"></span>
      <span class="meta"></span>`;
    open.querySelector("b").textContent = alert.device;
    open.querySelector(".msg").textContent = alert.message || alert.rule || "";
    open.querySelector(".meta").textContent = `${t(`alert_${alert.state}`)} · ${formatTime(alert.updated_at, this.zoneOf(alert.device))}`;
    open.addEventListener("click", () => this.show(alert.id));
    li.append(open);
    if (this.canManage && alert.state === "raised") {
      const ack = document.createElement("button");
      ack.type = "button";
      ack.className = "ack";
      ack.textContent = t("acknowledge");
      ack.addEventListener("click", () => this.show(alert.id, { focusNote: true }));
      li.append(ack);
    }
    return li;
  }

  async show(alertId, { focusNote = false } = {}) {
    // A change streamed while the detail is open redraws it: keep what the officer was typing.
    const typed = this.shown === alertId ? this.detail.querySelector("textarea[name=note]")?.value : undefined;
    this.shown = alertId;
    const { data: alert } = await api(`/alerts/${alertId}`);
    const zone = this.zoneOf(alert.device);
    const panel = this.detail;
    panel.hidden = false;
    panel.innerHTML = `<h2></h2><p class="msg"></p><div class="chart"></div><p class="rate"></p>
      <h3>${t("history")}</h3><ol class="history"></ol><div class="ack-form"></div><div class="task-holder"></div>
      <button type="button" class="quiet close">${t("close")}</button>`;
    panel.querySelector("h2").textContent = `${t(`state_${alert.severity}`)} · ${alert.device}`;
    panel.querySelector("h2").className = `sev-${alert.severity}`;
    panel.querySelector(".msg").textContent = `${alert.message} (${t(`alert_${alert.state}`)})`;
    panel.querySelector(".history").replaceChildren(...(alert.history || []).map((entry) => {
      const li = document.createElement("li");
      li.textContent = `${formatTime(entry.at, zone)} ${entry.event} ${entry.severity}${entry.actor ? ` · ${entry.actor}` : ""}${entry.note ? ` — ${entry.note}` : ""}`;
      return li;
    }));
    panel.querySelector(".close").addEventListener("click", () => { panel.hidden = true; this.shown = null; });
    const ackHolder = panel.querySelector(".ack-form");
    if (this.canManage && alert.state === "raised") {
      this.ackForm(ackHolder, alert, focusNote);
      if (typed) ackHolder.querySelector("textarea").value = typed;
    } else if (alert.state === "acknowledged") {
      // Said as a status, so the acknowledgement stays confirmed when its own event redraws the detail.
      const done = document.createElement("p");
      done.setAttribute("role", "status");
      done.textContent = t("acked");
      ackHolder.replaceChildren(done);
    }
    this.tasks = new TaskDispatch({ holder: panel.querySelector(".task-holder"), alert, zone,
                                    area: this.areaOf(alert.device), canManage: this.canManage });
    await this.tasks.start();
    if (alert.metric) await this.chart(panel, alert, zone);
  }

  ackForm(holder, alert, focusNote) {
    holder.innerHTML = `<form class="ack"><label>${t("note")} <textarea name="note" rows="2" maxlength="2000"></textarea></label>
      <button type="submit" class="primary">${t("acknowledge")}</button><span role="status"></span></form>`;
    const form = holder.querySelector("form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = form.querySelector("[role=status]");
      try {
        await api(`/alerts/${alert.id}/ack`, { method: "POST", body: { note: form.note.value || null } });
        status.textContent = t("acked");
      } catch (err) {
        status.textContent = err.message;
      }
    });
    if (focusNote) form.note.focus();
  }

  async chart(panel, alert, zone) {
    const from = new Date(Date.now() - CHART_HOURS * 3600 * 1000).toISOString();
    const { data } = await api(`/devices/${encodeURIComponent(alert.device)}/readings${query({ metric: alert.metric, from, bucket: "1m" })}`);
    const times = data.buckets.map((b) => seconds(b.start));
    const values = data.buckets.map((b) => b.max);
    const holder = panel.querySelector(".chart");
    holder.setAttribute("aria-label", t("chart_of", { metric: alert.metric, hours: CHART_HOURS }));
    if (!times.length) { holder.textContent = t("no_readings"); return; }
    const thresholds = alert.threshold === null ? [] : [{ value: alert.threshold, colour: "#d7191c",
                                                         name: `${t("threshold")} ${alert.threshold}` }];
    lineChart(holder, { times, values, unit: data.unit, label: alert.metric, thresholds, zone });
    const recent = data.buckets.filter((b) => seconds(b.start) >= times[times.length - 1] - 1800);
    if (recent.length >= 2) {
      const hours = (seconds(recent[recent.length - 1].start) - seconds(recent[0].start)) / 3600;
      const rate = (recent[recent.length - 1].avg - recent[0].avg) / hours;
      panel.querySelector(".rate").textContent = `${t("rise_rate")}: ${rate.toFixed(1)} ${data.unit}${t("per_hour")}`;
    }
  }
}

function beep() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.3);
  } catch {
    // no audio device: the visual cue remains
  }
}
