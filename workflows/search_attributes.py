"""The search attributes every sequence carries, so the Web UI and visibility can filter.

Registered on the server under these names (see
`followthrough.platform.devserver.SEARCH_ATTRIBUTES`); none holds personal data: ids,
template names and scores only.
"""

from temporalio.common import SearchAttributeKey

STATE = SearchAttributeKey.for_keyword("InterventionState")
FAMILY_ID = SearchAttributeKey.for_keyword("FamilyId")
TEMPLATE_NAME = SearchAttributeKey.for_keyword("TemplateName")
TEMPLATE_VERSION = SearchAttributeKey.for_int("TemplateVersion")
RISK_SCORE = SearchAttributeKey.for_float("RiskScore")
