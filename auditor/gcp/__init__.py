"""The one transport for Google APIs, below every package that calls one.

- `clients`: client construction for each API (BigQuery, Resource Manager and IAM sessions,
  DLP, KMS, Cloud Asset), the endpoint (Google's with application default credentials, or a
  local one with anonymous credentials: the same code path) and missing credentials;
- `retry`: the retry policy (which failures are transient, backoff, attempts, deadlines),
  built on google.api_core.retry, with each API's limits;
- `pacing`: a rate per API method and a concurrency limit that halves on 429;
- `calls`: one call retried, paced and, when it fails for good, worded as a coverage gap;
- `wording`: how a failure reads in a coverage gap (never the server's text where it may
  quote data);
- `counting`: HTTP requests counted per API method.

Nothing here builds a client or opens a connection at import time.
"""
