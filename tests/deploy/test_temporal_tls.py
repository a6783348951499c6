"""The TLS and mTLS connection against a real Temporal server.

The dev server (`temporal server start-dev`, CLI 1.9.1) has no TLS flags, so the test puts a TLS
terminator in front of it: it presents a certificate for `temporal.test` signed by a CA made here,
requires a client certificate from that CA, and pipes the bytes to the dev server. The client gets
nothing but `connect_options(settings)`; it must verify the server through O2C_TEMPORAL_TLS_CA_PATH and
O2C_TEMPORAL_TLS_SERVER_NAME, and prove itself with O2C_TEMPORAL_TLS_CERT_PATH/KEY_PATH.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from deploy.ports import free_ports, port_open
from deploy.temporal_server import temporal_binary
from runtime.settings import Settings
from runtime.temporal import connect
from runtime.temporal_connection import connect_options

SERVER_NAME = "temporal.test"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, *, ca: bool = False,
           dns: str | None = None, usage: x509.ObjectIdentifier | None = None,
           ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (_name(subject), key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def make_pki(directory: Path) -> Pki:
    ca_cert, ca_key = _issue("o2c test CA", None, ca=True)
    ca_path, _ = _write(directory, "ca", ca_cert, ca_key)
    signer = (ca_cert.subject, ca_key)
    server = _write(directory, "server", *_issue(SERVER_NAME, signer, dns=SERVER_NAME,
                                                 usage=ExtendedKeyUsageOID.SERVER_AUTH))
    client = _write(directory, "client", *_issue("o2c-worker", signer, usage=ExtendedKeyUsageOID.CLIENT_AUTH))
    # Self-signed: a client certificate the terminator must not accept.
    stranger = _write(directory, "stranger", *_issue("stranger", None, usage=ExtendedKeyUsageOID.CLIENT_AUTH))
    return Pki(ca_path, *server, *client, *stranger)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port, http_port, metrics_port = free_ports(3)
    argv = [str(temporal_binary()), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
            "--http-port", str(http_port), "--metrics-port", str(metrics_port), "--log-level", "error"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=tmp_path_factory.mktemp("temporal"))
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert process.poll() is None, "the dev server exited"
            assert time.monotonic() < deadline, "the dev server did not listen within 60 s"
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        writer.close()


@contextlib.asynccontextmanager
async def tls_terminator(pki: Pki, upstream_port: int) -> AsyncIterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED  # mTLS: no client certificate from our CA, no connection
    context.set_alpn_protocols(["h2"])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_settings(port: int, pki: Pki, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "temporal_address": f"127.0.0.1:{port}",
        "temporal_tls_ca_path": str(pki.ca),
        "temporal_tls_server_name": SERVER_NAME,
        "temporal_tls_cert_path": str(pki.client_cert),
        "temporal_tls_key_path": str(pki.client_key),
    }
    return Settings.model_validate({**values, **overrides})


async def connects(settings: Settings) -> bool:
    try:
        client = await asyncio.wait_for(Client.connect(**connect_options(settings)), timeout=20)
    except (RuntimeError, TimeoutError):
        return False
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return bool(info.server_version)


async def test_mtls_with_the_ca_and_server_name_reaches_the_server(dev_server: int, pki: Pki) -> None:
    async with tls_terminator(pki, dev_server) as port:
        assert await connects(tls_settings(port, pki))


async def test_without_the_ca_the_server_is_not_trusted(dev_server: int, pki: Pki) -> None:
    async with tls_terminator(pki, dev_server) as port:
        assert not await connects(tls_settings(port, pki, temporal_tls_ca_path=None))


async def test_under_a_name_the_certificate_does_not_carry_the_server_is_not_trusted(
        dev_server: int, pki: Pki) -> None:
    async with tls_terminator(pki, dev_server) as port:
        assert not await connects(tls_settings(port, pki, temporal_tls_server_name="elsewhere.test"))


async def test_a_client_certificate_from_another_ca_is_turned_away(dev_server: int, pki: Pki) -> None:
    async with tls_terminator(pki, dev_server) as port:
        assert not await connects(tls_settings(port, pki, temporal_tls_cert_path=str(pki.stranger_cert),
                                               temporal_tls_key_path=str(pki.stranger_key)))


async def test_the_clients_o2c_builds_connect_through_tls(dev_server: int, pki: Pki) -> None:
    """`runtime.temporal.connect`, what the API, the worker and the tools call, gives the SDK these options."""
    async with tls_terminator(pki, dev_server) as port:
        client = await asyncio.wait_for(connect(tls_settings(port, pki)), timeout=20)
        assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version
