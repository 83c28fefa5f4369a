import type { Surface, SurfaceFactory } from "../surface.ts";

/** PLACEHOLDER until the rest surface lands: answers 501 so the gateway can be wired first. */
export const createRestSurface: SurfaceFactory = async () => {
  const surface: Surface = {
    async handle(_req, res) {
      res.writeHead(501, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "rest: not implemented yet" }));
    },
    async close() {},
  };
  return surface;
};
