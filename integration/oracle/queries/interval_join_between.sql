-- interval join, BETWEEN form with asymmetric bounds and a residual condition
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

CREATE VIEW apple AS SELECT * FROM bid WHERE channel = 'Apple';

CREATE VIEW google AS SELECT * FROM bid WHERE channel = 'Google';

INSERT INTO sink
SELECT a.auction, a.bidder, a.price, CAST(a.date_time AS TIMESTAMP(3)), g.bidder, g.price,
       CAST(g.date_time AS TIMESTAMP(3))
FROM apple a JOIN google g
  ON a.auction = g.auction
 AND a.date_time BETWEEN g.date_time - INTERVAL '0.02' SECOND AND g.date_time + INTERVAL '0.01' SECOND
 AND a.price > g.price;
