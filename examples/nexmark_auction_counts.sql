-- Eddy's example job (`make run` submits it to a fresh `eddy standalone`): Nexmark bids,
-- counted per auction in 10-second event-time tumbling windows.
CREATE TABLE bid (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  channel   STRING,
  date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH (
  'connector' = 'nexmark',
  'table'     = 'bid',
  'rate'      = '1000'
);

CREATE TABLE auction_counts (
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  auction      BIGINT,
  bids         BIGINT,
  max_price    BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO auction_counts
SELECT window_start, window_end, auction, COUNT(*) AS bids, MAX(price) AS max_price
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, auction;
