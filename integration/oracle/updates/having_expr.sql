-- GROUP BY an expression, a filter before and a HAVING (a filter over updates) after.
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
  bucket  BIGINT,
  cnt     BIGINT,
  total   BIGINT
) WITH ('connector' = 'print');

INSERT INTO print_sink
SELECT auction % 7 AS bucket, COUNT(*) AS cnt, SUM(price / 100) AS total
FROM bid
WHERE price > 500000
GROUP BY auction % 7
HAVING COUNT(*) > 10;
