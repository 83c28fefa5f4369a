/**
 * What `notify` decides and says, without the network: which claimed notifications are skipped
 * and why, and the words of a push and a mail (cut short, escaped, linking to the app).
 */
import { describe, expect, test } from "vitest";
import { composeEmail, composePush } from "../../functions/notify/compose.ts";
import { type Claimed, skipReason } from "../../functions/notify/decide.ts";

const room = { id: "r1", name: "Book <club>", kind: "private" };

function claimed(over: Partial<Claimed> = {}): Claimed {
  return {
    id: 1,
    kind: "mention",
    attempts: 1,
    room,
    actor_name: "Ada",
    recipient: {
      id: "u1",
      email: "u1@example.com",
      has_account: true,
      invites: true,
      mentions: true,
      ai_replies: true,
    },
    invite: null,
    message: { id: "m1", body: "@Bob hi", deleted: false },
    in_room: true,
    read: false,
    ...over,
  };
}

describe("which notifications are skipped", () => {
  test.each([
    [
      "a pending invite",
      claimed({ kind: "invite", invite: { id: "i", pending: true }, message: null }),
      undefined,
    ],
    [
      "an invite answered, revoked or expired before sending",
      claimed({ kind: "invite", invite: { id: "i", pending: false }, message: null }),
      "invite_not_pending",
    ],
    [
      "an invite to a member who turned invites off",
      claimed({
        kind: "invite",
        invite: { id: "i", pending: true },
        message: null,
        recipient: { ...claimed().recipient, invites: false },
      }),
      "preference",
    ],
    [
      "an invite to a new address (no preferences yet)",
      claimed({
        kind: "invite",
        invite: { id: "i", pending: true },
        message: null,
        recipient: { ...claimed().recipient, id: null, has_account: false, invites: false },
      }),
      undefined,
    ],
    ["a mention of someone away", claimed(), undefined],
    ["a mention already read", claimed({ read: true }), "read"],
    [
      "a mention in a coworking room (participants are there)",
      claimed({ room: { ...room, kind: "coworking" } }),
      "present",
    ],
    ["a mention of someone who left", claimed({ in_room: false }), "not_in_room"],
    [
      "a mention in a deleted message",
      claimed({ message: { id: "m1", body: null, deleted: true } }),
      "message_deleted",
    ],
    [
      "a mention, mentions off",
      claimed({ recipient: { ...claimed().recipient, mentions: false } }),
      "preference",
    ],
    [
      "an AI reply, AI replies off",
      claimed({ kind: "ai_reply", recipient: { ...claimed().recipient, ai_replies: false } }),
      "preference",
    ],
    [
      "an AI reply, mentions off",
      claimed({ kind: "ai_reply", recipient: { ...claimed().recipient, mentions: false } }),
      undefined,
    ],
  ])("when %s, then the reason is %s", (_name, n, reason) => {
    expect(skipReason(n)).toBe(reason);
  });
});

describe("what a notification says", () => {
  test("when a message is long, then the push carries its first 180 characters with an ellipsis, whitespace flattened", () => {
    const body = `@Bob ${"word\n ".repeat(100)}`;
    const push = composePush({ kind: "mention", room, actorName: "Ada", messageBody: body });
    expect(push.body).toHaveLength(180);
    expect(push.body.endsWith("…")).toBe(true);
    expect(push.body).not.toMatch(/\n| {2}/);
    expect(push).toMatchObject({
      title: "Ada mentioned you in Book <club>",
      url: "#/rooms/r1",
      tag: "room:r1",
    });
  });

  test("when names hold HTML, then the mail's HTML escapes them and links to the app's route", () => {
    const mail = composeEmail(
      { kind: "invite", room, actorName: "<b>Eve</b>", messageBody: null },
      "bob@example.com",
      "https://app.example.com/",
    );
    expect(mail.subject).toBe("<b>Eve</b> invited you to Book <club>");
    expect(mail.html).not.toContain("<b>Eve</b>");
    expect(mail.html).toContain("Book &lt;club&gt;");
    expect(mail.html).toContain('href="https://app.example.com/#/invites"');
    expect(mail.text).toContain("https://app.example.com/#/invites");
  });
});
