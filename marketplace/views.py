"""Plain Django views: health and the Stripe webhook receiver (no DRF auth on either)."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from marketplace.health import celery_last_heartbeat, health_report
from marketplace.webhooks import WebhookRejected, stripe_event_receive


@require_GET
def healthz(request):
    ok, checks = health_report()
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": checks,
        "celeryLastHeartbeat": celery_last_heartbeat(),
    }
    if down:
        body["message"] = f"Unavailable: {', '.join(down)}."
        body["error"] = "dependency_down"
        body["down"] = down
    return JsonResponse(body, status=200 if ok else 503)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        return JsonResponse(
            {"message": "Missing Stripe-Signature header.", "error": "bad_signature"}, status=400
        )
    try:
        event, created = stripe_event_receive(payload=request.body, signature=signature)
    except WebhookRejected as exc:
        return JsonResponse({"message": str(exc), "error": "bad_signature"}, status=400)
    return JsonResponse({"received": True, "id": event.event_id, "duplicate": not created})
