"""The inbox's case events. Services send them explicitly (never from save() or post_save).

Synchronous subscribers (SLA due times) run inside the sending service's
transaction and commit or roll back with it; subscribers with side effects
must queue them with transaction.on_commit. Every event is sent with
sender=Case and keyword arguments `case` and `actor` (a user or None).
"""

from django.dispatch import Signal

case_opened = Signal()          # case, actor
cases_opening = Signal()        # cases, actor   (batch triage, just before the INSERT: subscribers may fill
                                #                 columns of the unsaved cases, e.g. the SLA due times)
cases_opened = Signal()         # cases, actor   (batch triage: many cases opened in one transaction)
case_assigned = Signal()        # case, actor, old_assignee_id, old_team_id  (transfers and reassignments)
case_mention_attached = Signal()  # case, actor, mention
case_replied = Signal()         # case, actor, reply   (after the reply was delivered)
case_status_changed = Signal()  # case, actor, old_status, new_status
case_resolved = Signal()        # case, actor
case_recategorized = Signal()   # case, actor, old_category, new_category   (an agent's triage correction)
