"""The embedded default: run the deployment of template.yaml on one machine, moto as AWS.

``template`` reads template.yaml (the only route table and resource list), ``resources``
creates its table, bucket and queues in moto, ``events`` builds the events AWS would send
(API Gateway's for each way a client reaches the API, SQS's, the schedule's), ``lambdas``
loads and invokes functions as Lambda does, ``runtime`` and ``serve`` are `make serve`,
``inprocess`` the same resources in moto in-process for tests and benchmarks.
"""
