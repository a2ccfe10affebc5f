-- Films of one rating, with how many copies the stores hold (0 when none).
SELECT f.film_id, f.title, f.rating AS "rating: crate::Rating", count(i.inventory_id) AS copies
FROM film f
LEFT JOIN inventory i ON i.film_id = f.film_id
WHERE f.rating = $1
GROUP BY f.film_id
ORDER BY f.film_id
LIMIT $2
