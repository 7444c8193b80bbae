from django.urls import path

from . import views

app_name = "channels_ingest"

urlpatterns = [
    path("", views.channel_list, name="list"),
    path("connect/", views.channel_connect, name="connect"),
    path("oauth/x/start/", views.oauth_x_start, name="oauth_x_start"),
    path("oauth/facebook/start/", views.oauth_facebook_start, name="oauth_facebook_start"),
    path("oauth/facebook/pages/", views.oauth_facebook_pages, name="oauth_facebook_pages"),
    path("<int:channel_id>/", views.channel_health, name="health"),
    path("<int:channel_id>/budget/", views.channel_budget, name="budget"),
    path("<int:channel_id>/search-terms/", views.channel_search_terms, name="search_terms"),
    path("<int:channel_id>/webhooks/subscribe/", views.channel_webhooks_subscribe, name="webhooks_subscribe"),
    path("<int:channel_id>/dead-letters/<int:dead_letter_id>/replay/", views.dead_letter_replay,
         name="dead_letter_replay"),
]
