"""No secret reaches Ansible's output, results or files, at -vvvv, whether a task succeeds or fails.

One playbook per execution path runs successful and failing tasks with every kind of secret: client secrets (given
in the task, and from the environment as AWX injects them), a PFX password, access tokens, the managed identity
header, a workload identity token, and wrong, planted values of each that the service rejects. Then stdout, stderr,
the task results and every file the run left (Ansible's local and remote temporary directories included) are scanned
with secret_scan for every secret in every encoded form, and for anything shaped like an access token the emulator
issued: zero hits. The scanner's own positive controls plant secrets in the same scan set and must find them.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
import zipfile
from urllib.parse import quote_plus

import pytest

from tests.integration.secret_scan import assert_no_secrets, find_secrets, playbook_sources, secret_forms

MODULE = "msgraph.intune.device_management_partner"
INFO_MODULE = "msgraph.intune.device_management_partner_info"
# Shape of the access tokens the emulator issues ("emu" + secrets.token_urlsafe(48)), so that tokens the modules
# fetched themselves, whose values the test never sees, are found too.
ISSUED_TOKEN_PATTERN = r"emu[A-Za-z0-9_-]{64}"
PRIVATE_KEY_PATTERN = r"-----BEGIN [A-Z ]*PRIVATE KEY-----"


def planted(kind):
    """A distinctive wrong value with characters that every encoding changes (quote, backslash, slash, plus, ...)."""
    return f'planted-{kind}-"q\\b/s+p&e=%20 {uuid.uuid4().hex}'


def status_of(run, task_name):
    entries = run.results_of(task_name)
    assert entries, f"no result for task {task_name!r}"
    return entries[-1]["status"]


def test_no_secret_in_output_results_or_files_at_vvvv(emulator, run_playbook, execution_path, tmp_path):
    info = emulator.info
    tenant0, tenant1 = info["tenants"][0], info["tenants"][1]
    endpoints = {
        "graph_endpoint": info["graph_endpoint"],
        "authority_host": info["authority_host"],
        "ca_path": info["ca_path"],
    }
    login0 = dict(endpoints, tenant_id=tenant0["tenant_id"], client_id=tenant0["client_id"])
    inputs = tmp_path / "inputs"  # the test's own files holding secrets on purpose: not scanned
    inputs.mkdir()
    federated_token = emulator.control.federated_token(tenant1["tenant_id"], tenant1["client_id"])
    (inputs / "federated-token").write_text(federated_token)
    access_token = emulator.access_token(0)
    secrets = {
        "client secret": tenant0["client_secret"],
        "client secret from the environment": tenant1["client_secret"],
        "PFX password": info["client_certificate_password"],
        "access token": access_token,
        "managed identity header": info["managed_identity_header"],
        "federated token": federated_token,
        "wrong client secret": planted("secret"),
        "wrong PFX password": planted("pfx-password"),
        "wrong access token": planted("token"),
        "wrong access token from the environment": planted("environment-token"),
    }
    # Credentials reach the process environment as AWX and AKS put them there. (The task keyword `environment:`
    # is not used for them: with a module process Ansible itself prints those values in its -vvv EXEC lines.)
    cache_home = tmp_path / "cache-home"
    token_cache = cache_home / "msgraph-tokens"
    process_environment = {
        "AZURE_CLIENT_ID": tenant1["client_id"],
        "AZURE_TENANT": tenant1["tenant_id"],
        "AZURE_SECRET": tenant1["client_secret"],
        "AZURE_FEDERATED_TOKEN_FILE": str(inputs / "federated-token"),
        "IDENTITY_ENDPOINT": info["managed_identity_endpoint"],
        "IDENTITY_HEADER": info["managed_identity_header"],
        "MSGRAPH_ACCESS_TOKEN": secrets["wrong access token from the environment"],
        "ANSIBLE_REMOTE_TMP": str(tmp_path / "remote-tmp"),
        # The token cache that tasks share, kept after the run (by default it goes with Ansible's temporary
        # directory), so that the scan can read it and everything around it.
        "MSGRAPH_TOKEN_CACHE_DIR": str(token_cache),
    }
    # The tasks name secrets through variables, as a vault would provide them. (Written literally into the playbook, a
    # secret would be shown by ansible-core itself on failure, in the source excerpt of the failed task.)
    secret_vars = {
        "client_secret": secrets["client secret"],
        "pfx_password": secrets["PFX password"],
        "access_token": access_token,
        "wrong_secret": secrets["wrong client secret"],
        "wrong_pfx_password": secrets["wrong PFX password"],
        "wrong_token": secrets["wrong access token"],
    }
    (inputs / "secrets.json").write_text(json.dumps(secret_vars))
    pfx = info["client_certificate_pfx_path"]
    tasks = [
        {"name": "secret", INFO_MODULE: dict(login0, client_secret="{{ client_secret }}"), "register": "secret"},
        {"name": "show secret result", "ansible.builtin.debug": {"var": "secret"}},
        {
            "name": "secret from the environment",
            INFO_MODULE: dict(endpoints, auth_method="client_secret"),
            "register": "from_environment",
        },
        {"name": "show environment result", "ansible.builtin.debug": {"var": "from_environment"}},
        {
            "name": "pfx",
            MODULE: dict(
                login0,
                client_certificate_path=pfx,
                client_certificate_password="{{ pfx_password }}",
                display_name="Secrets",
            ),
        },
        {"name": "access token", INFO_MODULE: dict(endpoints, access_token="{{ access_token }}")},
        {"name": "managed identity", INFO_MODULE: dict(endpoints, auth_method="managed_identity")},
        {"name": "workload identity", INFO_MODULE: dict(endpoints, auth_method="workload_identity")},
        {
            "name": "graph error after sign-in",
            MODULE: dict(login0, client_secret="{{ client_secret }}", id="no-such-partner", partner_state="enabled"),
        },
        {
            "name": "wrong secret",
            INFO_MODULE: dict(login0, client_secret="{{ wrong_secret }}"),
            "register": "wrong_secret_result",
        },
        {"name": "show wrong secret result", "ansible.builtin.debug": {"var": "wrong_secret_result"}},
        {
            "name": "wrong pfx password",
            INFO_MODULE: dict(
                login0, client_certificate_path=pfx, client_certificate_password="{{ wrong_pfx_password }}"
            ),
        },
        {"name": "wrong access token", INFO_MODULE: dict(endpoints, access_token="{{ wrong_token }}")},
        {"name": "wrong access token from the environment", INFO_MODULE: dict(endpoints, auth_method="access_token")},
    ]
    for task in tasks:
        if "ansible.builtin.debug" not in task:
            task["ignore_errors"] = True
    run = run_playbook(tasks, verbosity=4, env=process_environment, extra_args=("-e", f"@{inputs / 'secrets.json'}"))
    assert run.rc == 0, run.output

    # The scenarios did what they are meant to, so the scan covers both successes and failures.
    outcomes = {task["name"]: status_of(run, task["name"]) for task in tasks if "ansible.builtin.debug" not in task}
    assert outcomes == {
        "secret": "ok",
        "secret from the environment": "ok",
        "pfx": "ok",
        "access token": "ok",
        "managed identity": "ok",
        "workload identity": "ok",
        "graph error after sign-in": "failed",
        "wrong secret": "failed",
        "wrong pfx password": "failed",
        "wrong access token": "failed",
        "wrong access token from the environment": "failed",
    }, outcomes
    assert run.result("wrong secret")["error_code"] == "invalid_client", run.result("wrong secret")
    assert run.result("wrong access token")["status"] == 401, run.result("wrong access token")
    assert "client_certificate_password" in run.result("wrong pfx password")["msg"]
    assert "verbosity: 4" in run.stdout and "TASK [show secret result]" in run.stdout, run.stdout[:2000]

    # Ansible removes its temporary files (the module payload holds the arguments, compressed, where no scan can
    # read them): nothing may be left behind in the local or remote temporary directory.
    temporary = [run.files_dir / "ansible-tmp", tmp_path / "remote-tmp"]
    leftovers = [
        str(path) for directory in temporary if directory.exists() for path in directory.rglob("*") if path.is_file()
    ]
    assert leftovers == [], leftovers

    # Issued tokens live in the token cache and nowhere else; the cache holds no credential in any form.
    cache_files = sorted(path for path in token_cache.rglob("*") if path.is_file()) if token_cache.exists() else []
    cached_tokens = find_secrets({}, paths=cache_files, patterns={"issued access token": ISSUED_TOKEN_PATTERN})
    if execution_path == "in_process":
        assert cached_tokens, "the in-process tasks shared no token (and the scan below would skip nothing)"
    else:
        assert cache_files == [], cache_files  # module processes sign in by themselves
    assert_no_secrets(secrets, paths=cache_files)
    cache_home.mkdir(exist_ok=True)

    remote_tmp = [tmp_path / "remote-tmp"] if (tmp_path / "remote-tmp").exists() else []
    # The local temporary directory is inside the run's directory; the cache's neighbours are scanned, not the cache.
    sources = playbook_sources(run, extra_paths=[*remote_tmp, cache_home])
    sources["exclude"].extend(cache_files)
    sources["texts"]["emulator output"] = emulator.read_log()
    patterns = {"issued access token": ISSUED_TOKEN_PATTERN, "private key": PRIVATE_KEY_PATTERN}
    assert_no_secrets(secrets, patterns=patterns, **sources)
    # Where the echoed arguments reach the callback (ansible-core 2.21 leaves them out for module processes), the
    # secret is masked there rather than dropped: the scan above had something to look at.
    invocation = run.result("secret").get("invocation")
    if invocation is not None:
        assert invocation["module_args"]["client_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "not masked"

    # Positive control in the very same scan set: a secret planted in a file of the run, inside base64 of a larger
    # value (HTTP Basic credentials), and in the stdout text form-encoded, is found.
    basic = base64.b64encode(f"{tenant0['client_id']}:{secrets['client secret']}".encode()).decode()
    (run.files_dir / "planted.txt").write_text(f"Authorization: Basic {basic}\n")
    sources["texts"]["stdout"] += "\nclient_secret=" + quote_plus(secrets["wrong client secret"]) + "&scope=x\n"
    hits = find_secrets(secrets, patterns=patterns, **sources)
    found = sorted((hit.label, hit.form.split(" (")[0], os.path.basename(hit.source)) for hit in hits)
    assert found == [("client secret", "base64", "planted.txt"), ("wrong client secret", "form-encoded", "stdout")], (
        found
    )


# --------------------------------------------------------------------------------------------------------------------
# The scanner itself
# --------------------------------------------------------------------------------------------------------------------


def test_scanner_finds_every_encoded_form_and_never_shows_the_secret(tmp_path):
    secret = 'Sc4n-me/"now"+\\here & there=%41 ~8Q~'
    other = "another-secret-value-0123456789"
    directory = tmp_path / "scan"
    (directory / "nested").mkdir(parents=True)
    blobs = {
        "raw.log": f"line one\nsecret: {secret}\n",
        # Inside a larger value at each byte offset (mod 3), so that the secret's own base64 never appears as such.
        "basic0.txt": base64.b64encode(f"ab:{secret}".encode()).decode(),
        "basic1.txt": base64.b64encode(f"abc:{secret}!".encode()).decode(),
        "basic2.txt": base64.b64encode(f"a:{secret}??".encode()).decode(),
        "nested/urlsafe.txt": base64.urlsafe_b64encode(f"xyz{secret}?".encode()).decode(),
        "query.txt": "https://host/token?client_secret=" + quote_plus(secret) + "&x=1",
        "result.json": json.dumps({"msg": f"failed with {secret}"}),
        "double.json": json.dumps({"stdout": json.dumps({"secret": secret})}),
        "clean.txt": "nothing to see here: " + other[::-1],
    }
    for name, text in blobs.items():
        (directory / name).write_text(text)
    with zipfile.ZipFile(directory / "payload.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("args.json", json.dumps({"client_secret": secret}))

    hits = find_secrets({"target": secret, "other": other}, texts={"stdout": f"x {secret!r} y"}, paths=[directory])
    found = {(os.path.relpath(hit.source, directory) if hit.source != "stdout" else "stdout", hit.form) for hit in hits}
    assert found == {
        ("raw.log", "raw"),
        ("basic0.txt", "base64 (offset 0)"),
        ("basic1.txt", "base64 (offset 1)"),
        ("basic2.txt", "base64 (offset 2)"),
        ("nested/urlsafe.txt", "base64url (offset 0)"),
        ("query.txt", "form-encoded"),
        ("result.json", "json-escaped"),
        ("double.json", "json-escaped twice"),
        ("payload.zip!args.json", "json-escaped"),
        ("stdout", "python repr"),
    }, found
    assert {hit.label for hit in hits} == {"target"}
    assert next(hit for hit in hits if hit.source.endswith("raw.log")).line == 2
    for hit in hits:  # reports locate the secret without repeating it
        assert all(form not in str(hit) for form in secret_forms(secret).values()), str(hit)

    assert find_secrets([secret], paths=[directory / "clean.txt"]) == []
    assert (
        find_secrets(
            [secret], paths=[directory], exclude=[directory / name for name in blobs] + [directory / "payload.zip"]
        )
        == []
    )
    with pytest.raises(AssertionError, match=r"secret occurrence\(s\) found") as failure:
        assert_no_secrets({"target": secret}, texts=[f"leaked {secret}"])
    assert secret not in str(failure.value)
    with pytest.raises(ValueError):
        secret_forms("short")
