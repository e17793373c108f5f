from tests.conftest import UWS, text_of


def test_create_and_get(api):
    job_id = api.create(TEXT="hello", RUNID="r1")
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "PENDING"
    assert text_of(root, "uws:runId") == "r1"
    assert root.find("uws:parameters/uws:parameter[@id='TEXT']", UWS).text == "hello"
