/**
 * CORS for browser callers. The headers are the ones supabase-js sends to functions
 * (supabase-js `cors.ts`: authorization, x-client-info, apikey, content-type, x-retry-count and
 * the tracing headers), so `supabase.functions.invoke` works from any origin.
 */

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers":
    "authorization, x-client-info, apikey, content-type, x-retry-count, traceparent, tracestate, baggage, x-region",
  "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  "access-control-expose-headers": "x-request-id",
  "access-control-max-age": "86400",
};

/**
 * The answer to a preflight (`OPTIONS`): 204 with the CORS headers, before any parsing or auth.
 *
 * @example
 * if (req.method === "OPTIONS") return preflight();
 */
export function preflight(): Response {
  return new Response(null, { status: 204, headers: CORS_HEADERS });
}
