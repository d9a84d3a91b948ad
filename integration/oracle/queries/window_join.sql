-- window join: Apple and Google bids on the same auction in the same 50 ms tumbling window
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
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  auction BIGINT,
  a_bidder BIGINT,
  a_price BIGINT,
  g_bidder BIGINT,
  g_price BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

CREATE VIEW apple AS SELECT * FROM bid WHERE channel = 'Apple';

CREATE VIEW google AS SELECT * FROM bid WHERE channel = 'Google';

INSERT INTO sink
SELECT L.window_start, L.window_end, L.auction, L.bidder, L.price, R.bidder, R.price
FROM (SELECT * FROM TABLE(TUMBLE(TABLE apple, DESCRIPTOR(date_time), INTERVAL '0.05' SECOND))) L
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE google, DESCRIPTOR(date_time), INTERVAL '0.05' SECOND))) R
  ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.auction = R.auction;
