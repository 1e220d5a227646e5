"""/open311/v2: Open311 GeoReport v2 (plus mySociety's servicerequestupdates), in .json and .xml.

Any Open311 client (FixMyStreet first) can list the complaint categories, submit a complaint
(`api_key` = a token of role `client`), follow it, and post its citizens' comments on it. Every
answer under /open311/v2, errors included (400, 403, 404, 405, 413, 422, 429, 5xx), is GeoReport's
in the format of the URL's extension (XML unless `.json`), and XML answers never carry a character
XML 1.0 forbids, whatever is stored. What is shown is what the public may see
(domain/visibility.py): confidential cases are never listed nor shown, and neither is an anonymous
reporter's contact, pin, address or media links. docs/open311.md documents the statuses.

One file a concern: common (router, limits, query arguments), rendering (formats, a case as a
service request), discovery (services), submit (POST requests), reading (GET requests, tokens),
updates (servicerequestupdates), staff (what a client sent, for the case's staff). The GeoReport
rules themselves are domain/open311.py's.
"""

from api.routes.open311 import discovery, reading, submit, updates  # noqa: F401 - each adds its routes
from api.routes.open311.common import router
from api.routes.open311.discovery import region_choices
from api.routes.open311.rendering import to_xml, w3, xml_safe
from api.routes.open311.staff import staff_router

__all__ = ["region_choices", "router", "staff_router", "to_xml", "w3", "xml_safe"]
