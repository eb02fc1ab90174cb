"""``{% captchala_scripts %}``: the provider's loader and the boot script, for a page that
shows the check without a form's widget (htmx, a page that renders itself with ``fetch``).

Both tags carry the request's CSP nonce, and they are written once per request: a widget
rendered on the same page, before or after, does not write them again.
"""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..conf import app_settings
from ..widgets import BOOT_SCRIPT, CaptchaLaWidget, csp_nonce

register = template.Library()


@register.simple_tag(takes_context=True)
def captchala_scripts(context: template.Context) -> SafeString | str:
    request = context.get("request")
    # The widget's own once-per-request mark: whichever comes first writes the tags.
    if not CaptchaLaWidget._first_on_page(request):
        return ""
    nonce = csp_nonce(request)
    attrs = format_html(' nonce="{}"', nonce) if nonce else ""
    if app_settings.CONSENT:
        # The boot script names the loader it loads once the visitor consents: read from
        # its own tag, which no markup injected into the page can add to.
        return format_html(
            '<script src="{}" data-captchala-loader="{}"{} defer></script>',
            static(BOOT_SCRIPT),
            app_settings.LOADER_URL,
            attrs,
        )
    return format_html(
        '<script src="{}"{} defer></script>\n<script src="{}"{} defer></script>',
        app_settings.LOADER_URL,
        attrs,
        static(BOOT_SCRIPT),
        attrs,
    )
