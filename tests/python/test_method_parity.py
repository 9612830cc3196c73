"""Issue 16: the five-way method parity test (tests/parity/methods.py) against the real
surfaces, and a self-test proving it catches a missing method, a renamed argument and a
changed default in a doctored copy of them."""

import copy
import pathlib
import sys

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
    for s, name in [("rust_async", "events"), ("rust_blocking", "events_iter"), ("python_sync", "iter_events"),
                    ("python_async", "iter_events"), ("node", "events")]:
        doctored[s][name] = [methods.Param(after)]
        doctored[s]["get_events"] = [methods.Param(after), methods.Param(name="limit", required=False, default=None)]
    assert methods.compare(doctored) == []
    del doctored["node"]["events"]
    assert methods.compare(doctored) == ["iter_events: missing in node"]
