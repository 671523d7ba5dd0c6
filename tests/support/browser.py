"""Page helpers shared by the browser tests: log in and out, fill schema fields, screenshots."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

SUBMIT = "提交并完成"


def shot(page: Page, screenshots, name: str) -> None:
    """A full-page screenshot, from the top (a sticky header would otherwise land mid-page)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def login(page: Page, username: str) -> None:
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(username)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit]").click()
    expect(page.locator("input[name=password]")).to_have_count(0)


def logout(page: Page, label: str = "退出") -> None:
    page.get_by_role("button", name=label).click()
    expect(page.locator("input[name=password]")).to_be_visible()


def task_form(page: Page, field: str):
    """The form that completes the task: the one holding the schema field `field`."""
    form = page.locator("form").filter(has=page.locator(f'[name="{field}"]'))
    expect(form).to_have_count(1)
    return form


def set_field(page: Page, name: str, value) -> None:
    """Fill one schema field, whatever widget the page chose for it."""
    inputs = page.locator(f'[name="{name}"]:not([type=hidden])')
    expect(inputs.first).to_be_attached()
    first = inputs.first
    tag = first.evaluate("e => e.tagName.toLowerCase()")
    kind = (first.get_attribute("type") or "").lower()
    if isinstance(value, bool):
        wanted = "true" if value else "false"
        if tag == "select":
            first.select_option(value=wanted)
        elif kind == "radio":
            page.locator(f'input[type=radio][name="{name}"][value="{wanted}"]').check()
        elif kind == "checkbox":
            first.set_checked(value)
        else:
            first.fill(wanted)
    elif tag == "select":
        first.select_option(label=str(value))
    elif kind == "radio":
        page.locator(f'input[type=radio][name="{name}"][value="{value}"]').check()
    else:
        first.fill(str(value))


def submit(page: Page, field: str) -> None:
    """Submit the task form holding `field` and wait for the answer page."""
    with page.expect_navigation():
        task_form(page, field).get_by_role("button", name=SUBMIT).click()


def open_task_from_inbox(page: Page, customer: str, step: str):
    """Open `step` for `customer` from the inbox; returns its task id."""
    page.goto("/")
    link = page.locator("tr").filter(has_text=customer).get_by_role("link", name=step)
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    link.click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+"))
    return int(re.search(r"/tasks/(\d+)", href).group(1))


def first_inbox_instance(page: Page) -> int:
    """A running demo instance the agent can see: the first instance link in the inbox."""
    page.goto("/")
    link = page.locator('a[href*="/instances/"]').first
    return int(re.search(r"/instances/(\d+)", link.get_attribute("href")).group(1))
