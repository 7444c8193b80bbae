from django.urls import path

from . import views

app_name = "crm_bridge"

urlpatterns = [
    path("", views.customer_list, name="customers"),
    path("customers/new/", views.customer_edit, name="customer_new"),
    path("customers/import/", views.customer_import, name="customer_import"),
    path("customers/<int:customer_id>/", views.customer_edit, name="customer_edit"),
    path("settings/", views.settings_edit, name="settings"),
    path("cases/<int:case_id>/panel/", views.case_panel, name="case_panel"),
    path("cases/<int:case_id>/link/", views.case_link, name="case_link"),
    path("cases/<int:case_id>/unlink/", views.case_unlink, name="case_unlink"),
]
