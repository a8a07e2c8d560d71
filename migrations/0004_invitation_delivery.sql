-- Accounts that exist before verification did were admitted under the old rule (one address, one
-- account, across every organization): they count as verified, so none is locked out on upgrade
-- and none is sent an invitation for an address it already holds.
UPDATE `users` SET `validated` = 1;--> statement-breakpoint
DROP INDEX `users_email_unique`;--> statement-breakpoint
CREATE UNIQUE INDEX `users_verified_email_unique` ON `users` (lower("email")) WHERE "users"."validated" = 1;--> statement-breakpoint
CREATE UNIQUE INDEX `users_org_email_unique` ON `users` (`org_id`,lower("email"));--> statement-breakpoint
-- Nothing references invitations, so it is rebuilt without turning foreign keys off (D1 refuses that).
CREATE TABLE `__new_invitations` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`email` text NOT NULL,
	`invited_by` text NOT NULL,
	`created_at` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`token_hash` text,
	`expires_at` text,
	`claimed_until` text,
	`enqueued_at` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`sent_at` text,
	`failed_at` text,
	`used_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "invitations_status_check" CHECK("__new_invitations"."status" IN ('pending', 'sent', 'failed', 'revoked', 'used', 'superseded'))
);
--> statement-breakpoint
-- Invitations written before delivery existed were never sent (they carry no token): their users
-- are verified above, so they are superseded; any `sent_at` they recorded is kept.
INSERT INTO `__new_invitations`("id", "user_id", "org_id", "email", "invited_by", "created_at", "status", "enqueued_at", "sent_at") SELECT "id", "user_id", "org_id", "email", "invited_by", "created_at", 'superseded', "created_at", "sent_at" FROM `invitations`;--> statement-breakpoint
DROP TABLE `invitations`;--> statement-breakpoint
ALTER TABLE `__new_invitations` RENAME TO `invitations`;--> statement-breakpoint
CREATE INDEX `invitations_user_idx` ON `invitations` (`user_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `invitations_token_hash_unique` ON `invitations` (`token_hash`);--> statement-breakpoint
CREATE INDEX `invitations_invited_by_idx` ON `invitations` (`invited_by`);--> statement-breakpoint
CREATE INDEX `invitations_pending_idx` ON `invitations` (`status`,`enqueued_at`);--> statement-breakpoint
CREATE INDEX `invitations_email_idx` ON `invitations` (`email`,`status`);