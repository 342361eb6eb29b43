"""Pure text helpers for the GUI: mentions, links, emoji shortcodes, avatar initials and colours.

No Qt here (only the HTML that Qt's rich text understands), so these are unit-tested directly.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
import re

__all__ = [
    "EMOJI",
    "avatar_color",
    "initials",
    "linkify",
    "mentions_user",
    "plural",
    "render_html",
    "replace_shortcodes",
]

_URL = re.compile(
    r"""(?P<url>(?:https?://|www\.)[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}])""",
    re.IGNORECASE,
)
_MENTION = re.compile(r"(?<![\w.@-])@(?P<name>[\w][\w.-]*[\w]|[\w])")
_SHORTCODE = re.compile(r":([a-z0-9_+-]{1,32}):")

#: the shortcodes people type most (GitHub/Slack names)
EMOJI: dict[str, str] = {
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "smile": "😄",
    "smiley": "😃",
    "grin": "😁",
    "joy": "😂",
    "rofl": "🤣",
    "wink": "😉",
    "blush": "😊",
    "heart_eyes": "😍",
    "thinking": "🤔",
    "neutral_face": "😐",
    "sweat_smile": "😅",
    "sob": "😭",
    "cry": "😢",
    "angry": "😠",
    "scream": "😱",
    "sunglasses": "😎",
    "upside_down": "🙃",
    "slightly_smiling_face": "🙂",
    "heart": "❤️",
    "broken_heart": "💔",
    "fire": "🔥",
    "tada": "🎉",
    "sparkles": "✨",
    "rocket": "🚀",
    "star": "⭐",
    "eyes": "👀",
    "clap": "👏",
    "pray": "🙏",
    "wave": "👋",
    "ok_hand": "👌",
    "muscle": "💪",
    "raised_hands": "🙌",
    "point_up": "☝️",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "warning": "⚠️",
    "bulb": "💡",
    "coffee": "☕",
    "beer": "🍺",
    "pizza": "🍕",
    "cake": "🍰",
    "100": "💯",
    "bug": "🐛",
    "zap": "⚡",
    "boom": "💥",
    "memo": "📝",
    "calendar": "📅",
    "lock": "🔒",
    "key": "🔑",
    "bell": "🔔",
    "sun": "☀️",
    "cloud": "☁️",
    "rainbow": "🌈",
    "see_no_evil": "🙈",
    "shrug": "🤷",
    "facepalm": "🤦",
    "party": "🥳",
    "hugs": "🤗",
    "cat": "🐱",
    "dog": "🐶",
}


def replace_shortcodes(text: str) -> str:
    """``:tada:`` -> 🎉 for the known shortcodes; unknown ones stay as typed."""
    return _SHORTCODE.sub(lambda mo: EMOJI.get(mo.group(1), mo.group(0)), text)


def mentions_user(text: str, user: str) -> bool:
    """Whether ``text`` mentions ``user``: ``@user``, or the bare name as a whole word."""
    if not user:
        return False
    pattern = r"(?<![\w.-])@?" + re.escape(user) + r"(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def linkify(text: str) -> list[tuple[str, str | None]]:
    """Split ``text`` into ``(piece, url_or_None)`` runs."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for mo in _URL.finditer(text):
        if mo.start() > pos:
            out.append((text[pos : mo.start()], None))
        url = mo.group("url")
        href = url if "://" in url else "https://" + url
        out.append((url, href))
        pos = mo.end()
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def _mark(piece: str, needle: str, mark_style: str) -> str:
    """HTML-escape ``piece``, wrapping case-insensitive occurrences of ``needle``."""
    if not needle:
        return html.escape(piece, quote=False)
    out = []
    low, n = piece.casefold(), needle.casefold()
    pos = 0
    while (i := low.find(n, pos)) >= 0 and len(low) == len(piece):
        out.append(html.escape(piece[pos:i], quote=False))
        out.append(f'<span style="{mark_style}">{html.escape(piece[i : i + len(n)])}</span>')
        pos = i + len(n)
    out.append(html.escape(piece[pos:], quote=False))
    return "".join(out)


def render_html(
    text: str,
    *,
    me: str = "",
    link_color: str = "#2563eb",
    mention_style: str = "",
    needle: str = "",
    mark_style: str = "background-color:#fde68a;color:#111",
) -> str:
    """The message body as Qt rich text: escaped, links clickable, mentions and search marked.

    Shortcodes are rendered as emoji too (messages from the CLI arrive with them as typed).
    """
    text = replace_shortcodes(text)
    parts: list[str] = []
    for piece, href in linkify(text):
        if href is not None:
            parts.append(
                f'<a href="{html.escape(href, quote=True)}" '
                f'style="color:{link_color};text-decoration:none">'
                f"{_mark(piece, needle, mark_style)}</a>"
            )
            continue
        pos = 0
        for mo in _MENTION.finditer(piece):
            parts.append(_mark(piece[pos : mo.start()], needle, mark_style))
            name = mo.group("name")
            style = mention_style if name.casefold() == me.casefold() and me else ""
            style = style or f"color:{link_color};font-weight:600"
            parts.append(f'<span style="{style}">{_mark(mo.group(0), needle, mark_style)}</span>')
            pos = mo.end()
        parts.append(_mark(piece[pos:], needle, mark_style))
    body = "".join(parts).replace("\n", "<br>")
    # keep runs of spaces (code snippets, ascii art) as typed
    return body.replace("  ", "&nbsp; ")


def plural(n: int, one: str, other: str) -> str:
    """``one`` or ``other`` (both already translated) with ``%n`` replaced by ``n``. English and
    Spanish both have exactly these two forms."""
    return (one if n == 1 else other).replace("%n", str(n))


def initials(name: str) -> str:
    """One or two letters for an avatar: ``ana`` -> ``A``, ``juan.perez`` -> ``JP``."""
    name = name.split(":")[-1] if name.startswith("dm:") else name
    parts = [p for p in re.split(r"[._\-\s]+", name) if p]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:1].upper()
    return (parts[0][:1] + parts[1][:1]).upper()


def avatar_color(name: str, *, dark: bool = False, text: bool = False) -> str:
    """A stable, pleasant colour for ``name`` (same name, same colour, on every machine);
    ``text``: a variant readable as text on the theme's background."""
    h = int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16)
    hue = (h % 360) / 360.0
    if text:
        light, sat = (0.72, 0.65) if dark else (0.36, 0.7)
    else:
        light, sat = (0.62, 0.55) if dark else (0.46, 0.62)
    r, g, b = colorsys.hls_to_rgb(hue, light, sat)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
