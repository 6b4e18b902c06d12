"""One certificate authority per stack, and leaf certificates issued from it (pulumi-tls).

With ``tls.mode: provided`` the proxies serve the user's certificate instead; the stack CA still
issues the internal certificates (PostgreSQL), so clients of the TCP streams trust the stack CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_tls as tls

from .config import TlsConfig
from .rotation import rotating

CA_USES = ["cert_signing", "crl_signing", "digital_signature"]
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
CA_VALIDITY_HOURS = 10 * 365 * 24


@dataclass(frozen=True)
class CertBundle:
    """PEM material handed to a server: its certificate (with chain), key and the CA to trust."""

    fullchain_pem: pulumi.Output[str]  # leaf first, then the chain up to the CA
    key_pem: pulumi.Output[str]  # secret
    ca_pem: pulumi.Output[str]


class StackPki:
    """The stack CA (ECDSA P-256) and a factory for leaf certificates."""

    def __init__(self, name: str, domain: str, tls_cfg: TlsConfig, opts: Optional[pulumi.ResourceOptions] = None, rotation: int = 0):
        self._name = name
        self._rotation = rotation  # leaf keys only: the CA stays across rotations
        self._domain = domain
        self._tls_cfg = tls_cfg
        self._opts = opts or pulumi.ResourceOptions()
        self.ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=self._opts)
        self.ca_cert = tls.SelfSignedCert(
            f"{name}-ca-cert",
            private_key_pem=self.ca_key.private_key_pem,
            is_ca_certificate=True,
            set_subject_key_id=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=CA_USES,
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"{domain} platform CA", organization="Data Analysis Platform"
            ),
            opts=self._opts,
        )
        self.ca_pem: pulumi.Output[str] = self.ca_cert.cert_pem

    def issue(self, role: str, dns_names: Sequence[str], opts: Optional[pulumi.ResourceOptions] = None) -> CertBundle:
        """A server certificate for ``dns_names`` signed by the stack CA."""
        opts = opts or self._opts
        key = tls.PrivateKey(f"{role}-tls-key", algorithm="ECDSA", ecdsa_curve="P256", opts=rotating(self._rotation, opts))
        csr = tls.CertRequest(
            f"{role}-tls-csr",
            private_key_pem=key.private_key_pem,
            dns_names=list(dns_names),
            subject=tls.CertRequestSubjectArgs(common_name=dns_names[0], organization="Data Analysis Platform"),
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{role}-tls-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_private_key_pem=self.ca_key.private_key_pem,
            ca_cert_pem=self.ca_cert.cert_pem,
            validity_period_hours=self._tls_cfg.validity_days * 24,
            allowed_uses=SERVER_USES,
            opts=opts,
        )
        return CertBundle(
            fullchain_pem=pulumi.Output.concat(cert.cert_pem, self.ca_pem),
            key_pem=pulumi.Output.secret(key.private_key_pem),
            ca_pem=self.ca_pem,
        )

    def proxy_bundle(self, role: str, dns_names: Sequence[str], opts: Optional[pulumi.ResourceOptions] = None) -> CertBundle:
        """What a proxy serves: an issued leaf, or the user's certificate in ``provided`` mode."""
        if self._tls_cfg.mode == "provided":
            cfg = self._tls_cfg
            assert cfg.certificate is not None and cfg.private_key is not None  # guaranteed by TlsConfig
            return CertBundle(
                fullchain_pem=pulumi.Output.from_input(cfg.certificate),
                key_pem=pulumi.Output.secret(cfg.private_key.get_secret_value()),
                ca_pem=pulumi.Output.from_input(cfg.ca_certificate or cfg.certificate),
            )
        return self.issue(role, dns_names, opts)

    @property
    def public_ca_pem(self) -> pulumi.Output[str]:
        """The CA clients need to trust the proxies."""
        if self._tls_cfg.mode == "provided":
            return pulumi.Output.from_input(self._tls_cfg.ca_certificate or self._tls_cfg.certificate or "")
        return self.ca_pem
