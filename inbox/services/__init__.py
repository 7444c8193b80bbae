"""Every write of the inbox, split by domain; import from here (`from inbox.services import reply_create`)."""

from .canned import (
    CANNED_CSV_COLUMNS,
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
    case_status_change,
    case_transfer,
    cases_auto_close,
    cases_reassign_bulk,
    mentions_triage,
    note_add,
    protocol_next,
)
from .common import DELIVERY_UNKNOWN, MAX_SEND_ATTEMPTS, CaseActionError
from .replies import (
    ThreadChanged,
    case_handoff_private,
    replies_stale_sweep,
    reply_create,
    reply_deliver,
    reply_retry,
    thread_changes_since,
)
from .triage_learning import *  # noqa: F403  (corrections, retraining, routing rules, patterns, categories)
from .triage_learning import __all__ as _triage_all

__all__ = [
    "CANNED_CSV_COLUMNS", "DELIVERY_UNKNOWN", "MAX_SEND_ATTEMPTS", "TRANSITIONS", "CannedImportResult",
    "CaseActionError", "ThreadChanged", "canned_replies_import_csv", "canned_reply_delete", "canned_reply_save",
    "case_auto_assign", "case_claim", "case_claim_next", "case_handoff_private", "case_status_change",
    "case_transfer", "cases_auto_close", "cases_reassign_bulk", "mentions_triage", "note_add", "protocol_next",
    "replies_stale_sweep", "reply_create", "reply_deliver", "reply_retry", "thread_changes_since", *_triage_all,
]
