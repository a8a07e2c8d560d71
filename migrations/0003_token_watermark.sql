ALTER TABLE `users` ADD `tokens_valid_after` integer;
--> statement-breakpoint
-- Users already soft-deleted get the watermark their deletion sets now (the end of its second, in
-- Unix seconds), so reactivating them does not revive their old tokens.
UPDATE `users` SET `tokens_valid_after` = CAST(strftime('%s', `deleted_at`) AS INTEGER) + 1 WHERE `deleted_at` IS NOT NULL;
