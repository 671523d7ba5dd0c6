"""Screen sizes and layout checks for the responsive browser tests (tests/browser/test_phone_*.py)."""

from __future__ import annotations

from playwright.sync_api import Page

# name -> viewport; from a small phone to a desktop.
VIEWPORTS = {
    "360x740": {"width": 360, "height": 740},
    "390x844": {"width": 390, "height": 844},
    "768x1024": {"width": 768, "height": 1024},
    "1440x900": {"width": 1440, "height": 900},
}
PHONE = VIEWPORTS["390x844"]
MIN_TAP = 44  # px: the smallest touch target on phones

# Every role's demo user; the walk opens the pages of each one's menu and the extra pages below.
ROLE_USERS = ["agent1", "receptionist1", "sales1", "qc1", "supervisor1", "operator1", "guide1",
              "manager1", "auditor1", "owner1"]


def page_width_problem(page: Page) -> str | None:
    """None when the page does not scroll sideways, else what is too wide (its widest elements)."""
    return page.evaluate("""() => {
        const width = window.innerWidth;
        const scroll = document.documentElement.scrollWidth;
        if (scroll <= width) { return null; }
        const wide = [...document.querySelectorAll('body *')]
          .filter(e => e.getBoundingClientRect().right > width + 1 && e.getClientRects().length &&
                       !e.parentElement.closest('.scroll-x, .table-scroll, .diagram'))
          .slice(0, 4)
          .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                    (e.className && e.className.baseVal === undefined ? '.' + String(e.className).trim().replace(/\\s+/g, '.') : '') +
                    ' right=' + Math.round(e.getBoundingClientRect().right));
        return `scrollWidth ${scroll} > innerWidth ${width}: ${wide.join(', ')}`;
    }""")


def menu_links(page: Page) -> list[str]:
    """The paths the top menu links to (whether it is folded or not)."""
    return page.evaluate("() => [...document.querySelectorAll('.mainnav a')].map(a => a.getAttribute('href'))")


def viewbox(page: Page, selector: str = "#diagram") -> dict:
    """The bpmn-js viewbox of a drawn diagram: x, y, width, height, scale, inner (the diagram's bounds)."""
    return page.locator(selector).evaluate("""d => {
        const v = d.tfViewer.get('canvas').viewbox();
        return {x: v.x, y: v.y, width: v.width, height: v.height, scale: v.scale,
                inner: {x: v.inner.x, y: v.inner.y, width: v.inner.width, height: v.inner.height}};
    }""")


def element_box(page: Page, element_id: str, selector: str = "#diagram") -> dict:
    """A diagram element's bounds in diagram coordinates."""
    return page.locator(selector).evaluate(
        "(d, id) => { const e = d.tfViewer.get('elementRegistry').get(id); "
        "return {x: e.x, y: e.y, width: e.width, height: e.height}; }", element_id)


def contains(view: dict, box: dict, slack: float = 1.0) -> bool:
    """Whether the viewbox `view` shows all of `box` (both in diagram coordinates)."""
    return (box["x"] >= view["x"] - slack and box["y"] >= view["y"] - slack
            and box["x"] + box["width"] <= view["x"] + view["width"] + slack
            and box["y"] + box["height"] <= view["y"] + view["height"] + slack)
