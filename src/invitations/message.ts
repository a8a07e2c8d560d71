/** A queue message: which invitation to send. Nothing personal travels through the queue. */
export type InvitationMessage = { invitationId: string };
