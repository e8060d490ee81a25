"""The ``rain_rise`` rule: rain over a district and a gauge in it rising, together.

Rain alone floods nothing where the drains keep up, and a rise alone may be a tide or a pump; both
together mean the water is coming. The rule reads two kinds of devices:

* rain gauges (``rain_from``): each one's intensity (``rain_metric``, mm/h; the profiles turn tips
  or mm per interval into it) averaged over ``intensity_window``. A district's rain is its wettest
  gauge heard within that window;
* level gauges (``applies_to``): the rise of ``metric`` over ``window`` (the least-squares slope of
  the window's samples, as ``rate_of_change`` measures it).

A level gauge's reading raises the rule's severity when the gauge rose at least ``rise`` and its
district (``district_by``: the device's area, site, group or a tag) has at least ``intensity``;
the alert is the gauge's, so it names the gauge's hazard point like any flood alert. A rain
reading changes no alert by itself: the next level reading (a minute or so) judges with it.
Flagged level readings never get here: the ``quality`` screen runs first.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.durations import format_duration_s
from rules.evidence import Evidence
from rules.severity import SeverityScale
from rules.spec import RainRiseRule, Selector
from rules.watched import WatchedDevice
from rules.windows import SampleWindow
from streetwatch.figures import show
from streetwatch.readings import Reading


def district_keys(device: WatchedDevice, by: str) -> tuple[str, ...]:
    """The districts a device is in: its area, site, groups, or the value of one tag."""
    if by == "area":
        return (device.area,)  # '' is the whole city: a fleet without areas is one district
    if by == "site":
        return (device.site,) if device.site else ()
    if by == "group":
        return device.groups
    tag = by.removeprefix("tag:")
    return (device.tags[tag],) if tag in device.tags else ()


@dataclass(frozen=True, slots=True)
class DistrictRain:
    """The wettest rain gauge of a district now: ``None`` intensity when none was heard lately."""

    intensity_mm_h: float | None
    gauge: str | None


class _RainGauge:
    __slots__ = ("districts", "window")

    def __init__(self, window_s: float) -> None:
        self.window = SampleWindow(window_s)
        self.districts: tuple[str, ...] = ()


class RainRiseRuntime:
    def __init__(self, spec: RainRiseRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.rank = scale.rank(spec.severity)
        self.metrics = frozenset({spec.metric, spec.rain_metric})
        self.selectors: tuple[Selector, ...] = (spec.applies_to, spec.rain_from)
        self._rain: dict[str, _RainGauge] = {}
        self._by_district: dict[str, set[str]] = {}
        self._levels: dict[str, SampleWindow] = {}

    def matches(self, device: WatchedDevice) -> bool:
        """Whether the rule reads this device at all: a level gauge or a rain gauge."""
        return self.spec.applies_to.matches(device) or self.spec.rain_from.matches(device)

    def forget(self, device_id: str) -> None:
        self._levels.pop(device_id, None)
        gauge = self._rain.pop(device_id, None)
        if gauge is not None:
            for district in gauge.districts:
                self._by_district.get(district, set()).discard(device_id)

    def evaluate(self, device: WatchedDevice, reading: Reading, previous: int) -> Evidence | None:
        spec = self.spec
        t = reading.ts.timestamp()
        if reading.metric == spec.rain_metric and spec.rain_from.matches(device):
            self._rained(device, t, reading.value)
            return None
        if reading.metric != spec.metric or not spec.applies_to.matches(device):
            return None
        window = self._levels.get(device.id)
        if window is None:
            window = self._levels[device.id] = SampleWindow(spec.window_s)
        window.add(t, reading.value)
        rise = window.change(min_samples=spec.min_samples, min_coverage=spec.min_coverage)
        if rise is None:
            return None
        district, rain = self._wettest(device, t)
        rained = rain.intensity_mm_h is not None and rain.intensity_mm_h >= spec.intensity
        active = rained and rise >= spec.rise
        if not active and not previous:
            return Evidence(0, spec.metric, rise, spec.rise)
        level = reading.value

        def message() -> str:
            per = format_duration_s(spec.window_s)
            rain_text = ("no rain gauge heard" if rain.intensity_mm_h is None else
                         f"rain {show(round(rain.intensity_mm_h, 1))} mm/h at {rain.gauge}")
            where = f"{spec.district_by} {district}" if district else f"the {spec.district_by}"
            return (f"{rain_text} in {where} (limit {show(spec.intensity)} mm/h) and {spec.metric} rose "
                    f"{show(round(rise, 1))} per {per} (limit {show(spec.rise)}); now {show(level)}")

        context = {"rise": rise, spec.metric: level}
        if rain.intensity_mm_h is not None:
            context["rain_intensity_mm_h"] = rain.intensity_mm_h
        return Evidence(self.rank if active else 0, spec.metric, rise, spec.rise, message, context)

    def district_rain(self, district: str, t: float) -> DistrictRain:
        """The wettest rain gauge of ``district`` heard within the intensity window before ``t``."""
        best: DistrictRain = DistrictRain(None, None)
        horizon = t - self.spec.intensity_window_s
        for gauge_id in sorted(self._by_district.get(district, ())):
            window = self._rain[gauge_id].window
            if not window.times or window.times[-1] < horizon:
                continue
            mean = sum(v for s, v in zip(window.times, window.values, strict=True) if s >= horizon)
            count = sum(1 for s in window.times if s >= horizon)
            intensity = mean / count
            if best.intensity_mm_h is None or intensity > best.intensity_mm_h:
                best = DistrictRain(intensity, gauge_id)
        return best

    def _rained(self, device: WatchedDevice, t: float, intensity: float) -> None:
        gauge = self._rain.get(device.id)
        if gauge is None:
            gauge = self._rain[device.id] = _RainGauge(self.spec.intensity_window_s)
        districts = district_keys(device, self.spec.district_by)
        if districts != gauge.districts:  # new, or moved to another district
            for old in gauge.districts:
                self._by_district.get(old, set()).discard(device.id)
            for new in districts:
                self._by_district.setdefault(new, set()).add(device.id)
            gauge.districts = districts
        gauge.window.add(t, intensity)

    def _wettest(self, device: WatchedDevice, t: float) -> tuple[str, DistrictRain]:
        found = ("", DistrictRain(None, None))
        for district in district_keys(device, self.spec.district_by):
            rain = self.district_rain(district, t)
            if rain.intensity_mm_h is not None and (found[1].intensity_mm_h is None
                                                    or rain.intensity_mm_h > found[1].intensity_mm_h):
                found = (district, rain)
            elif not found[0]:
                found = (district, found[1])
        return found
