"""One version per component: the pip SDKs equal the CLI, language host and plugins toolchain/build.sh builds,
so no plugin is registered under another version's name."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def versions_env() -> dict[str, str]:
    pairs = re.findall(r"^([A-Z_]+)=([^\s#]+)$", (ROOT / "toolchain" / "versions.env").read_text(), re.M)
    return dict(pairs)


def pins() -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9-]+)==([^\s#]+)$", (ROOT / "requirements.txt").read_text(), re.M))


def test_sdk_pins_equal_the_built_versions():
    env, pin = versions_env(), pins()
    assert pin["pulumi"] == env["PULUMI_VERSION"]
    assert env["PULUMI_PKG_MODULE_VERSION"] == env["PULUMI_SDK_MODULE_VERSION"] == "v" + env["PULUMI_VERSION"]
    for name in ("docker", "command", "tls", "random"):
        assert pin[f"pulumi-{name}"] == env[f"{name.upper()}_PROVIDER_VERSION"], name


def test_every_bundle_the_build_reads_is_listed_in_the_checksums():
    env = versions_env()
    sums = ROOT.parent / "shared" / "upstream-src" / "SHA256SUMS"
    if not sums.exists():  # the bundles live outside the repository; DAP_UPSTREAM_SRC may point elsewhere
        return
    listed = set(re.findall(r"\s(\S+)\.tar\.gz$", sums.read_text(), re.M))
    wanted = {f"pulumi-language-python-{env['PULUMI_VERSION']}", "pulumi-bridge-imports"} | {
        f"pulumi-{n}-{env[f'{n.upper()}_PROVIDER_VERSION']}" for n in ("docker", "command", "tls", "random")
    }
    assert wanted <= listed, wanted - listed
