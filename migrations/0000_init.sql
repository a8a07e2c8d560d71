CREATE TABLE `invitations` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`email` text NOT NULL,
	`invited_by` text NOT NULL,
	`created_at` text NOT NULL,
	`sent_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `invitations_user_idx` ON `invitations` (`user_id`);--> statement-breakpoint
CREATE INDEX `invitations_pending_idx` ON `invitations` (`sent_at`,`created_at`);--> statement-breakpoint
CREATE TABLE `organizations` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`domain` text,
	`address1` text,
	`address2` text,
	`city` text,
	`zipcode` text,
	`phone` text,
	`state` text,
	`country` text,
	`website` text,
	`repos_disabled` integer DEFAULT false NOT NULL,
	`is_business` integer DEFAULT false NOT NULL,
	`mfa_enforced` integer DEFAULT false NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`deleted_at` text
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`email` text NOT NULL,
	`first_name` text NOT NULL,
	`last_name` text NOT NULL,
	`first_name_folded` text NOT NULL,
	`last_name_folded` text NOT NULL,
	`org_role` integer DEFAULT 0 NOT NULL,
	`validated` integer DEFAULT false NOT NULL,
	`password_hash` text NOT NULL,
	`provider` text,
	`auth_method` text DEFAULT 'LOCAL' NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`deleted_at` text,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "users_org_role_check" CHECK("users"."org_role" IN (0, 1, 2, 254, 255)),
	CONSTRAINT "users_email_lower_check" CHECK("users"."email" = lower("users"."email")),
	CONSTRAINT "users_auth_method_check" CHECK("users"."auth_method" IN ('LOCAL', 'GOOGLE', 'GITHUB', 'MICROSOFT'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (lower("email"));--> statement-breakpoint
CREATE INDEX `users_org_created_idx` ON `users` (`org_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `users_org_role_created_idx` ON `users` (`org_id`,`org_role`,`created_at`,`id`);