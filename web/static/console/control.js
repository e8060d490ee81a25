// Lamp control: a device, a group or an area → dim / on / off, after a confirmation that says how many
// lamps. The API decides whether a second person must approve; the page shows that state and the
// delivery progress the event stream reports.
import { api, query } from "./api.js";
import { t } from "./i18n.js";

export class LampControl {
  constructor({ form, status, approvals, dialog, me }) {
    Object.assign(this, { form, status, approvals, dialog, me });
    this.watching = new Map();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(event.submitter?.value || "dim");
    });
    form.kind.addEventListener("change", () => this.fillChoices());
  }

  async fillChoices() {
    const list = document.getElementById("control-choices");
    const kind = this.form.kind.value;
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
    const target = kind === "device" ? value : `${kind}:${value}`;
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
    if (!(await this.confirm(t(`confirm_${action}`, { n, target, level })))) return;
    const body = { target: { kind, value }, action, reason: this.form.reason.value };
    if (action === "dim") body.level_pct = level;
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
