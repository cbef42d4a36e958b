"""Stateless web, proven: two web processes (gunicorn, as in production) on two loopback
addresses and two Celery workers; a browser-like session and API traffic go to one process and
the other in turn, as a load balancer without sticky sessions would send them, and everything
works: sign-in and CSRF, a form whose one-time token lives in the session, an upload straight to
storage, the ingestion checks, an order paid through a Stripe webhook, a download through a
presigned URL. Whatever one process keeps for itself (a local cache, a file on its disk) would
make a step on the other process fail."""

import hashlib
import html
import os
import re
import sys
import uuid
from itertools import cycle

import pytest
import requests
from django.conf import settings

from devtools.processes import PIPE, free_port, start, stop, wait_for_port
from licensing.models import Grant, Order
from marketplace.models import Submission
from marketplace.services.review import submission_approve
from tests.catalogue_helpers import DATASHEET, make_archive, upload_bytes
from tests.factories import make_key, make_org, make_user
from tests.licensing.test_orders import pay
from tests.marketplace.test_ingestion_worker_kill import wait_for
from tests.parties import verified_address
from tests.servers import ROOT
from tests.webhooks import stripe_event, stripe_signature

PASSWORD = "a-long-and-unusual-passphrase-7"
SITE = "dc.test"  # the one name both processes serve, as behind a load balancer


class Response:
    """What tests/catalogue_helpers.upload_bytes reads of a response."""

    def __init__(self, response: requests.Response):
        self.raw = response
        self.status_code = response.status_code

    def json(self):
        return self.raw.json()


class TwoWebs:
    """Sends each request to the next web process in turn, with the site's Host header and the
    cookies a browser would keep for the site (set by either process)."""

    def __init__(self, bases: list[str]):
        self.bases = bases
        self._next = cycle(range(len(bases)))
        self.cookies: dict[str, str] = {}
        self.served_by: list[int] = []
        self.headers: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, to: int | None = None, **kwargs
    ) -> requests.Response:
        index = next(self._next) if to is None else to
        headers = {"Host": SITE, **self.headers, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method != "GET":
            headers.setdefault("Origin", f"http://{SITE}")
            headers.setdefault("Referer", f"http://{SITE}{path}")
        response = requests.request(
            method,
            self.bases[index] + path,
            headers=headers,
            allow_redirects=False,
            timeout=60,
            **kwargs,
        )
        for cookie in response.cookies:
            if cookie.value and not cookie.is_expired():
                self.cookies[cookie.name] = cookie.value
            else:
                self.cookies.pop(cookie.name, None)
        self.served_by.append(index)
        return response

    # The APIClient calls upload_bytes makes.
    def get(self, path, **kwargs):
        return Response(self.request("GET", path, **kwargs))

    def post(self, path, data=None, format=None, **kwargs):
        if format == "json":
            return Response(self.request("POST", path, json=data, **kwargs))
        return Response(self.request("POST", path, data=data, **kwargs))

    def patch(self, path, data=None, format=None):
        return Response(self.request("PATCH", path, json=data))


def form_token(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} in the page"
    return html.unescape(match.group(1))


def process_env(queue: str) -> dict:
    db = settings.DATABASES["default"]
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        AWS_S3_ENDPOINT_URL=settings.AWS_S3_ENDPOINT_URL,
        STRIPE_API_BASE=settings.STRIPE_API_BASE,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        PYTHONUNBUFFERED="1",
    )


def start_web(env: dict, host: str):
    port = free_port(host)
    args = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"{host}:{port}"]
    proc = start(
        args + ["--workers", "1", "--threads", "4"], name=f"web {host}", log=PIPE, cwd=ROOT, env=env
    )
    wait_for_port(port, host=host, proc=proc, timeout=90)
    return proc, f"http://{host}:{port}"


def start_worker(env: dict, name: str):
    # Without -Q: every queue (config/celery.py), so the two workers share all the work.
    args = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork"]
    args += ["--concurrency", "1", "--loglevel", "INFO", "--hostname", f"{name}@%h"]
    return start(args, name=name, log=PIPE, cwd=ROOT, env=env)


def second_loopback() -> str:
    """127.0.0.2 when this machine routes it (Linux does the whole 127/8), else 127.0.0.1 on
    another port."""
    try:
        free_port("127.0.0.2")
    except OSError:
        return "127.0.0.1"
    return "127.0.0.2"


@pytest.fixture
def site(transactional_db):
    env = process_env(f"two-web-{uuid.uuid4().hex[:8]}")
    procs = []
    try:
        procs.append(start_worker(env, "w1"))
        procs.append(start_worker(env, "w2"))
        webs = [start_web(env, "127.0.0.1"), start_web(env, second_loopback())]
        procs += [proc for proc, _ in webs]
        yield [base for _, base in webs]
    finally:
        logs = {p.name: stop(p, timeout=30) for p in reversed(procs)}
        for name, log in logs.items():
            # A 500 on either process is printed by gunicorn's error log / Django's logger.
            assert "Traceback" not in log, f"--- {name} ---\n{log[-4000:]}"


def sign_in_and_create_a_key(web: TwoWebs, email: str) -> str:
    """The browser part: sign in (CSRF from one process, POST to the other), then the keys form
    (its one-time token stored in the session by one process, spent by the other)."""
    page = web.request("GET", "/accounts/login/", to=0)
    assert page.status_code == 200 and "csrftoken" in web.cookies
    login = web.request(
        "POST",
        "/accounts/login/",
        to=1,
        data={
            "csrfmiddlewaretoken": form_token(page.text, "csrfmiddlewaretoken"),
            "login": email,
            "password": PASSWORD,
        },
    )
    assert login.status_code == 302, login.text[-2000:]
    assert "sessionid" in web.cookies

    keys = web.request("GET", "/organization/keys", to=0)
    assert keys.status_code == 200, keys.status_code  # signed in on the other process
    form = {
        "csrfmiddlewaretoken": form_token(keys.text, "csrfmiddlewaretoken"),
        "name": "two webs",
        "once": form_token(keys.text, "once"),
    }
    created = web.request("POST", "/organization/keys", to=1, data=form)
    assert created.status_code == 201, created.text[-2000:]
    secret = form_token(created.text.replace('readonly value="', 'name="issued" value="'), "issued")
    # The same POST again, on the first process: its token was spent in the shared session.
    again = web.request("POST", "/organization/keys", to=0, data=form)
    assert again.status_code == 302 and again.headers["Location"].endswith("/organization/keys")
    # Without the CSRF token a POST is refused by either process.
    refused = web.request("POST", "/organization/keys", to=1, data={"name": "x"}, headers={})
    assert refused.status_code == 403
    return secret


@pytest.mark.timeout(600)
def test_two_web_processes_serve_one_session_and_api_traffic_alternately(site):
    web = TwoWebs(site)
    email = "owner-two-webs@example.org"
    owner = verified_address(make_user(email=email, password=PASSWORD), email)
    make_org(owner=owner, uploads=True)
    secret = sign_in_and_create_a_key(web, email)

    # API traffic with the key the form issued, every call to the other process.
    api = TwoWebs(site)
    api.headers = {"Authorization": f"Bearer {secret}"}
    response = api.post("/api/submissions", {"name": "Two webs"}, format="json")
    assert response.status_code == 201, response.json()
    sid = response.json()["submission"]["id"]
    sheet = {**DATASHEET, "isPaid": True, "basePriceCents": 900, "currency": "usd"}
    assert api.patch(f"/api/submissions/{sid}", sheet, format="json").status_code == 200
    data = make_archive(256 * 1024, seed=b"two webs")
    upload_bytes(api, sid, data, part_size=5 * 1024 * 1024)
    submitted = api.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert submitted.status_code == 200, submitted.json()
    wait_for(
        lambda: Submission.objects.get(public_id=sid).status == Submission.Status.IN_REVIEW,
        120,
        "the workers to run the ingestion checks",
    )
    version = submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    dataset_id = version.dataset.public_id

    # A buyer: terms read on one process, accepted on the other; the order; Stripe.js pays.
    buyer_secret, _ = make_key()
    buyer = TwoWebs(site)
    buyer.headers = {"Authorization": f"Bearer {buyer_secret}"}
    terms = buyer.get(f"/api/datasets/{dataset_id}/terms").json()
    accepted = buyer.post(
        f"/api/datasets/{dataset_id}/terms", {"termsHash": terms["termsHash"]}, format="json"
    )
    assert accepted.status_code == 201, accepted.json()
    response = buyer.request(
        "POST",
        "/api/orders",
        json={"datasetId": dataset_id},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    order = response.json()
    pay(order)

    # Stripe's webhook reaches one process, its retry the other (the same event: applied once).
    payload = stripe_event("payment_intent.succeeded", id=order["paymentIntentId"], object="x")
    stripe = TwoWebs(site)
    for _ in range(2):
        hook = stripe.request(
            "POST",
            "/webhooks/stripe",
            data=payload,
            headers={
                "Stripe-Signature": stripe_signature(payload),
                "Content-Type": "application/json",
            },
        )
        assert hook.status_code == 200, hook.text
    wait_for(
        lambda: Order.objects.filter(public_id=order["id"], status="paid").exists(),
        120,
        "the workers to apply the payment",
    )
    assert buyer.get(f"/api/orders/{order['id']}").json()["status"] == "paid"
    assert Grant.objects.filter(order_ref=order["id"], status="active").count() == 1

    # Downloads: a presigned URL from each process, both straight from storage.
    for _ in range(2):
        download = buyer.post(f"/api/datasets/{dataset_id}/download")
        assert download.status_code in (200, 201), download.json()
        body = requests.get(download.json()["downloadUrl"], timeout=60)
        assert body.status_code == 200
        assert hashlib.sha256(body.content).hexdigest() == hashlib.sha256(data).hexdigest()

    # Signed out on one process is signed out on the other.
    page = web.request("GET", "/organization/keys", to=1)
    signed_out = web.request(
        "POST",
        "/accounts/logout/",
        to=0,
        data={"csrfmiddlewaretoken": form_token(page.text, "csrfmiddlewaretoken")},
    )
    assert signed_out.status_code == 302
    assert web.request("GET", "/organization/keys", to=1).status_code == 302

    # Both processes served each kind of traffic.
    for client in (web, api, buyer, stripe):
        assert set(client.served_by) == {0, 1}
