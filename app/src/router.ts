import { useEffect, useState } from "react";

/**
 * Hash routes, so the built app is plain static files that work from any host and path:
 * `#/rooms`, `#/rooms/<id>`, `#/invites`, `#/coworking`, `#/coworking/<id>`, `#/settings`.
 */
export type Route =
  | { name: "rooms"; roomId?: string }
  | { name: "invites" }
  | { name: "coworking"; roomId?: string }
  | { name: "settings" };

export function parseRoute(hash: string): Route {
  const [section, id] = hash.replace(/^#\/?/, "").split("/");
  if (section === "invites") return { name: "invites" };
  if (section === "settings") return { name: "settings" };
  if (section === "coworking") return id ? { name: "coworking", roomId: id } : { name: "coworking" };
  return id ? { name: "rooms", roomId: id } : { name: "rooms" };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(path: string): void {
  window.location.hash = path;
}
