"""The printed workshop handout (issue 29 item 9), as chromium prints it (Playwright `page.pdf`, A4): 20 attendees
on at most 10 pages, two whole cards per page (none split across a page break), nothing broken inside a word,
endpoints with `/v1` as the portal shows them, QR codes that decode to the portal URL (zxing-cpp), and a
warning on the page when the URLs are loopback addresses attendees cannot reach."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from maas_helpers.workshop.handout import Card, render_html

pytestmark = pytest.mark.browser

PORTAL = "https://maas-portal.apps.cluster.example.com"
MODELS = [("granite-3-8b-instruct", "chat"), ("llama-3-1-8b-completions", "completion"),
          ("nomic-embed-text-v1-5", "embedding")]


def _cards(n: int, portal: str = PORTAL) -> list[Card]:
    host = portal.split("//", 1)[1]
    return [Card(f"team-{i:03d}", f"Tmp-{i:03d}-xK9#pQ2v", portal,
                 [(m, f"https://{m}-maas-apicast-production.{host.split('.', 1)[1]}", f"{i:04d}" + "ab" * 14, kind)
                  for m, kind in MODELS])
            for i in range(1, n + 1)]


def _print(browser: Any, tmp_path: Path, html: str, name: str) -> tuple[Path, Any]:
    page = browser.new_page()
    page.set_content(html)
    pdf = tmp_path / f"{name}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    return pdf, page


def test_twenty_attendees_print_on_ten_a4_pages_two_whole_cards_each(browser: Any, tmp_path: Path,
                                                                     screenshots: Path) -> None:
    import pypdfium2 as pdfium
    import zxingcpp

    html = render_html("MaaS workshop team", _cards(20))
    pdf_path, page = _print(browser, tmp_path, html, "handout")
    pdf = pdfium.PdfDocument(str(pdf_path))
    assert len(pdf) <= 10, f"{len(pdf)} pages for 20 attendees"

    page.emulate_media(media="print")
    overflowing = page.evaluate("""() => [...document.querySelectorAll('.card')].filter(c =>
        c.scrollWidth > c.clientWidth || c.scrollHeight > c.clientHeight).map(c => c.id)""")
    assert overflowing == [], f"cards whose content is cut off: {overflowing}"
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    for number in range(1, 21):  # every card whole on one page: its name and its last key on the same page
        name, last_key = f"team-{number:03d}", f"{number:04d}" + "ab" * 14
        pages = [i for i, t in enumerate(texts) if name in t]
        assert pages, name
        assert last_key in texts[pages[0]], f"{name}: card split across pages"
    joined = "\n".join(texts)
    for word in ("Authorization", "Temporary password", "granite-3-8b-instruct"):
        assert word in joined.replace("\r", ""), f"{word!r} broken or missing"
    assert not re.search(r"Au\s*\n\s*thorization|Authori\s*\n", joined)
    assert "apicast-production.apps.cluster.example.com/v1" in joined  # the endpoint as the portal shows it
    assert "loopback" not in html and "trainer's own computer" not in joined

    image = pdf[0].render(scale=2).to_pil()
    image.save(screenshots / "i29b-handout-page1.png")
    decoded = {r.text for r in zxingcpp.read_barcodes(image)}
    assert decoded == {PORTAL}, decoded  # both cards' QR codes → the portal URL
    page.close()


def test_a_handout_with_loopback_urls_says_so_on_the_page(browser: Any, tmp_path: Path, screenshots: Path) -> None:
    import pypdfium2 as pdfium

    html = render_html("MaaS workshop nb", _cards(3, "http://127.0.0.1:8931"))
    pdf_path, page = _print(browser, tmp_path, html, "loopback")
    text = pdfium.PdfDocument(str(pdf_path))[0].get_textpage().get_text_range()
    assert "point at the trainer" in text and "127.0.0.1:8931" in text
    page.screenshot(path=str(screenshots / "i29b-handout-loopback.png"), full_page=False)
    page.close()
