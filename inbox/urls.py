from django.urls import path

from . import triage_views, views

app_name = "inbox"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("queue/rows/", views.queue_rows, name="queue_rows"),
    path("cases/next/", views.claim_next, name="claim_next"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/thread/", views.case_thread, name="case_thread"),
    path("cases/<int:case_id>/claim/", views.case_claim, name="case_claim"),
    path("cases/<int:case_id>/reply/", views.case_reply, name="case_reply"),
    path("cases/<int:case_id>/status/", views.case_status, name="case_status"),
    path("cases/<int:case_id>/notes/", views.case_note, name="case_note"),
    path("cases/<int:case_id>/transfer/", views.case_transfer, name="case_transfer"),
    path("cases/<int:case_id>/presence/", views.case_presence, name="case_presence"),
    path("cases/<int:case_id>/replies/<int:reply_id>/retry/", views.reply_retry, name="reply_retry"),
    path("cases/<int:case_id>/handoff/", views.case_handoff, name="case_handoff"),
    path("cases/<int:case_id>/spelling/", views.case_spelling, name="case_spelling"),
    path("cases/bulk/reassign/", views.cases_bulk_reassign, name="cases_bulk_reassign"),
    path("cases/<int:case_id>/canned/<int:canned_id>/", views.canned_render, name="canned_render"),
    path("canned/", views.canned_list, name="canned_list"),
    path("canned/new/", views.canned_edit, name="canned_new"),
    path("canned/export.csv", views.canned_export, name="canned_export"),
    path("canned/import/", views.canned_import, name="canned_import"),
    path("canned/<int:canned_id>/edit/", views.canned_edit, name="canned_edit"),
    path("canned/<int:canned_id>/delete/", views.canned_delete, name="canned_delete"),
    # triage (#4)
    path("cases/<int:case_id>/triage/", triage_views.case_triage_correct, name="case_triage_correct"),
    path("triage/rules/", triage_views.routing_rules, name="routing_rules"),
    path("triage/rules/<int:rule_id>/", triage_views.routing_rule_edit, name="routing_rule_edit"),
    path("triage/rules/<int:rule_id>/delete/", triage_views.routing_rule_delete, name="routing_rule_delete"),
    path("triage/rules/<int:rule_id>/move/", triage_views.routing_rule_move, name="routing_rule_move"),
    path("triage/models/", triage_views.triage_models, name="triage_models"),
    path("triage/patterns/", triage_views.personal_data_pattern_add, name="personal_data_pattern_add"),
    path("triage/patterns/<int:pattern_id>/delete/", triage_views.personal_data_pattern_delete,
         name="personal_data_pattern_delete"),
    path("triage/categories/", triage_views.triage_category_add, name="triage_category_add"),
]
