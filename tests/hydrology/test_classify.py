"""GB 3838-2002 classes: the limits table against the standard, every class boundary, hand-worked days."""

from __future__ import annotations

import pytest

from hydrology.classify import class_of, classify
from hydrology.errors import StandardError
from hydrology.standard import WaterBody, WaterClass, load_standard, parse_standard

# Table 1 of GB 3838-2002 as printed (classes I..V), written out independently of the data file.
TABLE_1: dict[str, tuple[float, ...]] = {
    "permanganate_index_mg_l": (2, 4, 6, 10, 15),
    "cod_mg_l": (15, 15, 20, 30, 40),
    "bod5_mg_l": (3, 3, 4, 6, 10),
    "ammonia_nitrogen_mg_l": (0.15, 0.5, 1.0, 1.5, 2.0),
    "total_phosphorus_mg_l": (0.02, 0.1, 0.2, 0.3, 0.4),
    "copper_mg_l": (0.01, 1.0, 1.0, 1.0, 1.0),
    "zinc_mg_l": (0.05, 1.0, 1.0, 2.0, 2.0),
    "fluoride_mg_l": (1.0, 1.0, 1.0, 1.5, 1.5),
    "selenium_mg_l": (0.01, 0.01, 0.01, 0.02, 0.02),
    "arsenic_mg_l": (0.05, 0.05, 0.05, 0.1, 0.1),
    "mercury_mg_l": (0.00005, 0.00005, 0.0001, 0.001, 0.001),
    "cadmium_mg_l": (0.001, 0.005, 0.005, 0.005, 0.01),
    "chromium_vi_mg_l": (0.01, 0.05, 0.05, 0.05, 0.1),
    "lead_mg_l": (0.01, 0.01, 0.05, 0.05, 0.1),
    "cyanide_mg_l": (0.005, 0.05, 0.2, 0.2, 0.2),
    "volatile_phenol_mg_l": (0.002, 0.002, 0.005, 0.01, 0.1),
    "petroleum_mg_l": (0.05, 0.05, 0.05, 0.5, 1.0),
    "anionic_surfactant_mg_l": (0.2, 0.2, 0.2, 0.3, 0.3),
    "sulfide_mg_l": (0.05, 0.1, 0.2, 0.5, 1.0),
    "fecal_coliform_per_l": (200, 2000, 10000, 20000, 40000),
}
LAKE_TP = (0.01, 0.025, 0.05, 0.1, 0.2)
LAKE_TN = (0.2, 0.5, 1.0, 1.5, 2.0)
DO = (7.5, 6, 5, 3, 2)
CLASSES = list(WaterClass)


def test_the_data_file_is_table_1() -> None:
    standard = load_standard()
    assert standard.name == "GB 3838-2002"
    for metric, limits in TABLE_1.items():
        assert standard.parameter(metric).limits_for("river") == pytest.approx(limits), metric
    assert standard.parameter("total_phosphorus_mg_l").limits_for("lake") == pytest.approx(LAKE_TP)
    assert standard.parameter("total_nitrogen_mg_l").limits_for("lake") == pytest.approx(LAKE_TN)
    assert standard.parameter("dissolved_oxygen_mg_l").limits_for("river") == pytest.approx(DO)
    ph = standard.parameter("ph")
    assert (ph.kind, ph.low, ph.high) == ("range", 6.0, 9.0)
    assert standard.metrics == {*TABLE_1, "total_nitrogen_mg_l", "dissolved_oxygen_mg_l", "ph"}


def _max_cases() -> list[tuple[str, WaterBody, float, WaterClass]]:
    """At each limit: the best class with that limit; just above it: the next class with a larger one."""
    tables: list[tuple[str, WaterBody, tuple[float, ...]]] = [(m, "river", lim) for m, lim in TABLE_1.items()]
    tables += [("total_phosphorus_mg_l", "lake", LAKE_TP), ("total_nitrogen_mg_l", "lake", LAKE_TN)]
    cases = []
    for metric, body, limits in tables:
        for limit in sorted(set(limits)):
            at = CLASSES[limits.index(limit)]
            larger = [i for i, lim in enumerate(limits) if lim > limit]
            above = CLASSES[larger[0]] if larger else WaterClass.WORSE_THAN_V
            cases += [(metric, body, limit, at), (metric, body, limit * 1.001, above)]
        cases.append((metric, body, limits[0] * 0.999, WaterClass.I))
    return cases


@pytest.mark.parametrize(("metric", "body", "value", "expected"), _max_cases())
def test_every_boundary_of_every_at_most_item(metric: str, body: WaterBody, value: float, expected: WaterClass) -> None:
    assert class_of(load_standard().parameter(metric), value, body) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (7.5, WaterClass.I), (7.49, WaterClass.II), (6.0, WaterClass.II), (5.99, WaterClass.III),
    (5.0, WaterClass.III), (4.99, WaterClass.IV), (3.0, WaterClass.IV), (2.99, WaterClass.V),
    (2.0, WaterClass.V), (1.99, WaterClass.WORSE_THAN_V), (11.0, WaterClass.I),
])
def test_dissolved_oxygen_is_at_least(value: float, expected: WaterClass) -> None:
    assert class_of(load_standard().parameter("dissolved_oxygen_mg_l"), value, "river") is expected


def test_dissolved_oxygen_meets_class_i_by_saturation() -> None:
    oxygen = load_standard().parameter("dissolved_oxygen_mg_l")
    # Saturation at 30 °C is 7.56 mg/L; 90 % of it is 6.80: class I though under 7.5.
    assert class_of(oxygen, 6.85, "river", temperature_c=30.0) is WaterClass.I
    assert class_of(oxygen, 6.75, "river", temperature_c=30.0) is WaterClass.II
    assert class_of(oxygen, 6.85, "river") is WaterClass.II


@pytest.mark.parametrize(("value", "expected"), [
    (6.0, WaterClass.I), (9.0, WaterClass.I), (7.2, WaterClass.I),
    (5.99, WaterClass.WORSE_THAN_V), (9.01, WaterClass.WORSE_THAN_V),
])
def test_ph_is_six_to_nine_for_every_class(value: float, expected: WaterClass) -> None:
    assert class_of(load_standard().parameter("ph"), value, "river") is expected


def test_lakes_and_rivers_differ_for_phosphorus_and_nitrogen() -> None:
    means = {"total_phosphorus_mg_l": 0.08, "total_nitrogen_mg_l": 1.2}
    river = classify(means, water_body="river")
    lake = classify(means, water_body="lake")
    assert river is not None and lake is not None
    assert river.water_class is WaterClass.II  # TP 0.08 ≤ 0.1; TN not assessed in rivers
    assert river.not_assessed == ("total_nitrogen_mg_l",)
    assert lake.water_class is WaterClass.IV  # TP 0.08 ≤ 0.1 (lake IV); TN 1.2 ≤ 1.5 (IV)
    assert {p.metric for p in lake.deciding} == {"total_phosphorus_mg_l", "total_nitrogen_mg_l"}


def test_a_mean_that_floats_a_hair_over_the_limit_keeps_its_class() -> None:
    mean = (0.1 + 0.2) / 2  # 0.15000000000000002
    assert class_of(load_standard().parameter("ammonia_nitrogen_mg_l"), mean, "river") is WaterClass.I


# Hand-worked days: (means, water body, target) → class, deciding metrics, exceedance multiples.
def test_day_of_a_clean_upstream_section() -> None:
    result = classify({"ph": 7.6, "dissolved_oxygen_mg_l": 8.1, "permanganate_index_mg_l": 1.8,
                       "ammonia_nitrogen_mg_l": 0.12, "total_phosphorus_mg_l": 0.018},
                      water_body="river", target=WaterClass.II)
    assert result is not None
    assert result.water_class is WaterClass.I
    assert result.deciding == ()
    assert result.meets_target is True and result.over_target == ()


def test_day_after_a_sewage_overflow() -> None:
    # NH3-N 2.6 is worse than V: (2.6 − 1.0) / 1.0 = 1.6 times over the class III limit; TP 0.25 is IV,
    # (0.25 − 0.2) / 0.2 = 0.25; COD 22 is IV, (22 − 20) / 20 = 0.1; DO 4.2 is IV, no multiple.
    result = classify({"ph": 7.1, "dissolved_oxygen_mg_l": 4.2, "cod_mg_l": 22.0,
                       "ammonia_nitrogen_mg_l": 2.6, "total_phosphorus_mg_l": 0.25},
                      water_body="river", target=WaterClass.III)
    assert result is not None
    assert result.water_class is WaterClass.WORSE_THAN_V
    assert result.water_class.label == "劣V"
    assert [p.metric for p in result.deciding] == ["ammonia_nitrogen_mg_l"]
    over = {p.metric: p for p in result.over_target}
    assert list(over) == ["ammonia_nitrogen_mg_l", "total_phosphorus_mg_l", "cod_mg_l", "dissolved_oxygen_mg_l"]
    assert over["ammonia_nitrogen_mg_l"].exceedance == pytest.approx(1.6)
    assert over["total_phosphorus_mg_l"].exceedance == pytest.approx(0.25)
    assert over["cod_mg_l"].exceedance == pytest.approx(0.1)
    assert over["dissolved_oxygen_mg_l"].exceedance is None
    assert over["dissolved_oxygen_mg_l"].water_class is WaterClass.IV
    assert result.meets_target is False


def test_day_of_a_lake_decided_by_two_items() -> None:
    # Lake TP 0.04 ≤ 0.05 → III; TN 0.9 ≤ 1.0 → III; permanganate 3.5 → II. Target II: TP over 0.025
    # by (0.04 − 0.025) / 0.025 = 0.6, TN over 0.5 by 0.8.
    result = classify({"total_phosphorus_mg_l": 0.04, "total_nitrogen_mg_l": 0.9, "permanganate_index_mg_l": 3.5},
                      water_body="lake", target=WaterClass.II)
    assert result is not None
    assert result.water_class is WaterClass.III
    assert sorted(p.metric for p in result.deciding) == ["total_nitrogen_mg_l", "total_phosphorus_mg_l"]
    over = {p.metric: p.exceedance for p in result.over_target}
    assert over == {"total_nitrogen_mg_l": pytest.approx(0.8), "total_phosphorus_mg_l": pytest.approx(0.6)}


def test_day_with_acid_water_is_worse_than_v_without_a_multiple() -> None:
    result = classify({"ph": 5.4, "ammonia_nitrogen_mg_l": 0.3}, water_body="river", target=WaterClass.III)
    assert result is not None
    assert result.water_class is WaterClass.WORSE_THAN_V
    assert [(p.metric, p.exceedance) for p in result.deciding] == [("ph", None)]


def test_day_with_nothing_the_standard_lists_has_no_class() -> None:
    assert classify({"turbidity_ntu": 40.0, "temperature_c": 25.0}, water_body="river") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("III", WaterClass.III), ("3", WaterClass.III), ("Ⅳ", WaterClass.IV), ("劣V", WaterClass.WORSE_THAN_V),
    (" ii ", WaterClass.II),
])
def test_water_class_parses_as_reports_write_it(text: str, expected: WaterClass) -> None:
    assert WaterClass.parse(text) is expected


def test_water_class_names_a_bad_one() -> None:
    with pytest.raises(ValueError, match="unknown water class 'VI'"):
        WaterClass.parse("VI")


@pytest.mark.parametrize(("text", "message"), [
    ('standard = "x"\n[[parameters]]\nmetric = "a"\nname = "a"\nunit = ""\nkind = "max"\n'
     'limits = [1, 2, 3, 2, 5]\n', "t.toml: parameters.0: limits: limits must loosen from class I to V"),
    ('standard = "x"\n[[parameters]]\nmetric = "a"\nname = "a"\nunit = ""\nkind = "range"\n',
     "t.toml: parameters.0: a range item needs low < high"),
    ('standard = "x"\nparameters = [', "t.toml: "),
])
def test_a_bad_limits_table_is_named(text: str, message: str) -> None:
    with pytest.raises(StandardError) as caught:
        parse_standard(text, "t.toml")
    assert str(caught.value).startswith(message)
