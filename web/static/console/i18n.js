// Simplified Chinese and English. The user's choice is kept by the API (/me/preferences);
// times are shown in the zone of the device's area.

const WORDS = {
  en: {
    title: "Streetwatch", skip_to_alerts: "Skip to alerts", layout_desk: "Desk", layout_wall: "Wall",
    layout_phone: "Phone", other_language: "中文", logout: "Log out", area: "Area", kind: "Kind", state: "State",
    all: "All", kind_lamp_controller: "Lamps", kind_culvert_gauge: "Water-level gauges",
    kind_water_quality_probe: "Water-quality probes", alerts: "Alerts", lamp_control: "Lamp control",
    target: "Target", target_device: "Device", target_group: "Group", target_area: "Area", which: "Which",
    level: "Level %", reason: "Reason", dim: "Dim", on: "On", off: "Off", approvals: "Waiting for a second person",
    confirm: "Confirm", cancel: "Cancel", devices: "{n} devices", no_alerts: "No open alerts",
    state_on: "on", state_dimmed: "dimmed", state_off: "off", state_fault: "fault", state_offline: "offline",
    state_unknown: "no data", state_normal: "normal", state_blue: "blue", state_yellow: "yellow",
    state_orange: "orange", state_red: "red",
    alert_raised: "raised", alert_acknowledged: "acknowledged", alert_cleared: "cleared", alert_closed: "closed",
    acknowledge: "Acknowledge", note: "Note", close: "Close", history: "History", rise_rate: "Rise rate",
    threshold: "Threshold", latest: "Latest values", recent_commands: "Recent commands", control_this: "Control this lamp",
    control_group: "Control group {group}",
    confirm_dim: "Dim {n} lamps ({target}) to {level} %?", confirm_on: "Switch on {n} lamps ({target})?",
    confirm_off: "Switch off {n} lamps ({target})?", no_lamps: "No lamps in {target}.",
    awaiting: "Waiting for a second person to approve ({why}); request {id}.",
    queued: "Command {id}: {confirmed} confirmed, {failed} failed, {pending} pending of {n}.",
    approve: "Approve", approved: "Approved: command {id} queued.", acked: "Acknowledged.",
    requested_by: "by {who}", per_hour: "/h", viewer_note: "Your role can watch; it cannot change anything.",
    location: "Location", groups: "Groups", no_readings: "No readings yet.", chart_of: "{metric} over the last {hours} h",
    lasso: "Lasso", target_selection: "Selection ({n})", selection_of: "{n} lamps in the lasso",
    selected: "{n} lamps selected.", selected_none: "No lamps inside the lasso.", schedule: "Schedule",
    assign_schedule: "Assign schedule", confirm_schedule: "Assign schedule {schedule} to {n} lamps ({target})?",
    water_quality: "Water quality", section: "Section", class_today: "Class today", deciding: "Deciding",
    trend: "Trend", hazard_points: "Hazard points", no_sections: "No river sections.", class_of: "Class {label}",
    no_class: "no class yet", over_target: "worse than its target {target}", since_yesterday: "(yesterday {label})",
    change_better: "better than yesterday", change_worse: "worse than yesterday", change_same: "as yesterday",
    target_class: "target {label}", lamps_in_group: "{n} lamps", show_on_map: "Show", control_group: "Control its lamps",
    no_hazards: "No hazard points.", tasks: "Task orders", no_tasks: "No task orders yet.", task_type: "Type",
    task_title: "Title", assignee: "To", dispatch: "Dispatch", dispatched: "Task {id} dispatched to {who}.",
    task_close_underpass: "Close the underpass", task_send_pump: "Send a pump", task_inspect_gauge: "Inspect the gauge",
    task_inspect_lamp: "Inspect the lamp", task_state_dispatched: "dispatched", task_state_accepted: "accepted",
    task_state_onsite: "on site", task_state_done: "done", task_state_cancelled: "cancelled",
    audit_entries: "Audit entries", no_audit: "No audit entries.", state_wq_I: "class I", state_wq_II: "class II",
    state_wq_III: "class III", state_wq_IV: "class IV", state_wq_V: "class V", state_wq_worse: "worse than V",
  },
  "zh-CN": {
    title: "街巡", skip_to_alerts: "跳到告警", layout_desk: "桌面", layout_wall: "大屏", layout_phone: "手机",
    other_language: "English", logout: "退出", area: "区域", kind: "类型", state: "状态", all: "全部",
    kind_lamp_controller: "路灯", kind_culvert_gauge: "水位计", kind_water_quality_probe: "水质探头",
    alerts: "告警", lamp_control: "路灯控制", target: "对象", target_device: "设备", target_group: "分组",
    target_area: "区域", which: "名称", level: "亮度 %", reason: "原因", dim: "调光", on: "开灯", off: "关灯",
    approvals: "等待第二人审批", confirm: "确认", cancel: "取消", devices: "{n} 台设备", no_alerts: "没有未结告警",
    state_on: "亮", state_dimmed: "调光", state_off: "灭", state_fault: "故障", state_offline: "离线",
    state_unknown: "无数据", state_normal: "正常", state_blue: "蓝色", state_yellow: "黄色", state_orange: "橙色",
    state_red: "红色",
    alert_raised: "新告警", alert_acknowledged: "已确认", alert_cleared: "已解除", alert_closed: "已关闭",
    acknowledge: "确认告警", note: "备注", close: "关闭", history: "历史", rise_rate: "上涨速率", threshold: "阈值",
    latest: "最新数值", recent_commands: "最近指令", control_this: "控制此灯", control_group: "控制分组 {group}",
    confirm_dim: "将 {n} 盏灯（{target}）调到 {level} %？", confirm_on: "打开 {n} 盏灯（{target}）？",
    confirm_off: "关闭 {n} 盏灯（{target}）？", no_lamps: "{target} 中没有路灯。",
    awaiting: "等待第二人审批（{why}）；申请 {id}。",
    queued: "指令 {id}：{n} 盏中 {confirmed} 已确认，{failed} 失败，{pending} 待执行。",
    approve: "批准", approved: "已批准：指令 {id} 已排队。", acked: "已确认。", requested_by: "申请人 {who}",
    per_hour: "/小时", viewer_note: "您的角色只能查看，不能操作。", location: "位置", groups: "分组",
    no_readings: "暂无读数。", chart_of: "最近 {hours} 小时的 {metric}",
    lasso: "圈选", target_selection: "圈选（{n}）", selection_of: "圈选的 {n} 盏灯", selected: "已选中 {n} 盏灯。",
    selected_none: "圈内没有路灯。", schedule: "时间表", assign_schedule: "指定时间表",
    confirm_schedule: "为 {n} 盏灯（{target}）指定时间表 {schedule}？", water_quality: "水质", section: "断面",
    class_today: "今日类别", deciding: "定类指标", trend: "趋势", hazard_points: "易涝点", no_sections: "没有河流断面。",
    class_of: "{label} 类", no_class: "暂无类别", over_target: "劣于目标 {target} 类", since_yesterday: "（昨日 {label} 类）",
    change_better: "比昨日好转", change_worse: "比昨日变差", change_same: "与昨日相同", target_class: "目标 {label} 类",
    lamps_in_group: "{n} 盏灯", show_on_map: "定位", control_group: "控制其路灯", no_hazards: "没有易涝点。",
    tasks: "任务单", no_tasks: "暂无任务单。", task_type: "类型", task_title: "标题", assignee: "派给", dispatch: "派单",
    dispatched: "任务 {id} 已派给 {who}。", task_close_underpass: "封闭下穿通道", task_send_pump: "调派水泵",
    task_inspect_gauge: "检查水位计", task_inspect_lamp: "检修路灯", task_state_dispatched: "已派单",
    task_state_accepted: "已接单", task_state_onsite: "已到场", task_state_done: "已完成", task_state_cancelled: "已取消",
    audit_entries: "审计记录", no_audit: "暂无审计记录。", state_wq_I: "I 类", state_wq_II: "II 类", state_wq_III: "III 类",
    state_wq_IV: "IV 类", state_wq_V: "V 类", state_wq_worse: "劣 V 类",
  },
};

let language = "en";

export function setLanguage(chosen) {
  language = WORDS[chosen] ? chosen : "en";
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

export function currentLanguage() {
  return language;
}

export function t(key, vars = {}) {
  const text = WORDS[language][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// A list's "nothing here" line, in the user's language.
export function emptyItem(key) {
  const li = document.createElement("li");
  li.className = "empty";
  li.textContent = t(key);
  return li;
}

export function formatTime(iso, timeZone) {
  if (!iso) return "";
  const when = new Date(iso);
  try {
    return new Intl.DateTimeFormat(language, {
      timeZone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
      hour12: false, timeZoneName: "short",
    }).format(when);
  } catch {
    return when.toISOString();
  }
}
