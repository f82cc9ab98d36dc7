DROP TABLE feedback_requests;
DROP TABLE outbox_messages;
