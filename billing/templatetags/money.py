from django import template

register = template.Library()

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


@register.filter
def money(cents: int | None, currency: str = "usd") -> str:
    """Integer cents as a price: 5000|money:"usd" -> "$50.00", -5000 -> "-$50.00"."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    symbol = SYMBOLS.get((currency or "").lower())
    amount = f"{whole:,}.{rest:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {(currency or '').upper()}"
