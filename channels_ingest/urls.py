from django.urls import path

from . import views

app_name = "channels_ingest"

urlpatterns = [
    path("", views.channel_list, name="list"),
    path("connect/", views.channel_connect, name="connect"),
    path("<int:channel_id>/", views.channel_health, name="health"),
    path("<int:channel_id>/budget/", views.channel_budget, name="budget"),
    path("<int:channel_id>/dead-letters/<int:dead_letter_id>/replay/", views.dead_letter_replay,
         name="dead_letter_replay"),
]
