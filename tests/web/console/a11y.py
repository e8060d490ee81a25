"""Accessibility checks measured in the page: text contrast (WCAG 2.1 AA) and keyboard focus.

Contrast: every visible text (text nodes and form controls' own text) against the background it is drawn on,
from computed styles: the element's and its ancestors' background colours composited onto white, with the
opacities on the way applied, the relative luminance of both colours and the ratio (L1 + 0.05) / (L2 + 0.05).
AA asks 4.5:1, or 3:1 for large text (24 px, or 18.67 px bold). Disabled controls are exempt (as in WCAG).
Text drawn on the map's canvas is not in the document and is not checked here.

Focus: Tab from the start of the page (or the open modal dialog) until focus comes back round; every visible,
enabled control must be reached, and each must show a focus indicator when reached: an outline of at least 2 px
or a box shadow, with a contrast of at least 3:1 against the background behind it (WCAG 2.2's focus appearance).
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page

AA_NORMAL, AA_LARGE, FOCUS_CONTRAST = 4.5, 3.0, 3.0
MAX_TABS = 300

# Colour arithmetic shared by both checks; installed once per page as window.a11y.
_INSTALL = """() => {
  if (window.a11y) return;
  const rgba = (text) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(text || '');
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map((v) => v.endsWith('%') ? parseFloat(v) / 100 : Number(v));
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {  // top (with alpha) composited over an opaque colour
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // The ancestors from the root down to el, each with the product of the opacities from it up to the root.
  const chain = (el) => {
    const list = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) list.unshift(e);
    let opacity = 1;
    return list.map((e) => { opacity *= Number(getComputedStyle(e).opacity); return [e, opacity]; });
  };
  const backdrop = (el, { self = true } = {}) => {
    let colour = [255, 255, 255, 1];
    for (const [e, opacity] of chain(el)) {
      if (!self && e === el) break;
      const bg = rgba(getComputedStyle(e).backgroundColor);
      if (bg && bg[3] > 0) colour = over([bg[0], bg[1], bg[2], bg[3] * opacity], colour);
    }
    return colour;
  };
  const opacityOf = (el) => { const c = chain(el); return c[c.length - 1][1]; };
  const describe = (el) => {
    const id = el.id ? `#${el.id}` : '';
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/).filter(Boolean) : [];
    const cls = classes.length ? `.${classes.join('.')}` : '';
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
  };
  window.a11y = { rgba, over, ratio, backdrop, opacityOf, describe };
}"""

_CONTRAST = """([normal, large]) => {
  const { rgba, over, ratio, backdrop, opacityOf, describe } = window.a11y;
  const failures = [];
  let checked = 0;
  const controls = 'input, select, textarea, button';
  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    if (el.closest('svg, canvas') || el.matches(':disabled')) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const controlText = el.matches(controls) && (el.value || el.textContent || '').trim();
    if (!ownText && !controlText) continue;
    const style = getComputedStyle(el);
    const fg = rgba(style.color);
    const bg = backdrop(el);
    const text = over([fg[0], fg[1], fg[2], fg[3] * opacityOf(el)], bg);
    const size = parseFloat(style.fontSize);
    const isLarge = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = isLarge ? large : normal;
    const r = ratio(text, bg);
    checked += 1;
    const under = `rgb(${bg.slice(0, 3).map(Math.round)})`;
    if (r < needed) failures.push(`${describe(el)}: ${r.toFixed(2)}:1 < ${needed}:1 (${style.color} on ${under})`);
  }
  return { checked, failures };
}"""

# The focusable, visible, enabled controls of the page, or of the open modal dialog (which keeps focus inside).
_CONTROLS = """() => {
  const scope = document.querySelector('dialog[open]') || document;
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])';
  return [...scope.querySelectorAll(selector)]
    .filter((el) => !el.matches(':disabled') && el.tabIndex >= 0 && el.checkVisibility({ checkVisibilityCSS: true }))
    .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
    .map((el) => {
      el.dataset.a11yControl = el.dataset.a11yControl || String(Math.random()).slice(2);
      return el.dataset.a11yControl;
    });
}"""

_FOCUSED = """([needed]) => {
  const { rgba, over, ratio, backdrop, describe } = window.a11y;
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const behind = backdrop(el, { self: false });
  const outline = rgba(style.outlineColor);
  const shadow = style.boxShadow !== 'none' ? rgba(style.boxShadow) : null;
  const marks = [];
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 && outline) {
    marks.push(ratio(over(outline, behind), behind));
  }
  if (shadow) marks.push(ratio(over(shadow, behind), behind));
  return { id: el.dataset.a11yControl || null, what: describe(el), best: marks.length ? Math.max(...marks) : 0,
           ok: marks.some((r) => r >= needed) };
}"""


@dataclass(frozen=True)
class FocusWalk:
    controls: int
    reached: int
    unreached: list[str]
    no_indicator: list[str]


def contrast_failures(page: Page) -> tuple[int, list[str]]:
    """(texts checked, the ones below AA) on the page as it is now."""
    page.evaluate(_INSTALL)
    result = page.evaluate(_CONTRAST, [AA_NORMAL, AA_LARGE])
    return int(result["checked"]), list(result["failures"])


def walk_focus(page: Page) -> FocusWalk:
    """Tab round the page (or its open dialog) once and check every control was reached with a visible indicator."""
    page.evaluate(_INSTALL)
    controls: list[str] = page.evaluate(_CONTROLS)
    names = {c: page.evaluate(f"window.a11y.describe(document.querySelector('[data-a11y-control=\"{c}\"]'))")
             for c in controls}
    seen: dict[str, str] = {}
    no_indicator: list[str] = []
    first: str | None = None
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED, [FOCUS_CONTRAST])
        if focused is None:
            continue
        key = focused["id"] or focused["what"]
        if key == first:
            break  # round once
        first = first or key
        if key in seen:
            continue
        seen[key] = focused["what"]
        if not focused["ok"]:
            no_indicator.append(f"{focused['what']} (best {focused['best']:.2f}:1)")
    unreached = [names[c] for c in controls if c not in seen]
    return FocusWalk(len(controls), len(seen), unreached, no_indicator)
