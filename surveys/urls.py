from django.urls import path

from . import views

app_name = "surveys"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("settings/", views.settings_edit, name="settings"),
    path("deflection/", views.deflection_import, name="deflection"),
    path("followups/<int:followup_id>/close/", views.followup_close, name="followup_close"),
]
