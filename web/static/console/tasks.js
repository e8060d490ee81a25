// Task orders from an alert's detail: dispatch one (type, title, who) to a person with a role in the alert's
// area, and see the state of those already dispatched for it (/api/v1/tasks), kept current by the event
// stream's ``task`` events. The API authorizes and audits.
import { api, query } from "./api.js";
import { emptyItem, formatTime, t } from "./i18n.js";

export const TASK_TYPES = ["close_underpass", "send_pump", "inspect_gauge", "inspect_lamp"];

export class TaskDispatch {
  constructor({ holder, alert, area, zone, canManage }) {
    Object.assign(this, { holder, alert, area, zone, canManage });
    holder.innerHTML = `<h3>${t("tasks")}</h3><ul class="tasks"></ul><div class="task-form"></div>`;
    this.list = holder.querySelector(".tasks");
  }

  async start() {
    await this.refresh();
    if (this.canManage && this.area) await this.form();
  }

  // A ``task`` event from the stream: refresh when it concerns this alert.
  changed(change) {
    if (change.alert === this.alert.id && this.holder.isConnected) this.refresh().catch(() => null);
  }

  async refresh() {
    const { data } = await api(`/tasks${query({ alert: this.alert.id })}`);
    this.list.replaceChildren(...data.tasks.map((task) => {
      const li = document.createElement("li");
      li.dataset.task = task.id;
      li.dataset.state = task.state;
      li.textContent = `#${task.id} ${t(`task_${task.type}`)} · ${task.title} → ${task.assignee} · `
        + `${t(`task_state_${task.state}`)} · ${formatTime(task.created_at, this.zone)}`;
      return li;
    }));
    if (!data.tasks.length) this.list.replaceChildren(emptyItem("no_tasks"));
  }

  async form() {
    const { data } = await api(`/tasks/assignees${query({ area: this.area })}`);
    const holder = this.holder.querySelector(".task-form");
    holder.innerHTML = `<form class="dispatch"><label>${t("task_type")} <select name="type"></select></label>
      <label>${t("task_title")} <input name="title" maxlength="500" required></label>
      <label>${t("assignee")} <select name="assignee" required></select></label>
      <button type="submit">${t("dispatch")}</button><span role="status"></span></form>`;
    const form = holder.querySelector("form");
    for (const type of TASK_TYPES) form.type.add(new Option(t(`task_${type}`), type));
    if (this.alert.device_kind === "lamp_controller") form.type.value = "inspect_lamp";
    for (const person of data.assignees) {
      form.assignee.add(new Option(person.display_name ? `${person.display_name} (${person.user})` : person.user, person.user));
    }
    form.title.value = `${this.alert.device}: ${this.alert.message || this.alert.rule || ""}`.slice(0, 500);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = form.querySelector("[role=status]");
      try {
        const { data: task } = await api("/tasks", { method: "POST", body: {
          type: form.type.value, title: form.title.value, area: this.area, assignee: form.assignee.value,
          alert: this.alert.id } });
        status.textContent = t("dispatched", { id: task.id, who: task.assignee });
        status.dataset.task = task.id;
        await this.refresh();
      } catch (err) {
        status.textContent = err.message;
      }
    });
  }
}
