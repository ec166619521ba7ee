"""Security headers, no inline script or style, caching and compression; two languages, remembered."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from registry.config import PACKAGE_DIR
from tests.web.conftest import log_in

TEMPLATES = PACKAGE_DIR / "web" / "templates"
TRANSLATIONS = PACKAGE_DIR / "translations"


def test_every_page_sends_the_security_headers(client, world):
    for url in ["/", f"/products/{world.cn.product_id}", "/login", "/static/css/site.css", "/nowhere"]:
        with client.get(url) as response:
            headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY", url
    docs = client.get("/api/v1/docs").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in docs and "worker-src 'self' blob:" in docs
    assert "script-src 'self';" in docs  # still no inline script on the API reference


def test_templates_hold_no_inline_script_style_or_remote_asset():
    for path in TEMPLATES.glob("*.html"):
        source = path.read_text()
        assert "<script" not in source, path.name
        assert not re.search(r"\sstyle=", source), path.name
        assert "<style" not in source, path.name
        assert not re.search(r'(src|href)="(https?:)?//', source), path.name


def test_public_pages_cache_briefly_and_private_ones_not_at_all(client, session, world):
    public = client.get(f"/products/{world.cn.product_id}")
    assert public.headers["Cache-Control"] == "public, max-age=60"
    assert "Cookie" in public.headers["Vary"] and "Accept-Language" in public.headers["Vary"]
    log_in(client, session, world, "maker")
    private = client.get(f"/manufacturers/{world.cn.manufacturer_id}/dashboard")
    assert private.headers["Cache-Control"] == "private, no-store"
    static = client.get("/")
    css = re.search(r'href="(/static/css/site.css\?v=[0-9a-f]+)"', static.get_data(as_text=True)).group(1)
    with client.get(css) as response:
        assert "immutable" in response.headers["Cache-Control"]


def test_pages_are_compressed_for_slow_links(client, world):
    response = client.get(f"/products/{world.cn.product_id}/markets/EU", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    html = gzip.decompress(response.data).decode()
    assert "</html>" in html and len(response.data) < len(html) / 4


def test_switching_to_chinese_is_remembered(client, world):
    response = client.get(f"/products/{world.cn.product_id}?lang=zh")
    html = response.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html
    assert "各市场承认情况" in html and "深圳沃塔瑞斯电力科技有限公司" in html  # the maker's Chinese name
    assert "registry_lang=zh" in response.headers["Set-Cookie"]
    again = client.get(f"/products/{world.cn.product_id}/markets/EU").get_data(as_text=True)
    assert '<html lang="zh-Hans">' in again and "电磁骚扰" in again  # catalogue test-item names in Chinese
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", again)  # dates in the Chinese format
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english


def test_the_browser_language_is_the_default(client):
    html = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "充电设备认证互认登记系统" in html


def test_every_language_link_keeps_the_page(client, world):
    html = client.get(f"/search?q=VT-DC600L&lab=lab-cn-sh-evtc").get_data(as_text=True)
    assert 'href="/search?q=VT-DC600L&amp;lab=lab-cn-sh-evtc&amp;lang=zh"' in html


def _messages(catalogue) -> dict:
    """{msgid or (singular, plural): (translations, ...)} of a catalogue, fuzzy entries left out."""
    out = {}
    for m in catalogue:
        if m.id and not getattr(m, "fuzzy", False):
            key = m.id if isinstance(m.id, str) else tuple(m.id)
            out[key] = (m.string,) if isinstance(m.string, str) else tuple(m.string)
    return out


def _read(reader, path: Path):
    with path.open("rb") as handle:
        return reader(handle)


def test_every_message_has_a_chinese_translation_and_the_catalogue_is_compiled():
    wanted = set(_messages(_read(read_po, TRANSLATIONS / "messages.pot")))
    po = _messages(_read(read_po, TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"))
    mo = _messages(_read(read_mo, TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.mo"))
    missing = sorted(map(str, (k for k in wanted if not all(po.get(k, ("",))))))
    assert not missing, missing
    assert {k: po[k] for k in wanted} == {k: mo.get(k) for k in wanted}, "run `make translations` (compile)"


def test_the_message_template_is_current():
    """`make translations` was run after the last change to a page's text."""
    from babel.messages.extract import extract_from_dir

    root = PACKAGE_DIR.parent
    method_map = [("registry/web/**.py", "python"), ("registry/web/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map={"registry/web/templates/**.html": {"encoding": "utf-8"}},
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None},
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    known = set(_messages(_read(read_po, TRANSLATIONS / "messages.pot")))
    assert found - known == set(), "run `make translations`"
