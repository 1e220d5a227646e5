"""ComplaintWorkflow: one durable workflow per complaint; workflow id = tracking id."""

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "complaints"

# Custom search attributes: operators can filter cases in Temporal's UI as well.
STATUS_ATTRIBUTE = SearchAttributeKey.for_keyword("Sp4nStatus")
AGENCY_ATTRIBUTE = SearchAttributeKey.for_keyword("Sp4nAgency")
NEXT_DEADLINE_ATTRIBUTE = SearchAttributeKey.for_datetime("Sp4nNextDeadline")
OVERDUE_ATTRIBUTE = SearchAttributeKey.for_bool("Sp4nOverdue")
SEARCH_ATTRIBUTES = (STATUS_ATTRIBUTE, AGENCY_ATTRIBUTE, NEXT_DEADLINE_ATTRIBUTE, OVERDUE_ATTRIBUTE)
