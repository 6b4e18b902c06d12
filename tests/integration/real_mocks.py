"""Mocks that compute what pulumi-random and pulumi-tls really compute (random secrets, bcrypt hashes,
ECDSA/Ed25519 keys, a CA, CSRs and CA-signed certificates), so the program's rendered files can be handed to
real software. Everything else behaves as in tests/conftest.py."""

from __future__ import annotations

import crypt
import datetime as dt
import secrets
import string
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import PlatformMocks, unwrap

PEM = serialization.Encoding.PEM


def random_password(inputs: dict[str, Any]) -> str:
    length = int(inputs.get("length", 16))
    classes = []
    if inputs.get("lower", True):
        classes.append((string.ascii_lowercase, int(inputs.get("minLower", 0))))
    if inputs.get("upper", True):
        classes.append((string.ascii_uppercase, int(inputs.get("minUpper", 0))))
    if inputs.get("numeric", True):
        classes.append((string.digits, int(inputs.get("minNumeric", 0))))
    if inputs.get("special", True):
        classes.append((inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?", int(inputs.get("minSpecial", 0))))
    chars = [secrets.choice(alphabet) for alphabet, minimum in classes for _ in range(minimum)]
    pool = "".join(a for a, _ in classes)
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def name_of(subject: dict[str, Any] | None) -> x509.Name:
    subject = subject or {}
    attrs = []
    if subject.get("organization"):
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject["organization"]))
    if subject.get("commonName"):
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, subject["commonName"]))
    return x509.Name(attrs)


class RealCryptoMocks(PlatformMocks):
    def __init__(self) -> None:
        self.secret_values: dict[str, str] = {}  # RandomPassword name -> result, for tests that act as the admin

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        typ = args.typ
        inputs = unwrap(dict(args.inputs))
        if typ == "random:index/randomPassword:RandomPassword":
            value = random_password(inputs)
            self.secret_values[args.name] = value
            out = {**inputs, "result": pulumi.Output.secret(value),
                   "bcryptHash": pulumi.Output.secret(crypt.crypt(value, crypt.mksalt(crypt.METHOD_BLOWFISH)))}
            return f"{args.name}_id", out
        if typ == "tls:index/privateKey:PrivateKey":
            key = ed25519.Ed25519PrivateKey.generate() if inputs.get("algorithm") == "ED25519" else ec.generate_private_key(ec.SECP256R1())
            pkcs8 = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
            openssh = key.private_bytes(PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
            pub = key.public_key()
            out = {
                **inputs,
                "privateKeyPem": pulumi.Output.secret(pkcs8),
                "privateKeyPemPkcs8": pulumi.Output.secret(pkcs8),
                "privateKeyOpenssh": pulumi.Output.secret(openssh),
                "publicKeyPem": pub.public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
                "publicKeyOpenssh": pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() + "\n",
            }
            return f"{args.name}_id", out
        if typ == "tls:index/certRequest:CertRequest":
            key = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), None)
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(name_of(inputs.get("subject")))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in inputs.get("dnsNames", [])]), critical=False)
                .sign(key, hashes.SHA256())
            )
            return f"{args.name}_id", {**inputs, "certRequestPem": csr.public_bytes(PEM).decode()}
        if typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            now = dt.datetime.now(dt.timezone.utc)
            hours = int(inputs.get("validityPeriodHours", 24))
            if typ.endswith("SelfSignedCert"):
                key = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), None)
                subject = issuer = name_of(inputs.get("subject"))
                public_key, signer, sans = key.public_key(), key, []
            else:
                csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
                ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
                signer = serialization.load_pem_private_key(inputs["caPrivateKeyPem"].encode(), None)
                subject, issuer, public_key = csr.subject, ca_cert.subject, csr.public_key()
                sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
            is_ca = bool(inputs.get("isCaCertificate"))
            b = (
                x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(hours=hours))
                .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            )
            if is_ca:
                b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            else:
                b = b.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
                b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            cert = b.sign(signer, hashes.SHA256())
            return f"{args.name}_id", {**inputs, "certPem": cert.public_bytes(PEM).decode()}
        return super().new_resource(args)
