"""render/gitlab.py: gitlab.rb for Omnibus behind the proxy; its Ruby string literals parsed back."""

import re
import subprocess

import pytest

from dap_components.render import SECRETS_DIR
from dap_components.render.gitlab import (
    REGISTRY_PORT,
    ROOT_PASSWORD_FILE,
    SET_CI_VARIABLES_SCRIPT,
    delete_ci_variables_script,
    render_ci_variables_input,
    render_gitlab_rb,
)

URL, REGISTRY = "https://gitlab.dap.example.test", "https://registry.dap.example.test"


def ruby_single_quoted(text):
    """Read one Ruby '...' literal at the start of ``text``: returns (value, rest). In single quotes Ruby knows
    two escapes only, \\\\ and \\'."""
    assert text[0] == "'", text
    out, i = [], 1
    while True:
        ch = text[i]
        if ch == "\\" and text[i + 1] in "\\'":
            out.append(text[i + 1])
            i += 2
        elif ch == "'":
            return "".join(out), text[i + 1:]
        else:
            out.append(ch)
            i += 1


def setting(rb, key):
    """The Ruby expression assigned to ``key`` (``external_url`` or ``nginx['listen_port']``)."""
    m = re.search(rf"^{re.escape(key)}(?: = | )(.*)$", rb, re.M)
    assert m, key
    return m.group(1)


def string_list(expr):
    assert expr.startswith("[") and expr.endswith("]"), expr
    body, items = expr[1:-1], []
    while body:
        value, body = ruby_single_quoted(body)
        items.append(value)
        body = body.removeprefix(", ")
    return items


def test_urls_ports_and_registry():
    rb = render_gitlab_rb(URL, REGISTRY, 2222, ["172.30.5.0/24"])
    assert ruby_single_quoted(setting(rb, "external_url")) == (URL, "")
    assert ruby_single_quoted(setting(rb, "registry_external_url")) == (REGISTRY, "")
    assert setting(rb, "gitlab_rails['gitlab_shell_ssh_port']") == "2222"
    assert setting(rb, "registry_nginx['listen_port']") == str(REGISTRY_PORT) == "5050"
    # TLS ends at the proxy: plain HTTP inside, no Let's Encrypt
    assert setting(rb, "nginx['listen_port']") == "80"
    assert setting(rb, "nginx['listen_https']") == "false" and setting(rb, "registry_nginx['listen_https']") == "false"
    assert setting(rb, "letsencrypt['enable']") == "false"


def test_trusted_proxies_everywhere_gitlab_takes_them():
    cidrs = ["172.30.5.0/24", "172.30.6.0/24"]
    rb = render_gitlab_rb(URL, REGISTRY, 2222, cidrs)
    for key in ("nginx['real_ip_trusted_addresses']", "gitlab_rails['trusted_proxies']", "registry_nginx['real_ip_trusted_addresses']"):
        assert string_list(setting(rb, key)) == cidrs, key
    assert string_list(setting(render_gitlab_rb(URL, REGISTRY, 2222, []), "gitlab_rails['trusted_proxies']")) == []


def test_root_password_is_read_from_its_file_never_written():
    rb = render_gitlab_rb(URL, REGISTRY, 2222, [])
    expr = setting(rb, "gitlab_rails['initial_root_password']")
    assert expr.startswith("File.read(") and expr.endswith(").strip")
    assert ruby_single_quoted(expr.removeprefix("File.read("))[0] == ROOT_PASSWORD_FILE
    assert ROOT_PASSWORD_FILE == f"{SECRETS_DIR}/gitlab_root_password"
    assert "mocksecret" not in rb and "password'] = '" not in rb


@pytest.mark.parametrize("url", ["https://it's.example.test", "https://back\\slash.example.test", "https://x'; system('id'); '"])
def test_quotes_cannot_end_the_literal(url):
    rb = render_gitlab_rb(url, REGISTRY, 2222, [f"10.0.0.0/8'{url}"])
    assert ruby_single_quoted(setting(rb, "external_url")) == (url, "")
    assert string_list(setting(rb, "gitlab_rails['trusted_proxies']")) == [f"10.0.0.0/8'{url}"]


def test_ssh_port_must_be_a_number():
    with pytest.raises((TypeError, ValueError)):
        render_gitlab_rb(URL, REGISTRY, "2222; system('id')", [])  # type: ignore[arg-type]


def test_forwarded_headers_say_https():
    rb = render_gitlab_rb(URL, REGISTRY, 2222, [])
    for key in ("nginx['proxy_set_headers']", "registry_nginx['proxy_set_headers']"):
        assert setting(rb, key) == "{ 'X-Forwarded-Proto' => 'https', 'X-Forwarded-Ssl' => 'on' }", key


FAKE_CURL = """#!/bin/sh
# records its arguments and stdin; PUT to .../NEW_KEY answers 404 (not there yet), everything else 200/201
log="$FAKE_CURL_LOG"
printf 'ARGS %s\\n' "$*" >> "$log"
printf 'STDIN %s\\n' "$(cat)" >> "$log"
case "$*" in
  *"-X PUT"*NEW_KEY*) printf 404 ;;
  *"-X POST"*) printf 201 ;;
  *) printf 200 ;;
esac
"""


def run_ci_variables_script(tmp_path, variables, token="glpat-t0ken", curl=FAKE_CURL):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(curl)
    (bin_dir / "curl").chmod(0o755)
    log = tmp_path / "curl.log"
    log.touch()
    res = subprocess.run(
        ["sh", "-c", SET_CI_VARIABLES_SCRIPT], input=render_ci_variables_input(token, variables), capture_output=True,
        text=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_CURL_LOG": str(log)},
    )
    return res, log.read_text()


def test_ci_variables_are_updated_or_created_with_values_off_the_command_line(tmp_path):
    secret = "s3cr3t-Value_0123456789"
    res, log = run_ci_variables_script(tmp_path, [("OLD_KEY", secret, True), ("NEW_KEY", "dap-offline/dev-python:1.0.0", False)])
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["instance variable OLD_KEY set", "instance variable NEW_KEY set"]
    calls = [line[5:] for line in log.splitlines() if line.startswith("ARGS ")]
    stdins = [line[6:] for line in log.splitlines() if line.startswith("STDIN ")]
    # OLD_KEY: updated in place; NEW_KEY: PUT says 404, so it is created
    assert "-X PUT" in calls[0] and calls[0].endswith("/api/v4/admin/ci/variables/OLD_KEY") and "masked=true" in calls[0]
    assert "-X PUT" in calls[1] and calls[1].endswith("/NEW_KEY")
    assert "-X POST" in calls[2] and "key=NEW_KEY" in calls[2] and "masked=false" in calls[2]
    assert len(calls) == 3 and all("value@-" in c and "raw=true" in c and "protected=false" in c for c in calls)
    # values travel on curl's stdin only, never among its arguments, and nothing prints them
    assert stdins == [secret, "dap-offline/dev-python:1.0.0", "dap-offline/dev-python:1.0.0"]
    assert not any(secret in c for c in calls) and secret not in res.stdout + res.stderr


def test_a_refused_variable_fails_the_step(tmp_path):
    refusing = FAKE_CURL.replace("*) printf 200 ;;", "*) printf 400 ;;")
    res, _ = run_ci_variables_script(tmp_path, [("SOME_KEY", "value-1234", True)], curl=refusing)
    assert res.returncode == 1 and "SOME_KEY: HTTP 400" in res.stderr


@pytest.mark.parametrize("key,value", [("HAS SPACE", "v"), ("K", "two words"), ("K", ""), ("K-DASH", "v")])
def test_ci_variable_input_refuses_what_the_line_format_cannot_carry(key, value):
    with pytest.raises(ValueError, match="CI variable"):
        render_ci_variables_input("t", [(key, value, False)])


def test_delete_script_removes_each_key_and_accepts_already_gone():
    script = delete_ci_variables_script(["A_KEY", "B_KEY"])
    assert script.count("-X DELETE") == 2 and "/admin/ci/variables/A_KEY" in script and "(204|404)" in script
    assert script.startswith("set -u\nread -r token\n")
