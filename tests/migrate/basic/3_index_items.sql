-- lifeguard:no-transaction
-- CONCURRENTLY is refused inside a transaction block.
CREATE INDEX CONCURRENTLY items_name ON items (name);
