"""Every write of the inbox, split by domain; import from here (`from inbox.services import reply_create`)."""

from .canned import (
    CANNED_CSV_COLUMNS,
    CANNED_CSV_OPTIONAL,
    CannedImportResult,
    canned_replies_import_csv,
    canned_reply_delete,
    canned_reply_save,
)
from .cases import (
    TRANSITIONS,
    case_auto_assign,
    case_claim,
    case_claim_next,
    case_mark_seen,
    case_status_change,
    case_transfer,
    cases_auto_close,
    cases_reassign_bulk,
    ignored_mention_open_case,
    mentions_triage,
    mentions_triage_drain,
    note_add,
    protocol_next,
)
from .common import DELIVERY_UNKNOWN, MAX_SEND_ATTEMPTS, CaseActionError
from .media import reply_attachment_store
from .notifications import (
    mentioned_handles,
    notes_notify_mentions,
    notification_mark_read,
    notifications_mark_all_read,
)
from .replies import (
    ThreadChanged,
    case_handoff_private,
    replies_stale_sweep,
    reply_create,
    reply_deliver,
    reply_outcome_check,
    reply_retry,
    thread_changes_since,
)
from .settings import inbox_settings_save
from .tags import (
    case_missing_mandatory_tags,
    case_require_mandatory_tags,
    case_tag_add,
    case_tag_remove,
    mandatory_tags_for,
    tag_archive,
    tag_save,
)
from .triage_learning import *  # noqa: F403  (corrections, retraining, routing rules, patterns, categories)
from .triage_learning import __all__ as _triage_all

__all__ = [
    "CANNED_CSV_COLUMNS", "DELIVERY_UNKNOWN", "MAX_SEND_ATTEMPTS", "TRANSITIONS", "CannedImportResult",
    "CaseActionError", "ThreadChanged", "canned_replies_import_csv", "canned_reply_delete", "canned_reply_save",
    "case_auto_assign", "case_claim", "case_claim_next", "case_handoff_private", "case_status_change",
    "case_transfer", "cases_auto_close", "cases_reassign_bulk", "mentions_triage",
    "mentions_triage_drain", "note_add", "protocol_next",
    "replies_stale_sweep", "reply_create", "reply_deliver", "reply_outcome_check", "reply_retry",
    "thread_changes_since", *_triage_all,
    # tags, notifications, settings (#5)
    "CANNED_CSV_OPTIONAL", "case_missing_mandatory_tags", "case_require_mandatory_tags", "case_tag_add",
    "case_tag_remove", "inbox_settings_save", "mandatory_tags_for", "mentioned_handles", "notes_notify_mentions",
    "notification_mark_read", "notifications_mark_all_read", "tag_archive", "tag_save",
    "reply_attachment_store",
    # views, statuses and the tab title
    "case_mark_seen", "ignored_mention_open_case",
]
