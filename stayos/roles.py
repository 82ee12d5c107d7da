"""The staff roles: Django groups named here, granted permissions by each app's seeding module.

An app grants its own permissions by declaring ``ROLE_PERMISSIONS`` in its ``seeding`` module
(``{role name: ("app_label.codename" or a pattern such as "guests.view_*", ...)}``);
``stayos.seeding.staff_roles_setup`` collects them through the app registry, so a later app
(reservations, billing) adds its pages to the roles without the kernel importing it.
Apps below the kernel (audit) cannot import this module and spell the role names out; the
setup refuses a name that is not one of these.
"""

from __future__ import annotations

FRONT_DESK = "Front desk"
HOUSEKEEPING = "Housekeeping"
ACCOUNTING = "Accounting"
AUDITOR = "Auditor"
MANAGER = "Manager"

ROLES: dict[str, str] = {
    FRONT_DESK: "Guests, companies and groups; looks up rooms and marks them clean or dirty.",
    HOUSEKEEPING: "Room housekeeping status only.",
    ACCOUNTING: "Rate plans and companies (folios when billing lands).",
    AUDITOR: "Reads everything, the audit log, events, seals, job runs and monitoring included.",
    # Not yet limited to the manager's own properties: row-level security by property comes
    # with the tenancy work; until then a manager sees every property.
    MANAGER: "Everything of the hotel's operation; no user accounts, no new properties.",
}


def crud(app_label: str, *models: str) -> tuple[str, ...]:
    """View, add, change and delete permissions of each model, as "app_label.codename"."""
    return tuple(
        f"{app_label}.{action}_{model}"
        for model in models
        for action in ("view", "add", "change", "delete")
    )
