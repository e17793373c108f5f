"""The shared layer of the UWS 1.1 job service, in rooms (docs/architecture.md):

- :mod:`uws.entrypoints`: what the Lambda handlers call; the one place exceptions become
  responses.
- :mod:`uws.web`: everything facing HTTP (requests, the seed's job actions, the job list,
  the documents in XML, JSON and HTML); only the entry points import it.
- :mod:`uws.service`: the verbs of a job's life (create, run, abort, delete, the changes),
  which the web room, the worker and the reaper share.
- the core below them: the records (``job``, ``phases``, ``jobtypes``), the store (the only
  caller of the job table), ``files`` (S3), ``queue`` (SQS), ``containers`` (ECS), ``aws``
  (the clients); the runners (``worker``, ``task``, ``reaper``, ``eventbus``).

A second protocol (TAP, the ``tap`` package of its own layer) builds on the core and the web
room's entry points; nothing here imports it.
"""
