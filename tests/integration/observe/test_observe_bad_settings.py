"""An instance whose own settings cannot work (a header that cannot be sent, a token with a
control character, a CA file that is not a certificate) is blocked alone; the others go on, and
the secret never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.observed import Health
from reconciler.plan import plan


@pytest.mark.parametrize(
    ("spec", "reason", "words"),
    [
        ('headers: {X-Team: "équipe"}', "InvalidSettings", "cannot be sent"),
        ("auth: {bearerToken: {env: NUL_TOKEN}}", "InvalidSettings", "cannot be sent"),
        ("tls: {caFile: not-a-cert.pem}", "TLSError", "not-a-cert.pem"),
    ],
    ids=["non-ascii-header", "control-char-token", "bad-ca-file"],
)
async def test_bad_settings_block_one_instance_only(
    world, tmp_path: Path, spec: str, reason: str, words: str
) -> None:
    world.instance("good", models=["llama3.2:3b"])
    world.instance("bad", models=["llama3.2:3b"], sim=False, url="https://127.0.0.1:9", spec=spec)
    world.folder.joinpath("not-a-cert.pem").write_text("hello, not a certificate\n")

    observed = await world.observe(env={"NUL_TOKEN": "LEAK\x00TOKEN"})

    assert observed.instances["good"].health is Health.HEALTHY
    bad = observed.instances["bad"]
    assert bad.reason == reason
    assert words in bad.message
    assert "LEAK" not in bad.message
    made = plan(world.desired(), observed)
    assert made.instances[0].blocked is not None
    assert made.instances[0].blocked.reason == reason
