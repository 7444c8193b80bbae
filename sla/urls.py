from django.urls import path

from . import views

app_name = "sla"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("now/", views.now_partial, name="now"),
    path("reassign/", views.reassign, name="reassign"),
    path("export.csv", views.export_csv, name="export"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/read/", views.alerts_read, name="alerts_read"),
    path("cases/<int:case_id>/promise/", views.case_promise, name="case_promise"),
]
