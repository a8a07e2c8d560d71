-- The list's search (q) through indexes (src/db/search.ts). Written so that it can be run again as
-- it stands (`wrangler d1 execute ... --file migrations/0007_user_search.sql`): it creates what is
-- missing, then empties the full-text index and fills it from users. That is how the index is
-- rebuilt after an import, or after any rebuild of the users table (which drops its triggers and
-- renumbers its rowids): see the README.
CREATE TABLE IF NOT EXISTS `user_search_orgs` (
	`search_key` integer PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `user_search_orgs_org_id_unique` ON `user_search_orgs` (`org_id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `users_org_first_name_idx` ON `users` (`org_id`,`first_name_folded`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `users_org_last_name_idx` ON `users` (`org_id`,`last_name_folded`);--> statement-breakpoint
-- One entry per user, deleted or not: the email and the folded names (the application folds them
-- and q with String#toLowerCase, so the tokenizer compares exactly: case_sensitive 1), as trigrams,
-- which serve any substring of three characters or more. Contentless: the text lives in users
-- only; contentless_delete lets the triggers delete an entry by its rowid alone.
--
-- An entry's rowid is (search_key << 33) | (deleted << 32) | users.rowid: one organization's
-- entries are one rowid range, its live users the lower half of it, so MATCH with a rowid range
-- reads only that organization's matches (src/db/search.ts builds the ranges). users.rowid must
-- stay below 2^32 (the insert trigger refuses a user beyond it), search_key below 2^30.
CREATE VIRTUAL TABLE IF NOT EXISTS `users_search` USING fts5(
	`email`, `first_name`, `last_name`,
	content='', contentless_delete=1, tokenize='trigram case_sensitive 1'
);
--> statement-breakpoint
-- The triggers keep it equal to users for every writer, in the statement of the write (as 0002's
-- keep the counts): an insert adds the user's entry (and the organization's search_key the first
-- time), a change of what the entry holds or where it sits moves it, a delete removes it.
CREATE TRIGGER IF NOT EXISTS `users_search_insert` AFTER INSERT ON `users`
BEGIN
	SELECT RAISE(ABORT, 'users_search: users.rowid beyond 2^32') WHERE NEW.rowid > 4294967295;
	INSERT INTO `user_search_orgs` (`org_id`)
	SELECT NEW.`org_id` WHERE NOT EXISTS (SELECT 1 FROM `user_search_orgs` WHERE `org_id` = NEW.`org_id`);
	INSERT INTO `users_search` (rowid, `email`, `first_name`, `last_name`)
	SELECT (`search_key` << 33) | ((NEW.`deleted_at` IS NOT NULL) << 32) | NEW.rowid, NEW.`email`, NEW.`first_name_folded`, NEW.`last_name_folded`
	FROM `user_search_orgs` WHERE `org_id` = NEW.`org_id`;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `users_search_update` AFTER UPDATE OF `org_id`, `email`, `first_name_folded`, `last_name_folded`, `deleted_at` ON `users`
WHEN OLD.`org_id` IS NOT NEW.`org_id` OR OLD.`email` IS NOT NEW.`email`
	OR OLD.`first_name_folded` IS NOT NEW.`first_name_folded` OR OLD.`last_name_folded` IS NOT NEW.`last_name_folded`
	OR (OLD.`deleted_at` IS NULL) IS NOT (NEW.`deleted_at` IS NULL)
BEGIN
	DELETE FROM `users_search` WHERE rowid = (
		SELECT (`search_key` << 33) | ((OLD.`deleted_at` IS NOT NULL) << 32) | OLD.rowid FROM `user_search_orgs` WHERE `org_id` = OLD.`org_id`
	);
	INSERT INTO `user_search_orgs` (`org_id`)
	SELECT NEW.`org_id` WHERE NOT EXISTS (SELECT 1 FROM `user_search_orgs` WHERE `org_id` = NEW.`org_id`);
	INSERT INTO `users_search` (rowid, `email`, `first_name`, `last_name`)
	SELECT (`search_key` << 33) | ((NEW.`deleted_at` IS NOT NULL) << 32) | NEW.rowid, NEW.`email`, NEW.`first_name_folded`, NEW.`last_name_folded`
	FROM `user_search_orgs` WHERE `org_id` = NEW.`org_id`;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `users_search_delete` AFTER DELETE ON `users`
BEGIN
	DELETE FROM `users_search` WHERE rowid = (
		SELECT (`search_key` << 33) | ((OLD.`deleted_at` IS NOT NULL) << 32) | OLD.rowid FROM `user_search_orgs` WHERE `org_id` = OLD.`org_id`
	);
END;
--> statement-breakpoint
-- Fills the index from the users written before it (or rebuilds it), then merges it into one segment.
INSERT INTO `users_search` (`users_search`) VALUES ('delete-all');
--> statement-breakpoint
INSERT INTO `user_search_orgs` (`org_id`)
SELECT DISTINCT `org_id` FROM `users` WHERE `org_id` NOT IN (SELECT `org_id` FROM `user_search_orgs`);
--> statement-breakpoint
INSERT INTO `users_search` (rowid, `email`, `first_name`, `last_name`)
SELECT (k.`search_key` << 33) | ((u.`deleted_at` IS NOT NULL) << 32) | u.rowid, u.`email`, u.`first_name_folded`, u.`last_name_folded`
FROM `users` u JOIN `user_search_orgs` k ON k.`org_id` = u.`org_id`;
--> statement-breakpoint
INSERT INTO `users_search` (`users_search`) VALUES ('optimize');
