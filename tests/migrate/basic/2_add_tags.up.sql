CREATE TABLE tags (item int REFERENCES items, tag text);
INSERT INTO items VALUES (1, 'seed; with a semicolon');
