# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the connection options that every msgraph.intune module shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  tenant_id:
    description:
      - The Entra ID (Azure AD) tenant, as a GUID or a verified domain name.
      - If not set, the environment variable E(AZURE_TENANT_ID) is used, then E(AZURE_TENANT) (the name that the
        AWX/AAP Microsoft Azure Resource Manager credential injects).
      - Required for O(auth_method=client_secret), O(auth_method=client_certificate) and O(auth_method=workload_identity).
    type: str
  client_id:
    description:
      - The application (client) id of the app registration.
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - A client secret of the app registration.
      - If not set, the environment variable E(AZURE_CLIENT_SECRET) is used, then E(AZURE_SECRET).
    type: str
  client_certificate_path:
    description:
      - Path to the app's certificate on the host that runs the module, either a PEM file holding the private key
        and the certificate, or a PFX (PKCS#12) file.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
  client_certificate_password:
    description:
      - Password of the private key in O(client_certificate_path), if it has one.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used.
    type: str
  access_token:
    description:
      - A bearer token for Microsoft Graph obtained elsewhere. It cannot be renewed, so a task fails when it expires.
      - If not set, the environment variable E(MSGRAPH_ACCESS_TOKEN) is used.
    type: str
  auth_method:
    description:
      - How to authenticate.
      - V(auto) uses the first of O(access_token), O(client_certificate_path) and O(client_secret) that is given,
        options written in the task before those taken from the environment. It never uses managed identity.
      - V(managed_identity) uses the Azure managed identity of the machine (App Service, Azure VM and the other
        hosts that msal supports). O(managed_identity_client_id) selects a user-assigned identity.
      - V(workload_identity) sends the federated token from the file named by E(AZURE_FEDERATED_TOKEN_FILE) as the
        client assertion, as the AKS workload identity webhook sets up; O(tenant_id) and O(client_id) default to
        E(AZURE_TENANT_ID) and E(AZURE_CLIENT_ID) as it injects them.
      - Options that the chosen method needs and that are missing make the task fail before any request.
    type: str
    default: auto
    choices: [auto, client_secret, client_certificate, access_token, managed_identity, workload_identity]
  managed_identity_client_id:
    description:
      - Client id of a user-assigned managed identity, with O(auth_method=managed_identity).
      - When not set, the system-assigned identity is used.
    type: str
  cloud:
    description:
      - The Microsoft cloud. It sets the Graph endpoint, the sign-in authority and the token scope.
      - V(public) is graph.microsoft.com with login.microsoftonline.com, V(usgov) is graph.microsoft.us (GCC High)
        and V(usgov_dod) is dod-graph.microsoft.us, both with login.microsoftonline.us, V(china) is
        microsoftgraph.chinacloudapi.cn with login.chinacloudapi.cn (operated by 21Vianet).
      - If not set, the environment variable E(AZURE_CLOUD_ENVIRONMENT) is used (V(AzureCloud),
        V(AzureUSGovernment) or V(AzureChinaCloud), as AWX sets it), else V(public).
    type: str
    choices: [public, usgov, usgov_dod, china]
  graph_endpoint:
    description:
      - Overrides the cloud's Graph endpoint, as scheme, host and optional port, without version, for example
        V(https://graph.microsoft.com). The token scope stays the cloud's Graph resource.
      - If not set, the environment variable E(MSGRAPH_GRAPH_ENDPOINT) is used.
    type: str
  authority_host:
    description:
      - Overrides the cloud's sign-in authority, as scheme, host and optional port, without tenant, for example
        V(https://login.microsoftonline.com). For a host that is not a Microsoft one, msal's instance discovery is
        switched off.
      - If not set, the environment variable E(AZURE_AUTHORITY_HOST) is used.
    type: str
  api_version:
    description:
      - The Graph API version.
    type: str
    default: v1.0
    choices: [v1.0, beta]
  validate_certs:
    description:
      - Whether to verify TLS certificates of every request the module makes (token endpoint, managed identity
        endpoint and Graph).
      - When V(true) and O(ca_path) is not set, the bundle named by E(REQUESTS_CA_BUNDLE) is used if that is set,
        else the CA bundle of requests (certifi's, which some Linux distributions point at the system's trust store).
      - V(false) gives every task result one warning, as Ansible shows warnings, instead of urllib3's
        C(InsecureRequestWarning) on standard error. Use it for tests only; for a private CA set O(ca_path), and for
        one that fails Python's strict checks also O(validate_certs_strict=false).
      - If not set, the environment variable E(MSGRAPH_VALIDATE_CERTS) is used, else V(true).
    type: bool
  validate_certs_strict:
    description:
      - Whether TLS verification includes the strict X.509 checks (C(ssl.VERIFY_X509_STRICT), conformance to RFC 5280)
        that Python 3.13 and newer apply by default. They refuse, for example, a certificate without the Authority Key
        Identifier extension, which the CAs of TLS-inspecting proxies often issue, with C(Missing Authority Key
        Identifier) even when O(ca_path) names that CA.
      - V(false) keeps verification on (the chain against O(ca_path) or the trust store, the host name and the
        validity dates) and leaves out the strict checks only, for every request the module makes. The trade-off is
        that certificates which RFC 5280 calls malformed are accepted. The better fix is a CA whose certificates carry
        the extensions; use V(false) until the proxy's CA is replaced.
      - No effect with O(validate_certs=false), nor on Python before 3.13, which does not make the strict checks.
      - If not set, the environment variable E(MSGRAPH_VALIDATE_CERTS_STRICT) is used, else V(true).
    type: bool
    version_added: 0.2.0
  ca_path:
    description:
      - A PEM file of CA certificates used to verify every request, for example the CA of a TLS-inspecting proxy.
      - It is used instead of E(REQUESTS_CA_BUNDLE) and the CA bundle of requests, so it must hold every CA the module
        meets (behind a TLS-inspecting proxy, the proxy's CA is enough).
      - If not set, the environment variable E(MSGRAPH_CA_PATH) is used.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request (connect and read).
    type: float
    default: 30
  max_retries:
    description:
      - How many times a request is retried after the first attempt when Graph throttles it (HTTP 429, 503, 504)
        or the connection fails. V(3) means at most four attempts.
      - C(Retry-After) is always honoured; without it the client backs off exponentially with jitter. The total
        wait of one request is capped at 180 seconds.
      - A request that creates an object is only sent again when the server cannot have processed it; otherwise
        the module looks the object up first.
    type: int
    default: 5
  token_cache:
    description:
      - Whether the tasks of one C(ansible-playbook) run share access tokens and the authority's discovery
        document, so that tasks signing in with the same identity (authority, tenant, client and the same client
        secret, certificate, federated token or managed identity) ask for one token per run instead of one per
        task. A token is not reused in the last 5 minutes before it expires, and one that Graph rejects is replaced.
      - The cache is a directory that the collection makes for the controller's user (mode 0700) in Ansible's
        temporary directory of the run, which C(ansible-playbook) deletes when it ends.
      - The environment variable E(MSGRAPH_TOKEN_CACHE_DIR) names a parent directory instead, one of the user's or a
        shared one such as C(/tmp); the cache then outlives the run in C(msgraph_intune_tokens-<uid>) inside it. A
        symbolic link at that path is followed only when the user or root owns it, and anything at that name but a
        directory of the user with mode 0700 turns the cache off for the run, with a warning. The collection never
        changes or removes what it did not create.
      - Trouble with the cache never fails a task. A broken cache file is replaced, a task waits 10 seconds at most
        for another task's sign-in with the same identity, and a warning says what happened.
      - Only tasks that run in the controller's worker process use it. A task for a remote or delegated host, or
        with E(MSGRAPH_INTUNE_FORCE_MODULE) set, runs the module, which signs in for itself.
      - V(false) makes the task sign in for itself and keep its token in memory for the task's loop only.
      - If not set, the environment variable E(MSGRAPH_TOKEN_CACHE) is used, else V(true).
    type: bool
  batch:
    description:
      - Whether independent reads of one task (the lists of a baseline's kinds, the kinds of a health check, group
        names and ids) travel together in Graph's JSON batches (C($batch), up to 20 requests per round trip) instead
        of one request each. Writes are never batched.
      - Each read in a batch is retried, and fails, on its own, as a single request would. When the endpoint does not
        serve C($batch) (HTTP 404, 405 or 501), the task falls back to single requests, with a warning at C(-v).
      - If not set, the environment variable E(MSGRAPH_BATCH) is used, else V(true).
    type: bool
requirements:
  - requests
  - msal (not needed with O(auth_method=access_token))
notes:
  - Every request carries a C(client-request-id) header. A failed task returns Graph's C(request_id) and
    C(client_request_id), which Microsoft support asks for.
  - A task that fails on a request (to Graph, or to Entra ID when signing in) also returns C(status) (the HTTP
    status, V(null) when nothing answered), C(method), C(url) (without its query), C(path), C(error_code) (Graph's
    error code such as V(ResourceNotFound), V(throttled) when the retries ran out, or Entra's error such as
    V(invalid_client)) and C(graph_message) (Graph's message, or Entra's
    C(AADSTS) line). For a sign-in, C(request_id) and C(client_request_id) are Entra's trace and correlation ids.
  - Secrets (O(client_secret), O(client_certificate_password), O(access_token) and their environment variables)
    never appear in results or logs. Pass them as variables (vault, AWX credentials), not as literals in the
    playbook, because Ansible prints a failed task's source lines, and at C(-vvv) the values that the
    C(environment) keyword sets.
seealso:
  - name: Microsoft Graph national cloud deployments
    description: Graph endpoints of the national clouds.
    link: https://learn.microsoft.com/graph/deployments
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/msgraph.intune.graph) in C(module_defaults) to set the connection options of every module
      of this collection once.
    support: full
    membership:
      - msgraph.intune.graph
"""

    # The modules that only read (the _info modules, connector_health).
    READ_ONLY = r"""
attributes:
  check_mode:
    description: The module only reads, so it runs the same in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so it has no diff.
    support: N/A
  platform:
    description: Runs on the controller or any host with Python, requests and msal.
    platforms: posix
    support: full
"""
