"""The Team page under /t/<slug>/team/ (sac.team_views), in the core app's "sac" namespace."""

from django.urls import path

from . import team_views

app_name = "sac"

urlpatterns = [
    path("", team_views.team, name="team"),
    path("members/<int:member_id>/", team_views.member_edit, name="member_edit"),
    path("teams/new/", team_views.team_new, name="team_new"),
    path("teams/<int:team_id>/", team_views.team_edit, name="team_edit"),
    path("teams/<int:team_id>/delete/", team_views.team_delete, name="team_delete"),
    path("invitations/new/", team_views.invitation_new, name="invitation_new"),
    path("invitations/<int:invitation_id>/resend/", team_views.invitation_resend, name="invitation_resend"),
    path("invitations/<int:invitation_id>/revoke/", team_views.invitation_revoke, name="invitation_revoke"),
]
