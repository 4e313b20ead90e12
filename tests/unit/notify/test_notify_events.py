"""Events from a reconcile's facts compared with the previous reconcile's; routing; formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from reconciler.apply import ActionResult, ApplyResult, Outcome
from reconciler.desired import DesiredFleet, DesiredInstance, Receiver, SecretRef
from reconciler.names import parse
from reconciler.notify import (
    CoolDown,
    EventDetector,
    EventKind,
    NotificationEvent,
    facts_from,
    render,
    route,
)
from reconciler.plan import Action, ActionKind, Blocked, InstancePlan, Plan, Refusal

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "notification.v1.schema.json"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FLEET = DesiredFleet(
    instances=(
        DesiredInstance("a", "http://a:11434", labels={"env": "prod"}),
        DesiredInstance("b", "http://b:11434", labels={"env": "dev"}),
    ),
    name="prod",
)
PULL = Action("a", ActionKind.PULL, parse("llama3.2:3b"), "missing")


def _plan(*instances: InstancePlan, refusals: tuple[Refusal, ...] = ()) -> Plan:
    return Plan(instances=instances, refusals=refusals, desired_digest=FLEET.digest())


def _ok(name: str) -> InstancePlan:
    return InstancePlan(name, f"http://{name}:11434", True)


def _down(name: str) -> InstancePlan:
    blocked = Blocked(name, "Unreachable", "connection refused")
    return InstancePlan(name, f"http://{name}:11434", True, blocked=blocked)


def _drifted(name: str) -> InstancePlan:
    return InstancePlan(name, f"http://{name}:11434", True, actions=(PULL,))


def _kinds(events: list[NotificationEvent]) -> list[tuple[str, str | None]]:
    return [(str(e.kind), e.instance) for e in events]


def test_nothing_is_told_of_a_fleet_first_seen_in_sync() -> None:
    detector = EventDetector()
    assert detector.detect(facts_from(FLEET, _plan(_ok("a"), _ok("b")))) == []


def test_a_model_deleted_by_hand_is_drift_then_applied_and_healed() -> None:
    detector = EventDetector()
    detector.detect(facts_from(FLEET, _plan(_ok("a"), _ok("b"))))
    made = _plan(_drifted("a"), _ok("b"))
    result = ApplyResult((ActionResult(PULL, Outcome.DONE, attempts=1),))
    events = detector.detect(facts_from(FLEET, made, result, _plan(_ok("a"))))
    assert _kinds(events) == [("drift", "a"), ("applied", "a")]
    assert events[0].details == ("a/pull/llama3.2:3b",)
    assert "changed by hand" in events[0].message
    # the heal was in the same reconcile: nothing to recover from
    assert detector.detect(facts_from(FLEET, _plan(_ok("a"), _ok("b")))) == []


def test_changes_a_manifest_edit_causes_are_not_drift() -> None:
    detector = EventDetector()
    detector.detect(facts_from(FLEET, _plan(_ok("a"))))
    detector.digest = "a different manifest"
    events = detector.detect(facts_from(FLEET, _plan(_drifted("a"))))
    assert events == []


def test_an_instance_stopped_is_one_failure_and_started_again_one_recovery() -> None:
    detector = EventDetector()
    detector.detect(facts_from(FLEET, _plan(_ok("a"), _ok("b"))))
    down = detector.detect(facts_from(FLEET, _plan(_ok("a"), _down("b"))))
    assert _kinds(down) == [("failure", "b")]
    assert "Unreachable: connection refused" in down[0].message
    assert detector.detect(facts_from(FLEET, _plan(_ok("a"), _down("b")))) == []  # still down
    back = detector.detect(facts_from(FLEET, _plan(_ok("a"), _ok("b"))))
    assert _kinds(back) == [("recovery", "b")]


def test_a_failed_action_is_a_failure_and_a_later_clean_run_a_recovery() -> None:
    detector = EventDetector()
    failed = ApplyResult((ActionResult(PULL, Outcome.FAILED, error="pull: disk full"),))
    events = detector.detect(facts_from(FLEET, _plan(_drifted("a")), failed, _plan(_drifted("a"))))
    assert _kinds(events) == [("failure", "a")]
    assert events[0].details == ("a/pull/llama3.2:3b: pull: disk full",)
    assert _kinds(detector.detect(facts_from(FLEET, _plan(_ok("a"))))) == [("recovery", "a")]


def test_a_refused_plan_and_a_broken_edit_are_fleet_events() -> None:
    detector = EventDetector()
    refusal = Refusal("a", "allowEmpty", "the plan would leave a with no models")
    events = detector.detect(
        facts_from(FLEET, _plan(_ok("a"), refusals=(refusal,)), invalid=["a.yaml:3:1: bad"])
    )
    assert _kinds(events) == [("invalid", None), ("refused", "a")]
    assert events[0].details == ("a.yaml:3:1: bad",)
    # the same broken edit is told once; fixing it is a recovery
    assert detector.detect(facts_from(FLEET, _plan(_ok("a")), invalid=["a.yaml:3:1: bad"])) == []
    back = detector.detect(facts_from(FLEET, _plan(_ok("a"))))
    assert [(str(e.kind), e.message) for e in back] == [
        ("recovery", "the manifests are valid again")
    ]


def _receiver(name: str = "ops", **fields: object) -> Receiver:
    return Receiver(name, "http://hooks.example/x", **fields)  # type: ignore[arg-type]


def test_a_flapping_server_is_told_once_per_repeat_interval() -> None:
    cooldown, receiver = CoolDown(), _receiver(repeat_interval=3600)
    failure = NotificationEvent(EventKind.FAILURE, "b", "b cannot be reached")
    recovery = NotificationEvent(EventKind.RECOVERY, "b", "b answers again")
    told = []
    for minute in range(0, 130, 10):  # down and up every ten minutes for two hours
        event = failure if minute % 20 == 0 else recovery
        told += [
            (minute, str(e.kind))
            for b in route([receiver], [event], {}, cooldown, minute * 60)
            for e in b.events
        ]
    assert told == [
        (0, "failure"),
        (10, "recovery"),
        (60, "failure"),
        (70, "recovery"),
        (120, "failure"),
    ]


def test_receivers_hear_their_kinds_and_instances_grouped_into_one_message() -> None:
    events = [
        NotificationEvent(EventKind.FAILURE, "a", "a down"),
        NotificationEvent(EventKind.FAILURE, "b", "b down"),
        NotificationEvent(EventKind.APPLIED, "a", "a: 1 change applied"),
        NotificationEvent(EventKind.INVALID, None, "broken"),
    ]
    prod = _receiver("prod", match_labels={"env": "prod"})
    failures = _receiver("failures", events=("failure",))
    labels = {i.name: i.labels for i in FLEET.instances}
    batches = route([prod, failures], events, labels, CoolDown(), 0)
    assert [(b.receiver.name, _kinds(list(b.events))) for b in batches] == [
        ("prod", [("failure", "a"), ("applied", "a"), ("invalid", None)]),
        ("failures", [("failure", "a"), ("failure", "b")]),
    ]


EVENTS = [
    NotificationEvent(EventKind.DRIFT, "a", "a no longer matches <the> manifests", ("a/pull/x",)),
    NotificationEvent(EventKind.RECOVERY, "b", "b answers again"),
    NotificationEvent(EventKind.INVALID, None, "broken", tuple(f"e{i}" for i in range(25))),
]


def test_the_generic_format_matches_its_published_schema() -> None:
    body = json.loads(render("generic", "prod", EVENTS, NOW, "orc watch"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(body)
    assert body["summary"] == "fleet prod: 1 drift, 1 recovery, 1 invalid"
    assert body["events"][2]["details"][-1] == "... and 5 more"
    assert body["time"] == "2025-06-01T12:00:00Z"


def test_slack_teams_and_alertmanager_bodies() -> None:
    slack = json.loads(render("slack", "prod", EVENTS, NOW, "orc watch"))
    assert slack["text"] == "fleet prod: 1 drift, 1 recovery, 1 invalid"
    assert "&lt;the&gt;" in slack["blocks"][1]["text"]["text"]
    teams = json.loads(render("teams", "prod", EVENTS, NOW, "orc watch"))
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    alerts = json.loads(render("alertmanager", "prod", EVENTS, NOW, "orc watch"))
    names = [(a["labels"]["alertname"], a["labels"].get("instance"), a["endsAt"]) for a in alerts]
    assert names == [
        ("OrcDrift", "a", "2025-06-02T12:00:00Z"),
        ("OrcFailure", "b", "2025-06-01T12:00:00Z"),  # the recovery resolves b's alerts
        ("OrcDrift", "b", "2025-06-01T12:00:00Z"),
        ("OrcManifestsInvalid", None, "2025-06-02T12:00:00Z"),
    ]


@pytest.mark.parametrize("fmt", ["generic", "slack", "teams", "alertmanager"])
def test_no_body_carries_a_url_or_a_secret(fmt: str) -> None:
    secret = "s3cr3t-token-value"
    fleet = DesiredFleet(
        instances=(
            DesiredInstance(
                "a", f"http://user:{secret}@a:11434", bearer_token=SecretRef(value=secret)
            ),
        ),
        notifications=(Receiver("r", f"https://hooks.slack.com/services/{secret}"),),
    )
    made = Plan(instances=(_down("a"),), desired_digest=fleet.digest())
    events = EventDetector().detect(facts_from(fleet, made))
    body = render(fmt, fleet.name, events, NOW, "orc watch").decode()
    assert events and secret not in body
    assert "http" not in body.replace("http://adaptivecards.io", "")
