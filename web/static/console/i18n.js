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
