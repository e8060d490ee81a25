// Lamp control: a device, a group, an area or a selection drawn with the lasso → dim / on / off / assign a
// lighting schedule, after a confirmation that says how many lamps. The API decides whether a second person
// must approve; the page shows that state and the delivery progress the event stream reports.
import { api, query } from "./api.js";
import { t } from "./i18n.js";

export class LampControl {
  constructor({ form, status, approvals, dialog, me }) {
    Object.assign(this, { form, status, approvals, dialog, me });
    this.watching = new Map();
    this.selection = [];
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(event.submitter?.value || "dim");
    });
    form.kind.addEventListener("change", () => this.fillChoices());
  }

  async loadSchedules() {
    const { data } = await api("/schedules");
    const short = (text) => (text.length > 40 ? `${text.slice(0, 39)}…` : text);
    this.form.schedule.replaceChildren(...data.schedules.map((s) => {
      const option = new Option(s.description ? `${s.name} · ${short(s.description)}` : s.name, s.name);
      option.title = s.description || "";
      return option;
    }));
  }

  // The lamps the lasso caught: the target becomes that selection.
  selectDevices(ids) {
    this.selection = ids;
    const option = this.form.kind.querySelector("option[value=selection]");
    option.hidden = false;
    option.textContent = t("target_selection", { n: ids.length });
    this.form.kind.value = "selection";
    this.form.value.value = t("selection_of", { n: ids.length });
    this.form.value.readOnly = true;
    this.status.textContent = ids.length ? t("selected", { n: ids.length }) : t("selected_none");
    this.status.dataset.selected = String(ids.length);
    this.form.querySelector("button[value=dim]").focus();
  }

  async fillChoices() {
    const list = document.getElementById("control-choices");
    const kind = this.form.kind.value;
    this.form.value.readOnly = kind === "selection";
    if (kind !== "selection" && this.form.value.value === t("selection_of", { n: this.selection.length })) this.form.value.value = "";
    let names = [];
    if (kind === "group") names = (await api("/groups")).data.groups.map((g) => g.name);
    if (kind === "area") names = (await api("/areas")).data.areas.map((a) => a.id);
    list.replaceChildren(...names.map((name) => new Option(name, name)));
  }

  select(kind, value) {
    this.form.kind.value = kind;
    this.form.value.value = value;
    this.fillChoices();
    this.form.querySelector("button[value=dim]").focus();
  }

  // How many lamps the target holds, as the API counts them in the user's areas.
  async lampCount(kind, value) {
    if (kind === "device") return 1;
    if (kind === "selection") return this.selection.length;
    if (kind === "group") {
      const { data } = await api(`/groups/${encodeURIComponent(value)}`);
      return data.devices.filter((d) => d.kind.startsWith("lamp")).length;
    }
    const { data } = await api(`/map${query({ area: value, kind: "lamp_controller" })}`);
    return data.count;
  }

  async submit(action) {
    const kind = this.form.kind.value;
    const value = this.form.value.value.trim();
    const target = kind === "device" || kind === "selection" ? value : `${kind}:${value}`;
    this.status.textContent = "";
    let n;
    try {
      n = await this.lampCount(kind, value);
    } catch (err) {
      this.status.textContent = err.message;
      return;
    }
    if (n === 0) { this.status.textContent = t("no_lamps", { target }); return; }
    const level = Number(this.form.level.value);
    const schedule = this.form.schedule.value;
    if (!(await this.confirm(t(`confirm_${action}`, { n, target, level, schedule })))) return;
    const body = { target: { kind, value: kind === "selection" ? "lasso" : value }, action, reason: this.form.reason.value };
    if (kind === "selection") body.devices = this.selection;
    if (action === "dim") body.level_pct = level;
    if (action === "schedule") body.schedule = schedule;
    try {
      const { status, data } = await api("/commands", { method: "POST", body });
      if (status === 202) {
        this.status.textContent = t("awaiting", { why: data.approval.why, id: data.approval.id });
        this.status.dataset.approval = data.approval.id;
        await this.loadApprovals();
      } else {
        this.watch(data.command);
      }
    } catch (err) {
      this.status.textContent = err.message;
    }
  }

  confirm(text) {
    return new Promise((resolve) => {
      document.getElementById("confirm-text").textContent = text;
      this.dialog.returnValue = "";
      this.dialog.addEventListener("close", () => resolve(this.dialog.returnValue === "yes"), { once: true });
      this.dialog.showModal();
      document.getElementById("confirm-yes").focus();
    });
  }

  watch(command) {
    this.watching.set(command.id, command.device_count);
    this.progress({ command: command.id, counts: command.counts, device_count: command.device_count });
  }

  // A ``command`` event from the stream, or the first answer.
  progress(change) {
    if (!this.watching.has(change.command)) return;
    const counts = change.counts || {};
    const confirmed = counts.confirmed || 0;
    const failed = (counts.failed || 0) + (counts.expired || 0);
    const n = change.device_count;
    this.status.textContent = t("queued", { id: change.command, confirmed, failed, pending: n - confirmed - failed, n });
    this.status.dataset.command = change.command;
    this.status.dataset.confirmed = confirmed;
  }

  async loadApprovals() {
    const { data } = await api("/approvals?open=true");
    const mayApprove = this.me.permissions.includes("commands.approve");
    this.approvals.replaceChildren(...data.approvals.filter((a) => a.state === "awaiting_approval").map((a) => {
      const li = document.createElement("li");
      li.textContent = `#${a.id} ${a.action} ${a.target} · ${a.device_count} · ${t("requested_by", { who: a.requested_by })} · ${a.why}`;
      if (mayApprove && a.requested_by !== this.me.user) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = t("approve");
        button.addEventListener("click", async () => {
          try {
            const { data: done } = await api(`/approvals/${a.id}/approve`, { method: "POST" });
            this.status.textContent = t("approved", { id: done.command.id });
            this.watch(done.command);
          } catch (err) {
            this.status.textContent = err.message;
          }
          await this.loadApprovals();
        });
        li.append(" ", button);
      }
      return li;
    }));
    // The heading only when something waits: an empty "waiting" section reads as a stuck request.
    document.getElementById("approval-heading").hidden = this.approvals.childElementCount === 0;
  }
}
