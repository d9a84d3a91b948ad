-- An aggregate over an updating stream: per bid count, how many bidders have it.
-- The inner GROUP BY retracts (-U) a bidder's old count; MIN/MAX must retract too.
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
  bids        BIGINT,
  bidders     BIGINT,
  min_bidder  BIGINT,
  max_bidder  BIGINT
) WITH ('connector' = 'print');

INSERT INTO print_sink
SELECT bids, COUNT(*) AS bidders, MIN(bidder) AS min_bidder, MAX(bidder) AS max_bidder
FROM (SELECT bidder, COUNT(*) AS bids FROM bid GROUP BY bidder)
GROUP BY bids;
