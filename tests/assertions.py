"""Assertions about our API's responses that many tests share."""


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response has this status and our error envelope: a non-empty `message` and a
    non-empty `error` code (this `code` when given). Returns the body for further checks."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["error"], str) and body["error"], body
    if code is not None:
        assert body["error"] == code, body
    return body
