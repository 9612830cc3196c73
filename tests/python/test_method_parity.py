"""Issue 16: the five-way method parity test (tests/parity/methods.py) against the real
surfaces, and a self-test proving it catches a missing method, a renamed argument and a
changed default in a doctored copy of them."""

import copy
import pathlib
import sys
import tomllib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "parity"))
import methods  # noqa: E402


@pytest.fixture(scope="module")
def surfaces():
    return methods.load_surfaces()


def test_the_five_surfaces_agree(surfaces):
    assert set(surfaces) == set(methods.SURFACES)
    assert "add_credits" in surfaces["node"] and "records_stream" in surfaces["rust_async"]
    assert methods.compare(surfaces) == []


def test_the_stated_defaults_are_the_cores(surfaces):
    # Each binding default lives once in the core; the native module hands its value out,
    # and every surface that states the default must state that value (Node in index.d.ts
    # or native.d.ts, Python in its signatures).
    from credit_sync_client import _native

    core = {
        ("iter_records", "page_size"): _native.DEFAULT_RECORDS_PAGE_SIZE,
        ("credit_stars_payment", "credits_per_star"): _native.DEFAULT_CREDITS_PER_STAR,
        ("refund_stars_payment", "reason"): _native.DEFAULT_REFUND_REASON,
        ("reverse_record", "reason"): _native.DEFAULT_REVERSAL_REASON,
    }
    alias = tomllib.loads((methods.HERE / "exceptions.toml").read_text())["alias"]
    for s in ("python_sync", "python_async", "node"):
        canon = {alias.get(f"{s}.{name}", name): params for name, params in surfaces[s].items()}
        for (method, name), value in core.items():
            stated = {p["name"]: p["default"] for p in canon[method]}
            assert stated.get(name) == value, (s, method, name, stated.get(name), value)


def test_it_catches_a_missing_method(surfaces):
    doctored = copy.deepcopy(surfaces)
    del doctored["node"]["void_hold"]
    assert methods.compare(doctored) == ["void_hold: missing in node"]


def test_it_catches_a_renamed_argument(surfaces):
    doctored = copy.deepcopy(surfaces)
    for p in doctored["python_async"]["capture_hold"]:
        if p["name"] == "reference":
            p["name"] = "ref"
    found = methods.compare(doctored)
    assert any("capture_hold(reference): missing in python_async" in f for f in found), found
    assert any(f.startswith("capture_hold: python_sync") for f in found), found


def test_it_catches_a_changed_default(surfaces):
    doctored = copy.deepcopy(surfaces)
    for p in doctored["node"]["hold_credits"]:
        if p["name"] == "ttl_seconds":
            assert p["default"] == 600  # read from index.d.ts
            p["default"] = 300
    found = methods.compare(doctored)
    assert any(f.startswith("hold_credits(ttl_seconds): defaults differ") for f in found), found


def test_it_catches_a_required_argument_made_optional(surfaces):
    doctored = copy.deepcopy(surfaces)
    for p in doctored["rust_blocking"]["add_credits"]:
        if p["name"] == "reason":
            p["required"] = False
    assert any(f.startswith("add_credits(reason): required in") for f in methods.compare(doctored))


def test_the_event_feed_maps_across_the_five(surfaces):
    # The shapes branch sdkevents adds, each in its language's form: the mapping in
    # exceptions.toml makes them one method, and a wrong default still shows.
    doctored = copy.deepcopy(surfaces)
    after = methods.Param(name="after", required=False, default=None)
    for s, name in [("rust_async", "events"), ("rust_blocking", "events"), ("python_sync", "iter_events"),
                    ("python_async", "iter_events"), ("node", "events")]:
        doctored[s][name] = [methods.Param(after)]
        doctored[s]["get_events"] = [methods.Param(after), methods.Param(name="limit", required=False, default=None)]
    assert methods.compare(doctored) == []
    del doctored["node"]["events"]
    assert methods.compare(doctored) == ["iter_events: missing in node"]


def test_it_compares_the_constructors_options_across_units(surfaces):
    # Node's timeoutMs (ms, read from its doc) against Python's timeout= (s).
    doctored = copy.deepcopy(surfaces)
    for p in doctored["node"]["constructor"]:
        if p["name"] == "timeout_ms":
            assert p["default"] == 10_000
            p["default"] = 5_000
    assert methods.compare(doctored) == ["constructor(timeout): defaults differ: {'node': 5.0, 'python_async': 10.0, 'python_sync': 10.0}"]
