"""`orc apply` safety guards over real sockets: what a guard refuses is never deleted.

maxDeletions (Fleet safety), allowEmpty (an instance left with no models), protect globs
against prune, and a broken manifest that must never turn into deletions.
"""

from __future__ import annotations

from reconciler.testing import SimInstanceConfig

THREE = ("llama3.2:3b", "tinyllama:latest", "all-minilm:latest")


def absent(name: str) -> dict[str, str]:
    return {"name": name, "state": "absent"}


def test_max_deletions_refuses_the_whole_apply(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE), SimInstanceConfig("b", models=THREE[:2])])
    s.settings(safety={"maxDeletions": 2})
    s.declare("a", ["llama3.2:3b", absent("tinyllama"), absent("all-minilm")])
    s.declare("b", ["llama3.2:3b", absent("tinyllama"), "smollm2:135m"])

    code, out, err = orc_main("apply", *s.args("--yes"))

    assert code == 1
    assert "maxDeletions (2)" in err
    assert "would delete 3 models" in err
    assert s.models("a") == set(THREE)
    assert s.models("b") == set(THREE[:2])
    assert s.pulls("b") == 0, "a refused plan changes nothing, not even its pulls"
    assert "Apply complete" not in out


def test_allow_empty_refuses_deleting_every_model_of_an_instance(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE[:2]), SimInstanceConfig("b")])
    s.declare("a", [absent("llama3.2:3b"), absent("tinyllama")])
    s.declare("b", ["all-minilm"])

    code, _, err = orc_main("apply", *s.args("--yes"))

    assert code == 1
    assert "allowEmpty" in err
    assert "leave a with no models" in err
    assert s.models("a") == set(THREE[:2])
    assert s.models("b") == set()


def test_allow_empty_true_lets_the_instance_be_emptied(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE[:2])])
    s.settings(safety={"allowEmpty": True})
    s.declare("a", [absent("llama3.2:3b"), absent("tinyllama")])

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0, out
    assert s.models("a") == set()
    assert "Apply complete: 0 pulled, 0 created, 0 loaded, 2 deleted." in out


def test_prune_never_deletes_what_protect_globs_match(sim, orc_main):
    installed = (*THREE, "llama3.2:1b", "qwen2.5-coder:1.5b")
    s = sim([SimInstanceConfig("a", models=installed)])
    s.declare("a", ["all-minilm"], prune=True, protect=["llama3*", "qwen*:1.5b"])

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0, out
    assert s.models("a") == {
        "all-minilm:latest",
        "llama3.2:3b",
        "llama3.2:1b",
        "qwen2.5-coder:1.5b",
    }
    assert "- delete tinyllama:latest (not declared and prune: true)" in out
    assert "Apply complete: 0 pulled, 0 created, 0 loaded, 1 deleted." in out


def test_absent_but_protected_is_kept_and_said_so(sim, orc_main):
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.declare("a", ["llama3.2:3b", absent("tinyllama")], protect=["tiny*"])

    code, out, _ = orc_main("apply", *s.args("--yes"))

    assert code == 0
    assert "tinyllama:latest" in s.models("a")
    assert "No changes." in out
    assert "protected by 'tiny*'" in out


def test_a_broken_manifest_never_becomes_deletions(sim, orc_main):
    """The models of an instance come from a ModelSet (by selector) in another file; when that
    file does not parse, the instance must not look like it declares nothing: prune would wipe it.
    """
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.declare("a", ["llama3.2:3b"], labels={"tier": "gpu"}, prune=True)
    sets = s.manifests / "sets.yaml"
    sets.write_text(
        "apiVersion: ollama-reconciler/v1\nkind: ModelSet\nmetadata: {name: base}\n"
        "spec:\n  selector: {matchLabels: {tier: gpu}}\n"
        "  models: [{name: tinyllama}\n    - all-minilm\n",
        encoding="utf-8",
    )

    code, out, err = orc_main("apply", *s.args("--yes"))

    assert code == 1
    assert f"{sets}:" in out + err
    assert s.models("a") == set(THREE)
    assert s.fleet["a"].state.endpoint_count("delete") == 0
    assert "delete" not in out


def test_a_broken_manifest_in_a_saved_plans_folder_refuses_it_too(sim, orc, tmp_path):
    s = sim([SimInstanceConfig("a", models=THREE)])
    s.declare("a", ["llama3.2:3b", "tinyllama", "all-minilm", "smollm2:135m"], prune=True)
    saved = tmp_path / "plan.json"
    assert orc("plan", *s.args("--out", str(saved))).returncode == 0
    (s.manifests / "a.yaml").write_text("spec: [unclosed\n", encoding="utf-8")

    done = orc("apply", str(saved), "--state-dir", str(s.state_dir))

    assert done.returncode == 1
    assert "a.yaml" in done.stdout + done.stderr
    assert s.models("a") == set(THREE)
    assert s.pulls("a") == 0
