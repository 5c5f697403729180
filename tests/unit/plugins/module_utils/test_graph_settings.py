# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""resolve_settings: options, environment fallbacks, authentication method, clouds, URLs and TLS."""

from __future__ import annotations

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import resolve_settings

TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT = "22222222-2222-4222-8222-222222222222"
SECRET_PARAMS = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": "s3cret-from-task"}


@pytest.fixture
def cert_file(tmp_path):
    path = tmp_path / "client.pem"
    path.write_text("placeholder: resolve_settings only checks that the file exists\n")
    return str(path)


class TestEnvironmentFallbacks:
    @pytest.mark.parametrize(
        "option, environ, expected",
        [
            ("tenant_id", {"AZURE_TENANT_ID": "t-id"}, "t-id"),
            ("tenant_id", {"AZURE_TENANT": "t-awx"}, "t-awx"),
            ("tenant_id", {"AZURE_TENANT_ID": "t-id", "AZURE_TENANT": "t-awx"}, "t-id"),
            ("tenant_id", {"AZURE_TENANT_ID": "", "AZURE_TENANT": "t-awx"}, "t-awx"),
            ("client_id", {"AZURE_CLIENT_ID": "c-env"}, "c-env"),
            ("client_secret", {"AZURE_CLIENT_SECRET": "s-env"}, "s-env"),
            ("client_secret", {"AZURE_SECRET": "s-awx"}, "s-awx"),
            ("client_secret", {"AZURE_CLIENT_SECRET": "s-env", "AZURE_SECRET": "s-awx"}, "s-env"),
            ("client_certificate_password", {"AZURE_CLIENT_CERTIFICATE_PASSWORD": "pw-env"}, "pw-env"),
            ("access_token", {"MSGRAPH_ACCESS_TOKEN": "tok-env"}, "tok-env"),
            ("authority_host", {"AZURE_AUTHORITY_HOST": "https://login.example.test"}, "https://login.example.test"),
            ("graph_endpoint", {"MSGRAPH_GRAPH_ENDPOINT": "https://127.0.0.1:8443"}, "https://127.0.0.1:8443"),
        ],
    )
    def test_fallback(self, option, environ, expected):
        # auth_method=managed_identity needs no credentials, so each variable can be checked on its own.
        settings = resolve_settings({"auth_method": "managed_identity"}, environ=environ)
        assert getattr(settings, option) == expected

    def test_certificate_path_fallback(self, cert_file):
        environ = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_CERTIFICATE_PATH": cert_file}
        settings = resolve_settings({}, environ=environ)
        assert settings.client_certificate_path == cert_file
        assert settings.auth_method == "client_certificate"

    def test_unset_options_stay_none(self):
        settings = resolve_settings({"auth_method": "managed_identity"}, environ={})
        assert (settings.tenant_id, settings.client_id, settings.client_secret, settings.access_token) == (None,) * 4

    @pytest.mark.parametrize(
        "option, variable",
        [
            ("tenant_id", "AZURE_TENANT_ID"),
            ("tenant_id", "AZURE_TENANT"),
            ("client_id", "AZURE_CLIENT_ID"),
            ("client_secret", "AZURE_CLIENT_SECRET"),
            ("client_secret", "AZURE_SECRET"),
            ("client_certificate_password", "AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            ("access_token", "MSGRAPH_ACCESS_TOKEN"),
        ],
    )
    def test_task_option_beats_environment(self, option, variable):
        settings = resolve_settings(
            {"auth_method": "managed_identity", option: "from-task"}, environ={variable: "from-env"}
        )
        assert getattr(settings, option) == "from-task"

    def test_task_endpoint_beats_environment(self):
        settings = resolve_settings(
            {"access_token": "t", "graph_endpoint": "https://127.0.0.1:1", "authority_host": "https://127.0.0.1:2"},
            environ={"MSGRAPH_GRAPH_ENDPOINT": "https://127.0.0.1:3", "AZURE_AUTHORITY_HOST": "https://127.0.0.1:4"},
        )
        assert (settings.graph_endpoint, settings.authority_host) == ("https://127.0.0.1:1", "https://127.0.0.1:2")

    def test_empty_task_option_falls_back_to_environment(self):
        settings = resolve_settings({"access_token": ""}, environ={"MSGRAPH_ACCESS_TOKEN": "tok-env"})
        assert (settings.auth_method, settings.access_token) == ("access_token", "tok-env")


class TestAutoMethod:
    def test_explicit_secret_beats_environment_token(self):
        settings = resolve_settings(SECRET_PARAMS, environ={"MSGRAPH_ACCESS_TOKEN": "tok-env"})
        assert settings.auth_method == "client_secret"
        assert settings.client_secret == "s3cret-from-task"

    def test_explicit_certificate_beats_environment_token(self, cert_file):
        params = {"tenant_id": TENANT, "client_id": CLIENT, "client_certificate_path": cert_file}
        settings = resolve_settings(params, environ={"MSGRAPH_ACCESS_TOKEN": "tok-env"})
        assert settings.auth_method == "client_certificate"

    def test_token_before_certificate_before_secret(self, cert_file):
        params = dict(SECRET_PARAMS, client_certificate_path=cert_file, access_token="tok")
        assert resolve_settings(params, environ={}).auth_method == "access_token"
        del params["access_token"]
        assert resolve_settings(params, environ={}).auth_method == "client_certificate"
        del params["client_certificate_path"]
        assert resolve_settings(params, environ={}).auth_method == "client_secret"

    def test_same_order_within_environment(self, cert_file):
        environ = {
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT,
            "AZURE_CLIENT_SECRET": "s",
            "AZURE_CLIENT_CERTIFICATE_PATH": cert_file,
            "MSGRAPH_ACCESS_TOKEN": "tok",
        }
        assert resolve_settings({}, environ=environ).auth_method == "access_token"
        del environ["MSGRAPH_ACCESS_TOKEN"]
        assert resolve_settings({}, environ=environ).auth_method == "client_certificate"
        del environ["AZURE_CLIENT_CERTIFICATE_PATH"]
        assert resolve_settings({}, environ=environ).auth_method == "client_secret"

    def test_secret_from_environment_with_ids_from_task(self):
        settings = resolve_settings({"tenant_id": TENANT, "client_id": CLIENT}, environ={"AZURE_SECRET": "s-awx"})
        assert (settings.auth_method, settings.client_secret) == ("client_secret", "s-awx")

    @pytest.mark.parametrize(
        "params, environ",
        [
            ({}, {}),
            ({"tenant_id": TENANT, "client_id": CLIENT}, {"AZURE_TENANT_ID": TENANT}),
            # Environment variables of managed identity must not make auto probe it.
            ({"managed_identity_client_id": CLIENT}, {"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi"}),
            ({"auth_method": "auto"}, {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"}),
        ],
    )
    def test_nothing_given_fails_naming_the_options(self, params, environ):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(params, environ=environ)
        message = str(info.value)
        assert message.startswith("no credentials found")
        for name in ("access_token", "client_certificate_path", "client_secret", "MSGRAPH_ACCESS_TOKEN"):
            assert name in message


class TestRequiredOptions:
    def test_client_secret_method_without_secret_names_client_secret(self):
        params = {"auth_method": "client_secret", "tenant_id": TENANT, "client_id": CLIENT}
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(params, environ={"MSGRAPH_ACCESS_TOKEN": "tok"})
        assert str(info.value) == (
            "auth_method=client_secret requires client_secret (or the environment variable AZURE_CLIENT_SECRET or "
            "AZURE_SECRET)"
        )

    @pytest.mark.parametrize(
        "params, missing",
        [
            ({"auth_method": "client_secret", "client_id": CLIENT, "client_secret": "s"}, "tenant_id"),
            ({"auth_method": "client_secret", "tenant_id": TENANT, "client_secret": "s"}, "client_id"),
            (
                {"auth_method": "client_certificate", "tenant_id": TENANT, "client_id": CLIENT},
                "client_certificate_path",
            ),
            ({"auth_method": "access_token"}, "access_token"),
            ({"auth_method": "workload_identity", "client_id": CLIENT}, "tenant_id"),
        ],
    )
    def test_missing_option_named(self, params, missing):
        with pytest.raises(GraphOptionError, match=f"^auth_method={params['auth_method']} requires {missing}"):
            resolve_settings(params, environ={})

    def test_missing_certificate_file(self, tmp_path):
        missing = str(tmp_path / "nope.pem")
        params = {"tenant_id": TENANT, "client_id": CLIENT, "client_certificate_path": missing}
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(params, environ={})
        assert str(info.value) == f"client_certificate_path {missing!r} does not exist or is not a file"

    def test_managed_identity_needs_nothing(self):
        settings = resolve_settings({"auth_method": "managed_identity", "managed_identity_client_id": CLIENT}, {})
        assert (settings.auth_method, settings.managed_identity_client_id) == ("managed_identity", CLIENT)

    def test_workload_identity_without_token_file_fails(self):
        params = {"auth_method": "workload_identity", "tenant_id": TENANT, "client_id": CLIENT}
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(params, environ={})
        assert "AZURE_FEDERATED_TOKEN_FILE" in str(info.value)

    def test_workload_identity_with_missing_token_file_fails(self, tmp_path):
        params = {"auth_method": "workload_identity", "tenant_id": TENANT, "client_id": CLIENT}
        missing = str(tmp_path / "token")
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(params, environ={"AZURE_FEDERATED_TOKEN_FILE": missing})
        assert str(info.value) == f"AZURE_FEDERATED_TOKEN_FILE {missing!r} does not exist or is not a file"

    def test_workload_identity_from_environment(self, tmp_path):
        token_file = tmp_path / "token"
        token_file.write_text("federated\n")
        environ = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
        settings = resolve_settings({"auth_method": "workload_identity"}, environ=environ)
        assert (settings.tenant_id, settings.client_id, settings.federated_token_file) == (
            TENANT,
            CLIENT,
            str(token_file),
        )

    @pytest.mark.parametrize(
        "params, message",
        [
            ({"timeout": 0}, "timeout must be greater than 0, got 0"),
            ({"timeout": -1.5}, "timeout must be greater than 0, got -1.5"),
            ({"max_retries": -1}, "max_retries must be 0 or more, got -1"),
        ],
    )
    def test_numeric_limits(self, params, message):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(dict(params, access_token="t"), environ={})
        assert str(info.value) == message

    def test_defaults(self):
        settings = resolve_settings({"access_token": "t"}, environ={})
        assert (settings.timeout, settings.max_retries, settings.api_version, settings.verify) == (
            30.0,
            5,
            "v1.0",
            True,
        )

    def test_given_limits_kept(self):
        settings = resolve_settings({"access_token": "t", "timeout": 2, "max_retries": 0, "api_version": "beta"}, {})
        assert (settings.timeout, settings.max_retries, settings.api_version) == (2.0, 0, "beta")
        assert isinstance(settings.timeout, float)


class TestTokenCache:
    @pytest.mark.parametrize(
        "option, environ, expected",
        [
            (None, {}, True),
            (False, {}, False),
            (True, {"MSGRAPH_TOKEN_CACHE": "false"}, True),  # the task's option beats the environment
            (False, {"MSGRAPH_TOKEN_CACHE": "yes"}, False),
            (None, {"MSGRAPH_TOKEN_CACHE": "false"}, False),
            (None, {"MSGRAPH_TOKEN_CACHE": " No "}, False),
            (None, {"MSGRAPH_TOKEN_CACHE": "1"}, True),
            (None, {"MSGRAPH_TOKEN_CACHE": ""}, True),  # empty counts as unset
        ],
    )
    def test_option_then_environment_then_true(self, option, environ, expected):
        assert resolve_settings({"access_token": "t", "token_cache": option}, environ).token_cache is expected

    def test_a_value_that_is_not_a_boolean_fails(self):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t"}, {"MSGRAPH_TOKEN_CACHE": "sometimes"})
        assert str(info.value) == "MSGRAPH_TOKEN_CACHE='sometimes' is not a boolean; use true or false"


class TestClouds:
    @pytest.mark.parametrize(
        "cloud, graph_endpoint, authority_host, scope",
        [
            (
                "public",
                "https://graph.microsoft.com",
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com/.default",
            ),
            (
                "usgov",
                "https://graph.microsoft.us",
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us/.default",
            ),
            (
                "usgov_dod",
                "https://dod-graph.microsoft.us",
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                "china",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ],
    )
    def test_cloud_table(self, cloud, graph_endpoint, authority_host, scope):
        settings = resolve_settings({"access_token": "t", "cloud": cloud}, environ={})
        assert (settings.cloud, settings.graph_endpoint, settings.authority_host, settings.scope) == (
            cloud,
            graph_endpoint,
            authority_host,
            scope,
        )
        assert settings.resource == graph_endpoint
        assert settings.instance_discovery is True

    def test_default_cloud_is_public(self):
        settings = resolve_settings({"access_token": "t"}, environ={})
        assert (settings.cloud, settings.graph_endpoint) == ("public", "https://graph.microsoft.com")

    @pytest.mark.parametrize(
        "value, cloud",
        [
            ("AzureCloud", "public"),
            ("AzureUSGovernment", "usgov"),
            ("AzureUSGovernmentCloud", "usgov"),
            ("AzureChinaCloud", "china"),
            ("azurechinacloud", "china"),
            (" AzureCloud ", "public"),
            ("usgov_dod", "usgov_dod"),
        ],
    )
    def test_cloud_environment_variable(self, value, cloud):
        settings = resolve_settings({"access_token": "t"}, environ={"AZURE_CLOUD_ENVIRONMENT": value})
        assert settings.cloud == cloud

    def test_unknown_cloud_environment_fails(self):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t"}, environ={"AZURE_CLOUD_ENVIRONMENT": "AzureGermanCloud"})
        message = str(info.value)
        assert message.startswith("AZURE_CLOUD_ENVIRONMENT='AzureGermanCloud' is not a known cloud")
        assert "AzureUSGovernment" in message

    def test_cloud_option_beats_environment(self):
        settings = resolve_settings(
            {"access_token": "t", "cloud": "china"}, environ={"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}
        )
        assert settings.cloud == "china"

    def test_endpoint_override_keeps_the_cloud_scope(self):
        params = {
            "access_token": "t",
            "cloud": "usgov",
            "graph_endpoint": "https://127.0.0.1:8443",
            "authority_host": "https://127.0.0.1:8443/",
        }
        settings = resolve_settings(params, environ={})
        assert settings.graph_endpoint == "https://127.0.0.1:8443"
        assert settings.authority_host == "https://127.0.0.1:8443"
        assert settings.scope == "https://graph.microsoft.us/.default"
        assert settings.resource == "https://graph.microsoft.us"

    @pytest.mark.parametrize(
        "authority_host, discovery",
        [
            ("https://login.microsoftonline.com", True),
            ("https://login.microsoftonline.com:443", True),
            ("https://LOGIN.microsoftonline.com", True),
            ("https://login.microsoftonline.us", True),
            ("https://127.0.0.1:8443", False),
            ("https://login.example.test", False),
            ("https://login.microsoftonline.com.example.test", False),
        ],
    )
    def test_instance_discovery(self, authority_host, discovery):
        settings = resolve_settings({"access_token": "t", "authority_host": authority_host}, environ={})
        assert settings.instance_discovery is discovery


class TestUrls:
    @pytest.mark.parametrize(
        "url, normalised",
        [
            ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
            ("https://127.0.0.1:8443/", "https://127.0.0.1:8443"),
            ("  https://graph.example.test  ", "https://graph.example.test"),
            ("HTTPS://Graph.Example.Test", "https://graph.example.test"),
            ("https://[::1]:8443", "https://[::1]:8443"),
        ],
    )
    def test_accepted(self, url, normalised):
        settings = resolve_settings({"access_token": "t", "graph_endpoint": url}, environ={})
        assert settings.graph_endpoint == normalised

    @pytest.mark.parametrize("option", ["graph_endpoint", "authority_host"])
    @pytest.mark.parametrize(
        "url, reason",
        [
            ("http://127.0.0.1:8443", "must be an https URL"),
            ("127.0.0.1:8443", "must be an https URL"),
            ("https://", "must be an https URL"),
            ("https://graph.microsoft.com/v1.0", "takes only scheme, host and port"),
            ("https://login.microsoftonline.com/" + TENANT, "takes only scheme, host and port"),
            ("https://graph.microsoft.com/some/path", "takes only scheme, host and port"),
            ("https://graph.microsoft.com?x=1", "takes only scheme, host and port"),
            ("https://graph.microsoft.com#frag", "takes only scheme, host and port"),
            ("https://user@graph.microsoft.com", "must not contain a user name or password"),
            ("https://graph.microsoft.com:99999", "has an invalid port"),
        ],
    )
    def test_rejected_naming_the_option(self, option, url, reason):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t", option: url}, environ={})
        assert str(info.value).startswith(f"{option} ")
        assert reason in str(info.value)

    def test_bad_url_from_environment_rejected(self):
        with pytest.raises(GraphOptionError, match="^graph_endpoint must be an https URL"):
            resolve_settings({"access_token": "t"}, environ={"MSGRAPH_GRAPH_ENDPOINT": "http://127.0.0.1:1"})


class TestTls:
    def test_validate_certs_default(self):
        assert resolve_settings({"access_token": "t"}, environ={}).verify is True

    def test_validate_certs_false(self, tmp_path):
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text("ca\n")
        params = {"access_token": "t", "validate_certs": False, "ca_path": str(ca_file)}
        assert resolve_settings(params, environ={}).verify is False

    def test_ca_path_becomes_verify(self, tmp_path):
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text("ca\n")
        params = {"access_token": "t", "validate_certs": True, "ca_path": str(ca_file)}
        assert resolve_settings(params, environ={}).verify == str(ca_file)

    @pytest.mark.parametrize("missing", ["nope.pem", ""])
    def test_missing_ca_path_rejected(self, tmp_path, missing):
        # "" stands for tmp_path itself: a directory is not a CA file either.
        path = str(tmp_path / missing) if missing else str(tmp_path)
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t", "ca_path": path}, environ={})
        assert str(info.value) == f"ca_path {path!r} does not exist or is not a file"

    def test_validate_certs_none_keeps_verification(self):
        assert resolve_settings({"access_token": "t", "validate_certs": None}, environ={}).verify is True

    @pytest.mark.parametrize(
        "option, environ, expected",
        [
            (None, {"MSGRAPH_VALIDATE_CERTS": "false"}, False),
            (None, {"MSGRAPH_VALIDATE_CERTS": " No "}, False),
            (None, {"MSGRAPH_VALIDATE_CERTS": "true"}, True),
            (None, {"MSGRAPH_VALIDATE_CERTS": ""}, True),  # AWX injects an empty field as "": unset
            (True, {"MSGRAPH_VALIDATE_CERTS": "false"}, True),  # the task's option beats the environment
            (False, {"MSGRAPH_VALIDATE_CERTS": "true"}, False),
        ],
    )
    def test_validate_certs_from_the_environment(self, option, environ, expected):
        settings = resolve_settings({"access_token": "t", "validate_certs": option}, environ)
        assert settings.verify is expected

    def test_validate_certs_not_a_boolean_names_the_variable(self):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t"}, {"MSGRAPH_VALIDATE_CERTS": "sometimes"})
        assert str(info.value) == "MSGRAPH_VALIDATE_CERTS='sometimes' is not a boolean; use true or false"

    def test_ca_path_from_the_environment(self, tmp_path):
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text("ca\n")
        assert resolve_settings({"access_token": "t"}, {"MSGRAPH_CA_PATH": str(ca_file)}).verify == str(ca_file)

    def test_ca_path_from_the_environment_is_expanded_as_a_path_option(self, tmp_path, monkeypatch):
        (tmp_path / "ca.pem").write_text("ca\n")
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("CA_DIR", str(tmp_path))
        for written in ("~/ca.pem", "$CA_DIR/ca.pem"):
            settings = resolve_settings({"access_token": "t"}, {"MSGRAPH_CA_PATH": written})
            assert settings.verify == str(tmp_path / "ca.pem"), written

    def test_the_tasks_ca_path_beats_the_environment(self, tmp_path):
        task_ca, env_ca = tmp_path / "task.pem", tmp_path / "env.pem"
        task_ca.write_text("ca\n")
        env_ca.write_text("ca\n")
        params = {"access_token": "t", "ca_path": str(task_ca)}
        assert resolve_settings(params, {"MSGRAPH_CA_PATH": str(env_ca)}).verify == str(task_ca)

    def test_missing_ca_path_from_the_environment_names_the_variable(self, tmp_path):
        missing = str(tmp_path / "nope.pem")
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t"}, {"MSGRAPH_CA_PATH": missing})
        assert str(info.value) == f"MSGRAPH_CA_PATH {missing!r} does not exist or is not a file"

    def test_ca_path_from_the_environment_unused_without_verification(self, tmp_path):
        environ = {"MSGRAPH_CA_PATH": str(tmp_path / "nope.pem"), "MSGRAPH_VALIDATE_CERTS": "false"}
        assert resolve_settings({"access_token": "t"}, environ).verify is False

    @pytest.mark.parametrize(
        "option, environ, expected",
        [
            (None, {}, True),
            (None, {"MSGRAPH_VALIDATE_CERTS_STRICT": "false"}, False),
            (None, {"MSGRAPH_VALIDATE_CERTS_STRICT": "yes"}, True),
            (None, {"MSGRAPH_VALIDATE_CERTS_STRICT": ""}, True),
            (True, {"MSGRAPH_VALIDATE_CERTS_STRICT": "false"}, True),  # the task's option beats the environment
            (False, {"MSGRAPH_VALIDATE_CERTS_STRICT": "true"}, False),
        ],
    )
    def test_validate_certs_strict(self, option, environ, expected):
        settings = resolve_settings({"access_token": "t", "validate_certs_strict": option}, environ)
        assert settings.verify_strict is expected
        assert settings.verify is True  # verification itself stays on

    def test_validate_certs_strict_not_a_boolean_names_the_variable(self):
        with pytest.raises(GraphOptionError) as info:
            resolve_settings({"access_token": "t"}, {"MSGRAPH_VALIDATE_CERTS_STRICT": "lax"})
        assert str(info.value) == "MSGRAPH_VALIDATE_CERTS_STRICT='lax' is not a boolean; use true or false"


class TestSecrets:
    def test_repr_hides_every_secret(self, cert_file):
        params = dict(
            SECRET_PARAMS,
            client_certificate_path=cert_file,
            client_certificate_password="pfx-password-42",
        )
        settings = resolve_settings(params, environ={"MSGRAPH_ACCESS_TOKEN": "eyJ.token.from-env"})
        text = repr(settings)
        for secret in ("s3cret-from-task", "pfx-password-42", "eyJ.token.from-env"):
            assert secret not in text
        assert text.count("'********'") == 3
        assert TENANT in text  # not a secret: repr still helps debugging
        assert str(settings) == text

    def test_secret_values_lists_every_secret(self):
        settings = resolve_settings(SECRET_PARAMS, environ={"MSGRAPH_ACCESS_TOKEN": "tok-env"})
        assert sorted(settings.secret_values()) == ["s3cret-from-task", "tok-env"]

    def test_no_secret_in_missing_option_message(self):
        params = {"auth_method": "client_secret", "client_id": CLIENT, "client_secret": "s3cret-from-task"}
        with pytest.raises(GraphOptionError) as info:
            resolve_settings(params, environ={})
        assert "s3cret-from-task" not in str(info.value)


def test_url_with_user_info_is_refused_without_echoing_it():
    with pytest.raises(GraphOptionError) as caught:
        resolve_settings({"access_token": "t", "graph_endpoint": "https://admin:Sup3rS3cret@graph.example"}, environ={})
    assert "graph_endpoint" in str(caught.value)
    assert "Sup3rS3cret" not in str(caught.value)
