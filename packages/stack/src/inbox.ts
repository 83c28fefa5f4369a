/**
 * The local inbox: where Auth's mails go instead of being sent, as the Supabase CLI's Mailpit
 * (formerly Inbucket) on `[local_smtp] port` (54324). A small web page lists the mails; a JSON API
 * shaped as Mailpit's (`/api/v1/messages`, `/api/v1/message/{ID}`, `/api/v1/search`) lets tests
 * read the code or the link out of them. Mails live in memory for the life of the stack.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readJson, sendJson } from "./http.ts";

/** One mail as Auth hands it over. */
export interface Mail {
  to: string;
  subject: string;
  html: string;
  text: string;
}

/** What Auth sends through. */
export interface Mailer {
  send(mail: Mail): void;
}

/** A stored mail. */
export interface InboxMessage extends Mail {
  id: string;
  created: Date;
  read: boolean;
}

/** The sender the CLI configures for GoTrue (`[local_smtp] admin_email`, `sender_name` defaults). */
export const SENDER = { Name: "Admin", Address: "admin@email.com" } as const;

/**
 * Where the inbox takes mail that functions send through an email API: the request of Resend's
 * `POST /emails` (Bearer key, JSON `{from, to, subject, html, text}`), answered `{id}`.
 */
export const RESEND_PATH = "/api/resend/emails";

/** Mailpit's page size when `limit` is absent (`/api/v1/messages`). */
const DEFAULT_PAGE_LIMIT = 50;
/** The newest mails kept; older ones are dropped so a long-running stack does not grow forever. */
const MAX_MESSAGES = 1000;

/** Mailpit's message IDs are 22 URL-safe characters. */
function newId(): string {
  return randomBytes(16).toString("base64url").slice(0, 22);
}

/**
 * The mails sent while the stack runs, newest first.
 *
 * @example
 * const inbox = new Inbox();
 * inbox.send({ to: "ada@example.com", subject: "Your Magic Link", html: "<p>123456</p>", text: "123456" });
 * inbox.list()[0]?.subject // "Your Magic Link"
 */
export class Inbox implements Mailer {
  readonly #messages: InboxMessage[] = [];

  send(mail: Mail): void {
    this.#messages.unshift({ ...mail, id: newId(), created: new Date(), read: false });
    this.#messages.length = Math.min(this.#messages.length, MAX_MESSAGES);
  }

  list(): readonly InboxMessage[] {
    return this.#messages;
  }

  get(id: string): InboxMessage | undefined {
    return this.#messages.find((m) => m.id === id);
  }

  /** Deletes the given mails, or all of them. */
  delete(ids?: string[]): void {
    const keep = ids ? this.#messages.filter((m) => !ids.includes(m.id)) : [];
    this.#messages.splice(0, this.#messages.length, ...keep);
  }
}

function address(to: string) {
  return { Name: "", Address: to };
}

/** A list entry of Mailpit's `MessageSummary`. */
function summary(m: InboxMessage) {
  return {
    ID: m.id,
    MessageID: `${m.id}@roomkit.local`,
    Read: m.read,
    From: SENDER,
    To: [address(m.to)],
    Cc: [],
    Bcc: [],
    ReplyTo: [],
    Subject: m.subject,
    Created: m.created.toISOString(),
    Tags: [],
    Size: Buffer.byteLength(m.html) + Buffer.byteLength(m.text),
    Attachments: 0,
    Snippet: m.text.replace(/\s+/g, " ").trim().slice(0, 250),
  };
}

/** Mailpit's `Message`: the summary's fields plus both bodies. */
function full(m: InboxMessage) {
  const { Created, Snippet: _snippet, Attachments: _count, ...rest } = summary(m);
  return {
    ...rest,
    Date: Created,
    ReturnPath: SENDER.Address,
    Text: m.text,
    HTML: m.html,
    Inline: [],
    Attachments: [],
  };
}

/**
 * Mailpit's search subset: `to:addr`, `subject:word` and bare words (matched in subject and text),
 * every term required, case-insensitive. Quotes around a value are dropped.
 */
function matches(m: InboxMessage, query: string): boolean {
  const terms = query.match(/(\w+:)?("[^"]*"|\S+)/g) ?? [];
  return terms.every((term) => {
    const [, field, raw] = /^(?:(\w+):)?(.*)$/.exec(term) ?? [];
    const value = (raw ?? "").replace(/^"|"$/g, "").toLowerCase();
    if (field === "to") return m.to.toLowerCase().includes(value);
    if (field === "subject") return m.subject.toLowerCase().includes(value);
    return `${m.subject}\n${m.text}`.toLowerCase().includes(value);
  });
}

function page(messages: readonly InboxMessage[], all: readonly InboxMessage[], url: URL) {
  const start = Math.max(0, Number(url.searchParams.get("start") ?? 0) || 0);
  const limit = Math.max(
    1,
    Number(url.searchParams.get("limit") ?? DEFAULT_PAGE_LIMIT) || DEFAULT_PAGE_LIMIT,
  );
  const shown = messages.slice(start, start + limit);
  return {
    total: all.length,
    unread: all.filter((m) => !m.read).length,
    count: shown.length,
    messages_count: messages.length,
    start,
    tags: [],
    messages: shown.map(summary),
  };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** The web page: every mail, newest first, its HTML shown in a sandboxed frame. */
function renderPage(messages: readonly InboxMessage[]): string {
  const items = messages
    .map(
      (m) => `<article>
  <header><strong>${escapeHtml(m.subject)}</strong> to ${escapeHtml(m.to)} <time>${m.created.toISOString()}</time></header>
  <iframe sandbox srcdoc="${escapeHtml(m.html)}"></iframe>
</article>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inbox · Roomkit local stack</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:60rem}article{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}iframe{width:100%;height:12rem;border:0}time{color:#666;margin-left:.5rem}</style>
</head><body>
<h1>Inbox</h1>
<p>Mails Auth sent from the local stack (${messages.length}). They are not delivered anywhere. JSON: <a href="/api/v1/messages">/api/v1/messages</a>.</p>
${items || "<p>No mail yet.</p>"}
</body></html>`;
}

/** The `{"IDs": [...]}` body of Mailpit's DELETE; absent or empty means every mail. */
async function readIds(req: IncomingMessage): Promise<string[] | undefined> {
  const body = (await readJson(req).catch(() => undefined)) as { IDs?: unknown } | undefined;
  return Array.isArray(body?.IDs) && body.IDs.length > 0 ? body.IDs.map(String) : undefined;
}

/** Resend's `POST /emails`: a Bearer key (any, locally) and one or more recipients. */
async function receiveApiMail(inbox: Inbox, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
    sendJson(res, 401, {
      statusCode: 401,
      name: "missing_api_key",
      message: "Missing API key in the authorization header.",
    });
    return;
  }
  const body = (await readJson(req).catch(() => undefined)) as Record<string, unknown> | undefined;
  const to = typeof body?.to === "string" ? [body.to] : Array.isArray(body?.to) ? body.to.map(String) : [];
  if (
    !body ||
    to.length === 0 ||
    typeof body.subject !== "string" ||
    (body.html === undefined && body.text === undefined)
  ) {
    sendJson(res, 422, {
      statusCode: 422,
      name: "validation_error",
      message: "to, subject and html or text are required",
    });
    return;
  }
  for (const address of to)
    inbox.send({
      to: address,
      subject: body.subject,
      html: String(body.html ?? ""),
      text: String(body.text ?? ""),
    });
  sendJson(res, 200, { id: inbox.list()[0]!.id });
}

function handler(inbox: Inbox) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://inbox");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const all = inbox.list();
    if (req.method === "GET" && path === "/") {
      const html = renderPage(all);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(html);
      return;
    }
    if (path === RESEND_PATH && req.method === "POST") {
      await receiveApiMail(inbox, req, res);
      return;
    }
    if (path === "/api/v1/messages" && req.method === "GET") {
      sendJson(res, 200, page(all, all, url));
      return;
    }
    if (path === "/api/v1/messages" && req.method === "DELETE") {
      inbox.delete(await readIds(req));
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end("ok");
      return;
    }
    if (path === "/api/v1/search" && req.method === "GET") {
      const query = url.searchParams.get("query") ?? "";
      sendJson(
        res,
        200,
        page(
          all.filter((m) => matches(m, query)),
          all,
          url,
        ),
      );
      return;
    }
    const one = /^\/api\/v1\/message\/([^/]+)$/.exec(path);
    if (one && req.method === "GET") {
      const message = one[1] === "latest" ? all[0] : inbox.get(decodeURIComponent(one[1]!));
      if (!message) {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("message not found");
        return;
      }
      message.read = true;
      sendJson(res, 200, full(message));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("404 page not found");
  };
}

/** A running inbox server. */
export interface InboxServer {
  /** e.g. `http://127.0.0.1:54324`: what `status` prints as Inbox URL (`MAILPIT_URL`). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the inbox's page and JSON API on its own port.
 *
 * @example
 * const server = await serveInbox(new Inbox(), { port: 54324, host: "127.0.0.1" });
 * await fetch(`${server.url}/api/v1/messages`);
 */
export function serveInbox(inbox: Inbox, options: { port: number; host: string }): Promise<InboxServer> {
  const server: Server = createServer((req, res) => {
    handler(inbox)(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
