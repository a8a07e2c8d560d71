CREATE TABLE `audit_forwarding` (
	`id` integer PRIMARY KEY NOT NULL,
	`last_id` integer NOT NULL
);
