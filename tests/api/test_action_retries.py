"""Retry-safe actions (issue 17): an Idempotency-Key becomes the Temporal update id, so sending
the same action again attaches to the first one and answers with its result instead of acting
twice or answering 409. The timeout itself (worker stopped) is in
tests/reliability/test_action_retry.py."""

from __future__ import annotations

import re

from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, csrf_of, sign_in

ACCEPT = {"decision": "accept", "agency_id": WIB_AGENCY}


def actions_of(case: dict, action: str) -> int:
    return [event["action"] for event in case["timeline"]].count(action)


async def test_an_action_sent_again_with_its_key_answers_the_first_result_and_acts_once(api: ApiHarness) -> None:
    tracking_id = (await api.submit(region_code="62.71"))["tracking_id"]
    keyed = api.admin | {"Idempotency-Key": "terima-1"}
    first = await api.act(tracking_id, "verification", ACCEPT, keyed)
    assert first.status_code == 200, first.text
    again = await api.act(tracking_id, "verification", ACCEPT, keyed)
    assert again.status_code == 200, again.text  # not 409 "cannot accept a case that is awaiting_agency"
    assert again.json()["status"] == first.json()["status"] == "awaiting_agency"
    assert again.json()["deadlines"] == first.json()["deadlines"]
    await api.settle()
    assert actions_of(await api.case(tracking_id), "accept") == 1

    # Without the key (or with another one) it is a new action, refused in this status as before.
    assert_problem(await api.act(tracking_id, "verification", ACCEPT, api.admin), 409)
    assert_problem(await api.act(tracking_id, "verification", ACCEPT, api.admin | {"Idempotency-Key": "lain"}), 409)


async def test_a_key_belongs_to_its_sender(api: ApiHarness) -> None:
    tracking_id = (await api.submit(region_code="62.71"))["tracking_id"]
    await api.accept(tracking_id)
    officer = await api.headers("officer", WIB_AGENCY)
    colleague = {"Authorization": f"Bearer {(await api.issue('officer', WIB_AGENCY, 'Rekan'))['token']}"}
    body = {"message": "Sudah ditangani."}
    done = await api.act(tracking_id, "follow-ups", body, officer | {"Idempotency-Key": "k-1"})
    assert done.status_code == 200, done.text
    # The same key and body from another caller is another action: never the first one's result.
    assert_problem(await api.act(tracking_id, "follow-ups", body, colleague | {"Idempotency-Key": "k-1"}), 409)
    # The same key for a different request is a different action too.
    assert_problem(await api.act(tracking_id, "follow-ups", {"message": "lain"}, officer | {"Idempotency-Key": "k-1"}),
                   409)
    repeated = await api.act(tracking_id, "follow-ups", body, officer | {"Idempotency-Key": "k-1"})
    assert repeated.status_code == 200 and repeated.json()["status"] == "awaiting_reporter"
    await api.settle()
    assert actions_of(await api.case(tracking_id), "follow_up") == 1


@PORTAL
async def test_a_portal_form_submitted_twice_acts_once(api: ApiHarness) -> None:
    tracking_id = (await api.submit(region_code="62.71"))["tracking_id"]
    await api.settle()
    async with browser(api) as admin:
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        page = (await admin.get(f"/kasus/{tracking_id}")).text
        keys = re.findall(r'name="idempotency_key" value="([^"]+)"', page)
        assert len(keys) == len(set(keys)) >= 3, "each rendered form carries a key of its own"
        accept_form = re.search(r'name="idempotency_key" value="([^"]+)">\s*<input type="hidden" name="decision" '
                                r'value="accept"', page)
        assert accept_form, page
        fields = {"csrf_token": csrf_of(page), "idempotency_key": accept_form.group(1),
                  "decision": "accept", "agency_other": WIB_AGENCY}
        first = await admin.post(f"/kasus/{tracking_id}/verifikasi", data=fields, follow_redirects=False)
        second = await admin.post(f"/kasus/{tracking_id}/verifikasi", data=fields, follow_redirects=False)
        assert first.status_code == second.status_code == 303, (first.text, second.text)
        assert second.headers["location"] == first.headers["location"] == (
            f"/kasus/{tracking_id}?done=forwarded&to={WIB_AGENCY}")
    await api.settle()
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_agency" and actions_of(case, "accept") == 1
