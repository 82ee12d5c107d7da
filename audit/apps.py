from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from audit import context, pgtrigger_ignore

        # Every new database connection carries the who/where of the current request or task
        # into the transaction of each write (see audit.context).
        connection_created.connect(context.install_on_connection, dispatch_uid="audit-context")
        post_migrate.connect(pgtrigger_ignore.install_after_migrate, sender=self)
