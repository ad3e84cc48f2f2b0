"""The parts of every page's chrome (base.html) that only the language decides, rendered once per process.

Every page renders its header, links and labels: ~20 translations, 8 reversed URLs and the language
list, ~0.6 ms of CPU, the same for every learner who reads that language. Kept here by the template
node, per language, script prefix and URL conf, they cost a dictionary read.
"""

from django import template
from django.urls import get_script_prefix, get_urlconf
from django.utils import translation

register = template.Library()

# Languages times script prefixes: a handful. Past this, a block is rendered each time instead of kept.
MAX_KEPT = 32


@register.tag
def per_language(parser, token):
    """{% per_language %}…{% endper_language %}: rendered once per language, then the same text.

    Only what the active language decides may go inside: translations, {% url %} without arguments,
    {% static %}, LANGUAGE_CODE. Never the user, the request, a CSRF token, messages or a {% block %}.
    """
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("per_language takes no argument")
    nodelist = parser.parse(("endper_language",))
    parser.delete_first_token()
    return PerLanguageNode(nodelist)


class PerLanguageNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist
        self.kept = {}

    def render(self, context):
        key = (translation.get_language(), get_script_prefix(), get_urlconf())
        text = self.kept.get(key)
        if text is None:
            text = self.nodelist.render(context)
            if len(self.kept) < MAX_KEPT:
                self.kept[key] = text
        return text
