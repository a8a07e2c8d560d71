// The invitation email: the organization's name, the inviter's name and the verification link,
// nothing else personal (not even the recipient's name: the address is all the sender needs).

/** `selfRegistered`: the recipient registered the organization themselves (no one invited them). */
export type InvitationContent = { organization: string; inviter: string; link: string; selfRegistered: boolean };

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] as string);

// Names cannot hold control characters (the API refuses them), so no header can be injected; this
// keeps a subject one line whatever a row holds.
const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();

export function invitationEmail(content: InvitationContent, validForHours: number) {
  const organization = oneLine(content.organization);
  const inviter = oneLine(content.inviter);
  const subject = content.selfRegistered
    ? `Confirm your email address for ${organization}`
    : `${inviter} invited you to ${organization}`;
  const opening = content.selfRegistered ? `You registered ${organization}.` : `${inviter} invited you to join ${organization}.`;
  const hours = `${validForHours} hour${validForHours === 1 ? "" : "s"}`;
  const text = [
    opening,
    "",
    "Verify your email address to activate your account:",
    content.link,
    "",
    `The link works once and expires in ${hours}. If you did not expect this email, ignore it.`,
  ].join("\n");
  const html = [
    content.selfRegistered
      ? `<p>You registered <strong>${escapeHtml(organization)}</strong>.</p>`
      : `<p>${escapeHtml(inviter)} invited you to join <strong>${escapeHtml(organization)}</strong>.</p>`,
    `<p><a href="${escapeHtml(content.link)}">Verify your email address</a> to activate your account.</p>`,
    `<p>The link works once and expires in ${hours}. If you did not expect this email, ignore it.</p>`,
  ].join("\n");
  return { subject, text, html };
}
