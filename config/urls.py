from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from stayos import monitoring

admin.site.site_header = "StayOS back office"
admin.site.site_title = "StayOS"
admin.site.index_title = "Hotel group"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("monitoring/health", monitoring.health, name="monitoring-health"),
    path(
        "monitoring/partitions/metrics",
        monitoring.partition_metrics,
        name="monitoring-partition-metrics",
    ),
    path(
        "monitoring/partitions/verify",
        monitoring.partition_verify,
        name="monitoring-partition-verify",
    ),
]
