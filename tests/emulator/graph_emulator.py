"""HTTPS emulator for Microsoft Graph (the Intune connector family, Intune's connector and token health objects,
Entra groups, JSON batching) and the Entra ID token service.

Run it as a script (the command line is a contract that test suites rely on)::

    python tests/emulator/graph_emulator.py --port 0 --info-file PATH [--seed FILE] [--page-size N]
        [--patch-status 204|200] [--tenants N] [--token-lifetime SECONDS] [--state-dir DIR]

It listens on 127.0.0.1 only, generates its own CA, server certificate and client certificate, and writes a JSON
info file (atomically) once it is ready to serve.  It serves until SIGTERM or SIGINT and then exits 0 (2 when the
arguments or the seed file are invalid).  ``--seed`` takes the JSON of the control API's ``POST seed``;
``--page-size``, ``--patch-status`` and ``--token-lifetime`` set the config values of the same names (they are what
``POST reset`` goes back to); ``--tenants`` generated tenants come first, the seed's tenants after them;
``--state-dir`` keeps the keys and certificates (default: a temporary directory removed on exit).

Served surfaces, all on one origin, each described in the module that serves it:

* Sign-in (``emulator_signin.py``): ``/{tenant}/v2.0/.well-known/openid-configuration``,
  ``/{tenant}/oauth2/v2.0/token`` (client secret, certificate assertion, federated workload identity token),
  ``/msi/token`` and ``/metadata/identity/oauth2/token`` (managed identity), and the bearer tokens Graph checks.
* Graph under ``/v1.0`` and ``/beta`` (``emulator_collections.py``), every object belonging to the token's tenant:
  ``/deviceManagement/{deviceManagementPartners, complianceManagementPartners, remoteAssistancePartners,
  mobileThreatDefenseConnectors}`` (read and write, bound actions, assignments), the read-only connector and token
  health kinds (``deviceManagement/applePushNotificationCertificate``, ``deviceAppManagement/vppTokens``,
  ``deviceManagement/{depOnboardingSettings, ndesConnectors, exchangeConnectors}``,
  ``deviceManagement/androidManagedStoreAccountEnterpriseSettings``, ``deviceManagement/windowsAutopilotSettings``;
  some beta only, three singletons) and ``/groups``; ``$select``, paging, ``$filter``, ``$top``, ``$count``.  The
  resource types are in ``graph_schema.py``.
* JSON batching (``emulator_batch.py``): ``POST /v1.0/$batch`` and ``/beta/$batch``, up to 20 requests.
* Faults and mutations (``emulator_faults.py``), injected through the control API, on any request but control ones.
* The control API ``/_emulator/...`` (``emulator_control.py``): log, state, seed, reset, config, faults, mutations,
  tokens, stats, info; the log's and the stats' fields are described in ``emulator_state.py``.

The HTTP server and this command line are in ``emulator_server.py``; ``emulator_pipeline.py`` routes each request
and applies its fault.  Only the standard library and ``cryptography`` are used on purpose: the emulator must not
share code paths with the HTTP clients under test.  The modules beside this file form the package
``tests.emulator``; run as a script, this file loads them as a package of their own, so that both ways work.
"""

from __future__ import annotations

import os
import sys

if __package__:  # imported as tests.emulator.graph_emulator, or run with python -m
    from .emulator_server import main
    from .emulator_signin import JWT_BEARER
    from .graph_schema import format_ticks, parse_datetime
else:  # run as a script: its directory is on sys.path, but its siblings import each other relatively
    import importlib.util

    _HERE = os.path.dirname(os.path.abspath(__file__))
    _SPEC = importlib.util.spec_from_file_location(
        "graph_emulator_package", os.path.join(_HERE, "__init__.py"), submodule_search_locations=[_HERE]
    )
    sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(sys.modules[_SPEC.name])
    from graph_emulator_package.emulator_server import main

__all__ = ["JWT_BEARER", "format_ticks", "main", "parse_datetime"]  # other suites import these from here

if __name__ == "__main__":
    sys.exit(main())
