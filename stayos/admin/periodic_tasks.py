"""The Celery beat schedule's admin, with its actions kept to those who may change it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

# django-celery-beat offers these to anyone who can open the list: a view-only auditor could
# switch off the nightly partition maintenance or the audit seal.
SCHEDULE_ACTIONS = frozenset({"enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks"})


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if self.has_change_permission(request):
            return actions
        return {name: action for name, action in actions.items() if name not in SCHEDULE_ACTIONS}


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
