ALTER TABLE `organizations` ADD `version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- A write through the API advances `version` itself, so that its RETURNING (and the ETag of its
-- answer) has the new value. Any other writer that changes what the API shows of a row without
-- advancing it (a console fix, a script) has it advanced here, in the same statement, so that an
-- ETag handed out before can never match the changed row.
CREATE TRIGGER `organizations_version` AFTER UPDATE OF `name`, `domain`, `address1`, `address2`, `city`, `zipcode`, `phone`, `state`, `country`, `website`, `repos_disabled`, `is_business`, `mfa_enforced`, `deleted_at` ON `organizations`
WHEN NEW.`version` = OLD.`version`
BEGIN
	UPDATE `organizations` SET `version` = OLD.`version` + 1 WHERE `id` = NEW.`id`;
END;
--> statement-breakpoint
CREATE TRIGGER `users_version` AFTER UPDATE OF `org_id`, `email`, `first_name`, `last_name`, `org_role`, `validated`, `deleted_at` ON `users`
WHEN NEW.`version` = OLD.`version`
BEGIN
	UPDATE `users` SET `version` = OLD.`version` + 1 WHERE `id` = NEW.`id`;
END;
