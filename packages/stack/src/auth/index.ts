/**
 * The Auth surface (`/auth/v1`): a GoTrue stand-in for what supabase-js auth uses. It writes real
 * rows in `auth.users`, `auth.identities`, `auth.sessions` and `auth.refresh_tokens`, so triggers
 * on them fire as on Supabase.
 *
 * The routes live one group per module, each taking the shared `AuthKit` (`kit.ts`):
 * `signup.ts` (sign-up, token grants), `passwordless.ts` (email OTP, magic links, invites),
 * `user.ts` (the current user, logout), `admin.ts` (admin users), `meta.ts` (settings, health,
 * JWKS). This file only matches routes and turns failures into GoTrue's error bodies.
 */
import { decodePathSegment, isConnectionError } from "../http.ts";
import type { Surface, SurfaceFactory } from "../surface.ts";
import { adminRoutes } from "./admin.ts";
import { AuthError, E, OAuthError, sendAuthError } from "./errors.ts";
import { createAuthKit } from "./kit.ts";
import { metaRoutes } from "./meta.ts";
import type { Route } from "./params.ts";
import { passwordlessRoutes } from "./passwordless.ts";
import { sessionRoutes } from "./signup.ts";
import { userRoutes } from "./user.ts";

/**
 * Builds the Auth surface.
 *
 * @example
 * const auth = await createAuthSurface(ctx);
 * await auth.handle(req, res, "/token?grant_type=password");
 */
export const createAuthSurface: SurfaceFactory = async (ctx) => {
  const kit = createAuthKit(ctx);
  const routes: Route[] = [
    ...sessionRoutes(kit),
    ...passwordlessRoutes(kit),
    ...userRoutes(kit),
    ...adminRoutes(kit),
    ...metaRoutes(kit),
  ];

  const surface: Surface = {
    async handle(req, res, path) {
      const url = new URL(path, "http://auth");
      const pathname = url.pathname.replace(/\/+$/, "") || "/";
      try {
        const matching = routes.filter(([, pattern]) => pattern.test(pathname));
        if (matching.length === 0) throw E.notFound();
        const method = req.method === "HEAD" ? "GET" : req.method;
        const hit = matching.find(([m]) => m === method);
        if (!hit) throw E.methodNotAllowed();
        const params = (pathname.match(hit[1]) ?? []).slice(1).map(decodePathSegment);
        await hit[2](req, res, url, params);
      } catch (error) {
        if (error instanceof AuthError || error instanceof OAuthError) {
          sendAuthError(req, res, error);
          return;
        }
        if (isConnectionError(error)) {
          sendAuthError(req, res, E.databaseUnavailable());
          return;
        }
        ctx.log("auth", `${req.method} ${pathname}: ${(error as Error).stack ?? String(error)}`);
        sendAuthError(req, res, E.unexpected());
      }
    },
    async close() {
      await kit.sql.end({ timeout: 5 });
    },
  };
  return surface;
};
