from django.conf import settings

SESSION_FRAME_ANCESTORS = "lti_frame_ancestors"


class LtiFrameMiddleware:
    """Pages of a session opened by an LTI launch may show in the launching LMS's frame, and only there.

    Drydock sends X-Frame-Options: DENY; for an LTI session it sends instead
    `Content-Security-Policy: frame-ancestors` naming the platform's origins,
    and, over HTTPS, its session and CSRF cookies as SameSite=None; Secure so
    the frame keeps them. Listed before XFrameOptionsMiddleware: it sees the response after it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        ancestors = session.get(SESSION_FRAME_ANCESTORS) if session is not None else None
        if not ancestors:
            return response
        if "X-Frame-Options" in response:
            del response["X-Frame-Options"]
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'self' " + " ".join(ancestors))
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["samesite"] = "None"
                    response.cookies[name]["secure"] = True
        return response
