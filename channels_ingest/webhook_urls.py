from django.urls import path

from . import webhooks

app_name = "channels_ingest_webhooks"

urlpatterns = [
    path("facebook/<slug:webhook_key>/", webhooks.facebook_hook, name="facebook"),
    path("instagram/<slug:webhook_key>/", webhooks.instagram_hook, name="instagram"),
    path("x/<slug:webhook_key>/", webhooks.x_hook, name="x"),
]
