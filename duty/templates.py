"""Alert messages in Simplified Chinese and English: place, level, value, trend, what to do, the links.

An SMS must fit in two segments: 70 characters each when any character is not plain ASCII (UCS-2), 160
otherwise. The SMS keeps the level, the place, the value and the acknowledgement link whole, and
shortens the place and then drops what to do when it must.

>>> n = Notice(7, "red", "京泰路涵洞", "water_level_mm", 620.0, "mm", 35.0, "https://sw.example.cn/ack/x")
>>> text = render_sms(n, "zh")
>>> text
'【红色预警】京泰路涵洞 水位620mm，10分钟涨35mm。立即封闭道路，派泵排水。确认：https://sw.example.cn/ack/x'
>>> len(text), sms_segments(text)
(72, 2)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

Language = Literal["zh", "en"]
MAX_SMS_SEGMENTS = 2

LEVELS = {"zh": {"red": "红色预警", "orange": "橙色预警", "yellow": "黄色预警", "blue": "蓝色预警"},
          "en": {"red": "RED alert", "orange": "ORANGE alert", "yellow": "YELLOW alert", "blue": "BLUE alert"}}
METRICS = {"zh": {"water_level_mm": "水位", "ph": "pH", "turbidity_ntu": "浊度"},
           "en": {"water_level_mm": "water level", "ph": "pH", "turbidity_ntu": "turbidity"}}
# What to do, by severity: an instruction a person on the street can follow at once.
ACTIONS = {"zh": {"red": "立即封闭道路，派泵排水。", "orange": "前往现场，准备封闭。", "yellow": "加强巡查。"},
           "en": {"red": "Close the road now and send a pump.", "orange": "Go on site and prepare to close.",
                  "yellow": "Patrol more often."}}


@dataclass(frozen=True, slots=True)
class Notice:
    """What a message says about an alert."""

    alert_id: int
    severity: str
    place: str
    metric: str | None
    value: float | None
    unit: str
    rise_10min: float | None  # change over the last 10 minutes, in ``unit``
    ack_url: str
    map_url: str = ""
    landmark: str = ""
    projection: Projected | None = None


@dataclass(frozen=True, slots=True)
class Projected:
    """A projected alert's time to its level: ``eta_s`` (between ``earliest_s`` and ``latest_s``; None: maybe never)."""

    level: float
    eta_s: float | None
    earliest_s: float | None
    latest_s: float | None

    def text(self, unit: str, lang: Language) -> str:
        def minutes(seconds: float | None) -> str:
            return "?" if seconds is None else f"{seconds / 60:.0f}"

        span = f"{minutes(self.earliest_s)}–{minutes(self.latest_s)}"
        if lang == "zh":
            return f"预计约{minutes(self.eta_s)}分钟后达到{self.level:g}{unit}（{span}分钟）。"
        return f"{self.level:g} {unit} projected in about {minutes(self.eta_s)} min ({span} min)."


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str   # e-mail and robots
    sms: str
    voice: str  # read out by a voice-call gateway: no links, units in words


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes (single-part limits: 70 UCS-2 or 160 GSM characters)."""
    per = 160 if text.isascii() else 70
    return max(1, -(-len(text) // per))


def _level(n: Notice, lang: Language) -> str:
    return LEVELS[lang].get(n.severity, f"{n.severity} alert" if lang == "en" else f"{n.severity}预警")


def _reading(n: Notice, lang: Language) -> str:
    if n.value is None:
        return ""
    if n.projection is None:
        return _now(n, lang)
    return _now(n, lang) + ("" if lang == "zh" else " ") + n.projection.text(n.unit, lang)


def _now(n: Notice, lang: Language) -> str:
    assert n.value is not None
    name = METRICS[lang].get(n.metric or "", n.metric or "")
    value = f"{n.value:g}{n.unit}"
    if lang == "zh":
        text = f"{name}{value}"
        if n.rise_10min:
            text += f"，10分钟{'涨' if n.rise_10min > 0 else '降'}{abs(n.rise_10min):g}{n.unit}"
        return text + "。"
    text = f"{name} {value}"
    if n.rise_10min:
        text += f", {'rising' if n.rise_10min > 0 else 'falling'} {abs(n.rise_10min):g} {n.unit} in 10 min"
    return text + "."


def render_sms(n: Notice, lang: Language) -> str:
    """The SMS: at most :data:`MAX_SMS_SEGMENTS` segments; the link is never cut."""
    action = ACTIONS[lang].get(n.severity, "")
    ack = f"确认：{n.ack_url}" if lang == "zh" else f"Ack: {n.ack_url}"
    head = f"【{_level(n, lang)}】" if lang == "zh" else f"[{_level(n, lang)}] "
    place = n.place
    sep = "" if lang == "zh" else " "
    # The projection goes first when room is short; then what to do, while the place keeps 8 characters;
    # then the place is shortened further.
    readings = [_reading(n, lang)] + ([_now(n, lang)] if n.projection is not None and n.value is not None else [])
    for reading, (keep_action, shortest) in itertools.product(readings, ((True, 8), (False, 4))):
        for length in range(len(n.place), min(len(n.place), shortest) - 1, -1):
            place = n.place if length == len(n.place) else n.place[:length - 1] + "…"
            parts = (head, place, " ", reading, sep, action if keep_action else "", sep if keep_action else "", ack)
            text = "".join(parts).replace("  ", " ")
            if sms_segments(text) <= MAX_SMS_SEGMENTS:
                return text
    raise ValueError(f"the acknowledgement link {n.ack_url!r} leaves no room for the alert in an SMS")


def render(n: Notice, lang: Language) -> Message:
    """The e-mail / robot text and the SMS of ``n``."""
    level = _level(n, lang)
    action = ACTIONS[lang].get(n.severity, "")
    if lang == "zh":
        lines = [f"{level}：{n.place}", f"地点：{n.place}" + (f"（{n.landmark}）" if n.landmark else ""),
                 f"读数：{_reading(n, lang)}" if n.value is not None else "", f"处置：{action}" if action else "",
                 f"地图：{n.map_url}" if n.map_url else "", f"确认收到：{n.ack_url}", f"告警编号：{n.alert_id}"]
        subject = f"【{level}】{n.place}"
    else:
        lines = [f"{level}: {n.place}", f"Place: {n.place}" + (f" ({n.landmark})" if n.landmark else ""),
                 f"Reading: {_reading(n, lang)}" if n.value is not None else "",
                 f"What to do: {action}" if action else "", f"Map: {n.map_url}" if n.map_url else "",
                 f"Acknowledge: {n.ack_url}", f"Alert {n.alert_id}"]
        subject = f"[{level}] {n.place}"
    return Message(subject, "\n".join(line for line in lines if line), render_sms(n, lang), render_voice(n, lang))


SPOKEN_UNITS = {"zh": {"mm": "毫米", "cm": "厘米", "m": "米", "ntu": "NTU"},
                "en": {"mm": "millimetres", "cm": "centimetres", "m": "metres", "ntu": "NTU"}}


def render_voice(n: Notice, lang: Language) -> str:
    """What a voice call says: short sentences to be heard once, no links, units as words; the listener
    acknowledges through the SMS or e-mail that goes with it.

    >>> render_voice(Notice(7, "red", "京泰路涵洞", "water_level_mm", 620.0, "mm", 35.0, "https://x/ack/y"), "zh")
    '城市防汛值班通知。红色预警，京泰路涵洞，水位620毫米，10分钟上涨35毫米。立即封闭道路，派泵排水。请在短信中确认。'
    """
    action = ACTIONS[lang].get(n.severity, "")
    unit = SPOKEN_UNITS[lang].get(n.unit, n.unit)
    name = METRICS[lang].get(n.metric or "", n.metric or "")
    if lang == "zh":
        reading = f"，{name}{n.value:g}{unit}" if n.value is not None else ""
        if n.value is not None and n.rise_10min:
            reading += f"，10分钟{'上涨' if n.rise_10min > 0 else '下降'}{abs(n.rise_10min):g}{unit}"
        return f"城市防汛值班通知。{_level(n, 'zh')}，{n.place}{reading}。{action}请在短信中确认。"
    reading = f" {name.capitalize()} {n.value:g} {unit}" if n.value is not None else ""
    if n.value is not None and n.rise_10min:
        reading += f", {'rising' if n.rise_10min > 0 else 'falling'} {abs(n.rise_10min):g} {unit} in 10 minutes"
    level = _level(n, "en").replace("RED", "Red").replace("ORANGE", "Orange").replace("YELLOW", "Yellow")
    return (f"Streetwatch duty call. {level} at {n.place}.{reading + '.' if reading else ''} {action} "
            f"Please acknowledge from the text message.").replace("  ", " ")
