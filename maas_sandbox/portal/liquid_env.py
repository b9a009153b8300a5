"""The Liquid environment of the sandbox portal: python-liquid plus the 3scale tags and filters our content uses.

Tags: `content` (layout body; rewritten to an output of the rendered page before parsing, because
python-liquid reserves the tag name `content` for text), `csrf` (Rails' csrf meta tags), `cdn_asset` (script/link under
/dev-portal-assets, as porta), `disable_client_cache` (no-store header). Filters: `stylesheet_link_tag`,
`javascript_include_tag`, `html_safe`. Partials (`include`) come from the published CMS partials.
Output is HTML-escaped unless marked safe, as in 3scale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from html import escape
from typing import Any, TextIO

from liquid import Environment, ast
from liquid.exceptions import TemplateNotFoundError
from liquid.loader import BaseLoader, TemplateSource
from liquid.tag import Tag
from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG, Token
from markupsafe import Markup

CDN_PREFIX = "/dev-portal-assets"


class _SimpleNode(ast.Node):
    """A tag without a body whose output is computed from the render context's globals."""

    __slots__ = ("arg", "render_fn", "tag_name")

    def __init__(self, token: Token, tag_name: str, arg: str, render_fn: Callable[[Any, str], str]) -> None:
        super().__init__(token)
        self.tag_name, self.arg, self.render_fn = tag_name, arg, render_fn
        self.blank = False

    def __str__(self) -> str:
        return f"{{% {self.tag_name} {self.arg} %}}"

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        return buffer.write(self.render_fn(context, self.arg))


def _simple_tag(tag_name: str, render_fn: Callable[[Any, str], str]) -> type[Tag]:
    class _Tag(Tag):
        name = sys.intern(tag_name)
        block = False

        def parse(self, stream: Any) -> ast.Node:
            # Leave the stream on this tag's last token; the parser moves past it.
            token = stream.expect(TOKEN_TAG)
            arg = ""
            if stream.peek.kind == TOKEN_EXPRESSION:
                next(stream)
                arg = stream.current.value.strip()
            return _SimpleNode(token, tag_name, arg, render_fn)

    _Tag.__name__ = f"{tag_name.title().replace('_', '')}Tag"
    return _Tag


def _global(context: Any, name: str) -> Any:
    return context.globals.get(name)


def _csrf(context: Any, _arg: str) -> str:
    token = escape(str(_global(context, "_csrf_token") or ""))
    return f'<meta name="csrf-param" content="authenticity_token"/>\n<meta name="csrf-token" content="{token}"/>'


def _cdn_asset(_context: Any, arg: str) -> str:
    path = CDN_PREFIX + "/" + arg.strip().strip("'\"").lstrip("/")
    if path.endswith(".css"):
        return f'<link href="{escape(path)}" rel="stylesheet" media="screen"/>'
    if path.endswith(".js"):
        return f'<script src="{escape(path)}"></script>'
    raise ValueError("cdn_asset: should be a JS or CSS file")


def _disable_client_cache(context: Any, _arg: str) -> str:
    flags = _global(context, "_response_flags")
    if isinstance(flags, dict):
        flags["no_store"] = True
    return ""


def _asset_url(name: str, folder: str) -> str:
    value = str(name)
    if value.startswith(("/", "http://", "https://")):
        return value
    return f"/{folder}/{value}"


def stylesheet_link_tag(name: Any) -> Markup:
    return Markup('<link href="{}" rel="stylesheet" media="screen"/>').format(_asset_url(name, "stylesheets"))


def javascript_include_tag(name: Any) -> Markup:
    return Markup('<script src="{}"></script>').format(_asset_url(name, "javascripts"))


def html_safe(value: Any) -> Markup:
    return Markup("" if value is None else str(value))


class CmsPartialLoader(BaseLoader):
    """Resolves `{% include 'name' %}` to a published partial (ours or builtin) through `lookup`."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self.lookup = lookup

    def get_source(self, env: Environment, template_name: str, **kwargs: Any) -> TemplateSource:
        source = self.lookup(template_name)
        if source is None:
            raise TemplateNotFoundError(template_name)
        return TemplateSource(source, template_name, None)


_CONTENT_TAG = re.compile(r"\{%-?\s*content\s*-?%\}")


def prepare_layout(source: str) -> str:
    """`{% content %}` in a layout → the (already rendered, safe) page body."""
    return _CONTENT_TAG.sub("{{ _page_content }}", source)


class LimitedEnvironment(Environment):
    """python-liquid's own resource limits, so one CMS template cannot hold the loop that serves every gateway:
    a render stops (LiquidError → the portal's error page) past 25,000 loop iterations (nested loops multiply),
    1 MiB of output, 1 MiB of assigned locals or 30 nested includes/renders. Together they bound a render's time
    (25,000 iterations of a few filters ≈ 0.25 s, docs/reliability.md); there is no wall-clock limit."""

    loop_iteration_limit = 25_000
    output_stream_limit = 1024 * 1024
    local_namespace_limit = 1024 * 1024
    context_depth_limit = 30


def make_environment(lookup_partial: Callable[[str], str | None]) -> Environment:
    env = LimitedEnvironment(loader=CmsPartialLoader(lookup_partial), autoescape=True)
    for name, fn in (
        ("csrf", _csrf),
        ("cdn_asset", _cdn_asset),
        ("disable_client_cache", _disable_client_cache),
    ):
        env.add_tag(_simple_tag(name, fn))
    env.add_filter("stylesheet_link_tag", stylesheet_link_tag)
    env.add_filter("javascript_include_tag", javascript_include_tag)
    env.add_filter("html_safe", html_safe)
    return env
