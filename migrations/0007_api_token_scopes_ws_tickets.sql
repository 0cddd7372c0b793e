CREATE TABLE `ws_tickets` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ws_tickets_user_idx` ON `ws_tickets` (`user_id`);--> statement-breakpoint
CREATE INDEX `ws_tickets_expires_idx` ON `ws_tickets` (`expires_at`);--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `scopes` text DEFAULT 'read,trade' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `expires_at` integer;