from django.apps import AppConfig, apps


class StayOSConfig(AppConfig):
    name = "stayos"
    verbose_name = "Hotel setup"

    def ready(self) -> None:
        from stayos.models import TrackedModel
        from stayos.triggers import row_triggers

        # Every concrete tracked model, in any app, gets the shared row triggers; declaring
        # them here once means no model can forget them.
        for model in apps.get_models():
            if issubclass(model, TrackedModel):
                declared = {trigger.name for trigger in getattr(model._meta, "triggers", [])}
                for trigger in row_triggers(model):
                    if trigger.name not in declared:
                        trigger.register(model)
