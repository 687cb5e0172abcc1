"""Rule webhooks against a real HTTP receiver on 127.0.0.1: Standard Webhooks
headers that the published `standardwebhooks` library verifies, one
`webhook-id` for every retry of a delivery (at-least-once: receivers dedupe
on it), secrets generated as whsec_ and older raw secrets still working,
the private-address check, and DNS rebinding refused: the connection goes
to the address that was checked, with the URL's name in the Host header,
in TLS SNI and in the certificate check (the resolver is faked at
`socket.getaddrinfo`, the system boundary)."""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests import factories
from tests.work.rules_data import evaluate, rule
from work.models import ActionRun, ActionStatus, FiringStatus
from work.rules.runner import action_runs_retry_due
from work.services.rules import rule_save

pytestmark = pytest.mark.django_db


def fire(account, key="event:1", payload=None):
    return evaluate(
        trigger="escalation_opened",
        account_id=account.pk,
        occurrence_key=key,
        payload=payload or {},
    )


def runs() -> list[ActionRun]:
    return list(ActionRun.objects.order_by("firing_id", "position"))


def webhook(url: str, secret: str = "") -> dict:
    return {"kind": "webhook", "config": {"url": url, "secret": secret}}


class Receiver:
    """A local HTTP server that answers 500 `failures` times, then 200, and
    verifies each delivery with the standardwebhooks library (when given a
    secret) the way a receiver would."""

    def __init__(self, failures: int = 0, secret: str | bytes | None = None):
        self.failures = failures
        self.secret = secret
        self.deliveries: list[tuple[dict, bytes]] = []
        self.verified: list[bool] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.deliveries.append((headers, body))
                if receiver.secret is not None:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        receiver.verified.append(True)
                    except WebhookVerificationError:
                        receiver.verified.append(False)
                status = 500 if len(receiver.deliveries) <= receiver.failures else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks/csp"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def private_receivers(settings):
    """The test receivers listen on 127.0.0.1, which production refuses."""
    settings.WEBHOOK_ALLOW_PRIVATE = True


def test_three_attempts_carry_one_webhook_id_and_verify_with_standardwebhooks(
    in_tenant, private_receivers
):
    with Receiver(failures=2) as receiver:
        r = rule(
            "escalation_opened",
            actions=[
                webhook(receiver.url),  # no secret: one is generated
                {"kind": "timeline_entry", "config": {"title": "after the webhook"}},
            ],
        )
        secret = r.new_secrets[0]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
        assert r.actions.get(kind="webhook").config["secret"] == secret
        receiver.secret = secret
        a = factories.account(external_id="crm-hook")
        [firing] = fire(a, "event:77", {"reason": "Outage"})
        hook = runs()[0]
        assert (hook.status, hook.attempts, hook.last_error) == (
            ActionStatus.RETRYING,
            1,
            "The receiver answered 500.",
        )
        assert runs()[1].status == ActionStatus.SUCCEEDED  # not blocked by the webhook
        for _ in range(2):
            hook.refresh_from_db()
            assert action_runs_retry_due(now=hook.next_attempt_at + timedelta(seconds=1)) == 1
        hook.refresh_from_db()
    assert len(receiver.deliveries) == 3
    assert receiver.verified == [True, True, True]
    # At-least-once: the same delivery three times, one id a receiver dedupes on.
    assert {h["webhook-id"] for h, _ in receiver.deliveries} == {f"rule-action-{hook.pk}"}
    bodies = {body for _, body in receiver.deliveries}
    assert len(bodies) == 1  # the same bytes every time
    data = json.loads(bodies.pop())
    assert data["id"] == f"rule-action-{hook.pk}"
    assert data["account"] == {"id": a.pk, "name": a.name, "external_id": "crm-hook"}
    assert (data["trigger"], data["occurrence"], data["payload"]) == (
        "escalation_opened",
        "event:77",
        {"reason": "Outage"},
    )
    assert all("x-csp-signature" not in h for h, _ in receiver.deliveries)
    assert (hook.status, hook.attempts, hook.result) == (ActionStatus.SUCCEEDED, 3, {"status": 200})
    firing.refresh_from_db()
    assert firing.status == FiringStatus.SUCCEEDED


def test_a_tampered_body_or_another_secret_does_not_verify(in_tenant, private_receivers):
    with Receiver() as receiver:
        rule("escalation_opened", actions=[webhook(receiver.url)])
        fire(factories.account())
    [(headers, body)] = receiver.deliveries
    with pytest.raises(WebhookVerificationError):
        Webhook(base64.b64encode(b"x" * 32).decode()).verify(body, headers)
    secret = runs()[0].config["secret"]
    Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"escalation", b"Escalation"), headers)


def test_a_secret_saved_before_whsec_keeps_signing(in_tenant, private_receivers):
    raw = "s3cret-for-tests"
    with Receiver(secret=raw.encode()) as receiver:
        r = rule("escalation_opened", actions=[webhook(receiver.url, raw)])
        assert r.new_secrets == {}
        fire(factories.account())
    [(headers, body)] = receiver.deliveries
    assert receiver.verified == [True]  # its bytes are the key ...
    Webhook(base64.b64encode(raw.encode()).decode()).verify(body, headers)  # ... in any library
    # ... and its receivers' old check still holds.
    legacy = "sha256=" + hmac.new(raw.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-csp-signature"] == legacy


def test_a_saved_secret_is_kept_and_a_new_one_generated_only_once(in_tenant):
    r = rule("escalation_opened", actions=[webhook("https://hooks.test/a", "first-secret")])
    rule_save(rule=r, name=r.name, trigger=r.trigger, actions=[webhook("https://hooks.test/b")])
    assert r.actions.get().config == {"url": "https://hooks.test/b", "secret": "first-secret"}
    assert r.new_secrets == {}

    fresh = rule("escalation_opened", actions=[webhook("https://hooks.test/c")])
    generated = fresh.new_secrets[0]
    rule_save(
        rule=fresh,
        name=fresh.name,
        trigger=fresh.trigger,
        actions=[webhook("https://hooks.test/c")],
    )
    assert fresh.actions.get().config["secret"] == generated
    assert fresh.new_secrets == {}


@pytest.mark.parametrize(
    "secret",
    ["short", "whsec_not*base64", "whsec_" + base64.b64encode(b"8 bytes!").decode()],
)
def test_a_secret_that_cannot_sign_is_refused(in_tenant, secret):
    with pytest.raises(ValidationError) as raised:
        rule("escalation_opened", actions=[webhook("https://hooks.test/a", secret)])
    assert "actions.0.config.secret" in raised.value.message_dict


def test_an_unreachable_webhook_is_retried(in_tenant, private_receivers):
    with Receiver() as receiver:
        url = receiver.url
    # the server is gone now: connection refused
    rule("escalation_opened", actions=[webhook(url, "12345678")])
    fire(factories.account())
    run = runs()[0]
    assert run.status == ActionStatus.RETRYING
    assert run.last_error.startswith("Could not deliver")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
    ],
)
def test_a_webhook_to_a_private_address_is_refused_without_a_request(in_tenant, url):
    rule("escalation_opened", actions=[webhook(url, "12345678")])
    fire(factories.account())
    run = runs()[0]
    assert run.status == ActionStatus.FAILED  # not retried: a retry cannot fix it
    assert "private or reserved network" in run.last_error
    assert run.attempts == 1


# -- DNS rebinding ------------------------------------------------------------------
PUBLIC = "93.184.215.14"  # a global address; never reached (see `resolver`)


@pytest.fixture
def resolver(monkeypatch):
    """Names of the test answer from `answers[name]`, one list per lookup, the
    last one repeated; numeric lookups of PUBLIC fail as a network with no
    route there would, so no packet leaves the machine. Counts lookups."""
    real = socket.getaddrinfo
    answers: dict[str, list[str]] = {}
    lookups: dict[str, int] = {}

    def fake(host, port, *args, **kwargs):
        if host in answers:
            n = lookups[host] = lookups.get(host, 0) + 1
            address = answers[host][min(n, len(answers[host])) - 1]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        if host == PUBLIC:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers, lookups


def test_a_host_that_resolves_privately_the_second_time_is_never_posted_to(
    in_tenant, resolver, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    answers, lookups = resolver
    with Receiver() as receiver:
        # Public when checked, the receiver on 127.0.0.1 when asked again.
        answers["hooks.rebind.test"] = [PUBLIC, "127.0.0.1"]
        rule(
            "escalation_opened",
            actions=[webhook(f"http://hooks.rebind.test:{receiver.port}/h", "12345678")],
        )
        fire(factories.account())
    assert receiver.deliveries == []
    assert lookups["hooks.rebind.test"] == 1  # resolved once; the checked address was dialled
    run = runs()[0]
    assert run.status == ActionStatus.RETRYING
    assert run.last_error.startswith("Could not deliver")


def test_the_checked_address_is_dialled_with_the_host_name_in_the_host_header(
    in_tenant, resolver, private_receivers
):
    answers, lookups = resolver
    with Receiver() as receiver:
        answers["hooks.pinned.test"] = ["127.0.0.1", "10.255.255.1"]
        url = f"http://hooks.pinned.test:{receiver.port}/hooks/csp?team=7"
        rule("escalation_opened", actions=[webhook(url, "12345678")])
        fire(factories.account())
    [(headers, _body)] = receiver.deliveries
    assert headers["host"] == f"hooks.pinned.test:{receiver.port}"
    assert lookups["hooks.pinned.test"] == 1
    assert runs()[0].status == ActionStatus.SUCCEEDED


# -- TLS to the checked address: SNI and the certificate check use the name ------
def _certificate(tmp_path, name: str):
    """A CA and a server certificate for `name`, made for the test."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def make(subject, issuer, key, signer, *, ca, san=None):
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = make("Test CA", "Test CA", ca_key, ca_key, ca=True)
    cert = make(name, "Test CA", key, ca_key, ca=False, san=name)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(
        cert.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tmp_path / "ca.pem", tmp_path / "server.pem"


@pytest.mark.parametrize("certified", ["hooks.tls.test", "someone-else.test"])
def test_tls_goes_to_the_checked_address_with_the_name_in_sni_and_the_certificate_check(
    in_tenant, resolver, private_receivers, tmp_path, monkeypatch, certified
):
    import ssl

    ca_file, server_file = _certificate(tmp_path, certified)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # trust the test CA only
    answers, lookups = resolver
    answers["hooks.tls.test"] = ["127.0.0.1", "10.255.255.1"]
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_file)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with Receiver() as receiver:
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        url = f"https://hooks.tls.test:{receiver.port}/hooks/csp"
        rule("escalation_opened", actions=[webhook(url, "12345678")])
        fire(factories.account())
    assert names and set(names) == {"hooks.tls.test"}
    assert lookups["hooks.tls.test"] == 1
    run = runs()[0]
    if certified == "hooks.tls.test":
        [(headers, _body)] = receiver.deliveries
        assert headers["host"] == f"hooks.tls.test:{receiver.port}"
        assert run.status == ActionStatus.SUCCEEDED
    else:  # the certificate is checked against the URL's name, not the address
        assert receiver.deliveries == []
        assert run.status == ActionStatus.RETRYING
        assert "doesn't match" in run.last_error
