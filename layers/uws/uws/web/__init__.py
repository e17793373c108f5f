"""The web room: everything that faces HTTP (API Gateway's events, UWS's documents in XML,
JSON and HTML, the request values and their 400s). Only :mod:`uws.entrypoints` imports it;
the verbs it calls are :class:`uws.service.Service`'s."""
