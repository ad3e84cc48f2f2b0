"""What the site's views share about requests (the views of every app sit above courses)."""


def wants_json(request):
    """The page's own script asks for JSON (it sends Accept: application/json); a browser form gets HTML."""
    return request.headers.get("Accept", "").startswith("application/json")
