"""Destructive actions ask first, with and without JavaScript.

A destructive form carries `data-confirm="<question>"` and an empty hidden `confirmed` field: the
page's script asks the question and, on yes, sets the field to 1 before sending. A form that
arrives without it (no JavaScript) is answered with a page that asks the same question and sends
the same fields again, confirmed; nothing happens until then."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from portal.web import Page

CONFIRMED_FIELD = "confirmed"


def confirmed(form: Any) -> bool:
    return form.get(CONFIRMED_FIELD) == "1"


def ask(page: Page, form: Any, question: str, *, back: str) -> HTMLResponse:
    """The confirmation page: `question`, then the form's own fields sent again to the same address."""
    fields = [(name, value) for name, value in form.multi_items()
              if name != CONFIRMED_FIELD and not isinstance(value, UploadFile)]
    query = page.request.url.query
    return page.render("confirm.html", question=question, fields=fields, back=back,
                       action=page.request.url.path + (f"?{query}" if query else ""))
