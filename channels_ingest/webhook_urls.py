from django.urls import path

from . import webhooks

app_name = "channels_ingest_webhooks"

urlpatterns = [
    # The apps' one callback URL each (channels connected with OAuth). `x/app/` comes before `x/<webhook_key>/`,
    # which would otherwise take "app" for a key.
    path("meta/", webhooks.meta_app_hook, name="meta_app"),
    path("x/app/", webhooks.x_app_hook, name="x_app"),
    path("facebook/<slug:webhook_key>/", webhooks.facebook_hook, name="facebook"),
    path("instagram/<slug:webhook_key>/", webhooks.instagram_hook, name="instagram"),
    path("x/<slug:webhook_key>/", webhooks.x_hook, name="x"),
]
