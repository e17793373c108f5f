"""The embedded default: run the deployment of template.yaml on one machine, moto as AWS.

``template`` reads template.yaml (the only route table and resource list), ``resources``
creates its table, bucket and queues in moto, and ``apigateway`` turns HTTP requests into
the REST proxy events API Gateway would send to the function the template names.
"""
