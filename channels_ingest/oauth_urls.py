"""The OAuth redirect URIs: one per network for the whole installation (see oauth/flow.py for why)."""

from django.urls import path

from . import views

app_name = "channels_oauth"

urlpatterns = [
    path("x/callback/", views.oauth_x_callback, name="x_callback"),
    path("facebook/callback/", views.oauth_facebook_callback, name="facebook_callback"),
]
