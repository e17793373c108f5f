"""The shared layer of the UWS 1.1 job service: one module per concern.

Handlers in ``functions/*/app.py`` hand their API Gateway event to :mod:`uws.service`;
everything else lives here, and only :mod:`uws.store`, :mod:`uws.files` and :mod:`uws.queue`
talk to AWS.
"""
