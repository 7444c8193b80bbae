from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from channels_ingest.api import MentionViewSet
from inbox.api import CaseViewSet
from surveys.api import DeflectionDayViewSet, SurveyResponseViewSet

from . import team_views, views

router = DefaultRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("mentions", MentionViewSet, basename="mention")
router.register("deflection-days", DeflectionDayViewSet, basename="deflection-day")
router.register("survey-responses", SurveyResponseViewSet, basename="survey-response")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("t/<slug:tenant_slug>/channels/", include("channels_ingest.urls")),
    path("t/<slug:tenant_slug>/sla/", include("sla.urls")),
    path("t/<slug:tenant_slug>/surveys/", include("surveys.urls")),
    path("t/<slug:tenant_slug>/crm/", include("crm_bridge.urls")),
    path("t/<slug:tenant_slug>/team/", include("sac.team_urls")),
    path("t/<slug:tenant_slug>/", include("inbox.urls")),
    path("hooks/", include("channels_ingest.webhook_urls")),
    path("channels/oauth/", include("channels_ingest.oauth_urls")),
    path("s/", include("surveys.public_urls")),
    # The Team page's invitation link: no tenant in it, the token names the invitation (sac.team_views).
    path("invite/<str:token>/", team_views.invitation_accept, name="invitation_accept"),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include(router.urls)),
]
