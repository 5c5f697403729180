# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared connection options: argument spec, environment fallbacks, clouds, and their resolution.

Environment fallbacks are resolved here rather than with Ansible's env_fallback so that an option given
in the task always beats one from the environment, also across options: with auth_method=auto, a
client_secret written in the task wins over an MSGRAPH_ACCESS_TOKEN left in the environment.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError

AUTH_METHODS = (
    "auto",
    "client_secret",
    "client_certificate",
    "access_token",
    "managed_identity",
    "workload_identity",
)

GRAPH_ARGUMENT_SPEC = {
    "tenant_id": {"type": "str"},
    "client_id": {"type": "str"},
    "client_secret": {"type": "str", "no_log": True},
    "client_certificate_path": {"type": "path"},
    "client_certificate_password": {"type": "str", "no_log": True},
    "access_token": {"type": "str", "no_log": True},
    "auth_method": {"type": "str", "default": "auto", "choices": list(AUTH_METHODS)},
    "managed_identity_client_id": {"type": "str"},
    "cloud": {"type": "str", "choices": ["public", "usgov", "usgov_dod", "china"]},
    "graph_endpoint": {"type": "str"},
    "authority_host": {"type": "str"},
    "api_version": {"type": "str", "default": "v1.0", "choices": ["v1.0", "beta"]},
    # No defaults for the TLS switches either: MSGRAPH_VALIDATE_CERTS and MSGRAPH_VALIDATE_CERTS_STRICT, then true.
    "validate_certs": {"type": "bool"},
    "validate_certs_strict": {"type": "bool"},
    "ca_path": {"type": "path"},
    "timeout": {"type": "float", "default": 30},
    "max_retries": {"type": "int", "default": 5},
    # No default here: an unset option falls back to MSGRAPH_TOKEN_CACHE, then to true.
    "token_cache": {"type": "bool"},
    # Likewise: MSGRAPH_BATCH, then true.
    "batch": {"type": "bool"},
}

# Option -> environment variables, first set one wins. AZURE_TENANT and AZURE_SECRET are the names
# that AWX's "Microsoft Azure Resource Manager" credential injects.
ENV_FALLBACKS = {
    "tenant_id": ("AZURE_TENANT_ID", "AZURE_TENANT"),
    "client_id": ("AZURE_CLIENT_ID",),
    "client_secret": ("AZURE_CLIENT_SECRET", "AZURE_SECRET"),
    "client_certificate_path": ("AZURE_CLIENT_CERTIFICATE_PATH",),
    "client_certificate_password": ("AZURE_CLIENT_CERTIFICATE_PASSWORD",),
    "access_token": ("MSGRAPH_ACCESS_TOKEN",),
    "authority_host": ("AZURE_AUTHORITY_HOST",),
    "graph_endpoint": ("MSGRAPH_GRAPH_ENDPOINT",),
    "ca_path": ("MSGRAPH_CA_PATH",),
}
SECRET_OPTIONS = ("client_secret", "client_certificate_password", "access_token")
FEDERATED_TOKEN_ENV = "AZURE_FEDERATED_TOKEN_FILE"
CLOUD_ENV = "AZURE_CLOUD_ENVIRONMENT"
TOKEN_CACHE_ENV = "MSGRAPH_TOKEN_CACHE"
BATCH_ENV = "MSGRAPH_BATCH"
VALIDATE_CERTS_ENV = "MSGRAPH_VALIDATE_CERTS"
VALIDATE_CERTS_STRICT_ENV = "MSGRAPH_VALIDATE_CERTS_STRICT"


class Cloud:
    def __init__(self, graph_endpoint, authority_host):
        self.graph_endpoint = graph_endpoint
        self.authority_host = authority_host

    @property
    def scope(self):
        """Tokens are always for the cloud's Graph resource, whatever endpoint serves the requests."""
        return self.graph_endpoint + "/.default"


CLOUDS = {
    "public": Cloud("https://graph.microsoft.com", "https://login.microsoftonline.com"),
    "usgov": Cloud("https://graph.microsoft.us", "https://login.microsoftonline.us"),
    "usgov_dod": Cloud("https://dod-graph.microsoft.us", "https://login.microsoftonline.us"),
    "china": Cloud("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}
# AWX and the Azure SDKs name clouds like this in AZURE_CLOUD_ENVIRONMENT.
CLOUD_ALIASES = {
    "azurecloud": "public",
    "azureusgovernment": "usgov",
    "azureusgovernmentcloud": "usgov",
    "azurechinacloud": "china",
}
# Authority hosts that msal's instance discovery knows; for any other host it must be switched off,
# or msal would ask login.microsoftonline.com about it first.
MICROSOFT_AUTHORITY_HOSTS = frozenset(
    (
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    )
)


class GraphSettings:
    """Everything needed to authenticate and talk to Graph, resolved and validated.

    repr() never shows a secret.
    """

    def __init__(self, **values):
        self.__dict__.update(values)

    def __repr__(self):
        shown = {k: ("********" if k in SECRET_OPTIONS and v else v) for k, v in sorted(self.__dict__.items())}
        return f"GraphSettings({shown!r})"

    def secret_values(self):
        return [getattr(self, name) for name in SECRET_OPTIONS if getattr(self, name, None)]


def resolve_settings(params, environ=None):
    """Turn validated module parameters plus the environment into GraphSettings.

    Raises GraphOptionError, naming the option, for anything contradictory or missing.
    """
    environ = os.environ if environ is None else environ
    explicit = {name: params.get(name) for name in GRAPH_ARGUMENT_SPEC if params.get(name) not in (None, "")}
    from_env = {}
    for name, variables in ENV_FALLBACKS.items():
        for variable in variables:
            if environ.get(variable):
                from_env[name] = environ[variable]
                break

    def value(name):
        return explicit.get(name, from_env.get(name))

    cloud_name = _resolve_cloud(params.get("cloud"), environ.get(CLOUD_ENV))
    cloud = CLOUDS[cloud_name]
    graph_endpoint = _origin(value("graph_endpoint") or cloud.graph_endpoint, "graph_endpoint")
    authority_host = _origin(value("authority_host") or cloud.authority_host, "authority_host")

    # An empty `validate_certs:` arrives as None: that must mean the default (verify), never False.
    verify = _resolve_switch(params.get("validate_certs"), environ.get(VALIDATE_CERTS_ENV), VALIDATE_CERTS_ENV)
    ca_path, ca_source = explicit.get("ca_path"), "ca_path"
    if ca_path is None and from_env.get("ca_path"):
        # The expansion that Ansible gives a `path` option in the task.
        ca_path, ca_source = os.path.expanduser(os.path.expandvars(from_env["ca_path"])), ENV_FALLBACKS["ca_path"][0]
    if verify and ca_path:
        if not os.path.isfile(ca_path):
            raise GraphOptionError(f"{ca_source} {ca_path!r} does not exist or is not a file")
        verify = ca_path

    timeout = params.get("timeout") if params.get("timeout") is not None else 30
    if timeout <= 0:
        raise GraphOptionError(f"timeout must be greater than 0, got {timeout}")
    max_retries = params.get("max_retries") if params.get("max_retries") is not None else 5
    if max_retries < 0:
        raise GraphOptionError(f"max_retries must be 0 or more, got {max_retries}")

    auth_method = params.get("auth_method") or "auto"
    if auth_method == "auto":
        auth_method = _pick_auto_method(explicit, from_env)

    settings = GraphSettings(
        auth_method=auth_method,
        cloud=cloud_name,
        tenant_id=value("tenant_id"),
        client_id=value("client_id"),
        client_secret=value("client_secret"),
        client_certificate_path=value("client_certificate_path"),
        client_certificate_password=value("client_certificate_password"),
        access_token=value("access_token"),
        managed_identity_client_id=params.get("managed_identity_client_id"),
        federated_token_file=environ.get(FEDERATED_TOKEN_ENV),
        graph_endpoint=graph_endpoint,
        authority_host=authority_host,
        instance_discovery=urlsplit(authority_host).hostname in MICROSOFT_AUTHORITY_HOSTS,
        scope=cloud.scope,
        resource=cloud.graph_endpoint,
        api_version=params.get("api_version") or "v1.0",
        verify=verify,
        verify_strict=_resolve_switch(
            params.get("validate_certs_strict"), environ.get(VALIDATE_CERTS_STRICT_ENV), VALIDATE_CERTS_STRICT_ENV
        ),
        timeout=float(timeout),
        max_retries=int(max_retries),
        token_cache=_resolve_switch(params.get("token_cache"), environ.get(TOKEN_CACHE_ENV), TOKEN_CACHE_ENV),
        batch=_resolve_switch(params.get("batch"), environ.get(BATCH_ENV), BATCH_ENV),
    )
    _check_required(settings)
    return settings


def _resolve_cloud(option, env_value):
    if option:
        return option
    if not env_value:
        return "public"
    name = CLOUD_ALIASES.get(env_value.strip().lower(), env_value.strip().lower())
    if name not in CLOUDS:
        raise GraphOptionError(
            "{}={!r} is not a known cloud; use AzureCloud, AzureUSGovernment, AzureChinaCloud or one of {}".format(
                CLOUD_ENV, env_value, ", ".join(sorted(CLOUDS))
            )
        )
    return name


def _resolve_switch(option, env_value, variable):
    """A boolean option that defaults to true: the task's value, else its environment variable, else true."""
    if option is not None:
        return bool(option)
    if not env_value:
        return True
    try:
        return boolean(env_value.strip(), strict=True)
    except TypeError:
        raise GraphOptionError(f"{variable}={env_value!r} is not a boolean; use true or false") from None


def _origin(url, option):
    """Scheme, host and optional port; no path (so no API version and no tenant)."""
    parts = urlsplit(url.strip())
    if parts.username or parts.password:
        # Not echoed: the user part could hold a password.
        raise GraphOptionError(f"{option} must not contain a user name or password")
    if parts.scheme != "https" or not parts.hostname:
        raise GraphOptionError(f"{option} must be an https URL such as https://graph.microsoft.com, got {url!r}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise GraphOptionError(
            f"{option} takes only scheme, host and port (no path, version, tenant or query), got {url!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise GraphOptionError(f"{option} has an invalid port: {url!r}") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"https://{host}:{port}" if port else f"https://{host}"


def _pick_auto_method(explicit, from_env):
    """First of access token, client certificate and client secret; the task's options before the environment.

    Never managed identity: probing the IMDS address from a machine that is not in Azure only hangs.
    """
    order = (
        ("access_token", "access_token"),
        ("client_certificate_path", "client_certificate"),
        ("client_secret", "client_secret"),
    )
    for source in (explicit, from_env):
        for option, method in order:
            if source.get(option):
                return method
    raise GraphOptionError(
        "no credentials found: set access_token, client_certificate_path or client_secret (or their environment "
        "variables MSGRAPH_ACCESS_TOKEN, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_CLIENT_SECRET/AZURE_SECRET), "
        "or choose auth_method managed_identity or workload_identity"
    )


_REQUIRED = {
    "client_secret": ("tenant_id", "client_id", "client_secret"),
    "client_certificate": ("tenant_id", "client_id", "client_certificate_path"),
    "access_token": ("access_token",),
    "workload_identity": ("tenant_id", "client_id"),
    "managed_identity": (),
}


def _check_required(settings):
    for option in _REQUIRED[settings.auth_method]:
        if not getattr(settings, option):
            variables = ENV_FALLBACKS.get(option, ())
            hint = " (or the environment variable {})".format(" or ".join(variables)) if variables else ""
            raise GraphOptionError(f"auth_method={settings.auth_method} requires {option}{hint}")
    if settings.auth_method == "client_certificate" and not os.path.isfile(settings.client_certificate_path):
        raise GraphOptionError(
            f"client_certificate_path {settings.client_certificate_path!r} does not exist or is not a file"
        )
    if settings.auth_method == "workload_identity":
        if not settings.federated_token_file:
            raise GraphOptionError(
                f"auth_method=workload_identity requires the environment variable {FEDERATED_TOKEN_ENV} (set by the AKS workload identity "
                "webhook)"
            )
        if not os.path.isfile(settings.federated_token_file):
            raise GraphOptionError(
                f"{FEDERATED_TOKEN_ENV} {settings.federated_token_file!r} does not exist or is not a file"
            )
