"""The import's fast paths give exactly what the plain formulations they replace give."""

from __future__ import annotations

import gc
import ipaddress
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_registry.device import _HOSTNAME_LABEL, check_host
from device_registry.flat import SECRET_COLUMNS, device_from_fields, device_to_fields
from device_registry.history import diff, encode_added, encode_changes
from device_registry.importer import read_csv
from device_registry.library import ProfileLibrary, check_device
from streetwatch.gc_tuning import paused_gc
from streetwatch.safe_text import csv_uncell, csv_uncell_row
from tests.device_registry.conftest import GAUGE, LAMP


def _check_host_as_it_was(value: str) -> str:
    """check_host before its fast path became one regular expression."""
    candidate = value.strip()
    octets = candidate.split(".")
    if len(octets) == 4 and all(o.isascii() and o.isdigit() and len(o) <= 3 and int(o) <= 255
                                and (o == "0" or o[0] != "0") for o in octets):
        return candidate
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", candidate):
        raise ValueError(f"{value!r} is not a valid IPv4 address")
    labels = candidate.removesuffix(".").split(".")
    if not candidate or len(candidate) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid host name or IP address")
    return candidate


def _outcome(check: Callable[[str], str], text: str) -> str:
    try:
        return "ok " + check(text)
    except ValueError as exc:
        return "refused " + str(exc)


@given(st.lists(st.sampled_from(["0", "00", "01", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255",
                                 "256", "299", "300", "999", "1000", "", "\u0663", "a", " 1", "1 "]),
                min_size=3, max_size=5))
def test_the_ipv4_fast_path_decides_as_the_octet_rule_did(octets: list[str]) -> None:
    text = ".".join(octets)
    assert _outcome(check_host, text) == _outcome(_check_host_as_it_was, text)


@pytest.mark.parametrize("host", ["10.0.0.5", "255.255.255.255", "0.0.0.0", " 10.0.0.5 "])
def test_common_ipv4_hosts_are_kept_as_written(host: str) -> None:
    assert check_host(host) == host.strip()


@pytest.mark.parametrize("host", ["192.168.1.300", "010.0.0.1", "1.2.3", "1.2.3.4.5"])
def test_bad_ipv4_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="is not a valid"):
        check_host(host)


@given(st.lists(st.text(alphabet="'=+-@\t\r0123456789.eE abc", max_size=6), max_size=8))
def test_uncelling_a_row_is_uncelling_each_cell(cells: list[str]) -> None:
    assert csv_uncell_row(list(cells)) == [csv_uncell(c) for c in cells]


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@given(st.dictionaries(_TEXT, st.tuples(_TEXT, _TEXT), max_size=6))
def test_changes_are_encoded_exactly_as_json_dumps_wrote_them(changes: dict[str, tuple[str, str]]) -> None:
    assert encode_changes(changes) == json.dumps({k: list(v) for k, v in changes.items()}, ensure_ascii=False)


def _plain_diff(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    masked = SECRET_COLUMNS
    return {name: ("***" if name in masked and before[name] else before[name],
                   "***" if name in masked and value else value)
            for name, value in after.items() if value != before[name]}


@pytest.mark.parametrize("fields", [LAMP, GAUGE, {**GAUGE, "password": "s3cret-pass", "username": "gauge-7"}])
def test_a_new_devices_history_is_its_diff_against_empty_fields(fields: dict[str, str]) -> None:
    device = device_from_fields(fields)
    after = device_to_fields(device)
    assert diff(None, device) == _plain_diff(dict.fromkeys(after, ""), after)
    if fields.get("password"):
        assert diff(None, device)["password"] == ("", "***")
    assert encode_added(device) == encode_changes(diff(None, device))


def test_the_library_answers_kinds_the_same_each_time() -> None:
    library = ProfileLibrary.shipped()
    assert library.kinds() == sorted(library.kinds())
    library.kinds().append("mangled")  # a caller's copy, not the library's
    assert "mangled" not in library.kinds()
    problems = check_device(device_from_fields({**LAMP, "kind": "street_clock"}), library)
    assert [str(p) for p in problems] == [f"kind: unknown kind 'street_clock' (known: {', '.join(library.kinds())})"]


def test_overlong_cells_are_still_refused_when_the_rest_take_the_fast_path() -> None:
    text = ("id,kind,profile,transport,host,lat,lon,notes\n"
            "LP-1,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.1,23.1,113.2,short\n"
            f"LP-2,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.2,23.1,113.2,{'x' * 10_001}\n")
    first, second = read_csv(text)
    assert (first.problems, first.fields["notes"]) == ((), "short")
    assert [str(p) for p in second.problems] == ["line 3: notes: field too long (10,001 characters, at most 10,000)"]
    assert second.fields["notes"] == ""


def test_paused_gc_is_held_until_the_last_holder_leaves_and_restores_what_it_found() -> None:
    assert gc.isenabled()
    first, second = paused_gc(), paused_gc()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
