-- Issue 22, items 5 and 6.
-- Password reset by email: password_resets holds the SHA-256 of each mailed token (never the
-- token), deleted when used; expired rows are pruned by retention.
-- Channel verification: a webhook, Telegram chat or email address now gets real events only
-- once verified (a code sent to it, submitted back through the API; src/notify/verification.ts).
-- Channels that exist when this migration runs are MARKED VERIFIED (verifiedAt = migration
-- time): running users keep receiving their alerts with no action. Only channels configured or
-- changed afterwards need a code.
CREATE TABLE `password_resets` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `password_resets_user_idx` ON `password_resets` (`user_id`);--> statement-breakpoint
CREATE INDEX `password_resets_expires_idx` ON `password_resets` (`expires_at`);--> statement-breakpoint
UPDATE `notification_channels` SET `config` = json_set(`config`, '$.webhook.verifiedAt', CAST(strftime('%s', 'now') AS INTEGER) * 1000) WHERE json_type(`config`, '$.webhook') = 'object';--> statement-breakpoint
UPDATE `notification_channels` SET `config` = json_set(`config`, '$.telegram.verifiedAt', CAST(strftime('%s', 'now') AS INTEGER) * 1000) WHERE json_type(`config`, '$.telegram') = 'object';--> statement-breakpoint
UPDATE `notification_channels` SET `config` = json_set(`config`, '$.email.verifiedAt', CAST(strftime('%s', 'now') AS INTEGER) * 1000) WHERE json_type(`config`, '$.email') = 'object';
