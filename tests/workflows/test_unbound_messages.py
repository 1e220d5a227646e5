"""Updates and signals must be sealed for the case they reach (issue 24): a payload encrypted with
the service's key but bound to no workflow (what the codec endpoint's encode made before it took
a workflow id) is refused as an action and dropped as a signal; the same message bound to the
case is taken."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.converter import DataConverter, SerializationContext
from temporalio.exceptions import ApplicationError

from domain.calendar import calendar_for
from domain.enums import Action, Status
from domain.models import CalendarAmendment, VerificationInput
from tests.crypto import TEST_PAYLOAD_KEYS
from tests.workflows.conftest import ADMIN, KALTENG, Harness
from workflows.codec import EncryptionCodec, ProjectPayloadConverter
from workflows.complaint import ComplaintWorkflow


class UnboundCodec(EncryptionCodec):
    """The service's key, no workflow: as /codec/encode sealed payloads before issue 24."""

    def with_context(self, context: SerializationContext) -> EncryptionCodec:
        return self


def unbound_client(client: Client) -> Client:
    converter = DataConverter(payload_converter_class=ProjectPayloadConverter, payload_codec=UnboundCodec(TEST_PAYLOAD_KEYS))
    return Client(client.service_client, namespace=client.namespace, data_converter=converter)


async def test_an_unbound_update_is_refused_and_an_unbound_signal_dropped(harness: Harness) -> None:
    async with harness.worker():
        handle = await harness.submit()
        await handle.query(ComplaintWorkflow.state)
        forged = unbound_client(harness.client).get_workflow_handle(handle.id)
        accept = VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=KALTENG)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await forged.execute_update(ComplaintWorkflow.verify, accept)
        assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "forbidden"

        now = datetime.now(UTC)
        amendment = CalendarAmendment(calendar=calendar_for(now).model_copy(update={"version": "forged"}),
                                      issued_at=now)
        await forged.signal(ComplaintWorkflow.amend_calendar, amendment)
        state = await handle.query(ComplaintWorkflow.state)
        assert state.status == Status.AWAITING_VERIFICATION and state.calendar.version != "forged"
        assert [e.action for e in state.timeline] == [Action.SUBMIT]

        # The same action sealed for this case (the API's client) is taken.
        state = await handle.execute_update(ComplaintWorkflow.verify, accept)
        assert state.status == Status.AWAITING_AGENCY
        await handle.signal(ComplaintWorkflow.amend_calendar, amendment)
        state = await handle.query(ComplaintWorkflow.state)
        assert state.calendar.version == "forged"
