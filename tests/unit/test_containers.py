"""The one container declaration: values spelled the way the engine reports them, so refresh finds no drift."""

import pytest

from dap_components.containers import capability_args, context_hash, go_duration


@pytest.mark.parametrize("seconds,text", [
    (0, "0s"), (2, "2s"), (10, "10s"), (59, "59s"), (60, "1m0s"), (90, "1m30s"), (600, "10m0s"),
    (3600, "1h0m0s"), (3725, "1h2m5s"),
])
def test_durations_as_go_prints_them(seconds, text):
    # Docker's inspect reports nanoseconds; the provider reads them back through time.Duration.String()
    assert go_duration(seconds) == text


def test_capabilities_drop_all_and_add_back_in_the_engines_spelling():
    caps = capability_args(["setuid", "CHOWN", "CAP_SETGID", "chown"])
    assert caps.drops == ["ALL"]
    assert caps.adds == ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"]
    assert capability_args([]).adds == [] and capability_args(None) is None


def test_context_hash_follows_content_and_mode(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    first = context_hash(tmp_path)
    assert context_hash(tmp_path) == first
    (tmp_path / "Dockerfile").chmod(0o755)
    assert context_hash(tmp_path) != first
