"""TLS verification through real ansible-playbook runs against the Graph emulator.

The emulator's certificate is signed by its own CA, which only ``ca_path`` names. Every run sets
REQUESTS_CA_BUNDLE to another valid CA bundle (a freshly generated, unrelated CA): requests would use it instead of
``Session.verify``, so the tests show that ``ca_path`` (and ``validate_certs``) reach every request the modules make:
the token endpoint, the managed identity endpoint and Graph.

Python 3.13's strict X.509 checks are met with a TLS front (tests/integration/tls_front.py) whose CA and certificate
lack the Authority Key Identifier, as a TLS-inspecting proxy's often do. The modules run on the Python of the venv
that runs the tests: run this file with the newest venv of the matrix (tools/venv-latest.sh) for Python 3.13.
"""

from __future__ import annotations

import datetime
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.tls_front import inspecting_proxy

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


# Python 3.13 and newer verify with ssl.VERIFY_X509_STRICT by default (ssl.create_default_context, urllib3 >= 2.3).
STRICT_BY_DEFAULT = sys.version_info >= (3, 13)
UNVERIFIED_WARNING = "validate_certs is false: TLS certificates were not verified"


@pytest.fixture
def proxy(emulator, tmp_path):
    """A TLS front before the emulator whose CA and certificate lack the Authority Key Identifier."""
    with inspecting_proxy(emulator.info, tmp_path / "inspecting-proxy") as front:
        yield front


def test_strict_x509_checks_behind_an_inspecting_proxy(emulator, run_playbook, execution_path, proxy, unrelated_ca):
    """On Python 3.13 and newer the default refuses the proxy's chain and says why and what to do;
    validate_certs_strict=false accepts it while the chain, the CA and the host name are still verified.

    On older Pythons there are no strict checks: the default passes, and the test checks that the option is accepted
    and that verification still happens (another CA, another host name and no CA at all fail).
    """
    front = proxy
    info = emulator.info
    tenant = info["tenants"][0]
    login = {
        "tenant_id": tenant["tenant_id"],
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "graph_endpoint": front.origin,
        "authority_host": front.origin,
    }
    trusted = dict(login, ca_path=front.ca_path)
    lenient = dict(trusted, validate_certs_strict=False)
    localhost = front.origin.replace("127.0.0.1", "localhost")
    token_path = f"/{tenant['tenant_id']}/oauth2/v2.0/token"
    discovery_path = f"/{tenant['tenant_id']}/v2.0/.well-known/openid-configuration"
    strict_failure = [
        "TLS verification failed",
        discovery_path,
        "certificate verify failed: Missing Authority Key Identifier. That is one of the strict X.509 checks",
        "VERIFY_X509_STRICT",
        "Authority and Subject Key Identifier",
        "validate_certs_strict=false (or MSGRAPH_VALIDATE_CERTS_STRICT=false)",
    ]
    default_outcome = strict_failure if STRICT_BY_DEFAULT else None
    app_service = {"IDENTITY_ENDPOINT": front.origin + "/msi/token", "IDENTITY_HEADER": info["managed_identity_header"]}
    # (task, None for success or words the failure message must contain, the token endpoint a success asks)
    cases = [
        (info_task("default", trusted), default_outcome, token_path),
        (info_task("strict checks off", lenient), None, token_path),
        (
            info_task(
                "strict checks off and ca_path from the environment",
                login,
                {"MSGRAPH_VALIDATE_CERTS_STRICT": "false", "MSGRAPH_CA_PATH": front.ca_path},
            ),
            None,
            token_path,
        ),
        (
            info_task(
                "the task's validate_certs_strict beats the environment",
                dict(trusted, validate_certs_strict=True),
                {"MSGRAPH_VALIDATE_CERTS_STRICT": "false"},
            ),
            default_outcome,
            token_path,
        ),
        (
            info_task(
                "strict checks off, graph only",
                {
                    "access_token": emulator.access_token(0),
                    "graph_endpoint": front.origin,
                    "ca_path": front.ca_path,
                    "validate_certs_strict": False,
                },
            ),
            None,
            None,
        ),
        (
            info_task(
                "strict checks off, managed identity",
                {
                    "auth_method": "managed_identity",
                    "graph_endpoint": front.origin,
                    "ca_path": front.ca_path,
                    "validate_certs_strict": False,
                },
                app_service,
            ),
            None,
            "/msi/token",
        ),
        (
            info_task(
                "strict checks off, trust store from REQUESTS_CA_BUNDLE",
                dict(login, validate_certs_strict=False),
                {"REQUESTS_CA_BUNDLE": front.ca_path},
            ),
            None,
            token_path,
        ),
        # Verification stays on without the strict checks.
        (
            info_task("strict checks off, another CA", dict(lenient, ca_path=unrelated_ca)),
            ["certificate verify failed: unable to get local issuer certificate. Set ca_path"],
            None,
        ),
        (
            info_task("strict checks off, no CA", dict(login, validate_certs_strict=False)),
            ["certificate verify failed: unable to get local issuer certificate"],
            None,
        ),
        (
            info_task(
                "strict checks off, another host name",
                dict(lenient, graph_endpoint=localhost, authority_host=localhost),
            ),
            ["certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'. Set ca_path"],
            None,
        ),
        (
            info_task("MSGRAPH_VALIDATE_CERTS_STRICT not a boolean", trusted, {"MSGRAPH_VALIDATE_CERTS_STRICT": "lax"}),
            ["MSGRAPH_VALIDATE_CERTS_STRICT='lax' is not a boolean; use true or false"],
            None,
        ),
    ]
    emulator.control.clear_log()
    run = run_playbook(
        [task for task, _words, _token in cases],
        env={"REQUESTS_CA_BUNDLE": unrelated_ca, "MSGRAPH_TOKEN_CACHE": "false"},
    )
    assert run.rc == 0, run.output

    for task, words, _token in cases:
        name = task["name"]
        result = run.result(name)
        if words is None:
            assert status_of(run, name) == "ok", (name, result)
            assert result["partners"] == [], (name, result)
            continue
        assert status_of(run, name) == "failed", (name, result)
        for word in words:
            assert word in result["msg"], (name, word, result["msg"])

    # The successes went through the front to the emulator: a token from the endpoint of their auth method, then
    # the Graph GET. A refused handshake never reaches the emulator.
    log = emulator.control.log()
    successes = [(task["name"], token) for task, words, token in cases if words is None]
    graph_gets = [(entry["method"], entry["path"], entry["status"]) for entry in log if entry["kind"] == "graph"]
    assert graph_gets == [("GET", PARTNERS_PATH, 200)] * len(successes), log
    token_paths = [entry["path"] for entry in log if entry["kind"] in ("token", "managed_identity")]
    assert token_paths == [token for _name, token in successes if token], log


def flat(text):
    """Text without whitespace: ansible-core 2.16 wraps warnings at the terminal width."""
    return "".join(text.split())


def test_validate_certs_false_warns_once_per_task_and_never_on_stderr(
    emulator, run_playbook, execution_path, unrelated_ca, tmp_path
):
    """validate_certs=false: one Ansible warning in each task result (each loop item), no urllib3 warning on raw
    stderr (2.16 printed InsecureRequestWarning; 2.21 "WorkerProcess ... errantly sent data directly to stderr").
    validate_certs and ca_path also come from the environment; the task's option beats it."""
    info = emulator.info
    tenant = info["tenants"][0]
    login = {
        "tenant_id": tenant["tenant_id"],
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "graph_endpoint": info["graph_endpoint"],
        "authority_host": info["authority_host"],
    }
    missing_ca = str(tmp_path / "missing-ca.pem")
    looped = info_task("unverified loop", dict(login, validate_certs=False))
    looped["loop"] = ["first", "second"]
    # (task, None for success or words of the failure, whether the result warns about validate_certs)
    cases = [
        (info_task("unverified", dict(login, validate_certs=False)), None, True),
        (looped, None, True),
        (info_task("unverified from the environment", login, {"MSGRAPH_VALIDATE_CERTS": "false"}), None, True),
        (
            info_task(
                "the task's validate_certs beats the environment",
                dict(login, validate_certs=True),
                {"MSGRAPH_VALIDATE_CERTS": "false"},
            ),
            ["TLS verification failed", "unable to get local issuer certificate"],
            False,
        ),
        (info_task("ca_path from the environment", login, {"MSGRAPH_CA_PATH": info["ca_path"]}), None, False),
        (
            info_task(
                "the task's ca_path beats the environment",
                dict(login, ca_path=info["ca_path"]),
                {"MSGRAPH_CA_PATH": missing_ca},
            ),
            None,
            False,
        ),
        (
            info_task("MSGRAPH_VALIDATE_CERTS not a boolean", login, {"MSGRAPH_VALIDATE_CERTS": "maybe"}),
            ["MSGRAPH_VALIDATE_CERTS='maybe' is not a boolean; use true or false"],
            False,
        ),
        (
            info_task("MSGRAPH_CA_PATH missing", login, {"MSGRAPH_CA_PATH": missing_ca}),
            [f"MSGRAPH_CA_PATH {missing_ca!r} does not exist or is not a file"],
            False,
        ),
    ]
    run = run_playbook(
        [task for task, _words, _warns in cases],
        env={"REQUESTS_CA_BUNDLE": unrelated_ca, "MSGRAPH_TOKEN_CACHE": "false"},
    )
    assert run.rc == 0, run.output
    for noise in ("InsecureRequestWarning", "Unverified HTTPS request", "errantly sent data"):
        assert noise not in run.output, run.output
    assert flat(f"[WARNING]: {UNVERIFIED_WARNING}") in flat(run.stdout + run.stderr), run.output

    for task, words, warns in cases:
        name = task["name"]
        entries = run.results_of(name)
        items = [entry for entry in entries if entry["status"].startswith("item_")] or entries
        assert len(items) == len(task.get("loop", [None])), entries
        for entry in items:
            result = entry["result"]
            if words is None:
                assert entry["status"] in ("ok", "item_ok"), (name, result)
            else:
                assert entry["status"] == "failed", (name, result)
                for word in words:
                    assert word in result["msg"], (name, word, result["msg"])
            unverified = [warning for warning in result.get("warnings", []) if UNVERIFIED_WARNING in warning]
            assert len(unverified) == (1 if warns else 0), (name, result)
