CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`rule` text NOT NULL,
	`subject` text NOT NULL,
	`severity` text NOT NULL,
	`status` text NOT NULL,
	`message` text NOT NULL,
	`data` text,
	`opened_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_open_uq` ON `alerts` (`rule`,`subject`) WHERE status = 'open';--> statement-breakpoint
CREATE INDEX `alerts_status_idx` ON `alerts` (`status`,`opened_at`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`secret_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `api_tokens_user_idx` ON `api_tokens` (`user_id`);--> statement-breakpoint
CREATE TABLE `automation_logs` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`account_id` text NOT NULL,
	`account_name` text,
	`automation_id` text,
	`level` text NOT NULL,
	`event` text NOT NULL,
	`message` text,
	`data` text,
	`trace_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `automation_logs_account_idx` ON `automation_logs` (`account_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`queue` text NOT NULL,
	`message_id` text NOT NULL,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`error_class` text NOT NULL,
	`first_error` text,
	`last_error` text,
	`received_at` integer NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`retried_at` integer,
	`retried_by` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dead_letters_msg_uq` ON `dead_letters` (`queue`,`message_id`);--> statement-breakpoint
CREATE INDEX `dead_letters_received_idx` ON `dead_letters` (`received_at`);--> statement-breakpoint
CREATE TABLE `exchange_accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`network` text NOT NULL,
	`credentials_enc` text NOT NULL,
	`credentials_key_id` text NOT NULL,
	`credential_version` integer DEFAULT 1 NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`automation_summary` text DEFAULT '{"total":0,"enabled":0,"byType":{}}' NOT NULL,
	`enabled_automations` integer DEFAULT 0 NOT NULL,
	`last_heartbeat_at` integer,
	`feed` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `exchange_accounts_user_name_uq` ON `exchange_accounts` (`user_id`,`name`);--> statement-breakpoint
CREATE INDEX `exchange_accounts_heartbeat_idx` ON `exchange_accounts` (`enabled_automations`,`last_heartbeat_at`);--> statement-breakpoint
CREATE TABLE `job_events` (
	`id` text PRIMARY KEY NOT NULL,
	`ts` integer NOT NULL,
	`worker` text NOT NULL,
	`job_id` text NOT NULL,
	`event` text NOT NULL,
	`duration_ms` integer,
	`error` text,
	`metadata` text,
	`account_id` text,
	`trace_id` text
);
--> statement-breakpoint
CREATE INDEX `job_events_ts_idx` ON `job_events` (`ts`);--> statement-breakpoint
CREATE INDEX `job_events_worker_idx` ON `job_events` (`worker`,`ts`);--> statement-breakpoint
CREATE TABLE `notification_channels` (
	`user_id` text PRIMARY KEY NOT NULL,
	`config` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`notification_id` text NOT NULL,
	`channel` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`latency_ms` integer,
	`trace_id` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_deliveries_uq` ON `notification_deliveries` (`notification_id`,`channel`);--> statement-breakpoint
CREATE TABLE `notifications` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`event` text NOT NULL,
	`severity` text NOT NULL,
	`title` text NOT NULL,
	`body` text NOT NULL,
	`data` text,
	`trace_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `notifications_user_idx` ON `notifications` (`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `payments` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`plan_id` text NOT NULL,
	`payment_hash` text NOT NULL,
	`payment_request` text NOT NULL,
	`amount_sats` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`expires_at` integer NOT NULL,
	`paid_at` integer,
	`activated_at` integer,
	`last_checked_at` integer,
	`checks` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payments_hash_uq` ON `payments` (`payment_hash`);--> statement-breakpoint
CREATE INDEX `payments_status_idx` ON `payments` (`status`,`last_checked_at`);--> statement-breakpoint
CREATE TABLE `plans` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`price_sats` integer NOT NULL,
	`duration_days` integer NOT NULL,
	`limits` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `queue_counters` (
	`queue` text PRIMARY KEY NOT NULL,
	`sent` integer DEFAULT 0 NOT NULL,
	`settled` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `simulations` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`scenario` text NOT NULL,
	`status` text NOT NULL,
	`steps` integer NOT NULL,
	`params` text NOT NULL,
	`summary` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `simulations_user_idx` ON `simulations` (`user_id`,`status`);--> statement-breakpoint
CREATE TABLE `system_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `trade_logs` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`account_id` text NOT NULL,
	`automation_id` text,
	`client_id` text,
	`action` text NOT NULL,
	`request` text,
	`outcome` text NOT NULL,
	`error_kind` text,
	`error` text,
	`latency_ms` integer,
	`trade_id` text,
	`trace_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `trade_logs_account_idx` ON `trade_logs` (`account_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text DEFAULT 'user' NOT NULL,
	`plan_id` text DEFAULT 'free' NOT NULL,
	`plan_expires_at` integer,
	`active_account_id` text,
	`schedule_scope` text DEFAULT 'active' NOT NULL,
	`scheduling_enabled` integer DEFAULT true NOT NULL,
	`pause_entries` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_uq` ON `users` (`email`);