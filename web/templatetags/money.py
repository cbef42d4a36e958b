"""`{% load money %}`: amounts in a `<data>` element, the readable text for people and the exact
integer in `value` for programs (and tests) that compare it with the API.

    {{ row.pending|micros:row.currency }}  ->  <data value="14000000">14.00 USD</data>
    {{ line.amount_cents|cents:line.currency }}"""

from django import template
from django.utils.html import format_html

from web.amounts import cents_text, micros_text

register = template.Library()


@register.filter
def micros(amount, currency=""):
    return format_html(
        '<data value="{}" class="amount">{}</data>', int(amount), micros_text(amount, currency)
    )


@register.filter
def cents(amount, currency=""):
    return format_html(
        '<data value="{}" class="amount">{}</data>', int(amount), cents_text(amount, currency)
    )
