"""OpenAPI description of our authentication (imported by MarketplaceConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer <key>`.",
        }


class SessionActorAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.authentication.SessionActorAuthentication"
    name = "BrowserSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": (
                "The web site's session (the browser uploader), acting for the organisation "
                "picked in the session; state-changing requests need the X-CSRFToken header."
            ),
        }
