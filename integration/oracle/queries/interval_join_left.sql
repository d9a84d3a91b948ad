-- LEFT OUTER interval join: expensive Apple bids, with the Google bids on the same
-- auction within 500 ms either side (NULLs when none)
CREATE TABLE bid (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  channel   STRING,
  url       STRING,
  date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH (
  'connector' = 'filesystem',
  'path'      = '${INPUT}',
  'format'    = 'json'
);

CREATE TABLE sink (
  auction BIGINT,
  a_bidder BIGINT,
  a_price BIGINT,
  a_time TIMESTAMP(3),
  g_bidder BIGINT,
  g_price BIGINT,
  g_time TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

CREATE VIEW apple AS SELECT * FROM bid WHERE channel = 'Apple' AND price > 990000;

CREATE VIEW google AS SELECT * FROM bid WHERE channel = 'Google';

INSERT INTO sink
SELECT a.auction, a.bidder, a.price, CAST(a.date_time AS TIMESTAMP(3)), g.bidder, g.price,
       CAST(g.date_time AS TIMESTAMP(3))
FROM apple a LEFT JOIN google g
  ON a.auction = g.auction
 AND a.date_time BETWEEN g.date_time - INTERVAL '0.5' SECOND AND g.date_time + INTERVAL '0.5' SECOND;
