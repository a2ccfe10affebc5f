-- One actor's names; used by query_file_as! and query_file_scalar!.
SELECT first_name, last_name FROM actor WHERE actor_id = $1
