/**
 * A fake Web Push service (the browser vendor's server, which cannot run here), mocked at its HTTP
 * edge: it records every request and answers 201, or the status set for an endpoint. Plus what a
 * browser does with a push: subscription keys (`PushSubscription.toJSON()`), and decrypting the
 * `aes128gcm` body (RFC 8291 / RFC 8188), written here from the RFCs rather than with the library
 * the function uses, so the test checks the standard and not the library against itself.
 */
import { createDecipheriv, createECDH, type ECDH, hkdfSync, randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Arrivals } from "./arrivals.ts";

export interface PushRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A browser's subscription: what it stores in `roomkit.push_subscriptions`, and its private half. */
export interface FakeSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
  ecdh: ECDH;
}

export interface FakePushService {
  origin: string;
  requests: PushRequest[];
  /** A new subscription on this service; `status` is what the service answers for it. */
  subscribe(status?: number): FakeSubscription;
  /** Resolves with the first `count` requests to `endpoint` (waits for them, up to `timeoutMs`). */
  received(endpoint: string, count?: number, timeoutMs?: number): Promise<PushRequest[]>;
  close(): Promise<void>;
}

export async function startFakePushService(): Promise<FakePushService> {
  const requests = new Arrivals<PushRequest>();
  const statuses = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      res.writeHead(statuses.get(path) ?? 201).end();
      requests.add({ path, headers: req.headers, body: Buffer.concat(chunks) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests: requests.items,
    subscribe(status = 201) {
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const path = `/push/${randomUUID()}`;
      statuses.set(path, status);
      return {
        endpoint: `${origin}${path}`,
        p256dh: ecdh.getPublicKey("base64url"),
        auth: randomBytes(16).toString("base64url"),
        ecdh,
      };
    },
    received(endpoint, count = 1, timeoutMs = 15_000) {
      const path = new URL(endpoint).pathname;
      return requests.waitFor((r) => r.path === path, count, `push(es) to ${path}`, timeoutMs);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * What the browser does on receipt: decrypts an `aes128gcm` push body for `subscription` (one
 * record; header = salt(16) ‖ rs(4) ‖ idlen(1) ‖ the sender's public key) and returns the text.
 */
export function decryptPush(subscription: FakeSubscription, body: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const senderKey = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  const shared = subscription.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([
    Buffer.from("WebPush: info\0"),
    subscription.ecdh.getPublicKey(),
    senderKey,
  ]);
  const ikm = Buffer.from(
    hkdfSync("sha256", shared, Buffer.from(subscription.auth, "base64url"), keyInfo, 32),
  );
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error("push record has no last-record delimiter");
  return padded.subarray(0, end).toString("utf8");
}
