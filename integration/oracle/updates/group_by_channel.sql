-- Non-windowed GROUP BY: an updating result per channel (+I, then -U/+U pairs).
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
  channel   STRING,
  cnt       BIGINT,
  total     BIGINT,
  min_price BIGINT,
  max_price BIGINT
) WITH ('connector' = 'print');

INSERT INTO print_sink
SELECT channel, COUNT(*) AS cnt, SUM(price) AS total, MIN(price) AS min_price, MAX(price) AS max_price
FROM bid
GROUP BY channel;
