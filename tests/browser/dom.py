"""Reading report.html's DOM in a Playwright page: the matrix, the details tables, the URL fragment."""

from __future__ import annotations

from urllib.parse import parse_qs

from tests.browser.browser import RENDERED

READ_ROWS = """rows => rows.map(row => Array.from(row.cells, cell => {
    const lines = cell.querySelectorAll('.line');
    return lines.length ? Array.from(lines, line => line.textContent) : [cell.textContent];
}))"""
READ_TABLE = "rows => rows.map(row => Array.from(row.cells, cell => cell.textContent))"


def matrix(page):
    """Every row's cells, each as its lines of text, once the matrix holds all its rows."""
    page.wait_for_selector(RENDERED, state="attached")
    return page.eval_on_selector_all("#matrix-body tr", READ_ROWS)


def matrix_tenants(page):
    return [row[0][0] for row in matrix(page)]


def column_labels(page):
    return page.eval_on_selector_all("#matrix-head th button", "buttons => buttons.map(b => b.firstChild.textContent)")


def table_rows(page, table_id, pages=None):
    """The rows of a details table, after "Show more" until all are shown (or ``pages`` pages of 200)."""
    more = page.locator(f"#{table_id} + button.more")
    shown = 1
    while more.count() and more.is_visible() and (pages is None or shown < pages):
        more.click()
        shown += 1
    rows = page.eval_on_selector_all(f"#{table_id} tbody tr", READ_TABLE)
    return [] if rows == [["None match the filters."]] else rows


def fragment(page):
    return parse_qs(page.evaluate("location.hash").lstrip("#"))
