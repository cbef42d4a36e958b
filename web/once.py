"""One-time form tokens: a create form whose answer shows a secret once (an API key, a webhook
signing secret) carries a token issued with the blank form. Reloading the answer page sends the
POST again; its token is spent, so nothing is created a second time that nobody ever sees.
The last few tokens per form are kept in the session (several tabs may be open)."""

import secrets

KEPT = 10


def once_issue(request, form_name: str) -> str:
    key = f"web.once.{form_name}"
    token = secrets.token_urlsafe(16)
    kept = request.session.get(key, [])[-(KEPT - 1) :]
    request.session[key] = [*kept, token]
    return token


def once_spend(request, form_name: str, token: str) -> bool:
    """False when the token was already used (or never issued to this session)."""
    key = f"web.once.{form_name}"
    tokens = request.session.get(key, [])
    if token not in tokens:
        return False
    tokens.remove(token)
    request.session[key] = tokens
    return True
