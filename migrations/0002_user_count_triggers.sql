-- Custom SQL migration file, put your code below! --
-- Keeps organization_user_counts (0001) equal to the users table, for every writer: one trigger
-- per kind of write adjusts the (org_id, org_role) rows of the old and the new values in the same
-- statement as the write, so the counts roll back with it. (D1's meta.changes of a write to users
-- now includes the counts row its trigger writes.) Then fills the table from the existing users.
CREATE TRIGGER `users_count_insert` AFTER INSERT ON `users`
BEGIN
	INSERT INTO `organization_user_counts` (`org_id`, `org_role`, `live`, `deleted`)
	VALUES (NEW.`org_id`, NEW.`org_role`, NEW.`deleted_at` IS NULL, NEW.`deleted_at` IS NOT NULL)
	ON CONFLICT (`org_id`, `org_role`) DO UPDATE SET `live` = `live` + excluded.`live`, `deleted` = `deleted` + excluded.`deleted`;
END;
--> statement-breakpoint
CREATE TRIGGER `users_count_delete` AFTER DELETE ON `users`
BEGIN
	UPDATE `organization_user_counts`
	SET `live` = `live` - (OLD.`deleted_at` IS NULL), `deleted` = `deleted` - (OLD.`deleted_at` IS NOT NULL)
	WHERE `org_id` = OLD.`org_id` AND `org_role` = OLD.`org_role`;
END;
--> statement-breakpoint
CREATE TRIGGER `users_count_update` AFTER UPDATE OF `org_id`, `org_role`, `deleted_at` ON `users`
WHEN OLD.`org_id` IS NOT NEW.`org_id` OR OLD.`org_role` IS NOT NEW.`org_role`
	OR (OLD.`deleted_at` IS NULL) IS NOT (NEW.`deleted_at` IS NULL)
BEGIN
	UPDATE `organization_user_counts`
	SET `live` = `live` - (OLD.`deleted_at` IS NULL), `deleted` = `deleted` - (OLD.`deleted_at` IS NOT NULL)
	WHERE `org_id` = OLD.`org_id` AND `org_role` = OLD.`org_role`;
	INSERT INTO `organization_user_counts` (`org_id`, `org_role`, `live`, `deleted`)
	VALUES (NEW.`org_id`, NEW.`org_role`, NEW.`deleted_at` IS NULL, NEW.`deleted_at` IS NOT NULL)
	ON CONFLICT (`org_id`, `org_role`) DO UPDATE SET `live` = `live` + excluded.`live`, `deleted` = `deleted` + excluded.`deleted`;
END;
--> statement-breakpoint
INSERT INTO `organization_user_counts` (`org_id`, `org_role`, `live`, `deleted`)
SELECT `org_id`, `org_role`, sum(`deleted_at` IS NULL), sum(`deleted_at` IS NOT NULL) FROM `users` GROUP BY `org_id`, `org_role`;
