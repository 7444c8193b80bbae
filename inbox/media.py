"""Images agents attach to replies: which networks and routes take one, what they accept, and reading them back.

The limits are the networks' documented ones:
- X: images (JPEG, PNG, WEBP) up to 5 MB, GIF up to 15 MB, uploaded with `POST /2/media/upload`
  (media_category tweet_image for a reply, dm_image for a DM) — https://docs.x.com/x-api/media
- Facebook comment replies: a photo uploaded unpublished (`POST /{page-id}/photos`, published=false) and
  attached with `attachment_id` (https://developers.facebook.com/docs/graph-api/reference/object/comments);
  Page photos up to 4 MB.
- Messenger: an image uploaded with the Attachment Upload API (`POST /{page-id}/message_attachments`) and sent
  as a message `attachment` of type image, up to 25 MB
  (https://developers.facebook.com/docs/messenger-platform/reference/attachment-upload-api). The Send API
  takes text or an attachment per message, not both: the image goes as its own message before the text.
- Instagram comment replies take `message` only (…/instagram-graph-api/reference/ig-comment/replies), and
  private replies to a comment (Facebook or Instagram) are sent as text by SAC: no image there.
"""

from dataclasses import dataclass

from django.http import Http404
from django.utils.translation import gettext as _

from sac.models import Tenant

from .models import ReplyAttachment

MB = 1024 * 1024
# The largest image any route takes (Messenger); bigger uploads are refused before anything is stored.
MAX_IMAGE_BYTES = 25 * MB
X_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
FACEBOOK_PHOTO_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MESSENGER_TYPES = ("image/jpeg", "image/png", "image/gif")
TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


@dataclass(frozen=True)
class ImageRoute:
    """Whether a reply on this route may carry an image, and which."""

    allowed: bool
    reason: str = ""
    types: tuple[str, ...] = ()
    max_bytes: int = 0
    gif_max_bytes: int = 0  # X takes bigger GIFs than other images

    def limit_for(self, content_type: str) -> int:
        return self.gif_max_bytes if content_type == "image/gif" and self.gif_max_bytes else self.max_bytes

    @property
    def hint(self) -> str:
        """What the composer says next to the file input."""
        if not self.allowed:
            return self.reason
        kinds = ", ".join(TYPE_NAMES[t] for t in self.types)
        if self.gif_max_bytes:
            return _("%(kinds)s; up to %(size)s MB (GIF %(gif)s MB)") % {
                "kinds": kinds, "size": self.max_bytes // MB, "gif": self.gif_max_bytes // MB}
        return _("%(kinds)s; up to %(size)s MB") % {"kinds": kinds, "size": self.max_bytes // MB}


def image_route(*, platform: str, visibility: str, replied_kind: str) -> ImageRoute:
    """What the network allows for a reply of `visibility` answering a message of `replied_kind`
    (channels_ingest Mention.kind: post, comment, direct, …)."""
    if platform in ("x", "simulator"):
        return ImageRoute(True, types=X_TYPES, max_bytes=5 * MB, gif_max_bytes=15 * MB)
    if platform == "facebook":
        if visibility == "public":
            return ImageRoute(True, types=FACEBOOK_PHOTO_TYPES, max_bytes=4 * MB)
        if replied_kind == "direct":
            return ImageRoute(True, types=MESSENGER_TYPES, max_bytes=25 * MB)
        return ImageRoute(False, _("A private reply to a Facebook comment is sent as text only; attach the image "
                                   "once the customer answers in Messenger."))
    if platform == "instagram":
        if visibility == "public":
            return ImageRoute(False, _("Instagram comment replies are text only: no image can be attached."))
        return ImageRoute(False, _("A private reply to an Instagram comment is sent as text only."))
    return ImageRoute(False, _("This network takes no images from SAC."))


def sniff_image_type(head: bytes) -> str | None:
    """The image type the bytes themselves say (never the browser's claim or the file name), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def access_reply_attachment(tenant: Tenant, attachment_id: int) -> ReplyAttachment:
    """One of the tenant's attachments; another tenant's id is a 404, like one that does not exist."""
    try:
        return ReplyAttachment.objects.get(tenant=tenant, pk=attachment_id)
    except ReplyAttachment.DoesNotExist:
        raise Http404("No such attachment.") from None
