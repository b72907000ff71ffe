"""The real browser's view of the security headers: no page logs an error or a warning,
so the Content-Security-Policy blocks nothing the site needs and the Permissions-Policy
names only features Chromium knows."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "path", ["/", "/apply", "/share", "/privacy", "/staff/login", "/no-such-page"]
)
def test_no_console_errors_or_warnings(open_page, path):
    page = open_page()
    messages = []
    page.on("console", lambda message: messages.append((message.type, message.text)))
    response = page.goto(path)
    page.wait_for_load_state("load")
    assert (
        "Content-Security-Policy" in response.headers
        or "content-security-policy" in response.headers
    )
    noisy = [(kind, text) for kind, text in messages if kind in ("error", "warning")]
    if path == "/no-such-page":  # the browser logs the 404 of the page itself, nothing else
        noisy = [(kind, text) for kind, text in noisy if "404" not in text]
    assert noisy == []
