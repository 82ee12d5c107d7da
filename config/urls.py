from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "StayOS back office"
admin.site.site_title = "StayOS"
admin.site.index_title = "Hotel group"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
