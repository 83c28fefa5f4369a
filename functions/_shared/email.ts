/**
 * Mail that Roomkit sends itself, through one HTTP email API shaped like Resend's `POST /emails`
 * (`Authorization: Bearer <key>`, JSON `{from, to, subject, html, text}`). Invites to addresses
 * without an account do not come here: they go through Auth's own invite (`auth.ts` of the
 * `notify` function), so they use the project's SMTP settings and templates.
 */
import { loadEnv, notifyEnv } from "./env.ts";

export interface Email {
  to: string;
  subject: string;
  html: string;
  text: string;
}

/** `sent`; `not_configured` (no API key: mail is off); `refused` (4xx: never retry); `failed` (retry). */
export type EmailResult = "sent" | "not_configured" | "refused" | "failed";

const TIMEOUT_MS = 10_000;

/**
 * Sends one mail.
 *
 * @example
 * await sendEmail({ to: "ada@example.com", subject: "Bob mentioned you", html, text });
 */
export async function sendEmail(mail: Email): Promise<EmailResult> {
  const env = loadEnv(notifyEnv);
  if (!env.ROOMKIT_EMAIL_API_KEY) return "not_configured";
  try {
    const res = await fetch(env.ROOMKIT_EMAIL_API_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ROOMKIT_EMAIL_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        from: env.ROOMKIT_EMAIL_FROM,
        to: [mail.to],
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
      }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.ok) return "sent";
    return res.status === 429 || res.status >= 500 ? "failed" : "refused";
  } catch {
    return "failed";
  }
}

/** Escapes text for HTML mail bodies. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
