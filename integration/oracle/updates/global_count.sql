-- A global aggregate (no GROUP BY): one updating row.
CREATE TABLE bid (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  channel   STRING,
  url       STRING,
  date_time TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path'      = '${INPUT}',
  'format'    = 'json'
);

CREATE TABLE print_sink (
  cnt       BIGINT,
  total     BIGINT,
  bidders   BIGINT,
  max_price BIGINT
) WITH ('connector' = 'print');

INSERT INTO print_sink
SELECT COUNT(*) AS cnt, SUM(price) AS total, COUNT(bidder) AS bidders, MAX(price) AS max_price
FROM bid;
