import { opaqueTokenHash } from "../../src/auth/opaque-token";
import { issueToken, TOKEN_HOURS } from "./demo";
import type { StoredEmail } from "./local-email";

// What `npm run dev` prints for each email the local simulation stored: where it is, its link,
// and for each recipient a token to call the API as that user (there is no sign-in endpoint yet).

export type Recipient = { email: string; user?: { id: string; orgId: string; validated: boolean; deleted: boolean } };

/**
 * The account each address belongs to. Until it is verified, an address may belong to accounts in
 * several organizations; the one whose invitation holds this link's token is the recipient.
 */
export async function findRecipients(db: D1Database, addresses: string[], linkToken?: string): Promise<Recipient[]> {
  const hash = linkToken ? await opaqueTokenHash(linkToken) : "";
  const recipients: Recipient[] = [];
  for (const email of addresses) {
    const row = await db
      .prepare(
        `SELECT u.id, u.org_id, u.validated, u.deleted_at,
           EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = u.id AND i.token_hash = ?2) AS holds_link
         FROM users u WHERE lower(u.email) = lower(?1)
         ORDER BY holds_link DESC, u.deleted_at IS NULL DESC, u.created_at DESC LIMIT 1`,
      )
      .bind(email, hash)
      .first<{ id: string; org_id: string; validated: number; deleted_at: string | null }>();
    recipients.push({
      email,
      ...(row && {
        user: { id: row.id, orgId: row.org_id, validated: row.validated === 1, deleted: row.deleted_at !== null },
      }),
    });
  }
  return recipients;
}

/** The console block for one email; `origin` is where this dev server answers. */
export async function formatEmailReport(
  email: StoredEmail,
  link: { link: string; token: string } | undefined,
  recipients: Recipient[],
  secret: string,
  origin: string,
): Promise<string> {
  const lines = [
    "",
    "Local email, stored by the local simulation (nothing was delivered):",
    `  to:       ${email.to.join(", ")}`,
    `  subject:  ${email.subject}`,
    `  link:     ${link?.link ?? "(no verification link in the text part)"}`,
    `  stored:   ${email.textPath}`,
    ...(email.htmlPath ? [`            ${email.htmlPath}`] : []),
  ];
  if (link) {
    const body = `'{"token":"${link.token}"}'`;
    lines.push(
      `  check:    curl -s -X POST -H 'Content-Type: application/json' -d ${body} ${origin}/user/pre-verify-email`,
      `  verify:   curl -s -X POST -H 'Content-Type: application/json' -d ${body} ${origin}/user/verify-email`,
    );
  }
  for (const { email: address, user } of recipients) {
    if (!user) {
      lines.push(`  ${address}: no user with this address in the local database`);
    } else if (user.deleted) {
      lines.push(`  ${address}: user ${user.id} is deleted; no token`);
    } else {
      const token = await issueToken(user.id, secret);
      const state = user.validated ? "address verified" : "address not verified yet";
      lines.push(
        `  local development token for ${address} (user ${user.id}, ${state}; valid ${TOKEN_HOURS} hours, signed with the local JWT_SECRET in .dev.vars):`,
        `    ${token}`,
        `    curl -s -H "Authorization: Bearer ${token}" ${origin}/organization/${user.orgId}`,
      );
    }
  }
  return `${lines.join("\n")}\n\n`;
}
