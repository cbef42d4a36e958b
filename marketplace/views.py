"""Plain Django views: the Stripe webhook receiver (no DRF auth). /healthz is marketplace.health."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketplace.webhooks import WebhookRejected, stripe_event_receive


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
