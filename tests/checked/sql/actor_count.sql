SELECT count(*) FROM actor WHERE actor_id <= $1
