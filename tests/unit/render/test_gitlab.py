"""render/gitlab.py: gitlab.rb for Omnibus behind the proxy; its Ruby string literals parsed back."""

import re

import pytest

from dap_components.render import SECRETS_DIR
from dap_components.render.gitlab import REGISTRY_PORT, ROOT_PASSWORD_FILE, render_gitlab_rb

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
