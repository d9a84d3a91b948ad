-- FULL OUTER window join over HOP windows (slide 5 s, size 10 s) of rare channels
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
  a_start TIMESTAMP(3),
  a_end TIMESTAMP(3),
  a_auction BIGINT,
  a_price BIGINT,
  g_start TIMESTAMP(3),
  g_end TIMESTAMP(3),
  g_auction BIGINT,
  g_price BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

CREATE VIEW apple AS SELECT * FROM bid WHERE channel = 'Apple' AND price > 995000;

CREATE VIEW google AS SELECT * FROM bid WHERE channel = 'Google' AND price > 995000;

INSERT INTO sink
SELECT L.window_start, L.window_end, L.auction, L.price,
       R.window_start, R.window_end, R.auction, R.price
FROM (SELECT * FROM TABLE(HOP(TABLE apple, DESCRIPTOR(date_time), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) L
FULL JOIN (SELECT * FROM TABLE(HOP(TABLE google, DESCRIPTOR(date_time), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) R
  ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.auction = R.auction;
