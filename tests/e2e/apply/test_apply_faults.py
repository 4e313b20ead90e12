"""`orc apply` against failing servers over real sockets: transient errors are retried (a pull
cut off mid-stream resumes), permanent ones are not, and the rest of the fleet is still done.

The CLI's retry policy starts at 1 s (±25 %), so a test with one retry waits about a second.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from reconciler.testing import CATALOG, SimInstanceConfig

SMALL = "all-minilm:latest"  # 46 MB


def test_a_pull_dropped_midway_is_retried_and_resumes(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=("llama3.2:3b",), pull_speed=200e6)])
    s.declare("a", ["llama3.2:3b", SMALL])
    dropped_after = CATALOG[SMALL].weights_size // 2
    s.fleet["a"].faults.drop_pull_after(dropped_after)

    code, out, err = orc_main("apply", *s.args("--yes"))

    assert code == 0, out + err
    assert SMALL in s.models("a")
    assert s.pulls("a") == 2
    retry = re.search(rf"a: \+ pull {SMALL}: attempt 1 failed \((.+)\); retrying in [\d.]+ s", out)
    assert retry, out
    assert "connection" in retry.group(1).lower()
    assert f"a: + pull {SMALL} ... done" in out
    assert "Apply complete: 1 pulled, 0 created, 0 loaded, 0 deleted." in out
    assert "Verified: the instances touched now match the manifests." in out


def test_a_retried_pull_resumes_where_it_stopped(sim, orc_main):
    """The second attempt only downloads what the first one did not (Ollama resumes)."""
    speed = 500e6
    model = "tinyllama:latest"  # 637 MB: 1.3 s from scratch at 500 MB/s
    s = sim([SimInstanceConfig("a", pull_speed=speed)])
    s.declare("a", [model])
    s.fleet["a"].faults.drop_pull_after(int(CATALOG[model].weights_size * 0.8))

    code, out, _ = orc_main("apply", *s.args("--yes", "--format", "json"))

    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    retry = next(e for e in events if e["type"] == "action_retry")
    finished = next(e for e in events if e["type"] == "action_finished")
    second_attempt = stamp(finished) - stamp(retry) - retry["delay"]
    from_scratch = CATALOG[model].size / speed
    assert second_attempt < from_scratch / 2, "the retry downloaded the model again from scratch"
    assert model in s.models("a")


def stamp(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["time"])).timestamp()


def test_a_model_missing_from_the_registry_fails_once_and_the_rest_is_done(sim, orc_main):
    s = sim([SimInstanceConfig("a"), SimInstanceConfig("b")])
    s.declare("a", ["no-such-model:7b", SMALL, {"name": "smollm2:135m", "keepLoaded": True}])
    s.declare("b", ["tinyllama"])

    code, out, err = orc_main("apply", *s.args("--yes"))

    assert code == 3, out + err
    assert s.models("a") == {SMALL, "smollm2:135m"}
    assert set(s.fleet["a"].state.loaded) == {"smollm2:135m"}
    assert s.models("b") == {"tinyllama:latest"}
    assert s.pulls("a") == 3, "one pull per model: the unknown one is not retried"
    assert "retrying" not in out
    failed = re.search(r"a: \+ pull no-such-model:7b \.\.\. failed: (.+)", out)
    assert failed, out
    assert "not in the registry" in failed.group(1)
    assert "attempts" not in failed.group(1), "a permanent error takes one attempt"
    assert f"a: + pull {SMALL} ... done" in out
    assert "b: + pull tinyllama:latest ... done" in out
    assert "Apply complete: 3 pulled, 0 created, 1 loaded, 0 deleted, 1 failed." in out
    assert "Not yet in sync: 1 change still to make." in out


def test_a_failed_base_skips_the_custom_model_and_the_deletions(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=("tinyllama",))])
    s.fleet["a"].registry.remove("qwen2.5-coder:1.5b")
    s.declare(
        "a",
        [
            SMALL,
            {"name": "reviewer", "from": "qwen2.5-coder:1.5b", "system": "Review."},
            {"name": "tinyllama", "state": "absent"},
        ],
    )

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 3
    assert s.models("a") == {SMALL, "tinyllama:latest"}
    assert "a: ~ create reviewer:latest ... skipped" in out
    assert "a: - delete tinyllama:latest ... skipped" in out
    assert s.fleet["a"].state.endpoint_count("create") == 0
    assert s.fleet["a"].state.endpoint_count("delete") == 0


def test_transient_server_errors_are_retried_until_they_pass(sim, orc_main):
    s = sim([SimInstanceConfig("a")])
    s.declare("a", [SMALL])
    s.fleet["a"].faults.fail_next(1, status=503, message="server busy", path="/api/pull")

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0, out
    assert s.pulls("a") == 1, "the refused request never reached the pull handler"
    assert s.fleet["a"].state.count("/api/pull") == 2
    assert f"a: + pull {SMALL}: attempt 1 failed (" in out
    assert "server busy" in out
    assert SMALL in s.models("a")
