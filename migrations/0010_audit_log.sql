CREATE TABLE `audit_context` (
	`id` integer PRIMARY KEY NOT NULL,
	`actor_id` text,
	`request_id` text,
	`client_address` text
);
--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` text NOT NULL,
	`at` text NOT NULL,
	`actor_id` text,
	`action` text NOT NULL,
	`target_type` text NOT NULL,
	`target_id` text NOT NULL,
	`changes` text,
	`request_id` text,
	`client_address` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_org_idx` ON `audit_events` (`org_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_events_actor_idx` ON `audit_events` (`org_id`,`actor_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_events_target_idx` ON `audit_events` (`org_id`,`target_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_events_action_idx` ON `audit_events` (`org_id`,`action`,`id`);--> statement-breakpoint
-- The audit log (src/db/audit.ts): every change to what the API shows appends its event here, in
-- the statement that makes it, with the writer its batch named in `audit_context` (none outside a
-- request). Personal fields (email, names) and credentials are recorded by name only.
CREATE TRIGGER `audit_events_append_only` BEFORE UPDATE ON `audit_events`
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only');
END;
--> statement-breakpoint
CREATE TRIGGER `organizations_audit_update` AFTER UPDATE OF `name`, `domain`, `address1`, `address2`, `city`, `zipcode`, `phone`, `state`, `country`, `website`, `repos_disabled`, `is_business`, `mfa_enforced`, `deleted_at` ON `organizations`
WHEN OLD.`name` IS NOT NEW.`name` OR OLD.`domain` IS NOT NEW.`domain` OR OLD.`address1` IS NOT NEW.`address1` OR OLD.`address2` IS NOT NEW.`address2` OR OLD.`city` IS NOT NEW.`city` OR OLD.`zipcode` IS NOT NEW.`zipcode` OR OLD.`phone` IS NOT NEW.`phone` OR OLD.`state` IS NOT NEW.`state` OR OLD.`country` IS NOT NEW.`country` OR OLD.`website` IS NOT NEW.`website` OR OLD.`repos_disabled` IS NOT NEW.`repos_disabled` OR OLD.`is_business` IS NOT NEW.`is_business` OR OLD.`mfa_enforced` IS NOT NEW.`mfa_enforced` OR OLD.`deleted_at` IS NOT NEW.`deleted_at`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'organization.updated', 'organization', NEW.`id`,
		(SELECT json_group_array(json(`value`)) FROM json_each(json_array(
		CASE WHEN OLD.`name` IS NOT NEW.`name` THEN json_object('field', 'name', 'old', OLD.`name`, 'new', NEW.`name`) END,
		CASE WHEN OLD.`domain` IS NOT NEW.`domain` THEN json_object('field', 'domain', 'old', OLD.`domain`, 'new', NEW.`domain`) END,
		CASE WHEN OLD.`address1` IS NOT NEW.`address1` THEN json_object('field', 'address1', 'old', OLD.`address1`, 'new', NEW.`address1`) END,
		CASE WHEN OLD.`address2` IS NOT NEW.`address2` THEN json_object('field', 'address2', 'old', OLD.`address2`, 'new', NEW.`address2`) END,
		CASE WHEN OLD.`city` IS NOT NEW.`city` THEN json_object('field', 'city', 'old', OLD.`city`, 'new', NEW.`city`) END,
		CASE WHEN OLD.`zipcode` IS NOT NEW.`zipcode` THEN json_object('field', 'zipcode', 'old', OLD.`zipcode`, 'new', NEW.`zipcode`) END,
		CASE WHEN OLD.`phone` IS NOT NEW.`phone` THEN json_object('field', 'phone', 'old', OLD.`phone`, 'new', NEW.`phone`) END,
		CASE WHEN OLD.`state` IS NOT NEW.`state` THEN json_object('field', 'state', 'old', OLD.`state`, 'new', NEW.`state`) END,
		CASE WHEN OLD.`country` IS NOT NEW.`country` THEN json_object('field', 'country', 'old', OLD.`country`, 'new', NEW.`country`) END,
		CASE WHEN OLD.`website` IS NOT NEW.`website` THEN json_object('field', 'website', 'old', OLD.`website`, 'new', NEW.`website`) END,
		CASE WHEN OLD.`repos_disabled` IS NOT NEW.`repos_disabled` THEN json_object('field', 'reposDisabled', 'old', json(CASE OLD.`repos_disabled` WHEN 1 THEN 'true' ELSE 'false' END), 'new', json(CASE NEW.`repos_disabled` WHEN 1 THEN 'true' ELSE 'false' END)) END,
		CASE WHEN OLD.`is_business` IS NOT NEW.`is_business` THEN json_object('field', 'isBusiness', 'old', json(CASE OLD.`is_business` WHEN 1 THEN 'true' ELSE 'false' END), 'new', json(CASE NEW.`is_business` WHEN 1 THEN 'true' ELSE 'false' END)) END,
		CASE WHEN OLD.`mfa_enforced` IS NOT NEW.`mfa_enforced` THEN json_object('field', 'mfaEnforced', 'old', json(CASE OLD.`mfa_enforced` WHEN 1 THEN 'true' ELSE 'false' END), 'new', json(CASE NEW.`mfa_enforced` WHEN 1 THEN 'true' ELSE 'false' END)) END,
		CASE WHEN OLD.`deleted_at` IS NOT NEW.`deleted_at` THEN json_object('field', 'deletedAt', 'old', OLD.`deleted_at`, 'new', NEW.`deleted_at`) END
	)) WHERE `type` <> 'null'),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `organizations_audit_insert` AFTER INSERT ON `organizations`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'organization.created', 'organization', NEW.`id`,
		NULL,
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `users_audit_insert` AFTER INSERT ON `users`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'user.created', 'user', NEW.`id`,
		json_array(json_object('field', 'orgRole', 'new', NEW.`org_role`)),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `users_audit_update` AFTER UPDATE OF `email`, `first_name`, `last_name`, `org_role` ON `users`
WHEN OLD.`email` IS NOT NEW.`email` OR OLD.`first_name` IS NOT NEW.`first_name` OR OLD.`last_name` IS NOT NEW.`last_name` OR OLD.`org_role` IS NOT NEW.`org_role`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'user.updated', 'user', NEW.`id`,
		(SELECT json_group_array(json(`value`)) FROM json_each(json_array(
		CASE WHEN OLD.`email` IS NOT NEW.`email` THEN json_object('field', 'email') END,
		CASE WHEN OLD.`first_name` IS NOT NEW.`first_name` THEN json_object('field', 'name') END,
		CASE WHEN OLD.`last_name` IS NOT NEW.`last_name` THEN json_object('field', 'lastName') END,
		CASE WHEN OLD.`org_role` IS NOT NEW.`org_role` THEN json_object('field', 'orgRole', 'old', OLD.`org_role`, 'new', NEW.`org_role`) END
	)) WHERE `type` <> 'null'),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `users_audit_deleted` AFTER UPDATE OF `deleted_at` ON `users`
WHEN (OLD.`deleted_at` IS NULL) <> (NEW.`deleted_at` IS NULL)
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), CASE WHEN NEW.`deleted_at` IS NULL THEN 'user.reactivated' ELSE 'user.deleted' END, 'user', NEW.`id`,
		json_array(json_object('field', 'deletedAt', 'old', OLD.`deleted_at`, 'new', NEW.`deleted_at`)),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `users_audit_verified` AFTER UPDATE OF `validated` ON `users`
WHEN OLD.`validated` = 0 AND NEW.`validated` = 1
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'user.verified', 'user', NEW.`id`,
		json_array(json_object('field', 'validated', 'old', json('false'), 'new', json('true'))),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `users_audit_password` AFTER UPDATE OF `password_hash` ON `users`
WHEN OLD.`password_hash` IS NOT NEW.`password_hash`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'user.password_changed', 'user', NEW.`id`,
		json_array(json_object('field', 'password')),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `invitations_audit_insert` AFTER INSERT ON `invitations`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'invitation.created', 'invitation', NEW.`id`,
		NULL,
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `invitations_audit_delivery` AFTER UPDATE OF `status` ON `invitations`
WHEN NEW.`status` IN ('sent', 'failed') AND OLD.`status` IS NOT NEW.`status`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES (NEW.`org_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'invitation.' || NEW.`status`, 'invitation', NEW.`id`,
		NULL,
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `sessions_audit_insert` AFTER INSERT ON `sessions`
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES ((SELECT `org_id` FROM `users` WHERE `id` = NEW.`user_id`), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), 'session.created', 'session', NEW.`id`,
		NULL,
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
--> statement-breakpoint
CREATE TRIGGER `sessions_audit_end` AFTER UPDATE OF `ended_at` ON `sessions`
WHEN OLD.`ended_at` IS NULL AND NEW.`ended_at` IS NOT NULL
BEGIN
	INSERT INTO `audit_events` (`org_id`, `at`, `actor_id`, `action`, `target_type`, `target_id`, `changes`, `request_id`, `client_address`)
	VALUES ((SELECT `org_id` FROM `users` WHERE `id` = NEW.`user_id`), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), (SELECT `actor_id` FROM `audit_context` WHERE `id` = 1), CASE NEW.`end_reason` WHEN 'logout' THEN 'session.signed_out' WHEN 'revoked' THEN 'session.revoked' ELSE 'session.ended' END, 'session', NEW.`id`,
		json_array(json_object('field', 'endReason', 'new', NEW.`end_reason`)),
		(SELECT `request_id` FROM `audit_context` WHERE `id` = 1), (SELECT `client_address` FROM `audit_context` WHERE `id` = 1));
END;
