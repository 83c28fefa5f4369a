/** The public facts of the Auth server: `/settings`, `/health` and the JWKS. */
import { sendJson } from "../http.ts";
import type { AuthKit } from "./kit.ts";
import type { Handler, Route } from "./params.ts";

/**
 * The settings, health and JWKS routes.
 *
 * @example
 * const routes = metaRoutes(kit);
 */
export function metaRoutes(kit: AuthKit): Route[] {
  const { settings } = kit;

  const settingsHandler: Handler = async (_req, res) => {
    sendJson(res, 200, {
      external: {
        anonymous_users: kit.config.enableAnonymousSignIns,
        email: true,
        phone: false,
        apple: false,
        azure: false,
        bitbucket: false,
        discord: false,
        facebook: false,
        figma: false,
        github: false,
        gitlab: false,
        google: false,
        keycloak: false,
        kakao: false,
        linkedin_oidc: false,
        notion: false,
        slack_oidc: false,
        spotify: false,
        twitch: false,
        twitter: false,
        workos: false,
        zoom: false,
      },
      disable_signup: false,
      mailer_autoconfirm: true,
      phone_autoconfirm: false,
      sms_provider: "",
      saml_enabled: false,
    });
  };

  const health: Handler = async (_req, res) => {
    sendJson(res, 200, {
      version: "roomkit-local",
      name: "GoTrue",
      description: "GoTrue is a user registration and authentication API",
    });
  };

  const jwks: Handler = async (_req, res) => {
    // Only public keys; the HS256 secret is never published (GoTrue `api/jwks.go`).
    sendJson(
      res,
      200,
      { keys: [settings.keys.signingKey.publicJwk] },
      { "cache-control": "public, max-age=600" },
    );
  };

  return [
    ["GET", /^\/settings$/, settingsHandler],
    ["GET", /^\/health$/, health],
    ["GET", /^\/\.well-known\/jwks\.json$/, jwks],
  ];
}
