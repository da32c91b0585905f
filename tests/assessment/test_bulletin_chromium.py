"""The HTML bulletin as a browser lays it out: headless Chromium measures what it drew.

Without ``/usr/bin/chromium`` these tests fail under CI (``.ci/run`` installs it and exports
``CI=true``) and are skipped elsewhere, with the command that installs it (docs/testing.md).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.assessment.reports.bulletin_render import Bar, Bulletin, Section, render_html
from tests.chromium import CHROMIUM, INSTALL_HINT, Chromium

LONG_NAMES = [
    "张家口经济技术开发区高新技术产业园区配套服务区",  # 23 full-width characters
    "河北张家口经济开发区",
    "Zhangjiakou International Logistics Park 张家口国际物流园区",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",  # the widest Latin letter, no place to break
    "怀来县沙城经济开发区（Huailai Shacheng Economic Development Zone, 葡萄酒产业园）",
    "宣化",
]
CJK_FAMILIES = {"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC"}

# Every chart label's box, the area it is allotted (left of the value panel, whose first bar
# marks where it starts), and every text of the chart against the chart's own width. Labels are
# the texts anchored at their end left of the bars; markup-agnostic so it held the old renderer too.
MEASURE = """
(() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg')) {
    const width = svg.viewBox.baseVal.width;
    const bars = [...svg.querySelectorAll('rect')].filter(r => r.getAttribute('fill') === '#444');
    const panel = Math.min(...bars.map(r => r.getBBox().x));
    for (const t of svg.querySelectorAll('text')) {
      const box = t.getBBox();
      const label = t.getAttribute('text-anchor') === 'end' && Number(t.getAttribute('x')) < panel;
      out.push({text: t.textContent, label, left: box.x, right: box.x + box.width, top: box.y,
                bottom: box.y + box.height, limit: label ? panel : width});
    }
  }
  return out;
})()
"""
TITLE = """
(() => {
  const h1 = document.querySelector('h1');
  const r = h1.getBoundingClientRect();
  return {w: r.width, h: r.height, text: h1.innerText};
})()
"""
WATERMARK = """
(() => {
  const m = document.querySelector('.watermark');
  if (!m) return null;
  const r = m.getBoundingClientRect(), s = getComputedStyle(m);
  return {w: r.width, h: r.height, text: m.textContent, display: s.display, opacity: Number(s.opacity)};
})()
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI: {INSTALL_HINT}")
        pytest.skip(f"{CHROMIUM} is not installed; to run these tests: {INSTALL_HINT}")
    with Chromium(width=1000, height=900) as chromium:
        yield chromium


def long_names_bulletin(*, draft: bool = False) -> Bulletin:
    # Values up to 1,234,567.89 so the value printed after the longest bar is wide too.
    bars = [Bar(name, 1234567.891 / (i + 1), 3 - i) for i, name in enumerate(LONG_NAMES)]
    rows: list[list[str | int | float | None]] = [[i + 1, b.label, b.value] for i, b in enumerate(bars)]
    section = Section("综合排名", ["排名", "开发区", "综合得分"], rows, chart=bars, value_label="综合得分")
    return Bulletin(title="2025年 开发区综合考评通报（经济开发区）", subtitle="测试", sections=[section], draft=draft)


def opened(browser: Chromium, tmp_path: Path, bulletin: Bulletin) -> None:
    page = tmp_path / "bulletin.html"
    page.write_text(render_html(bulletin), encoding="utf-8")
    browser.open(page)


class TestNoChartLabelOverflowsItsBox:
    @pytest.mark.parametrize("draft", [False, True], ids=["final", "draft"])
    def test_every_label_fits_left_of_the_bars_and_every_text_inside_the_chart(
        self, browser: Chromium, tmp_path: Path, draft: bool
    ) -> None:
        opened(browser, tmp_path, long_names_bulletin(draft=draft))
        boxes = browser.evaluate(MEASURE)
        labels = [b for b in boxes if b["label"]]
        assert len(labels) >= len(LONG_NAMES)  # a wrapped name is one text with two lines
        # 0.5 px of slack for anti-aliased edges; a clipped CJK glyph is 12 px.
        overflowing = [b for b in boxes if b["left"] < -0.5 or b["right"] > b["limit"] + 0.5]
        assert overflowing == []

    def test_labels_of_neighbouring_bars_do_not_overlap(self, browser: Chromium, tmp_path: Path) -> None:
        opened(browser, tmp_path, long_names_bulletin())
        labels = sorted((b for b in browser.evaluate(MEASURE) if b["label"]), key=lambda b: b["top"])
        assert all(a["bottom"] <= b["top"] + 0.5 for a, b in itertools.pairwise(labels))


class TestTheTitleIsRenderedText:
    @pytest.mark.parametrize("draft", [False, True], ids=["final", "draft"])
    def test_the_h1_has_a_box_and_is_drawn_in_a_cjk_font(self, browser: Chromium, tmp_path: Path, draft: bool) -> None:
        opened(browser, tmp_path, long_names_bulletin(draft=draft))
        box = browser.evaluate(TITLE)
        assert box["w"] > 100 and box["h"] > 10
        assert box["text"].startswith("2025年 开发区综合考评通报")
        assert ("（草稿）" in box["text"]) is draft
        fonts = browser.fonts_of("h1")
        assert fonts and set(fonts) <= CJK_FAMILIES, fonts

    def test_the_draft_watermark_is_drawn_on_the_page(self, browser: Chromium, tmp_path: Path) -> None:
        opened(browser, tmp_path, long_names_bulletin(draft=True))
        mark = browser.evaluate(WATERMARK)
        assert mark is not None and mark["text"] == "草稿"
        assert mark["w"] > 100 and mark["h"] > 50 and mark["display"] != "none" and mark["opacity"] > 0
