-- The bytes of customers' email attachments, content-addressed (before 2026-12-05 only
-- their SHA-256 was kept, in attachments.media_id as 'sha256:<hex>'). The email intake
-- writes a row before the mail is acknowledged (INSERT ... ON CONFLICT DO NOTHING: the
-- same file mailed twice, by anyone, is one row); the gateway serves it to agents.
-- A row goes when erasure or retention deletes the last attachment referencing it.
CREATE TABLE attachment_blobs (
    sha256       text PRIMARY KEY,
    content_type text,
    size_bytes   bigint NOT NULL,
    bytes        bytea NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);

-- "Does any attachment still reference this blob?" when attachments are deleted.
CREATE INDEX attachments_by_blob ON attachments (media_id) WHERE media_id LIKE 'sha256:%';
