"""Storing the images agents attach to replies (inbox/media.py has the networks' rules)."""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sac.models import Membership

from ..media import MAX_IMAGE_BYTES, MB, TYPE_NAMES, sniff_image_type
from ..models import ReplyAttachment
from .common import CaseActionError


def reply_attachment_store(*, membership: Membership, upload: UploadedFile) -> ReplyAttachment:
    """Keep an uploaded image in the tenant's folder and return its row; the same bytes twice are one row.

    Only checks what holds for every network (an image, at most the largest any network takes); the
    reply checks the network's own limits when it is queued, and says which.
    """
    tenant = membership.tenant
    if upload.size is None or upload.size > MAX_IMAGE_BYTES:
        raise CaseActionError(_("The image is too large: %(size)s MB at most.") % {"size": MAX_IMAGE_BYTES // MB})
    content = upload.read(MAX_IMAGE_BYTES + 1)
    if len(content) > MAX_IMAGE_BYTES:
        raise CaseActionError(_("The image is too large: %(size)s MB at most.") % {"size": MAX_IMAGE_BYTES // MB})
    content_type = sniff_image_type(content[:16])
    if content_type is None:
        raise CaseActionError(_("That file is not an image SAC can send (%(kinds)s).")
                              % {"kinds": ", ".join(TYPE_NAMES.values())})
    digest = hashlib.sha256(content).hexdigest()
    existing = ReplyAttachment.objects.filter(tenant=tenant, sha256=digest).first()
    if existing is not None:
        return existing
    attachment = ReplyAttachment(tenant=tenant, uploaded_by=membership.user, sha256=digest,
                                 content_type=content_type, size=len(content),
                                 original_name=(upload.name or "")[:200])
    try:
        with transaction.atomic():
            # The path is the content's hash in the tenant's folder: a file left there by a rolled-back upload
            # holds the same bytes and is reused rather than copied under another name.
            name = attachment.file.field.generate_filename(attachment, digest)
            if attachment.file.storage.exists(name):
                attachment.file.name = name
            else:
                attachment.file.save(digest, ContentFile(content), save=False)
            attachment.save()
    except IntegrityError:
        return ReplyAttachment.objects.get(tenant=tenant, sha256=digest)
    return attachment
