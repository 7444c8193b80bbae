from django.urls import path

from . import settings_views, views

app_name = "sla"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("now/", views.now_partial, name="now"),
    path("reassign/", views.reassign, name="reassign"),
    path("export.csv", views.export_csv, name="export"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/read/", views.alerts_read, name="alerts_read"),
    path("cases/<int:case_id>/promise/", views.case_promise, name="case_promise"),
    # tenant admins: policies and business hours
    path("settings/", settings_views.settings, name="settings"),
    path("settings/policies/<int:policy_id>/", settings_views.policy_edit, name="policy_edit"),
    path("settings/policies/<int:policy_id>/move/", settings_views.policy_move, name="policy_move"),
    path("settings/policies/<int:policy_id>/delete/", settings_views.policy_delete, name="policy_delete"),
    path("settings/calendars/new/", settings_views.calendar_new, name="calendar_new"),
    path("settings/calendars/<int:calendar_id>/", settings_views.calendar_edit, name="calendar_edit"),
    path("settings/calendars/<int:calendar_id>/delete/", settings_views.calendar_delete, name="calendar_delete"),
]
