# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Apple MDM push certificate (applePushNotificationCertificate, Graph v1.0): read-only, a singleton.

Its `certificate` (the certificate itself) is not declared, so it is never requested.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="apple_push_notification_certificate",
    collection="deviceManagement/applePushNotificationCertificate",
    noun="Apple MDM push certificate",
    short_noun="certificate",
    result_key="certificate",
    find_by=(),
    labels=("apple_identifier", "topic_identifier"),
    read_only=True,
    singleton=True,
    properties=(
        String("apple_identifier", "appleIdentifier", settable=False),
        String("topic_identifier", "topicIdentifier", settable=False),
        Instant("expiration_date_time", "expirationDateTime", settable=False),
        Instant("last_modified_date_time", "lastModifiedDateTime", settable=False),
        String("certificate_upload_status", "certificateUploadStatus", settable=False),
    ),
)
