"""pki.py: one stack CA, leaf certificates for the names asked, each signed by that CA; the user's certificate on
the proxies in ``provided`` mode."""

import pulumi
import pytest

from tests.conftest import SECRET_MARK, leaks
from tests.unit.helpers import TWO_HOSTS, is_secret, mock_pem, upload

from dap_components.config import load_config
from dap_components.pki import CA_USES, CA_VALIDITY_HOURS, SERVER_USES, StackPki
from dap_components.render import nginx

DOMAIN = "dap.example.test"
USER_CERT = "-----BEGIN CERTIFICATE-----\nUSERCERT\n-----END CERTIFICATE-----\n"
USER_CA = "-----BEGIN CERTIFICATE-----\nUSERCA\n-----END CERTIFICATE-----\n"
USER_KEY = f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARK}-user\n-----END PRIVATE KEY-----\n"
LEAF = "tls:index/locallySignedCert:LocallySignedCert"
CA = "tls:index/selfSignedCert:SelfSignedCert"


def tls_cfg(**tls):
    return load_config({"domain": DOMAIN, **({"tls": tls} if tls else {})}).tls


def test_the_stack_ca(program):
    run = program(lambda: {"ca": StackPki("stack", DOMAIN, tls_cfg()).ca_pem})
    (ca,) = run.of_type(CA)
    assert ca.name == "stack-ca-cert"
    assert ca.inputs["isCaCertificate"] is True and ca.inputs["setSubjectKeyId"] is True
    assert ca.inputs["allowedUses"] == CA_USES and "server_auth" not in ca.inputs["allowedUses"]
    assert ca.inputs["validityPeriodHours"] == CA_VALIDITY_HOURS == 10 * 365 * 24
    assert ca.inputs["subject"]["commonName"] == f"{DOMAIN} platform CA"
    key = run.named("stack-ca-key")
    assert (key.inputs["algorithm"], key.inputs["ecdsaCurve"]) == ("ECDSA", "P256")
    assert ca.inputs["privateKeyPem"] == mock_pem("key", "stack-ca-key") and is_secret(ca.raw["privateKeyPem"])
    assert run.outputs["ca"] == (mock_pem("cert", "stack-ca-cert"), False)  # a certificate: not secret


def test_a_leaf_for_the_names_asked_signed_by_the_stack_ca(program):
    def fn():
        pki = StackPki("stack", DOMAIN, tls_cfg(validityDays=30))
        b = pki.issue("svc-pg", [f"pg.{DOMAIN}", "pg", "dap-t-pg"])
        return {"fullchain": b.fullchain_pem, "key": b.key_pem, "ca": b.ca_pem}

    run = program(fn)
    csr = run.named("svc-pg-tls-csr")
    assert csr.inputs["dnsNames"] == [f"pg.{DOMAIN}", "pg", "dap-t-pg"]
    assert csr.inputs["subject"]["commonName"] == f"pg.{DOMAIN}"  # the first name
    # the leaf's own key (not the CA's) is in its request
    assert csr.inputs["privateKeyPem"] == mock_pem("key", "svc-pg-tls-key") != mock_pem("key", "stack-ca-key")
    leaf = run.named("svc-pg-tls-cert")
    assert leaf.inputs["certRequestPem"] == mock_pem("csr", "svc-pg-tls-csr")
    assert leaf.inputs["caCertPem"] == mock_pem("cert", "stack-ca-cert")
    assert leaf.inputs["caPrivateKeyPem"] == mock_pem("key", "stack-ca-key") and is_secret(leaf.raw["caPrivateKeyPem"])
    assert leaf.inputs["allowedUses"] == SERVER_USES and "cert_signing" not in SERVER_USES
    assert leaf.inputs["validityPeriodHours"] == 30 * 24
    # the bundle: leaf then CA; the key secret
    assert run.outputs["fullchain"] == (mock_pem("cert", "svc-pg-tls-cert") + mock_pem("cert", "stack-ca-cert"), False)
    assert run.outputs["key"] == (mock_pem("key", "svc-pg-tls-key"), True)
    assert run.outputs["ca"] == (mock_pem("cert", "stack-ca-cert"), False)
    assert {r.name: leaks(r.raw) for r in run.resources if leaks(r.raw)} == {}


def test_many_leaves_one_ca(program):
    def fn():
        pki = StackPki("stack", DOMAIN, tls_cfg())
        pki.issue("a", ["a.x"])
        pki.issue("b", ["b.x"])
        pki.proxy_bundle("proxy", ["gitlab.x", "mlflow.x"])

    run = program(fn)
    assert [r.name for r in run.of_type(CA)] == ["stack-ca-cert"]
    leaves = run.of_type(LEAF)
    assert sorted(r.name for r in leaves) == ["a-tls-cert", "b-tls-cert", "proxy-tls-cert"]
    assert {r.inputs["caCertPem"] for r in leaves} == {mock_pem("cert", "stack-ca-cert")}
    keys = [r.inputs["privateKeyPem"] for r in run.of_type("tls:index/certRequest:CertRequest")]
    assert len(set(keys)) == 3  # one key per leaf
    assert run.named("proxy-tls-csr").inputs["dnsNames"] == ["gitlab.x", "mlflow.x"]


def test_leaves_are_children_of_the_options_given(program):
    def fn():
        parent = pulumi.ComponentResource("test:index:Owner", "owner", {}, None)
        pki = StackPki("stack", DOMAIN, tls_cfg())
        pki.issue("mine", ["m.x"], pulumi.ResourceOptions(parent=parent))

    run = program(fn)
    assert {run.named(f"mine-tls-{k}").parent_name for k in ("key", "csr", "cert")} == {"owner"}
    assert run.named("stack-ca-cert").parent_name == "data-analysis-platform-dev"  # the stack


@pytest.mark.parametrize("ca_certificate,trusted", [(None, USER_CERT), (USER_CA, USER_CA)])
def test_provided_mode_hands_the_users_certificate_to_proxies(program, ca_certificate, trusted):
    tls = {"mode": "provided", "certificate": USER_CERT, "privateKey": USER_KEY}
    if ca_certificate:
        tls["caCertificate"] = ca_certificate

    def fn():
        pki = StackPki("stack", DOMAIN, tls_cfg(**tls))
        b = pki.proxy_bundle("proxy", [f"gitlab.{DOMAIN}"])
        internal = pki.issue("pg", ["pg"])
        return {"fullchain": b.fullchain_pem, "key": b.key_pem, "ca": b.ca_pem, "public": pki.public_ca_pem,
                "internal_ca": pki.ca_pem, "pg_ca": internal.ca_pem}

    run = program(fn)
    assert run.outputs["fullchain"] == (USER_CERT, False)
    assert run.outputs["key"] == (USER_KEY, True)
    assert run.outputs["ca"] == run.outputs["public"] == (trusted, False)
    # no leaf for the proxy; internal certificates still come from the stack CA
    assert not [r for r in run.resources if r.name.startswith("proxy-tls")]
    assert run.outputs["internal_ca"] == run.outputs["pg_ca"] == (mock_pem("cert", "stack-ca-cert"), False)


def test_self_signed_mode_clients_trust_the_stack_ca(program):
    def fn():
        pki = StackPki("stack", DOMAIN, tls_cfg())
        return {"public": pki.public_ca_pem, "bundle_ca": pki.proxy_bundle("proxy", ["a.x"]).ca_pem}

    run = program(fn)
    assert run.outputs["public"] == run.outputs["bundle_ca"] == (mock_pem("cert", "stack-ca-cert"), False)


def test_every_leaf_of_the_platform_is_signed_by_the_one_stack_ca(deployed):
    d = deployed(**TWO_HOSTS)
    assert [r.name for r in d.of_type(CA)] == ["stack-ca-cert"]
    leaves = {r.name: r for r in d.of_type(LEAF)}
    assert set(leaves) == {"service-postgres-service-tls-cert", "service-postgres-data-tls-cert",
                           "service-proxy-tls-cert", "proxy-ci-192-0-2-20-tls-cert"}
    assert {r.inputs["caCertPem"] for r in leaves.values()} == {d.outputs["internalCaCertificate"][0]}
    # in self-signed mode the CA clients trust is that same CA
    assert d.outputs["caCertificate"] == d.outputs["internalCaCertificate"]


def test_provided_tls_mode_serves_the_users_certificate(deploy):
    cert = "-----BEGIN CERTIFICATE-----\nUSERCERT\n-----END CERTIFICATE-----\n"
    d = deploy(runnerCount=0, tls={"mode": "provided", "certificate": cert, "privateKey": "-----BEGIN PRIVATE KEY-----\nmocksecret-user\n-----END PRIVATE KEY-----\n"})
    proxy = d.containers()["dap-dev-proxy"]
    assert upload(proxy, nginx.CERTIFICATE)["content"] == cert
    assert not [r for r in d.resources if r.name == "service-proxy-tls-csr"]
    assert d.named("stack-ca-cert")  # PostgreSQL certificates still come from the stack CA
