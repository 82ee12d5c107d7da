from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class StayOSConfig(AppConfig):
    name = "stayos"
    verbose_name = "Hotel setup"

    def ready(self) -> None:
        from stayos.models import TrackedModel
        from stayos.partitioning.maintenance import create_partitions_after_migrate

        post_migrate.connect(create_partitions_after_migrate, sender=self)
        from audit.triggers import relation_audit_triggers
        from stayos.triggers import link_triggers, row_triggers

        # Every concrete tracked model, in any app, gets the shared row triggers; declaring
        # them here once means no model can forget them.
        for model in apps.get_models():
            if issubclass(model, TrackedModel):
                declared = {trigger.name for trigger in getattr(model._meta, "triggers", [])}
                for trigger in row_triggers(model):
                    if trigger.name not in declared:
                        trigger.register(model)
                # Its many-to-many links (a room's amenities) are audited as changes of the
                # model. Django creates their link tables itself and migrations have no state
                # for them, so stayos/migrations/0005 installs these triggers as SQL.
                for field in model._meta.local_many_to_many:
                    through = field.remote_field.through
                    if through._meta.auto_created:
                        for trigger in [*relation_audit_triggers(field), *link_triggers(field)]:
                            trigger.register(through)
