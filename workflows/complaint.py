"""The complaint lifecycle as a Temporal workflow (ARCHITECTURE.md section 1).

The rules live in `domain.lifecycle`; this module adds what only a workflow can: durable timers
for the clocks, updates whose validators reject invalid actions before they reach history, and
activities that project each change to the read model and the notification outbox.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.enums import Action, Status
    from domain.lifecycle import (ActionRejected, CaseMachine, check_action, check_personal_data_change,
                                  check_pin_confirmation, check_verification)
    from domain.models import (
        Actor,
        CalendarAmendment,
        CaseState,
        ComplaintInput,
        DispositionInput,
        FollowUpInput,
        Message,
        PersonalDataChange,
        PinConfirmation,
        RatingInput,
        ReplyInput,
        RerouteInput,
        RoutingSuggestion,
        SatisfiedInput,
        SuggestionRequest,
        SupplementInput,
        VerificationInput,
    )
    from workflows import AGENCY_ATTRIBUTE, NEXT_DEADLINE_ATTRIBUTE, OVERDUE_ATTRIBUTE, STATUS_ATTRIBUTE
    from workflows.delivery import DeliveryPlan, send_planned

# Recording must never be lost: retry without limit, backing off to once a minute.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
SUGGEST_RETRY = RetryPolicy(maximum_attempts=3)
ACTIVITY_TIMEOUT = timedelta(seconds=30)
UNBOUND_SIGNALS_DROPPED = "unbound-signals-dropped"
SATISFIED_PATCH = "reporter-satisfied"
PIN_CONFIRMED_PATCH = "pin-confirmed"
# Both activities are short database work, run as local activities: one marker event each in
# history instead of three events and a workflow task (a typical case stays far below 100 events).

# Issue 25: the projection expands its outbox rows into deliveries (`project_case`) and this
# workflow sends them (workflows/delivery.py `send_planned`), instead of a DeliveryWorkflow per
# outbox row. A run that started before keeps `record_case` for its whole run (the patch's answer
# is kept per run), so its deliveries still go through DeliveryWorkflows.
DELIVERIES_IN_CASE = "deliveries-in-case"


def rejected_as_application_error(error: ActionRejected) -> ApplicationError:
    return ApplicationError(str(error), type=error.kind.value, non_retryable=True)


@workflow.defn
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, input: ComplaintInput) -> None:
        if input.carried_state is not None:
            self._machine = CaseMachine(input.carried_state)
        else:
            self._machine = CaseMachine.open(
                input.tracking_id, input.details, input.submitted_at, input.policy, input.calendar
            )
        self._changed = False
        self._projected_seq = input.carried_state.seq if input.carried_state else 0
        self._needs_suggestions = input.carried_state is None
        self._search_attributes: dict[str, object] = {}
        self._sending = 0  # projections whose deliveries are still being sent

    @property
    def _state(self) -> CaseState:
        return self._machine.state

    @workflow.run
    async def run(self, input: ComplaintInput) -> CaseState:
        while True:
            await self._project()
            if self._state.seq != self._projected_seq:
                continue  # an action arrived while recording: record it before anything else
            if self._needs_suggestions:
                await self._suggest_agencies()
                continue
            if self._finished():
                break
            if self._history_is_long(input.history_event_limit):
                await workflow.wait_condition(self._all_done)
                workflow.continue_as_new(
                    input.model_copy(update={"carried_state": self._state, "calendar": self._state.calendar})
                )
            await self._sleep_until_next_alarm_or_change()
            self._machine.fire_due(workflow.now())
        await workflow.wait_condition(self._all_done)
        return self._state

    def _all_done(self) -> bool:
        """Every update handled and every delivery sent (or settled): the run may end."""
        return self._sending == 0 and workflow.all_handlers_finished()

    def _finished(self) -> bool:
        return self._state.status in (Status.COMPLETED, Status.ARCHIVED) and not self._state.clocks

    def _history_is_long(self, limit: int) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit

    async def _sleep_until_next_alarm_or_change(self) -> None:
        alarm = self._machine.next_alarm()
        timeout = None if alarm is None else max(alarm - workflow.now(), timedelta(0))
        if timeout == timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self._changed, timeout=timeout)
        except asyncio.TimeoutError:
            pass
        self._changed = False

    async def _suggest_agencies(self) -> None:
        self._needs_suggestions = False
        case = self._state
        bounced = sorted({e.agency_id for e in case.timeline if e.action == Action.REROUTE and e.agency_id})
        request = SuggestionRequest(
            tracking_id=case.tracking_id,
            text=f"{case.details.title}\n{case.details.description}",
            region_code=case.details.region_code,
            agency_hint=case.details.agency_hint,
            exclude_agency_ids=bounced,
        )
        try:
            case.suggestions = await workflow.execute_local_activity(
                "suggest_agencies",
                request,
                result_type=list[RoutingSuggestion],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=SUGGEST_RETRY,
            )
        except ActivityError:
            # Suggestions help the administrator; without them the case still moves on.
            workflow.logger.warning("routing suggestions unavailable for %s", case.tracking_id)
            case.suggestions = []
        self._machine.auto_forward(workflow.now())

    async def _project(self) -> None:
        """Write what changed since the last projection to the read model and the outbox."""
        case = self._state
        if case.seq == self._projected_seq:
            return
        record = self._machine.record_since(self._projected_seq)
        record.run_id = workflow.info().first_execution_run_id  # an input only: no new command
        self._projected_seq = case.seq
        self._upsert_search_attributes()
        if not workflow.patched(DELIVERIES_IN_CASE):
            await workflow.execute_local_activity(
                "record_case",
                record,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            return
        plan = await workflow.execute_local_activity(
            "project_case",
            record,
            result_type=DeliveryPlan | None,  # type: ignore[arg-type]
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        if plan is not None and plan.deliveries:
            # Sent beside the case's own work: a slow channel never holds up the next action.
            self._sending += 1
            asyncio.get_running_loop().create_task(self._send(plan))

    async def _send(self, plan: DeliveryPlan) -> None:
        try:
            await send_planned(plan)
        finally:
            self._sending -= 1

    def _upsert_search_attributes(self) -> None:
        case = self._state
        wanted = {
            STATUS_ATTRIBUTE.name: (STATUS_ATTRIBUTE, case.status.value),
            AGENCY_ATTRIBUTE.name: (AGENCY_ATTRIBUTE, case.agency.id if case.agency else None),
            NEXT_DEADLINE_ATTRIBUTE.name: (NEXT_DEADLINE_ATTRIBUTE, case.next_deadline),
            OVERDUE_ATTRIBUTE.name: (OVERDUE_ATTRIBUTE, case.overdue),
        }
        updates: list[SearchAttributeUpdate] = []
        for name, (key, value) in wanted.items():
            if self._search_attributes.get(name, ...) == value:
                continue
            self._search_attributes[name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))  # type: ignore[attr-defined]
        if updates:
            workflow.upsert_search_attributes(updates)

    # --- queries, updates, signals ----------------------------------------------------------

    @workflow.query
    def state(self) -> CaseState:
        return self._state

    def _validate(self, action: Action, data: Message) -> None:
        # An action whose payload was sealed for no case (a codec /encode of old, a history's
        # payload copied) is refused before it touches history. Validators do not run on replay:
        # updates an old history accepted unbound replay as they were.
        if not data.bound:
            raise ApplicationError("Tindakan tidak terikat pada laporan ini", type="forbidden", non_retryable=True)
        try:
            check_action(self._state, action, data.actor)
        except ActionRejected as error:
            raise rejected_as_application_error(error) from None

    def _applied(self) -> CaseState:
        self._changed = True
        return self._state

    @workflow.update
    def verify(self, data: VerificationInput) -> CaseState:
        now = workflow.now()
        if data.decision == Action.ACCEPT:
            self._machine.accept(now, data)
        elif data.decision == Action.HOLD:
            self._machine.hold(now, data)
        else:
            self._machine.reject(now, data)
        return self._applied()

    @verify.validator
    def _validate_verify(self, data: VerificationInput) -> None:
        try:
            check_verification(data)
        except ActionRejected as error:
            raise rejected_as_application_error(error) from None
        self._validate(data.decision, data)

    @workflow.update
    def supplement(self, data: SupplementInput) -> CaseState:
        self._machine.supplement(workflow.now(), data)
        return self._applied()

    @supplement.validator
    def _validate_supplement(self, data: SupplementInput) -> None:
        self._validate(Action.SUPPLEMENT, data)

    @workflow.update
    def dispose(self, data: DispositionInput) -> CaseState:
        self._machine.dispose(workflow.now(), data)
        return self._applied()

    @dispose.validator
    def _validate_dispose(self, data: DispositionInput) -> None:
        self._validate(Action.DISPOSE, data)

    @workflow.update
    def follow_up(self, data: FollowUpInput) -> CaseState:
        self._machine.follow_up(workflow.now(), data)
        return self._applied()

    @follow_up.validator
    def _validate_follow_up(self, data: FollowUpInput) -> None:
        self._validate(Action.FOLLOW_UP, data)

    @workflow.update
    def reroute(self, data: RerouteInput) -> CaseState:
        self._machine.reroute(workflow.now(), data)
        self._needs_suggestions = True
        return self._applied()

    @reroute.validator
    def _validate_reroute(self, data: RerouteInput) -> None:
        self._validate(Action.REROUTE, data)

    @workflow.update
    def reply(self, data: ReplyInput) -> CaseState:
        self._machine.reply(workflow.now(), data)
        return self._applied()

    @reply.validator
    def _validate_reply(self, data: ReplyInput) -> None:
        self._validate(Action.REPLY, data)

    @workflow.update
    def rate(self, data: RatingInput) -> CaseState:
        self._machine.rate(workflow.now(), data)
        return self._applied()

    @rate.validator
    def _validate_rate(self, data: RatingInput) -> None:
        self._validate(Action.RATE, data)

    @workflow.update
    def satisfied(self, data: SatisfiedInput) -> CaseState:
        # Added after release (issue 23): marked in the history of every case that uses it, so a
        # worker without it is told plainly rather than failing on an unknown update.
        workflow.patched(SATISFIED_PATCH)
        self._machine.satisfied(workflow.now(), data)
        return self._applied()

    @satisfied.validator
    def _validate_satisfied(self, data: SatisfiedInput) -> None:
        self._validate(Action.SATISFIED, data)

    @workflow.update
    def change_personal_data(self, data: PersonalDataChange) -> CaseState:
        """A correction or an erasure of the reporter's personal data (api/privacy.py): the case
        key is already destroyed when an erasure arrives; the case itself goes on."""
        self._machine.change_personal_data(workflow.now(), data)
        return self._applied()

    @change_personal_data.validator
    def _validate_change_personal_data(self, data: PersonalDataChange) -> None:
        if not data.bound:  # sealed for no case (see _validate)
            raise ApplicationError("Tindakan tidak terikat pada laporan ini", type="forbidden", non_retryable=True)
        try:
            check_personal_data_change(self._state, data)
        except ActionRejected as error:
            raise rejected_as_application_error(error) from None

    @workflow.update
    def confirm_pin(self, data: PinConfirmation) -> CaseState:
        # Added after release (issue 22): marked in the history of every case that uses it.
        workflow.patched(PIN_CONFIRMED_PATCH)
        self._machine.confirm_pin(workflow.now(), data)
        return self._applied()

    @confirm_pin.validator
    def _validate_confirm_pin(self, data: PinConfirmation) -> None:
        if not data.bound:  # sealed for no case (see _validate)
            raise ApplicationError("Tindakan tidak terikat pada laporan ini", type="forbidden", non_retryable=True)
        try:
            check_pin_confirmation(self._state, data)
        except ActionRejected as error:
            raise rejected_as_application_error(error) from None

    @workflow.signal
    def amend_calendar(self, data: CalendarAmendment) -> None:
        """A newly declared holiday moves the remaining deadlines (broadcast to open cases)."""
        if self._state.status in (Status.COMPLETED, Status.ARCHIVED) and not self._state.clocks:
            return
        # Sealed for no case: dropped (issue 24). Gated: an old history applied its unbound ones.
        if not data.bound and workflow.patched(UNBOUND_SIGNALS_DROPPED):
            workflow.logger.warning("unbound calendar amendment dropped for %s", self._state.tracking_id)
            return
        if self._machine.amend_calendar(workflow.now(), data):
            self._changed = True
