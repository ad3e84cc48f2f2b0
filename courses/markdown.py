"""Lesson Markdown to safe HTML.

markdown-it-py renders (CommonMark, tables, fenced code with language
classes, anchored headings); nh3 then keeps only the tags and attributes a
lesson needs, so a pack can never inject script or styles into a page.

A shell block the Run button may type gets the class `runnable` on its
`<code>` (static/js/drydock.js gives only those a button): a `sh`/`bash`
block not marked ```` ```sh shown ```` that starts nothing interactive
(`courses/runnable.py`).

French text gets its non-breaking spaces from the renderer (`typeset`), so
authors type ordinary spaces. It follows the Imprimerie nationale's rules
(Lexique des règles typographiques): a narrow no-break space (U+202F, the
« fine insécable ») before `;`, `?` and `!`; a no-break word space (U+00A0)
before `:`, after `«` and before `»`. The pass turns the spaces the author
typed into no-break ones and adds none before `: ; ? !` (so `nginx:1.26`,
`http://`, `10:30` or `?x=1` in prose stay as written); inside guillemets,
which have no other use, a missing space is added. It rewrites text nodes only:
code spans and blocks, autolinks (whose text is their URL), image alt texts
and every HTML attribute are left alone.
"""

import re

from dataclasses import dataclass, field

import nh3
from django.utils.text import slugify
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

from courses import runnable as runnable_blocks

ALLOWED_TAGS = {
    "a", "abbr", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "figcaption",
    "figure", "h2", "h3", "h4", "h5", "h6", "hr", "img", "kbd", "li", "ol", "p", "pre", "s",
    "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "h2": {"id"}, "h3": {"id"}, "h4": {"id"}, "h5": {"id"}, "h6": {"id"},
    "img": {"src", "alt", "title", "loading"},
    "ol": {"start"},
    "td": {"style"},
    "th": {"style"},
}
TOC_LEVELS = (2, 3)


NARROW_NBSP = "\u202f"
NBSP = "\u00a0"
_SPACES = "[ \t\u00a0\u202f]"
_BEFORE_HIGH = re.compile(_SPACES + r"+([;?!])")
_BEFORE_COLON = re.compile(_SPACES + r"+:")
_AFTER_OPENING = re.compile("«" + _SPACES + "*")
_BEFORE_CLOSING = re.compile(_SPACES + "*»")


def typeset(text, language="fr"):
    """One run of plain text with its language's no-break spaces (French only, for now)."""
    if not language.lower().startswith("fr"):
        return text
    text = _BEFORE_HIGH.sub(NARROW_NBSP + r"\1", text)
    text = _BEFORE_COLON.sub(NBSP + ":", text)
    text = _AFTER_OPENING.sub("«" + NBSP, text)
    return _BEFORE_CLOSING.sub(NBSP + "»", text)


def _typeset_inline(token, language):
    """Typeset the text children of one inline token, never the text of an autolink (its URL)."""
    in_autolink = False
    for child in token.children or []:
        if child.type == "link_open" and child.markup == "autolink":
            in_autolink = True
        elif child.type == "link_close" and in_autolink:
            in_autolink = False
        elif child.type == "text" and not in_autolink:
            child.content = typeset(child.content, language)


def _heading_slug(text):
    return slugify(text) or "section"


def _parser():
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    md.use(anchors_plugin, min_level=2, max_level=6, slug_func=_heading_slug)
    return md


_md = _parser()


@dataclass
class ImageRef:
    src: str
    alt: str
    line: int  # 1-based, within the Markdown text


@dataclass
class CodeBlock:
    language: str
    shown: bool  # marked ```sh shown: displayed, never run
    code: str
    line: int  # 1-based line of the block's first line of code, within the Markdown text

    @property
    def runnable_language(self):
        return self.language in runnable_blocks.LANGUAGES


@dataclass
class RenderedMarkdown:
    html: str
    toc: list = field(default_factory=list)


def find_images(text):
    """Every image the Markdown shows, with its line, before any rendering."""
    images = []
    for token in _md.parse(text):
        if token.type != "inline" or not token.children:
            continue
        for child in token.children:
            if child.type == "image":
                alt = "".join(c.content for c in child.children or []) or child.content
                images.append(ImageRef(src=child.attrGet("src") or "", alt=alt.strip(), line=token.map[0] + 1))
    return images


def find_code_blocks(text):
    """Every fenced code block, with its language, its shown-only mark and its first line of code."""
    blocks = []
    for token in _md.parse(text):
        if token.type == "fence":
            language, shown = runnable_blocks.fence_info(token.info)
            blocks.append(CodeBlock(language=language, shown=shown, code=token.content, line=token.map[0] + 2))
    return blocks


def render(text, *, image_urls=None, runnable=True, language="fr"):
    """Render lesson Markdown; `image_urls` maps each image src to the URL to serve it from.

    With `runnable` false (quizzes) no block gets a Run button. `language` (the
    course's) chooses the typographic pass; the shipped packs are French.
    """
    image_urls = image_urls or {}
    tokens = _md.parse(text)
    toc = []
    for index, token in enumerate(tokens):
        if token.type == "fence":
            language, shown = runnable_blocks.fence_info(token.info)
            # The mark is for the loader, not the reader: the block shows as any sh block.
            token.info = language
            if runnable and not shown and language in runnable_blocks.LANGUAGES and runnable_blocks.runnable(token.content):
                token.attrSet("class", "runnable")
        if token.type == "heading_open" and int(token.tag[1]) in TOC_LEVELS:
            inline = tokens[index + 1]
            toc.append({"level": int(token.tag[1]), "anchor": token.attrGet("id"), "text": typeset(inline.content, language)})
        if token.type == "inline" and token.children:
            _typeset_inline(token, language)
            for child in token.children:
                if child.type == "image":
                    src = child.attrGet("src")
                    if src in image_urls:
                        child.attrSet("src", image_urls[src])
                    child.attrSet("loading", "lazy")
    html = _md.renderer.render(tokens, _md.options, {})
    return RenderedMarkdown(html=sanitize(html), toc=toc)


def sanitize(html):
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        filter_style_properties={"text-align"},
    )


def render_inline(text, *, language="fr"):
    """Render one line of Markdown (a choice, a matching item) without a wrapping paragraph."""
    tokens = _md.parseInline(text)
    for token in tokens:
        _typeset_inline(token, language)
    return sanitize(_md.renderer.render(tokens, _md.options, {}))
