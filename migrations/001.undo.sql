DROP TABLE entries;
DROP TABLE users;
