from django.urls import re_path

from . import public_views

app_name = "surveys_public"

urlpatterns = [
    # Anything after /s/ (even a mangled, truncated or slash-bearing link) gets the survey's friendly pages.
    re_path(r"^(?P<token>.*)$", public_views.survey_page, name="survey_public"),
]
