/**
 * What `notify` decides and says, without the network: how each claimed notification goes out
 * (or why not), and the words of a push and a mail (cut short, escaped, linking to the app).
 */
import { describe, expect, test } from "vitest";
import { composeEmail, composePush } from "../../functions/notify/compose.ts";
import { type Claimed, type Plan, planDelivery } from "../../functions/notify/decide.ts";

const room = { id: "r1", name: "Book <club>", kind: "private" };
const member = {
  id: "u1",
  email: "u1@example.com",
  address: null,
  address_state: null,
  invites: true,
  mentions: true,
  ai_replies: true,
} as const;

function claimed(over: Partial<Claimed> = {}): Claimed {
  return {
    id: 1,
    lease_id: "l1",
    kind: "mention",
    attempts: 1,
    room,
    actor_name: "Ada",
    recipient: { ...member },
    invite: null,
    message: { id: "m1", body: "@Bob hi", deleted: false },
    in_room: true,
    read: false,
    ...over,
  };
}

const invite = (over: Partial<Claimed> = {}) =>
  claimed({ kind: "invite", invite: { id: "i", pending: true }, message: null, ...over });
const stranger = (state: "none" | "invited" | "unconfirmed") => ({
  ...member,
  id: null,
  email: null,
  address: "new@example.com",
  address_state: state,
});

describe("how a notification goes out", () => {
  test.each<[string, Claimed, Plan]>([
    ["a pending invite to a member", invite(), { push: true, mail: "member" }],
    [
      "a pending invite to a guest (no email)",
      invite({ recipient: { ...member, email: null } }),
      { push: true, mail: null },
    ],
    [
      "an invite answered, revoked or expired before sending",
      invite({ invite: { id: "i", pending: false } }),
      { skip: "invite_not_pending" },
    ],
    [
      "an invite to a member who turned invites off",
      invite({ recipient: { ...member, invites: false } }),
      { skip: "preference" },
    ],
    [
      "an invite to an address without an account",
      invite({ recipient: stranger("none") }),
      { push: false, mail: "auth_invite" },
    ],
    [
      "an invite to an address Auth already invited",
      invite({ recipient: stranger("invited") }),
      { push: false, mail: "auth_invite" },
    ],
    [
      "an invite to an address someone signed up with and never confirmed",
      invite({ recipient: stranger("unconfirmed") }),
      { push: false, mail: "plain" },
    ],
    ["a mention of someone away", claimed(), { push: true, mail: "member" }],
    ["a mention already read", claimed({ read: true }), { skip: "read" }],
    [
      "a mention in a coworking room (participants are there)",
      claimed({ room: { ...room, kind: "coworking" } }),
      { skip: "present" },
    ],
    ["a mention of someone who left", claimed({ in_room: false }), { skip: "not_in_room" }],
    [
      "a mention in a deleted message",
      claimed({ message: { id: "m1", body: null, deleted: true } }),
      { skip: "message_deleted" },
    ],
    [
      "a mention, mentions off",
      claimed({ recipient: { ...member, mentions: false } }),
      { skip: "preference" },
    ],
    [
      "an AI reply, AI replies off",
      claimed({ kind: "ai_reply", recipient: { ...member, ai_replies: false } }),
      { skip: "preference" },
    ],
    [
      "an AI reply, mentions off",
      claimed({ kind: "ai_reply", recipient: { ...member, mentions: false } }),
      { push: true, mail: "member" },
    ],
  ])("when %s, then %j", (_name, n, plan) => {
    expect(planDelivery(n)).toEqual(plan);
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
