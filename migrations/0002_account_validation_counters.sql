CREATE TABLE `counters` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `exchange_accounts` ADD `validated_version` integer;--> statement-breakpoint
ALTER TABLE `exchange_accounts` ADD `validated_at` integer;