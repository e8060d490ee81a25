"""Messages in Chinese and English; an SMS never takes more than two segments and keeps its link whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duty.templates import MAX_SMS_SEGMENTS, Notice, render, render_sms, sms_segments

LINK = "https://sw.example.gov.cn/ack/2n-lq9z3k-AbCdEfGh-0123456789abcdef"


@pytest.mark.parametrize(("text", "segments"), [
    ("a" * 160, 1), ("a" * 161, 2), ("涵" * 70, 1), ("涵" * 71, 2), ("涵" * 140, 2), ("涵" * 141, 3),
    ("a" * 69 + "涵", 1),
])
def test_segments_count_ucs2_at_70_and_ascii_at_160(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_a_long_place_is_shortened_before_what_to_do_is_dropped() -> None:
    place = "白云区京泰街道京泰路与云霄路交叉口下穿涵洞东侧入口处北侧五十米公交站台对面的绿化带旁边"
    sms = render_sms(Notice(7, "red", place, "water_level_mm", 620, "mm", 35, LINK), "zh")
    assert sms_segments(sms) == 2 and len(sms) <= 140
    assert sms.startswith("【红色预警】白云区京泰街道") and "…" in sms and "立即封闭道路" in sms
    assert sms.endswith(f"确认：{LINK}")


@given(place=st.text(alphabet="京泰路涵洞下穿通道东西南北口ABC 12", min_size=1, max_size=200),
       value=st.floats(0, 99_999, allow_nan=False), rise=st.one_of(st.none(), st.floats(-999, 999, allow_nan=False)),
       lang=st.sampled_from(["zh", "en"]))
def test_every_sms_fits_two_segments_with_the_link_whole(place: str, value: float, rise: float | None,
                                                         lang: str) -> None:
    sms = render_sms(Notice(1, "red", place, "water_level_mm", round(value, 1), "mm",
                            None if rise is None else round(rise, 1), LINK), lang)  # type: ignore[arg-type]
    assert sms_segments(sms) <= MAX_SMS_SEGMENTS
    assert sms.endswith(LINK)


def test_the_long_message_has_place_level_value_trend_action_and_links() -> None:
    n = Notice(7, "red", "Jingtai Road culvert", "water_level_mm", 620, "mm", 35, LINK, "https://map/x",
               "under the rail")
    en = render(n, "en")
    assert en.subject == "[RED alert] Jingtai Road culvert"
    assert en.text.splitlines() == [
        "RED alert: Jingtai Road culvert", "Place: Jingtai Road culvert (under the rail)",
        "Reading: water level 620mm, rising 35 mm in 10 min.", "What to do: Close the road now and send a pump.",
        "Map: https://map/x", f"Acknowledge: {LINK}", "Alert 7"]
    zh = render(n, "zh")
    assert "读数：水位620mm，10分钟涨35mm。" in zh.text and f"确认收到：{LINK}" in zh.text

