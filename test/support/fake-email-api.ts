/**
 * A fake email provider (Resend-shaped `POST /emails`, the one `functions/_shared/email.ts` calls),
 * mocked at its HTTP edge because mail cannot leave this machine: it records each request with its
 * `authorization` header and answers `{id}`.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Arrivals } from "./arrivals.ts";

export interface SentEmail {
  authorization: string | undefined;
  from: string;
  to: string[];
  subject: string;
  html: string;
  text: string;
}

export interface FakeEmailApi {
  /** The URL to give as `ROOMKIT_EMAIL_API_URL`. */
  url: string;
  sent: SentEmail[];
  /** Resolves with the first mail to `to` (waits for it, up to `timeoutMs`). */
  received(to: string, timeoutMs?: number): Promise<SentEmail>;
  close(): Promise<void>;
}

export async function startFakeEmailApi(): Promise<FakeEmailApi> {
  const sent = new Arrivals<SentEmail>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Omit<SentEmail, "authorization">;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: randomUUID() }));
      sent.add({ ...body, authorization: req.headers.authorization });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/emails`,
    sent: sent.items,
    async received(to, timeoutMs = 15_000) {
      const [mail] = await sent.waitFor((m) => m.to.includes(to), 1, `mail to ${to}`, timeoutMs);
      return mail!;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
