"""The /_sim/ status page: what the brand sent and what customers posted."""

from __future__ import annotations

from html import escape
from typing import Any

from .graph import GraphSim
from .store import SimStore

TITLE = "SAC simulator — Acme Telecom on X"

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f7fa;
color:#1f2933}
header{background:#0f1419;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#aab8c2;font-size:13px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:24px;padding:24px}
section h2{font-size:16px;margin:0 0 12px}
ol{list-style:none;margin:0;padding:0}
li{background:#fff;border:1px solid #e1e8ed;border-radius:10px;padding:10px 14px;margin-bottom:10px}
.meta{font-size:12px;color:#657786}
.who{font-weight:600;color:#0f1419}
.text{margin:4px 0;white-space:pre-wrap;word-break:break-word}
.quote{border-left:3px solid #cfd9de;margin:6px 0 0;padding:2px 10px;color:#536471;font-size:13px}
.badge{display:inline-block;font-size:11px;border-radius:8px;padding:1px 7px;margin-right:4px;
background:#e8f5fd;color:#1d6fa5}
.badge.dm{background:#f3e8fd;color:#7a3fb0}
.badge.personal_data{background:#fdecea;color:#b3261e}
.badge.complaint{background:#fff4e5;color:#9a5b00}
.badge.praise{background:#e7f7ee;color:#1e7d45}
.empty{color:#657786;font-style:italic}
a{color:#1d6fa5}
img.sent-media{display:block;max-width:320px;max-height:240px;margin:6px 0;border-radius:8px;border:1px solid #e1e8ed}
"""


def _when(stamp: str) -> str:
    return escape(stamp.replace("T", " ").replace(".000Z", " UTC"))


def _tweet_quote(store: SimStore, rec: dict[str, Any] | None) -> str:
    if rec is None:
        return ""
    author = store.users.get(rec["author_id"])
    handle = f"@{author.username}" if author else rec["author_id"]
    return (f'<div class="quote"><span class="who">{escape(handle)}</span> '
            f'<span class="meta">{_when(rec["created_at"])} · id {escape(rec["id"])}</span>'
            f'<div class="text">{escape(rec["text"])}</div></div>')


def _sent_item(store: SimStore, item: dict[str, Any]) -> str:
    if item["kind"] == "dm":
        user = store.users.get(item["participant_id"])
        target = f"DM to @{user.username}" if user else f"DM to user {item['participant_id']}"
        latest = next((store.tweets[tid] for tid in reversed(store.customer_ids)
                       if user and store.tweets[tid]["author_id"] == user.id), None)
        context = _tweet_quote(store, latest)
        badge = '<span class="badge dm">DM</span>'
    else:
        parent = store.tweets.get(item["in_reply_to_tweet_id"] or "")
        target = "public reply" if parent else "tweet"
        context = _tweet_quote(store, parent)
        badge = '<span class="badge">reply</span>' if parent else '<span class="badge">tweet</span>'
    meta = f'{escape(target)} · {_when(item["at"])} · id {escape(item["id"])}'
    text = f'<div class="text">{escape(item["text"])}</div>'
    return f'<li>{badge}<span class="meta">{meta}</span>{text}{_images(item)}{context}</li>'


def _images(item: dict[str, Any]) -> str:
    """The images a sent item carries, shown from the simulator's own copy (GET /_sim/media/<id>)."""
    return "".join(f'<a href="/_sim/media/{escape(m)}"><img class="sent-media" src="/_sim/media/{escape(m)}" '
                   f'alt="image {escape(m)}" data-media-id="{escape(m)}"></a>' for m in item.get("media_ids") or [])


def _graph_item(item: dict[str, Any]) -> str:
    kind = "Messenger" if item["kind"] == "message" else "comment reply"
    target = item.get("in_reply_to") or (item.get("recipient") or {}).get("id") \
        or (item.get("recipient") or {}).get("comment_id") or ""
    meta = f'{escape(kind)} → {escape(str(target))} · id {escape(item["id"])}'
    text = f'<div class="text">{escape(item["text"])}</div>' if item.get("text") else ""
    return f'<li><span class="badge">facebook</span><span class="meta">{meta}</span>{text}{_images(item)}</li>'


def _post_item(store: SimStore, rec: dict[str, Any], answered: set[str]) -> str:
    author = store.users[rec["author_id"]]
    kind = rec["kind"]
    badges = f'<span class="badge {escape(kind)}">{escape(kind)}</span>'
    badges += f'<span class="badge">{escape(rec["lang"])}</span>'
    if rec["id"] in answered:
        badges += '<span class="badge praise">answered</span>'
    check = " ✔" if author.verified else ""
    return (f'<li>{badges}<span class="who">{escape(author.name)}{check}</span> '
            f'<span class="meta">@{escape(author.username)} · {_when(rec["created_at"])} · '
            f'id {escape(rec["id"])}</span><div class="text">{escape(rec["text"])}</div></li>')


def render_page(store: SimStore, graph: GraphSim | None = None) -> str:
    graph_sent: list[dict[str, Any]] = []
    if graph is not None:
        with graph.lock:
            graph_sent = list(reversed(graph.sent))
    graph_html = "".join(_graph_item(item) for item in graph_sent)
    with store.lock:
        sent = list(reversed(store.sent))
        answered = {s["in_reply_to_tweet_id"] for s in store.sent if s.get("in_reply_to_tweet_id")}
        posts = [store.tweets[tid] for tid in reversed(store.customer_ids[-50:])]
        sent_html = "".join(_sent_item(store, item) for item in sent)
        posts_html = "".join(_post_item(store, rec, answered) for rec in posts)
        summary = (f"brand @{store.brand.username} (id {store.brand.id}) · "
                   f"{len(store.customer_ids)} customer posts · {len(store.sent)} sent · "
                   f"{store.rate:g} posts/min · pending faults: "
                   f"{', '.join(store.faults) or 'none'}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(TITLE)}</title><style>{_CSS}</style></head>
<body><header><h1>{escape(TITLE)}</h1><p>{escape(summary)} ·
<a href="/_sim/sent.json" style="color:#8ecdf8">sent.json</a></p></header>
<main>
<section id="sent"><h2>Sent by the brand ({len(sent)})</h2>
<ol>{sent_html or '<li class="empty">Nothing sent yet.</li>'}</ol></section>
{f'<section id="facebook-sent"><h2>Sent on the Facebook page ({len(graph_sent)})</h2><ol>{graph_html}</ol></section>'
   if graph_sent else ''}
<section id="posts"><h2>Latest customer posts ({len(posts)})</h2>
<ol>{posts_html or '<li class="empty">No posts yet.</li>'}</ol></section>
</main></body></html>
"""
