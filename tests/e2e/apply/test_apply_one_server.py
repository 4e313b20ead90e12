"""`orc apply` over real sockets where a manifest mistake used to turn into deletions.

Two instances that are one server (each pruning the other's models), and an instance whose
declared set was emptied while a `protect` glob kept it from looking empty.
"""

from __future__ import annotations

import json

from reconciler.testing import SimInstanceConfig

THREE = ("llama3.2:3b", "tinyllama:latest", "all-minilm:latest")


def instance_doc(name: str, url: str, model: str) -> dict[str, object]:
    return {
        "apiVersion": "ollama-reconciler/v1",
        "kind": "OllamaInstance",
        "metadata": {"name": name},
        "spec": {"url": url, "models": [{"name": model}], "prune": True},
    }


def test_two_instances_of_one_server_are_refused_before_anything_is_deleted(sim, orc_main):
    s = sim([SimInstanceConfig("one", models=THREE)])
    port = s.fleet.port("one")
    s.write(
        "both.yaml",
        instance_doc("workstation", f"http://127.0.0.1:{port}", "llama3.2:3b"),
        instance_doc("local", f"http://LOCALHOST:{port}/", "tinyllama"),
    )

    code, out, err = orc_main("apply", *s.args("--yes"))

    assert code == 1
    assert (
        "instance 'local' is the same server as instance 'workstation' "
        f"({s.manifests / 'both.yaml'}:6:8): both urls reach localhost:{port}"
    ) in out + err
    assert s.models("one") == set(THREE)
    assert s.fleet["one"].state.endpoint_count("delete") == 0


def test_an_emptied_declaration_with_a_protect_glob_deletes_nothing(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.declare("a", [], prune=True, protect=["llama3*"])

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0, out
    assert s.models("a") == set(THREE)
    assert s.fleet["a"].state.endpoint_count("delete") == 0
    assert (
        "= keep tinyllama:latest (not declared, but the instance declares no models: prune "
        "deletes nothing unless safety.allowEmpty: true)"
    ) in out
    assert "No changes." in out


def test_only_absent_declarations_delete_those_and_prune_nothing(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.declare("a", [{"name": "tinyllama", "state": "absent"}], prune=True, protect=["llama3*"])

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0, out
    assert s.models("a") == {"llama3.2:3b", "all-minilm:latest"}
    assert "Apply complete: 0 pulled, 0 created, 0 loaded, 1 deleted." in out


def test_allow_empty_lets_prune_clear_an_emptied_declaration_except_protected(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.settings(safety={"allowEmpty": True})
    s.declare("a", [], prune=True, protect=["llama3*"])

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0, out
    assert s.models("a") == {"llama3.2:3b"}


def test_a_saved_plan_that_prunes_an_emptied_declaration_is_refused(sim, orc, tmp_path):
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.declare("a", [], prune=True, protect=["llama3*"])
    saved = tmp_path / "plan.json"
    assert orc("plan", *s.args("--out", str(saved))).returncode == 0
    document = json.loads(saved.read_text(encoding="utf-8"))
    (inst,) = document["instances"]
    inst["actions"] = [
        {"id": f"a/delete/{m}", "kind": "delete", "model": m, "reason": "edited"}
        for m in ("tinyllama:latest", "all-minilm:latest")
    ]
    saved.write_text(json.dumps(document), encoding="utf-8")

    done = orc("apply", str(saved), "--state-dir", str(s.state_dir))

    assert done.returncode == 1
    assert "the saved plan has actions the manifests do not call for now" in done.stderr
    assert s.models("a") == set(THREE)
    assert s.fleet["a"].state.endpoint_count("delete") == 0
