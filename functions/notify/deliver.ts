/**
 * Drains the notification outbox (`roomkit_private.notifications`, written by the notifications
 * migration's triggers): claims due rows (a lease, so many instances never send one twice), decides
 * whether each still deserves sending, sends it by push and mail, and records the outcome.
 */
import { asService } from "../_shared/db.ts";
import { type EmailResult, sendEmail } from "../_shared/email.ts";
import { loadEnv, notifyEnv } from "../_shared/env.ts";
import { type PushResult, type PushTarget, sendPush } from "../_shared/push.ts";
import { inviteByAuth } from "./auth-invite.ts";
import { composeEmail, composePush, type Subject } from "./compose.ts";
import { type Claimed, planDelivery } from "./decide.ts";

/** Notifications claimed per call; the rest wait for the next call. */
const BATCH = 50;

interface Outcome {
  push?: Partial<Record<PushResult, number>>;
  email?:
    | EmailResult
    | "auth_invite_sent"
    | "auth_invite_refused"
    | "auth_invite_failed"
    | "auth_invite_exists";
  skipped?: string;
}

/**
 * Pushes to every subscription of `userId` whose Auth session still lives (subscriptions of ended
 * sessions are deleted unsent); drops the ones the push service says are gone.
 */
async function pushToUser(userId: string, subject: Subject): Promise<Outcome["push"]> {
  const targets = await asService(
    (tx) => tx<(PushTarget & { id: string })[]>`select * from roomkit_private.push_targets(${userId})`,
  );
  const payload = composePush(subject);
  const counts: Partial<Record<PushResult, number>> = {};
  const results = await Promise.all(targets.map(async (t) => ({ t, result: await sendPush(t, payload) })));
  for (const { result } of results) counts[result] = (counts[result] ?? 0) + 1;
  const gone = results.filter((r) => r.result === "gone").map((r) => r.t.id);
  const sent = results.filter((r) => r.result === "sent").map((r) => r.t.id);
  if (gone.length || sent.length) {
    await asService(async (tx) => {
      if (gone.length) await tx`delete from roomkit.push_subscriptions where id = any(${gone}::uuid[])`;
      if (sent.length)
        await tx`update roomkit.push_subscriptions set last_push_at = now() where id = any(${sent}::uuid[])`;
    });
  }
  return counts;
}

async function deliverOne(n: Claimed): Promise<{ outcome: Outcome; retry: boolean }> {
  const plan = planDelivery(n);
  if ("skip" in plan) return { outcome: { skipped: plan.skip }, retry: false };
  const subject: Subject = {
    kind: n.kind,
    room: n.room,
    actorName: n.actor_name,
    messageBody: n.message?.body ?? null,
  };
  const appUrl = loadEnv(notifyEnv).ROOMKIT_APP_URL;
  const outcome: Outcome = {};
  if (plan.push && n.recipient.id) outcome.push = await pushToUser(n.recipient.id, subject);
  const to = n.recipient.email ?? n.recipient.address;
  if (plan.mail === "auth_invite" && to) {
    const result = await inviteByAuth(to, {
      invited_to_room: n.room.name,
      invited_by: n.actor_name ?? "Someone",
    });
    outcome.email = `auth_invite_${result}`;
  } else if (plan.mail && to) {
    outcome.email = await sendEmail(composeEmail(subject, to, appUrl));
  }
  const anySent =
    (outcome.push?.sent ?? 0) > 0 || outcome.email === "sent" || outcome.email === "auth_invite_sent";
  const anyTransient =
    (outcome.push?.failed ?? 0) > 0 ||
    outcome.email === "failed" ||
    outcome.email === "auth_invite_failed" ||
    // Confirmed between the claim and now: the next attempt mails them as a member.
    outcome.email === "auth_invite_exists";
  return { outcome, retry: !anySent && anyTransient };
}

/**
 * Sends what is due.
 *
 * @example
 * const { sent, skipped, failed } = await deliverDue();
 */
export async function deliverDue(): Promise<{ sent: number; skipped: number; failed: number }> {
  const claimed = await asService(async (tx) => {
    await tx`select roomkit_private.prune_notifications()`;
    return tx<{ n: Claimed }[]>`select n from roomkit_private.claim_notifications(${BATCH}) n`;
  });
  const totals = { sent: 0, skipped: 0, failed: 0 };
  await Promise.all(
    claimed.map(async ({ n }) => {
      let result: { outcome: Outcome; retry: boolean };
      try {
        result = await deliverOne(n);
      } catch (error) {
        console.error(`notify: notification ${n.id} failed`, error);
        result = { outcome: { skipped: "error" }, retry: true };
      }
      if (result.outcome.skipped) totals.skipped++;
      else if (result.retry) totals.failed++;
      else totals.sent++;
      await asService(
        (tx) =>
          tx`select roomkit_private.finish_notification(${n.id}, ${n.lease_id}, ${tx.json(result.outcome as never)}, ${result.retry})`,
      );
    }),
  );
  return totals;
}
