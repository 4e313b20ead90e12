"""Every broken manifest under tests/manifests/invalid/ fails `orc validate` where it should.

Each row: the file, the line (and column, when it is part of the promise) of the error, and a
piece of the message the user must see there. Adding a scenario means adding a file and a row;
a file without a row fails `test_every_invalid_manifest_has_a_row`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.main import main

INVALID = Path(__file__).resolve().parents[2] / "manifests" / "invalid"

# file, line, column (None: not checked), message substring
CASES: list[tuple[str, int, int | None, str]] = [
    ("gguf-missing-file.yaml", 9, 13, "weights file not found: ./weights/nope.gguf"),
    ("gguf-outside-manifests.yaml", 9, 13, "is outside the manifests' folders"),
    ("gguf-without-dot-slash.yaml", 9, 13, "looks like a file but is read as a model name"),
    ("update-auto-custom-model.yaml", 10, 15, "update: auto applies to pulled models"),
    ("yaml-syntax-error.yaml", 8, 8, "YAML syntax error: did not find expected ',' or '}'"),
    ("tab-indentation.yaml", 8, 1, "tab character used for indentation"),
    ("duplicate-key.yaml", 8, 3, "duplicate key 'url' (first defined at line 6)"),
    ("unknown-field-typo.yaml", 7, 3, "unknown field 'prority' (did you mean 'priority'?)"),
    ("unknown-top-level-field.yaml", 5, 1, "status: unknown field 'status'"),
    ("wrong-type-priority.yaml", 7, 13, "spec.priority: expected an integer, got a string"),
    ("wrong-type-labels.yaml", 5, 11, "metadata.labels: expected a mapping, got a list"),
    ("wrong-type-models.yaml", 7, 11, "spec.models: expected a list, got a string"),
    ("model-name-with-space.yaml", 8, 13, "invalid model name 'llama 3': the model part"),
    ("model-name-too-many-slashes.yaml", 8, 13, "too many '/'"),
    ("model-name-empty-tag.yaml", 8, 13, "invalid model name 'llama3:': the tag part is empty"),
    ("model-name-bad-first-char.yaml", 8, 13, "must start with a letter, digit or '_'"),
    ("model-name-empty.yaml", 8, 13, "invalid model name '': the name is empty"),
    ("custom-model-bad-from.yaml", 9, 13, "spec.models[0].from: invalid base model name"),
    ("url-without-scheme.yaml", 6, 8, "'dev-box:11434' has no scheme (write http://dev-box"),
    ("url-ftp-scheme.yaml", 6, 8, "url scheme must be http or https, not 'ftp'"),
    ("url-without-host.yaml", 6, 8, "has no host"),
    ("priority-zero.yaml", 7, 13, "spec.priority: must be between 1 and 10, got the integer 0"),
    ("priority-eleven.yaml", 7, 13, "must be between 1 and 10, got the integer 11"),
    ("duplicate-instance-name.yaml", 11, 9, "duplicate OllamaInstance name 'dev-box'"),
    ("unknown-modelset.yaml", 7, 15, "unknown ModelSet 'codding' (did you mean 'coding'?)"),
    ("conflicting-modelsets.yaml", 24, 13, "modelset/coding (conflicting-modelsets.yaml:15:7)"),
    ("instance-and-set-conflict.yaml", 17, 13, "instance (instance-and-set-conflict.yaml:9:7)"),
    ("empty-file.yaml", 1, 1, "empty file"),
    ("only-comments.yaml", 1, 1, "empty file"),
    ("list-document.yaml", 1, 1, "the document is a list, not a mapping"),
    ("scalar-document.yaml", 1, 1, "the document is a single value, not a mapping"),
    ("wrong-api-version.yaml", 1, 13, "apiVersion must be 'ollama-reconciler/v1', got 'v1'"),
    ("missing-api-version.yaml", 1, 1, "missing required field 'apiVersion'"),
    ("unknown-kind.yaml", 2, 7, "unknown kind 'OllamaServer'"),
    ("missing-tls-file.yaml", 8, 13, "TLS file not found: certs/missing-ca.pem"),
    ("client-cert-without-key.yaml", 8, 17, "clientCert needs clientKey as well"),
    ("secretref-two-sources.yaml", 8, 18, "needs exactly one of env, file or value, found env and"),
    ("secretref-empty.yaml", 8, 16, "a SecretRef needs exactly one of env, file or value"),
    ("secretref-unknown-source.yaml", 8, 19, "unknown field 'vault' (did you mean 'value'?)"),
    ("negative-timeout.yaml", 7, 12, "spec.timeout: a duration must be greater than 0"),
    ("bad-duration-string.yaml", 7, 16, "spec.pullTimeout: invalid duration '2 hours'"),
    ("zero-duration.yaml", 7, 12, "spec.timeout: invalid timeout: a duration must be greater"),
    ("legacy-base-url.yaml", 6, 3, "unknown field 'base_url' (the old base_url is now spec.url)"),
    ("legacy-auth-token.yaml", 7, 3, "auth_token is now spec.auth.bearerToken"),
    ("legacy-custom-endpoints.yaml", 7, 3, "custom_endpoints are now spec.endpoints"),
    ("sync-window-bad-schedule.yaml", 8, 17, "invalid cron schedule '0 9 * * mon-fry'"),
    ("sync-window-six-fields.yaml", 6, 17, "a cron schedule has 5 fields (minute hour"),
    ("sync-window-unknown-time-zone.yaml", 8, 17, "unknown time zone 'Europe/Berlín'"),
    ("sync-window-named-twice.yaml", 9, 13, "sync window 'quiet' is named twice (first at line 5)"),
    ("sync-window-unknown-action.yaml", 8, 23, "must be one of 'pull', 'create', 'load', 'delete'"),
    ("sync-window-bad-duration.yaml", 7, 17, "duration: invalid duration '9 hours'"),
    ("legacy-metadata-headers.yaml", 5, 3, "the old metadata.headers are now spec.headers"),
    ("missing-url.yaml", 6, 3, "spec.url: missing required field 'url'"),
    ("name-not-dns-label.yaml", 4, 9, "invalid name 'Dev_Box': names are DNS labels"),
    ("model-listed-twice.yaml", 10, 13, "'Llama3:latest' is listed twice (first at line 8)"),
    ("two-fleets.yaml", 6, 7, "only one Fleet document is allowed"),
    ("endpoint-unknown-name.yaml", 8, 5, "list_models endpoint is now listModels"),
    ("endpoint-without-slash.yaml", 8, 11, "an endpoint path must start with '/'"),
    ("smoke-bad-regex.yaml", 10, 15, "spec.smoke[0].expect: invalid regular expression"),
    ("custom-fields-without-from.yaml", 9, 7, "system only applies to a custom model"),
    ("absent-model-kept-loaded.yaml", 10, 19, "an absent model cannot be kept loaded"),
    ("model-state-invalid.yaml", 9, 14, "must be one of 'present', 'absent', got 'removed'"),
    ("undefined-alias.yaml", 7, 11, "alias *common refers to no anchor"),
    ("unsupported-tag.yaml", 6, 8, "unsupported YAML tag '!env'"),
    ("header-name-invalid.yaml", 8, 5, "invalid header name 'X Client'"),
    ("selector-label-not-string.yaml", 6, 25, "matchLabels.gpus: expected a string"),
    ("fleet-parallelism-zero.yaml", 4, 16, "spec.parallelism: must be between 1 and 1000"),
    ("not-utf8.yaml", 4, 12, "not valid UTF-8 text (byte 0xe9)"),
    ("url-with-credentials.yaml", 6, 8, "the url carries credentials (user:password@)"),
    ("header-authorization-plain.yaml", 8, 20, "use spec.auth.bearerToken for a bearer token"),
    ("header-api-key-plain.yaml", 8, 18, "header x-api-key carries credentials"),
    ("same-server-twice.yaml", 15, 8, "same server as instance 'workstation' (same-server-"),
    ("notification-url-not-http.yaml", 5, 12, "the webhook url must be an http or https url"),
    ("notification-unknown-event.yaml", 6, 23, "events[1]: must be one of 'drift', 'failure'"),
    ("notification-receiver-names-clash.yaml", 6, 13, "receiver name 'receiver-1' is used twice"),
]


def test_every_invalid_manifest_has_a_row() -> None:
    on_disk = {path.name for path in INVALID.glob("*.yaml")}
    assert on_disk == {name for name, *_ in CASES}
    assert len(on_disk) >= 35


@pytest.mark.parametrize(
    ("name", "line", "column", "message"), CASES, ids=[case[0] for case in CASES]
)
def test_orc_validate_reports_the_error_at_its_line(
    name: str,
    line: int,
    column: int | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(INVALID)
    code = main(["validate", name])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    position = f"{name}:{line}:{column}:" if column is not None else f"{name}:{line}:"
    matching = [
        text for text in out.splitlines() if text.startswith(position) and ": error: " in text
    ]
    assert any(message in text for text in matching), out
    assert out.splitlines()[-1].endswith("in 1 file.")
