"""The audit app's part of the staff roles: who may read the audit browsers.

The audit app has no demo data; ``manage.py seed`` reads only ``ROLE_PERMISSIONS`` here.
Role names are spelled out because audit imports no other app (they live in stayos.roles,
and the seed refuses a name that is not a role).
"""

from __future__ import annotations

AUDIT_BROWSERS = (
    "audit.view_auditentry",
    "audit.view_domainevententry",
    "audit.view_auditseal",
    "audit.view_jobrun",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "Auditor": AUDIT_BROWSERS,
    "Manager": AUDIT_BROWSERS,
}
