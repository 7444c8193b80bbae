"""The channel pages' texts that ingest stores in English (poll-run notes, sources, why a channel stopped), shown
in the reader's language.

They are written by Celery workers, where no reader's language exists, and older rows keep their text; so the
stored value stays English and is translated when a page shows it. A text that matches no known form (the
network's own error message, a new wording) is shown as stored.
"""

import re

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from .errors import QUOTA_CAP, QUOTA_CREDITS

SOURCES = {
    "poll": gettext_lazy("poll"),
    "reconcile": gettext_lazy("reconcile"),  # the stored word, as English pages always showed it
    "webhook": gettext_lazy("webhook"),
    "replay": gettext_lazy("replay"),
    "outbound": gettext_lazy("outbound"),
}

# (stored form, its translation with the captured value as %(a)s). Written by channels_ingest.services
# (rate notes), the X and Graph connectors and the OAuth token renewal (why a channel needs re-authorisation).
_PATTERNS: list[tuple[re.Pattern[str], Promise]] = [
    (re.compile(r"rate limited: next poll in (?P<a>\d+) s"), gettext_lazy("rate limited: next poll in %(a)s s")),
    (re.compile(r"webhooks live: next reconciliation poll in (?P<a>\d+) s"),
     gettext_lazy("webhooks live: next reconciliation poll in %(a)s s")),
    (re.compile(r"X budget: next poll in (?P<a>\d+) s"), gettext_lazy("X budget: next poll in %(a)s s")),
    (re.compile(r"X budget spent: polling paused until (?P<a>[\d\- :]+ UTC)"),
     gettext_lazy("X budget spent: polling paused until %(a)s")),
    (re.compile(r"usage high: next poll in (?P<a>\d+) s"), gettext_lazy("usage high: next poll in %(a)s s")),
    (re.compile(r"X refused the channel's credentials \(401\)"),
     gettext_lazy("X refused the channel's credentials (401)")),
    (re.compile(r"The X access token expired and there is no refresh token: connect the X account again\."),
     gettext_lazy("The X access token expired and there is no refresh token: connect the X account again.")),
    (re.compile(r"X refused to renew the channel's access \((?P<a>.*)\): connect the X account again\."),
     gettext_lazy("X refused to renew the channel's access (%(a)s): connect the X account again.")),
    (re.compile(r"The channel has no (?P<a>[\w, ]+): connect the X account again\."),
     gettext_lazy("The channel has no %(a)s: connect the X account again.")),
    (re.compile(r"The channel has no (?P<a>\w+) access token: connect it again\."),
     gettext_lazy("The channel has no %(a)s access token: connect it again.")),
    (re.compile(r"X rate budget: (?P<a>\d+) of (?P<b>\d+) calls left until (?P<c>\d\d:\d\d) UTC"),
     gettext_lazy("X rate budget: %(a)s of %(b)s calls left until %(c)s UTC")),
    (re.compile(r"Graph rate budget: (?P<a>\d+) % used"), gettext_lazy("Graph rate budget: %(a)s %% used")),
    (re.compile(r"X quota spent: next try in (?P<a>\d+) s"), gettext_lazy("X quota spent: next try in %(a)s s")),
    # X refusing for the app's credits or usage cap (errors.QUOTA_CREDITS, QUOTA_CAP): a poll's error, a reply's.
    (re.compile(re.escape(QUOTA_CREDITS)),
     gettext_lazy("X refused the request: the X app's pay-per-use credits are used up; add credits in X's "
                  "Developer Console")),
    (re.compile(re.escape(QUOTA_CAP["Monthly"])),
     gettext_lazy("X refused the request: the X app reached its monthly usage cap")),
    (re.compile(re.escape(QUOTA_CAP["Daily"])),
     gettext_lazy("X refused the request: the X app reached its daily usage cap")),
    (re.compile(re.escape(QUOTA_CAP[""])),
     gettext_lazy("X refused the request: the X app reached its usage cap")),
    (re.compile(r"X rate limit reached"), gettext_lazy("X rate limit reached")),
    (re.compile(r"X did not answer in time"), gettext_lazy("X did not answer in time")),
    (re.compile(r"X server error (?P<a>\d+)"), gettext_lazy("X server error %(a)s")),
    (re.compile(r"X unreachable: (?P<a>\w+)"), gettext_lazy("X unreachable: %(a)s")),
    (re.compile(r"X could not be reached \((?P<a>\w+)\)"), gettext_lazy("X could not be reached (%(a)s)")),
    (re.compile(r"X token endpoint answered (?P<a>\d+)"), gettext_lazy("X token endpoint answered %(a)s")),
    (re.compile(r"X refused SAC's client credentials \(invalid_client\): check SAC_X_OAUTH_CLIENT_ID and "
                r"SAC_X_OAUTH_CLIENT_SECRET\."),
     gettext_lazy("X refused SAC's client credentials (invalid_client): check SAC_X_OAUTH_CLIENT_ID and "
                  "SAC_X_OAUTH_CLIENT_SECRET.")),
    # What the X connector left out of a fetch (x/client.py XConnector._apart): the run is OK, the rest was read.
    (re.compile(r"X refused the search for the channel's terms \((?P<a>.*)\); the rest of the channel was read"),
     gettext_lazy("X refused the search for the channel's terms (%(a)s); the rest of the channel was read")),
    (re.compile(r"X refused the DMs \((?P<a>.*)\); the rest of the channel was read"),
     gettext_lazy("X refused the DMs (%(a)s); the rest of the channel was read")),
    (re.compile(r"X did not serve the search for the channel's terms this poll \((?P<a>.*)\); tried again at the "
                r"next poll"),
     gettext_lazy("X did not serve the search for the channel's terms this poll (%(a)s); tried again at the next "
                  "poll")),
    (re.compile(r"X's search reaches back 7 days only and the channel's terms were last searched before then: the "
                r"search starts again from the newest posts"),
     gettext_lazy("X's search reaches back 7 days only and the channel's terms were last searched before then: the "
                  "search starts again from the newest posts")),
    (re.compile(r"X's search reaches back 7 days only \((?P<a>.*)\)"),
     gettext_lazy("X's search reaches back 7 days only (%(a)s)")),
    (re.compile(r"X did not serve the DMs this poll \((?P<a>.*)\); tried again at the next poll"),
     gettext_lazy("X did not serve the DMs this poll (%(a)s); tried again at the next poll")),
    (re.compile(r"Facebook page (?P<a>\S+): Graph did not list the Messenger conversations \((?P<b>.*)\); the "
                r"comments were read"),
     gettext_lazy("Facebook page %(a)s: Graph did not list the Messenger conversations (%(b)s); the comments were "
                  "read")),
    # A list the Graph connectors skipped (comment_paging.head_read), one line each in an OK run's error column.
    (re.compile(r"Facebook post (?P<a>\S+): Graph refused to list its comments \((?P<b>.*)\); read again from its "
                r"newest at the next poll"),
     gettext_lazy("Facebook post %(a)s: Graph refused to list its comments (%(b)s); read again from its newest at "
                  "the next poll")),
    (re.compile(r"Instagram media (?P<a>\S+): Graph refused to list its comments \((?P<b>.*)\); read again from its "
                r"newest at the next poll"),
     gettext_lazy("Instagram media %(a)s: Graph refused to list its comments (%(b)s); read again from its newest at "
                  "the next poll")),
    (re.compile(r"Instagram comment (?P<a>\S+): Graph refused to list its replies \((?P<b>.*)\); read again from its "
                r"newest at the next poll"),
     gettext_lazy("Instagram comment %(a)s: Graph refused to list its replies (%(b)s); read again from its newest at "
                  "the next poll")),
]


def stored_text(text: str) -> str:
    """The stored English text in the active language, line by line, where a line has one of the known forms."""
    return "\n".join(_line_text(line) for line in text.split("\n"))


def _line_text(text: str) -> str:
    for pattern, translated in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:  # what a form quotes (the network's reason in a note) may be a known form itself
            return str(translated) % {key: _line_text(value or "") for key, value in match.groupdict().items()}
    return text


def source_label(source: str) -> str:
    """What fed a poll run or a dead letter (poll, webhook…), in the active language."""
    return str(SOURCES[source]) if source in SOURCES else source
