/**
 * A fake email provider (Resend-shaped `POST /emails`, the one `functions/_shared/email.ts` calls),
 * mocked at its HTTP edge because mail cannot leave this machine: it records each request with its
 * `authorization` header and answers `{id}`.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

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
  const sent: SentEmail[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Omit<SentEmail, "authorization">;
      sent.push({ ...body, authorization: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: randomUUID() }));
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/emails`,
    sent,
    received(to, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const mail = sent.find((m) => m.to.includes(to));
          if (!mail) return;
          cleanup();
          resolve(mail);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no mail to ${to} in ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
