CREATE TABLE `queue_message_errors` (
	`queue` text NOT NULL,
	`message_id` text NOT NULL,
	`error_class` text NOT NULL,
	`first_error` text NOT NULL,
	`last_error` text NOT NULL,
	`attempts` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`queue`, `message_id`)
);
