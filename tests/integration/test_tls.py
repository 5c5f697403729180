"""TLS verification through real ansible-playbook runs against the Graph emulator.

The emulator's certificate is signed by its own CA, which only ``ca_path`` names. Every run sets
REQUESTS_CA_BUNDLE to another valid CA bundle (a freshly generated, unrelated CA): requests would use it instead of
``Session.verify``, so the tests show that ``ca_path`` (and ``validate_certs``) reach every request the modules make:
the token endpoint, the managed identity endpoint and Graph.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INFO_MODULE = "msgraph.intune.device_management_partner_info"
PARTNERS_PATH = "/v1.0/deviceManagement/deviceManagementPartners"


@pytest.fixture(scope="module")
def unrelated_ca(tmp_path_factory):
    """A valid CA bundle that did not sign the emulator's certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msgraph.intune tests unrelated CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("unrelated-ca") / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def status_of(run, task_name):
    entries = run.results_of(task_name)
    assert entries, f"no result for task {task_name!r}"
    return entries[-1]["status"]


def info_task(name, options, environment=None):
    task = {"name": name, INFO_MODULE: options, "ignore_errors": True}
    if environment:
        task["environment"] = environment
    return task


def test_ca_path_and_validate_certs_reach_every_endpoint(
    emulator, run_playbook, execution_path, unrelated_ca, tmp_path
):
    info = emulator.info
    tenant = info["tenants"][0]
    secret_login = {
        "tenant_id": tenant["tenant_id"],
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "graph_endpoint": info["graph_endpoint"],
        "authority_host": info["authority_host"],
    }
    managed = {"auth_method": "managed_identity", "graph_endpoint": info["graph_endpoint"]}
    app_service = {
        "IDENTITY_ENDPOINT": info["managed_identity_endpoint"],
        "IDENTITY_HEADER": info["managed_identity_header"],
    }
    token_only = {"access_token": emulator.access_token(0), "graph_endpoint": info["graph_endpoint"]}
    missing_ca = str(tmp_path / "missing-ca.pem")
    discovery_path = f"/{tenant['tenant_id']}/v2.0/.well-known/openid-configuration"
    # (task, expected outcome: None for success, else words the failure message must contain)
    cases = [
        (
            info_task("entra without ca_path", secret_login),
            ["TLS verification failed", "certificate verify failed", discovery_path, "ca_path", "validate_certs"],
        ),
        (info_task("entra with ca_path", dict(secret_login, ca_path=info["ca_path"])), None),
        (info_task("entra without verification", dict(secret_login, validate_certs=False)), None),
        (
            info_task("graph without ca_path", token_only),
            ["TLS verification failed", "certificate verify failed", PARTNERS_PATH, "ca_path"],
        ),
        (info_task("graph with ca_path", dict(token_only, ca_path=info["ca_path"])), None),
        (
            info_task("managed identity without ca_path", managed, app_service),
            ["TLS verification failed", "certificate verify failed", "/msi/token", "ca_path"],
        ),
        (info_task("managed identity with ca_path", dict(managed, ca_path=info["ca_path"]), app_service), None),
        (info_task("managed identity without verification", dict(managed, validate_certs=False), app_service), None),
        # Documented: without ca_path, REQUESTS_CA_BUNDLE is the trust store when it is set.
        (info_task("bundle from the environment", secret_login, {"REQUESTS_CA_BUNDLE": info["ca_path"]}), None),
        (
            info_task("ca_path that does not exist", dict(secret_login, ca_path=missing_ca)),
            ["ca_path", missing_ca, "does not exist"],
        ),
    ]
    emulator.control.clear_log()
    # Every task signs in by itself (no token shared between tasks), so that each TLS setting meets the token endpoint.
    run = run_playbook(
        [task for task, _words in cases], env={"REQUESTS_CA_BUNDLE": unrelated_ca, "MSGRAPH_TOKEN_CACHE": "false"}
    )
    assert run.rc == 0, run.output

    for task, words in cases:
        name = task["name"]
        result = run.result(name)
        if words is None:
            assert status_of(run, name) == "ok", (name, result)
            assert result["partners"] == [], (name, result)  # the first tenant has no partners yet
            continue
        assert status_of(run, name) == "failed", (name, result)
        for word in words:
            assert word in result["msg"], (name, word, result["msg"])
        assert "Traceback" not in result["msg"], result["msg"]

    # A failed handshake never reaches the HTTP layer, so the log holds exactly the successful tasks' requests:
    # the Graph GET of each one, after a token from the endpoint its auth method uses.
    log = emulator.control.log()
    graph_gets = [entry for entry in log if entry["kind"] == "graph"]
    successes = [task["name"] for task, words in cases if words is None]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in graph_gets] == [
        ("GET", PARTNERS_PATH, 200)
    ] * len(successes), log
    token_paths = [entry["path"] for entry in log if entry["kind"] in ("token", "managed_identity")]
    token_path = f"/{tenant['tenant_id']}/oauth2/v2.0/token"
    # entra with ca_path, entra without verification, then the two managed identity tasks, then the bundle task.
    assert token_paths == [token_path, token_path, "/msi/token", "/msi/token", token_path], log
